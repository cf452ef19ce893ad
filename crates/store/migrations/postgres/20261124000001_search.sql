-- Search: full-text vectors over messages and memories, and stored embeddings.
-- Keep it in step with ../sqlite.

-- Folds Latin diacritics ("été" → "ete") with the built-in translate(), so no
-- extension (unaccent) is needed; IMMUTABLE, so generated columns may use it.
CREATE FUNCTION locrit_search_fold(t TEXT) RETURNS TEXT
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT translate(t,
        'ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝàáâãäåçèéêëìíîïñòóôõöùúûüýÿĀāĂăĄąĆćĈĉĊċČčĎďĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĨĩĪīĬĭĮįİĴĵĶķĹĺĻļĽľŃńŅņŇňŌōŎŏŐőŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžƠơƯưǍǎǏǐǑǒǓǔǕǖǗǘǙǚǛǜǞǟǠǡǦǧǨǩǪǫǬǭǰǴǵǸǹǺǻȀȁȂȃȄȅȆȇȈȉȊȋȌȍȎȏȐȑȒȓȔȕȖȗȘșȚțȞȟȦȧȨȩȪȫȬȭȮȯȰȱȲȳ',
        'AAAAAACEEEEIIIINOOOOOUUUUYaaaaaaceeeeiiiinooooouuuuyyAaAaAaCcCcCcCcDdEeEeEeEeEeGgGgGgGgHhIiIiIiIiIJjKkLlLlLlNnNnNnOoOoOoRrRrRrSsSsSsSsTtTtUuUuUuUuUuUuWwYyYZzZzZzOoUuAaIiOoUuUuUuUuUuAaAaGgKkOoOojGgNnAaAaAaEeEeIiIiOoOoRrRrUuUuSsTtHhAaEeOoOoOoOoYy')
$$;

-- The 'simple' configuration: words lowercased, no stemming, no stop words, so French
-- and English are treated alike. Adding the generated columns indexes existing rows;
-- an edit recomputes them and a delete takes them away.
ALTER TABLE messages ADD COLUMN search_vector TSVECTOR
    GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, locrit_search_fold(content))) STORED;
CREATE INDEX messages_search ON messages USING GIN (search_vector);

ALTER TABLE memories ADD COLUMN search_vector TSVECTOR
    GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, locrit_search_fold(content))) STORED;
CREATE INDEX memories_search ON memories USING GIN (search_vector);

-- Embeddings, one per row and model, deleted with their row. `vector` is `dim`
-- little-endian f32.
CREATE TABLE message_embeddings (
    item_id    UUID NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    locrit_id  UUID NOT NULL,
    model      TEXT NOT NULL,
    dim        INTEGER NOT NULL,
    vector     BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (item_id, model)
);
CREATE INDEX message_embeddings_by_locrit ON message_embeddings (locrit_id, model, created_at);

CREATE TABLE memory_embeddings (
    item_id    UUID NOT NULL REFERENCES memories (id) ON DELETE CASCADE,
    locrit_id  UUID NOT NULL,
    model      TEXT NOT NULL,
    dim        INTEGER NOT NULL,
    vector     BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (item_id, model)
);
CREATE INDEX memory_embeddings_by_locrit ON memory_embeddings (locrit_id, model, created_at);

-- An edit makes the row's embeddings stale: drop them, the embedding worker recomputes.
CREATE FUNCTION locrit_drop_stale_embeddings() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('DELETE FROM %I WHERE item_id = $1', TG_ARGV[0]) USING NEW.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER messages_embeddings_stale AFTER UPDATE OF content ON messages
    FOR EACH ROW WHEN (OLD.content IS DISTINCT FROM NEW.content)
    EXECUTE FUNCTION locrit_drop_stale_embeddings('message_embeddings');
CREATE TRIGGER memories_embeddings_stale AFTER UPDATE OF content ON memories
    FOR EACH ROW WHEN (OLD.content IS DISTINCT FROM NEW.content)
    EXECUTE FUNCTION locrit_drop_stale_embeddings('memory_embeddings');
