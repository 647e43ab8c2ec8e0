-- Portable SQL: the same file runs on SQLite (the embedded default) and PostgreSQL. Times are Unix seconds.

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created BIGINT NOT NULL
);

CREATE TABLE classes (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    instructor TEXT REFERENCES users (id),
    seats BIGINT NOT NULL,
    max_age_secs BIGINT NOT NULL,
    idle_secs BIGINT NOT NULL,
    memory_bytes BIGINT NOT NULL,
    nano_cpus BIGINT NOT NULL,
    pids BIGINT NOT NULL,
    disk_bytes BIGINT NOT NULL,
    containers BIGINT NOT NULL,
    created BIGINT NOT NULL
);

-- A join link is a random token handed out once; only its hash is kept, so a copy of the database opens nothing.
CREATE TABLE join_links (
    token_hash TEXT PRIMARY KEY,
    class_id TEXT NOT NULL REFERENCES classes (id),
    expires BIGINT NOT NULL,
    revoked BIGINT NOT NULL DEFAULT 0,
    created BIGINT NOT NULL
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    class_id TEXT REFERENCES classes (id),
    user_id TEXT REFERENCES users (id),
    created BIGINT NOT NULL,
    expires BIGINT NOT NULL,
    last_active BIGINT NOT NULL,
    ended BIGINT
);

CREATE TABLE tokens (
    token_hash TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    created BIGINT NOT NULL
);

CREATE TABLE audit (
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL
);

CREATE INDEX audit_at ON audit (at);
