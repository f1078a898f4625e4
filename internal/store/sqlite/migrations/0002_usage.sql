CREATE TABLE usage (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           INTEGER NOT NULL,
    request_id   TEXT NOT NULL DEFAULT '',
    key_id       TEXT NOT NULL DEFAULT '',
    user_id      TEXT NOT NULL DEFAULT '',
    plan         TEXT NOT NULL DEFAULT '',
    route        TEXT NOT NULL DEFAULT '',
    provider     TEXT NOT NULL DEFAULT '',
    model        TEXT NOT NULL DEFAULT '',
    target_model TEXT NOT NULL DEFAULT '',
    input        INTEGER NOT NULL DEFAULT 0,
    cached_input INTEGER NOT NULL DEFAULT 0,
    cache_write  INTEGER NOT NULL DEFAULT 0,
    output       INTEGER NOT NULL DEFAULT 0,
    reasoning    INTEGER NOT NULL DEFAULT 0,
    cost_micros  INTEGER NOT NULL DEFAULT 0,
    status       INTEGER NOT NULL DEFAULT 0,
    metered      TEXT NOT NULL DEFAULT '',
    latency_ms   INTEGER NOT NULL DEFAULT 0,
    streamed     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX usage_at ON usage (at);
CREATE INDEX usage_key_at ON usage (key_id, at);
CREATE INDEX usage_user_at ON usage (user_id, at);

CREATE TABLE budgets (
    scope          TEXT NOT NULL,
    subject        TEXT NOT NULL,
    daily_micros   INTEGER NOT NULL DEFAULT 0,
    monthly_micros INTEGER NOT NULL DEFAULT 0,
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (scope, subject)
);
