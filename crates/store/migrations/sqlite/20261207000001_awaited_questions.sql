-- Questions waiting for their reply. Keep in step with ../postgres.

-- The chat engine stores a user's message, then this row, leased to its server until
-- the reply begins (renewed while the model has not answered yet); the reply's first
-- write deletes it in the same transaction. A row whose lease ran out lost its server
-- before any reply was stored: any server marks its question unanswered. A table of
-- its own, so that ending a wait does not rewrite a (possibly long) message.
CREATE TABLE awaited_replies (
    message_id  BLOB PRIMARY KEY NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    lease_until TEXT NOT NULL
);
CREATE INDEX awaited_replies_by_lease ON awaited_replies (lease_until);
