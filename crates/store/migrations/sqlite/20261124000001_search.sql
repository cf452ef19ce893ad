-- Search: a full-text index over messages and memories, and stored embeddings.
-- Keep it in step with ../postgres.

-- One FTS5 index for both kinds, so their bm25 scores compare. Messages have no
-- INTEGER PRIMARY KEY (their rowid may change on VACUUM), so each indexed row gets a
-- stable document number here; the index reads its text through `search_content`
-- (external content: the text is stored once, in messages and memories).
CREATE TABLE search_docs (
    doc       INTEGER PRIMARY KEY,
    kind      TEXT NOT NULL,
    item_id   BLOB NOT NULL UNIQUE,
    locrit_id BLOB NOT NULL
);

CREATE VIEW search_content AS
    SELECT d.doc AS doc, COALESCE(m.content, y.content) AS content
    FROM search_docs d
    LEFT JOIN messages m ON d.kind = 'message' AND m.id = d.item_id
    LEFT JOIN memories y ON d.kind = 'memory' AND y.id = d.item_id;

-- unicode61 with remove_diacritics 2: "été" matches "ete", "Élodie" matches "elodie";
-- no stemmer, which would favour one language.
CREATE VIRTUAL TABLE search_fts USING fts5(
    content,
    content = 'search_content',
    content_rowid = 'doc',
    tokenize = 'unicode61 remove_diacritics 2'
);

-- Embeddings, one per row and model; deleted with their row (cascades also run when a
-- session or a Locrit is deleted). `vector` is `dim` little-endian f32.
CREATE TABLE message_embeddings (
    item_id    BLOB NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    locrit_id  BLOB NOT NULL,
    model      TEXT NOT NULL,
    dim        INTEGER NOT NULL,
    vector     BLOB NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (item_id, model)
);
CREATE INDEX message_embeddings_by_locrit ON message_embeddings (locrit_id, model, created_at);

CREATE TABLE memory_embeddings (
    item_id    BLOB NOT NULL REFERENCES memories (id) ON DELETE CASCADE,
    locrit_id  BLOB NOT NULL,
    model      TEXT NOT NULL,
    dim        INTEGER NOT NULL,
    vector     BLOB NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (item_id, model)
);
CREATE INDEX memory_embeddings_by_locrit ON memory_embeddings (locrit_id, model, created_at);

-- The triggers keep the index in step; an edit also drops the stale embeddings, so the
-- embedding worker computes them again.
CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN
    INSERT INTO search_docs (kind, item_id, locrit_id) VALUES ('message', new.id, new.locrit_id);
    INSERT INTO search_fts (rowid, content) VALUES (last_insert_rowid(), new.content);
END;

CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN
    INSERT INTO search_fts (search_fts, rowid, content)
        SELECT 'delete', doc, old.content FROM search_docs WHERE item_id = old.id;
    DELETE FROM search_docs WHERE item_id = old.id;
END;

CREATE TRIGGER messages_search_update AFTER UPDATE OF content ON messages
WHEN old.content IS NOT new.content BEGIN
    INSERT INTO search_fts (search_fts, rowid, content)
        SELECT 'delete', doc, old.content FROM search_docs WHERE item_id = old.id;
    INSERT INTO search_fts (rowid, content)
        SELECT doc, new.content FROM search_docs WHERE item_id = new.id;
    DELETE FROM message_embeddings WHERE item_id = new.id;
END;

CREATE TRIGGER memories_search_insert AFTER INSERT ON memories BEGIN
    INSERT INTO search_docs (kind, item_id, locrit_id) VALUES ('memory', new.id, new.locrit_id);
    INSERT INTO search_fts (rowid, content) VALUES (last_insert_rowid(), new.content);
END;

CREATE TRIGGER memories_search_delete AFTER DELETE ON memories BEGIN
    INSERT INTO search_fts (search_fts, rowid, content)
        SELECT 'delete', doc, old.content FROM search_docs WHERE item_id = old.id;
    DELETE FROM search_docs WHERE item_id = old.id;
END;

CREATE TRIGGER memories_search_update AFTER UPDATE OF content ON memories
WHEN old.content IS NOT new.content BEGIN
    INSERT INTO search_fts (search_fts, rowid, content)
        SELECT 'delete', doc, old.content FROM search_docs WHERE item_id = old.id;
    INSERT INTO search_fts (rowid, content)
        SELECT doc, new.content FROM search_docs WHERE item_id = new.id;
    DELETE FROM memory_embeddings WHERE item_id = new.id;
END;

-- Index what was stored before this migration.
INSERT INTO search_docs (kind, item_id, locrit_id) SELECT 'message', id, locrit_id FROM messages;
INSERT INTO search_docs (kind, item_id, locrit_id) SELECT 'memory', id, locrit_id FROM memories;
INSERT INTO search_fts (search_fts) VALUES ('rebuild');
