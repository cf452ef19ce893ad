-- Locrit's schema, PostgreSQL dialect. Keep it in step with ../sqlite.

CREATE TABLE locrits (
    id             UUID PRIMARY KEY NOT NULL,
    name           TEXT NOT NULL UNIQUE,
    description    TEXT NOT NULL,
    persona        TEXT NOT NULL,
    ollama_model   TEXT NOT NULL,
    ollama_url     TEXT,
    open_to        JSONB NOT NULL,
    access_to      JSONB NOT NULL,
    memory_service TEXT NOT NULL,
    public_page    JSONB,
    public_address TEXT,
    active         BOOLEAN NOT NULL,
    owner_id       TEXT,
    extra          JSONB NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE sessions (
    id            UUID PRIMARY KEY NOT NULL,
    locrit_id     UUID NOT NULL REFERENCES locrits (id) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    kind          TEXT NOT NULL,
    name          TEXT,
    topic         TEXT,
    user_id       TEXT,
    status        TEXT NOT NULL,
    metadata      JSONB NOT NULL,
    message_count BIGINT NOT NULL DEFAULT 0,
    last_seq      BIGINT NOT NULL DEFAULT 0,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (locrit_id, key)
);
CREATE INDEX sessions_by_key ON sessions (key);
CREATE INDEX sessions_by_locrit ON sessions (locrit_id, updated_at);
CREATE INDEX sessions_by_user ON sessions (user_id, updated_at);

-- Append-only transcript: one row per message, ordered by seq within its session.
CREATE TABLE messages (
    id         UUID PRIMARY KEY NOT NULL,
    session_id UUID NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    locrit_id  UUID NOT NULL REFERENCES locrits (id) ON DELETE CASCADE,
    seq        BIGINT NOT NULL,
    role       TEXT NOT NULL,
    content    TEXT NOT NULL,
    user_id    TEXT,
    status     TEXT NOT NULL,
    metadata   JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    edited_at  TIMESTAMPTZ,
    UNIQUE (session_id, seq)
);
CREATE INDEX messages_by_locrit ON messages (locrit_id, created_at);

CREATE TABLE memories (
    id                 UUID PRIMARY KEY NOT NULL,
    locrit_id          UUID NOT NULL REFERENCES locrits (id) ON DELETE CASCADE,
    content            TEXT NOT NULL,
    importance         DOUBLE PRECISION NOT NULL,
    metadata           JSONB NOT NULL,
    tags               JSONB NOT NULL,
    source_message_ids JSONB NOT NULL,
    pinned             BOOLEAN NOT NULL DEFAULT FALSE,
    superseded_by      UUID REFERENCES memories (id) ON DELETE SET NULL,
    created_at         TIMESTAMPTZ NOT NULL,
    last_accessed      TIMESTAMPTZ
);
CREATE INDEX memories_by_locrit ON memories (locrit_id, created_at);

CREATE TABLE concepts (
    id              UUID PRIMARY KEY NOT NULL,
    locrit_id       UUID NOT NULL REFERENCES locrits (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL,
    description     TEXT,
    confidence      DOUBLE PRECISION NOT NULL,
    mentions        BIGINT NOT NULL,
    first_mentioned TIMESTAMPTZ NOT NULL,
    last_mentioned  TIMESTAMPTZ NOT NULL,
    UNIQUE (locrit_id, name, kind)
);

CREATE TABLE concept_relations (
    from_id  UUID NOT NULL REFERENCES concepts (id) ON DELETE CASCADE,
    to_id    UUID NOT NULL REFERENCES concepts (id) ON DELETE CASCADE,
    relation TEXT NOT NULL,
    PRIMARY KEY (from_id, to_id, relation)
);

-- Server-wide settings (the original's global config), one JSON document per key.
CREATE TABLE server_settings (
    key        TEXT PRIMARY KEY NOT NULL,
    value      JSONB NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
