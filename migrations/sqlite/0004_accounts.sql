-- Administrator accounts. `username_key` (lower case) makes names unique regardless of case;
-- `revision` is the version an edit is based on.
CREATE TABLE users (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    username            TEXT NOT NULL,
    username_key        TEXT NOT NULL UNIQUE,
    password_hash       TEXT NOT NULL,
    superuser           BOOLEAN NOT NULL DEFAULT FALSE,
    disabled            BOOLEAN NOT NULL DEFAULT FALSE,
    created_at          BIGINT NOT NULL,
    last_sign_in        BIGINT,
    revision            BIGINT NOT NULL DEFAULT 1
);

CREATE TABLE admin_groups (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL UNIQUE,
    revision    BIGINT NOT NULL DEFAULT 1
);

CREATE TABLE group_members (
    group_id    BIGINT NOT NULL REFERENCES admin_groups (id) ON DELETE CASCADE,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

-- Rights: one row per area and access of a user or a group (never both).
CREATE TABLE grants (
    user_id     BIGINT REFERENCES users (id) ON DELETE CASCADE,
    group_id    BIGINT REFERENCES admin_groups (id) ON DELETE CASCADE,
    area        TEXT NOT NULL,
    access      TEXT NOT NULL,
    effect      TEXT NOT NULL,
    CHECK ((user_id IS NULL) <> (group_id IS NULL))
);
CREATE INDEX grants_user ON grants (user_id);
CREATE INDEX grants_group ON grants (group_id);

-- Browser sessions, by the SHA-256 of the cookie's secret (the secret itself is never stored).
CREATE TABLE sessions (
    id_hash         TEXT PRIMARY KEY,
    user_id         BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    last_seen_at    BIGINT NOT NULL,
    source          TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);

-- API tokens for scripts, by the SHA-256 of the token.
CREATE TABLE api_tokens (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    token_hash      TEXT NOT NULL UNIQUE,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT,
    last_used_at    BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- Failed sign-ins per account (`user:<key>`) and per source address (`ip:<address>`).
CREATE TABLE sign_in_failures (
    key             TEXT PRIMARY KEY,
    failures        BIGINT NOT NULL,
    last_failure_at BIGINT NOT NULL,
    locked_until    BIGINT
);

-- Sign-ins, sign-outs, lock-outs, tokens, password and account changes.
CREATE TABLE security_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          BIGINT NOT NULL,
    event       TEXT NOT NULL,
    username    TEXT,
    actor       TEXT,
    source      TEXT,
    detail      TEXT
);
CREATE INDEX security_log_username ON security_log (username);

-- The audit log names the administration area of each change (all changes so far were settings).
ALTER TABLE audit_log ADD COLUMN area TEXT NOT NULL DEFAULT 'network_settings';
CREATE INDEX audit_log_actor ON audit_log (actor);
CREATE INDEX audit_log_at ON audit_log (at);
