-- Locrits talking to Locrits: the remote Locrits a Locrit knows, and the dialogues this
-- server holds for its Locrits (their state between turns, so they survive a restart).
-- Keep in step with ../postgres.
CREATE TABLE contacts (
    id         BLOB PRIMARY KEY NOT NULL,
    locrit_id  BLOB NOT NULL REFERENCES locrits (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    server_url TEXT NOT NULL,
    api_key    TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (locrit_id, server_url, name)
);

CREATE TABLE dialogues (
    id           BLOB PRIMARY KEY NOT NULL,
    locrit_id    BLOB NOT NULL REFERENCES locrits (id) ON DELETE CASCADE,
    partner      TEXT NOT NULL,
    topic        TEXT NOT NULL,
    budget       TEXT NOT NULL,
    status       TEXT NOT NULL,
    stop_reason  TEXT,
    start_at     TEXT NOT NULL,
    started_at   TEXT,
    ended_at     TEXT,
    turns        INTEGER NOT NULL,
    tokens       INTEGER NOT NULL,
    next_speaker TEXT NOT NULL,
    next_text    TEXT NOT NULL,
    steer        TEXT,
    recent       TEXT NOT NULL,
    created_by   BLOB,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX dialogues_by_locrit ON dialogues (locrit_id, created_at);
