-- Long-term memories that follow their sources, and the background jobs that learn them.
-- Keep it in step with ../sqlite.

-- When an owner last changed a memory, and when it stopped being true because every
-- message it was learned from was deleted (an invalidated memory is kept, never recalled).
ALTER TABLE memories ADD COLUMN updated_at TIMESTAMPTZ;
ALTER TABLE memories ADD COLUMN invalidated_at TIMESTAMPTZ;

-- Which messages a memory was learned from, for the lookup a message delete needs
-- (memories.source_message_ids keeps the list as it was learned).
CREATE TABLE memory_sources (
    memory_id  UUID NOT NULL REFERENCES memories (id) ON DELETE CASCADE,
    message_id UUID NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    PRIMARY KEY (memory_id, message_id)
);
CREATE INDEX memory_sources_by_message ON memory_sources (message_id);

INSERT INTO memory_sources (memory_id, message_id)
SELECT m.id, msg.id
FROM memories m
CROSS JOIN LATERAL jsonb_array_elements_text(m.source_message_ids) AS j(value)
JOIN messages msg ON msg.id::text = j.value
ON CONFLICT DO NOTHING;

-- Work done in the background, once, by whichever server claims it first: a claim is a
-- lease that another server may take over when it expires (its runner died).
CREATE TABLE jobs (
    id           UUID PRIMARY KEY NOT NULL,
    kind         TEXT NOT NULL,
    locrit_id    UUID REFERENCES locrits (id) ON DELETE CASCADE,
    payload      JSONB NOT NULL,
    status       TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    last_error   TEXT,
    run_after    TIMESTAMPTZ NOT NULL,
    lease_owner  TEXT,
    lease_until  TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX jobs_ready ON jobs (status, run_after);
CREATE INDEX jobs_by_locrit ON jobs (locrit_id, created_at);
