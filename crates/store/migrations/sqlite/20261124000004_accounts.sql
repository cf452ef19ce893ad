-- Accounts, their login sessions and API keys, and invitations to a Locrit. Tokens
-- are stored as SHA-256 hex digests only; passwords as Argon2id PHC strings.
-- Keep in step with ../postgres.
CREATE TABLE accounts (
    id            BLOB PRIMARY KEY NOT NULL,
    username      TEXT NOT NULL,
    -- Lowercased: usernames are unique without case.
    username_key  TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

CREATE TABLE login_sessions (
    token_hash TEXT PRIMARY KEY NOT NULL,
    account_id BLOB NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX login_sessions_by_account ON login_sessions (account_id);

CREATE TABLE api_keys (
    id           BLOB PRIMARY KEY NOT NULL,
    account_id   BLOB NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,
    locrit_id    BLOB REFERENCES locrits (id) ON DELETE CASCADE,
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);
CREATE INDEX api_keys_by_account ON api_keys (account_id);

CREATE TABLE invitations (
    id         BLOB PRIMARY KEY NOT NULL,
    locrit_id  BLOB NOT NULL REFERENCES locrits (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    label      TEXT NOT NULL,
    created_by BLOB REFERENCES accounts (id) ON DELETE SET NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT
);
CREATE INDEX invitations_by_locrit ON invitations (locrit_id);
