-- A browser token's usage also counts against the key that minted it:
-- its id, user and plan when the request was made.
ALTER TABLE usage ADD COLUMN minted_by TEXT NOT NULL DEFAULT '';
ALTER TABLE usage ADD COLUMN minter_user TEXT NOT NULL DEFAULT '';
ALTER TABLE usage ADD COLUMN minter_plan TEXT NOT NULL DEFAULT '';
CREATE INDEX usage_minted_by_at ON usage (minted_by, at) WHERE minted_by != '';
CREATE INDEX usage_minter_user_at ON usage (minter_user, at) WHERE minter_user != '';
