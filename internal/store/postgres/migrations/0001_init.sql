-- keyward's schema in PostgreSQL: the same tables and columns as the
-- SQLite store, so both answer every query alike.
--
-- Times are bigint Unix nanoseconds (0: unset), not timestamptz: keyward
-- round-trips times to the nanosecond and timestamptz keeps microseconds.
-- to_timestamp(at / 1e9) reads one.
--
-- Text columns use the "C" collation: names sort and group by their bytes,
-- as in SQLite, whatever the database's locale.

CREATE TABLE keys (
    id           text COLLATE "C" PRIMARY KEY,
    name         text COLLATE "C" NOT NULL,
    hash         bytea NOT NULL UNIQUE,
    prefix       text COLLATE "C" NOT NULL,
    user_id      text COLLATE "C" NOT NULL DEFAULT '',
    plan         text COLLATE "C" NOT NULL DEFAULT '',
    scopes       text[] COLLATE "C" NOT NULL DEFAULT '{}',
    test         boolean NOT NULL DEFAULT false,
    created_at   bigint NOT NULL,
    expires_at   bigint NOT NULL DEFAULT 0,
    revoked_at   bigint NOT NULL DEFAULT 0,
    last_used_at bigint NOT NULL DEFAULT 0,
    rotated_from text COLLATE "C" NOT NULL DEFAULT ''
);
CREATE INDEX keys_user ON keys (user_id, created_at, id);

CREATE TABLE users (
    id         text COLLATE "C" PRIMARY KEY,
    plan       text COLLATE "C" NOT NULL DEFAULT '',
    disabled   boolean NOT NULL DEFAULT false,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL
);

CREATE TABLE audit (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      bigint NOT NULL,
    kind    text COLLATE "C" NOT NULL,
    actor   text COLLATE "C" NOT NULL DEFAULT '',
    subject text COLLATE "C" NOT NULL DEFAULT '',
    detail  text COLLATE "C" NOT NULL DEFAULT ''
);
CREATE INDEX audit_at ON audit (at, id);
CREATE INDEX audit_kind_at ON audit (kind, at, id);

CREATE TABLE usage (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           bigint NOT NULL,
    request_id   text COLLATE "C" NOT NULL DEFAULT '',
    key_id       text COLLATE "C" NOT NULL DEFAULT '',
    user_id      text COLLATE "C" NOT NULL DEFAULT '',
    plan         text COLLATE "C" NOT NULL DEFAULT '',
    route        text COLLATE "C" NOT NULL DEFAULT '',
    provider     text COLLATE "C" NOT NULL DEFAULT '',
    model        text COLLATE "C" NOT NULL DEFAULT '',
    target_model text COLLATE "C" NOT NULL DEFAULT '',
    input        bigint NOT NULL DEFAULT 0,
    cached_input bigint NOT NULL DEFAULT 0,
    cache_write  bigint NOT NULL DEFAULT 0,
    output       bigint NOT NULL DEFAULT 0,
    reasoning    bigint NOT NULL DEFAULT 0,
    cost_micros  bigint NOT NULL DEFAULT 0,
    status       bigint NOT NULL DEFAULT 0,
    metered      text COLLATE "C" NOT NULL DEFAULT '',
    latency_ms   bigint NOT NULL DEFAULT 0,
    streamed     boolean NOT NULL DEFAULT false,
    -- A browser token's usage also counts against the key that minted it:
    -- its id, user and plan when the request was made.
    minted_by    text COLLATE "C" NOT NULL DEFAULT '',
    minter_user  text COLLATE "C" NOT NULL DEFAULT '',
    minter_plan  text COLLATE "C" NOT NULL DEFAULT ''
);
CREATE INDEX usage_at ON usage (at);
CREATE INDEX usage_key_at ON usage (key_id, at);
CREATE INDEX usage_user_at ON usage (user_id, at);
-- Both partial indexes are on minted_by <> '', the condition the minter's
-- side of a spend query states, so that prepared (generic) plans can use
-- them whatever the parameters.
CREATE INDEX usage_minted_by_at ON usage (minted_by, at) WHERE minted_by <> '';
CREATE INDEX usage_minter_user_at ON usage (minter_user, at) WHERE minted_by <> '';

CREATE TABLE budgets (
    scope          text COLLATE "C" NOT NULL,
    subject        text COLLATE "C" NOT NULL,
    daily_micros   bigint NOT NULL DEFAULT 0,
    monthly_micros bigint NOT NULL DEFAULT 0,
    updated_at     bigint NOT NULL,
    PRIMARY KEY (scope, subject)
);
