-- Locrits talking to Locrits: the remote Locrits a Locrit knows, and the dialogues this
-- server holds for its Locrits (their state between turns, so they survive a restart).
-- Keep in step with ../sqlite.
CREATE TABLE contacts (
    id         UUID PRIMARY KEY,
    locrit_id  UUID NOT NULL REFERENCES locrits (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    server_url TEXT NOT NULL,
    api_key    TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (locrit_id, server_url, name)
);

CREATE TABLE dialogues (
    id           UUID PRIMARY KEY,
    locrit_id    UUID NOT NULL REFERENCES locrits (id) ON DELETE CASCADE,
    partner      JSONB NOT NULL,
    topic        TEXT NOT NULL,
    budget       JSONB NOT NULL,
    status       TEXT NOT NULL,
    stop_reason  TEXT,
    start_at     TIMESTAMPTZ NOT NULL,
    started_at   TIMESTAMPTZ,
    ended_at     TIMESTAMPTZ,
    turns        BIGINT NOT NULL,
    tokens       BIGINT NOT NULL,
    next_speaker TEXT NOT NULL,
    next_text    TEXT NOT NULL,
    steer        TEXT,
    recent       JSONB NOT NULL,
    created_by   UUID,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX dialogues_by_locrit ON dialogues (locrit_id, created_at);
