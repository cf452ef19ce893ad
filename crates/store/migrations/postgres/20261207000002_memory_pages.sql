-- Memories listed newest first, and the pinned ones every turn recalls, read from an
-- index in that order rather than by sorting all of a Locrit's memories.
-- Keep in step with ../sqlite.
CREATE INDEX memories_by_locrit_newest ON memories (locrit_id, id);
CREATE INDEX memories_pinned ON memories (locrit_id, id) WHERE pinned = TRUE;
