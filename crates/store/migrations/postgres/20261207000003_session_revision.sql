-- A session's revision moves with every change to its messages, whoever makes it: a
-- server that keeps a session's recent history in memory knows it is still true while
-- the revision has not moved. One step per message row changed, counted once per
-- statement (a statement deleting a session's many messages updates its row once).
ALTER TABLE sessions ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION locrit_revise_sessions() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    UPDATE sessions s SET revision = s.revision + c.rows
    FROM (SELECT session_id, count(*) AS rows FROM changed GROUP BY session_id) c
    WHERE s.id = c.session_id;
    RETURN NULL;
END $$;

CREATE TRIGGER messages_revise_insert AFTER INSERT ON messages
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION locrit_revise_sessions();
CREATE TRIGGER messages_revise_update AFTER UPDATE ON messages
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION locrit_revise_sessions();
CREATE TRIGGER messages_revise_delete AFTER DELETE ON messages
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION locrit_revise_sessions();
