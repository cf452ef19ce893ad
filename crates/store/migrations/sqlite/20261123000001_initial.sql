-- Locrit's schema, SQLite dialect. Keep it in step with ../postgres.
-- UUIDs are BLOBs, timestamps RFC 3339 text (UTC), JSON documents text.

CREATE TABLE locrits (
    id             BLOB PRIMARY KEY NOT NULL,
    name           TEXT NOT NULL UNIQUE,
    description    TEXT NOT NULL,
    persona        TEXT NOT NULL,
    ollama_model   TEXT NOT NULL,
    ollama_url     TEXT,
    open_to        TEXT NOT NULL,
    access_to      TEXT NOT NULL,
    memory_service TEXT NOT NULL,
    public_page    TEXT,
    public_address TEXT,
    active         BOOLEAN NOT NULL,
    owner_id       TEXT,
    extra          TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);

CREATE TABLE sessions (
    id            BLOB PRIMARY KEY NOT NULL,
    locrit_id     BLOB NOT NULL REFERENCES locrits (id) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    kind          TEXT NOT NULL,
    name          TEXT,
    topic         TEXT,
    user_id       TEXT,
    status        TEXT NOT NULL,
    metadata      TEXT NOT NULL,
    message_count INTEGER NOT NULL DEFAULT 0,
    last_seq      INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    UNIQUE (locrit_id, key)
);
CREATE INDEX sessions_by_key ON sessions (key);
CREATE INDEX sessions_by_locrit ON sessions (locrit_id, updated_at);
CREATE INDEX sessions_by_user ON sessions (user_id, updated_at);

-- Append-only transcript: one row per message, ordered by seq within its session.
CREATE TABLE messages (
    id         BLOB PRIMARY KEY NOT NULL,
    session_id BLOB NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    locrit_id  BLOB NOT NULL REFERENCES locrits (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    role       TEXT NOT NULL,
    content    TEXT NOT NULL,
    user_id    TEXT,
    status     TEXT NOT NULL,
    metadata   TEXT NOT NULL,
    created_at TEXT NOT NULL,
    edited_at  TEXT,
    UNIQUE (session_id, seq)
);
CREATE INDEX messages_by_locrit ON messages (locrit_id, created_at);

CREATE TABLE memories (
    id                 BLOB PRIMARY KEY NOT NULL,
    locrit_id          BLOB NOT NULL REFERENCES locrits (id) ON DELETE CASCADE,
    content            TEXT NOT NULL,
    importance         REAL NOT NULL,
    metadata           TEXT NOT NULL,
    tags               TEXT NOT NULL,
    source_message_ids TEXT NOT NULL,
    pinned             BOOLEAN NOT NULL DEFAULT FALSE,
    superseded_by      BLOB REFERENCES memories (id) ON DELETE SET NULL,
    created_at         TEXT NOT NULL,
    last_accessed      TEXT
);
CREATE INDEX memories_by_locrit ON memories (locrit_id, created_at);

CREATE TABLE concepts (
    id              BLOB PRIMARY KEY NOT NULL,
    locrit_id       BLOB NOT NULL REFERENCES locrits (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL,
    description     TEXT,
    confidence      REAL NOT NULL,
    mentions        INTEGER NOT NULL,
    first_mentioned TEXT NOT NULL,
    last_mentioned  TEXT NOT NULL,
    UNIQUE (locrit_id, name, kind)
);

CREATE TABLE concept_relations (
    from_id  BLOB NOT NULL REFERENCES concepts (id) ON DELETE CASCADE,
    to_id    BLOB NOT NULL REFERENCES concepts (id) ON DELETE CASCADE,
    relation TEXT NOT NULL,
    PRIMARY KEY (from_id, to_id, relation)
);

-- Server-wide settings (the original's global config), one JSON document per key.
CREATE TABLE server_settings (
    key        TEXT PRIMARY KEY NOT NULL,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
