-- TRUNCATE fires no row triggers: tell replicas that every key, user or
-- budget changed, so they drop what they cache of that table.

CREATE FUNCTION keyward_notify_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('keyward_changes', TG_TABLE_SCHEMA || ' ' || TG_ARGV[0] || ' ');
    RETURN NULL;
END
$$;

CREATE TRIGGER keys_truncated AFTER TRUNCATE ON keys
    FOR EACH STATEMENT EXECUTE FUNCTION keyward_notify_truncate('key');
CREATE TRIGGER users_truncated AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION keyward_notify_truncate('user');
CREATE TRIGGER budgets_truncated AFTER TRUNCATE ON budgets
    FOR EACH STATEMENT EXECUTE FUNCTION keyward_notify_truncate('budget');
