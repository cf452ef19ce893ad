-- Long-term memories that follow their sources, and the background jobs that learn them.
-- Keep it in step with ../postgres.

-- When an owner last changed a memory, and when it stopped being true because every
-- message it was learned from was deleted (an invalidated memory is kept, never recalled).
ALTER TABLE memories ADD COLUMN updated_at TEXT;
ALTER TABLE memories ADD COLUMN invalidated_at TEXT;

-- Which messages a memory was learned from, for the lookup a message delete needs
-- (memories.source_message_ids keeps the list as it was learned).
CREATE TABLE memory_sources (
    memory_id  BLOB NOT NULL REFERENCES memories (id) ON DELETE CASCADE,
    message_id BLOB NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    PRIMARY KEY (memory_id, message_id)
);
CREATE INDEX memory_sources_by_message ON memory_sources (message_id);

INSERT OR IGNORE INTO memory_sources (memory_id, message_id)
SELECT m.id, msg.id
FROM memories m, json_each(m.source_message_ids) j
JOIN messages msg ON msg.id = unhex(replace(j.value, '-', ''));

-- Work done in the background, once, by whichever server claims it first: a claim is a
-- lease that another server may take over when it expires (its runner died).
CREATE TABLE jobs (
    id          BLOB PRIMARY KEY NOT NULL,
    kind        TEXT NOT NULL,
    locrit_id   BLOB REFERENCES locrits (id) ON DELETE CASCADE,
    payload     TEXT NOT NULL,
    status      TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    last_error  TEXT,
    run_after   TEXT NOT NULL,
    lease_owner TEXT,
    lease_until TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX jobs_ready ON jobs (status, run_after);
CREATE INDEX jobs_by_locrit ON jobs (locrit_id, created_at);
