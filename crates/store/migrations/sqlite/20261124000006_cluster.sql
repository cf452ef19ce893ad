-- Several servers on one store. Keep in step with ../postgres.

-- A reply being generated is stored as it streams (status 'streaming'); its server
-- renews the lease while it writes. A reply whose lease ran out lost its server: any
-- server marks it 'interrupted', keeping the text that arrived.
ALTER TABLE messages ADD COLUMN lease_until TEXT;
CREATE INDEX messages_streaming ON messages (lease_until) WHERE status = 'streaming';

-- Rate-limit windows shared by every server: hits of a key in the window that began at
-- window_start.
CREATE TABLE rate_windows (
    key          TEXT PRIMARY KEY NOT NULL,
    window_start TEXT NOT NULL,
    hits         INTEGER NOT NULL
);
CREATE INDEX rate_windows_by_start ON rate_windows (window_start);
