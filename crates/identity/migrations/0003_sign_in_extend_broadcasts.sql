-- How far past its maximum age a session of the class may be extended, in all.
ALTER TABLE classes ADD COLUMN extend_secs BIGINT NOT NULL DEFAULT 3600;

-- A browser signed in as an account (an instructor's or an admin's view); only the token's hash is kept.
CREATE TABLE logins (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    created BIGINT NOT NULL,
    expires BIGINT NOT NULL,
    ended BIGINT
);

-- Failed sign-ins by the name they tried: too many in a while and that name is refused for a while.
CREATE TABLE sign_in_failures (
    name TEXT NOT NULL,
    at BIGINT NOT NULL
);

CREATE INDEX sign_in_failures_name_at ON sign_in_failures (name, at);

-- Messages an instructor sends to every session of a class.
CREATE TABLE broadcasts (
    class_id TEXT NOT NULL REFERENCES classes (id),
    at BIGINT NOT NULL,
    author TEXT NOT NULL,
    text TEXT NOT NULL
);

CREATE INDEX broadcasts_class_at ON broadcasts (class_id, at);
