-- A session's revision moves with every change to its messages, whoever makes it: a
-- server that keeps a session's recent history in memory knows it is still true while
-- the revision has not moved. One step per message row changed.
ALTER TABLE sessions ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER messages_revise_insert AFTER INSERT ON messages BEGIN
    UPDATE sessions SET revision = revision + 1 WHERE id = new.session_id;
END;

CREATE TRIGGER messages_revise_update AFTER UPDATE ON messages BEGIN
    UPDATE sessions SET revision = revision + 1 WHERE id = new.session_id;
END;

CREATE TRIGGER messages_revise_delete AFTER DELETE ON messages BEGIN
    UPDATE sessions SET revision = revision + 1 WHERE id = old.session_id;
END;
