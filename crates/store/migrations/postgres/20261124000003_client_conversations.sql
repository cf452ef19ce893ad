-- Conversations of OpenAI- and Ollama-protocol clients, which resend their whole history
-- with each message: the fingerprint of the history a session holds finds that session
-- again (crates/core/src/client_conversations.rs). At most one row per session: its
-- latest state, valid while the session's last_seq is still `last_seq`.
-- Keep in step with ../sqlite.
CREATE TABLE client_conversations (
    locrit_id   UUID NOT NULL REFERENCES locrits (id) ON DELETE CASCADE,
    fingerprint TEXT NOT NULL,
    session_id  UUID NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    last_seq    BIGINT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (locrit_id, fingerprint)
);
CREATE INDEX client_conversations_by_session ON client_conversations (session_id);
