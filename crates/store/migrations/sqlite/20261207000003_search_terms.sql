-- The full-text index's terms and how many rows hold each (FTS5's own list, read in
-- place): recall leaves out the words most rows hold, which rank nothing and would
-- make every turn score most of the store.
CREATE VIRTUAL TABLE search_fts_terms USING fts5vocab(search_fts, 'row');
