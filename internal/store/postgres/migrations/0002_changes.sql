-- Change events: every change to what replicas cache (keys, users,
-- budgets) is told to every listening replica when it commits, on the
-- channel keyward_changes, as "<schema> <kind> <id>", so a revocation,
-- a disabled user or a new budget applies everywhere at once. A key's
-- last use (written in batches) is not a change worth telling.

CREATE FUNCTION keyward_notify_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    kind text := TG_ARGV[0];
    id   text := '';
BEGIN
    IF kind = 'key' THEN
        id := CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END;
        IF TG_OP = 'UPDATE' AND OLD IS NOT DISTINCT FROM NEW THEN
            RETURN NULL;
        END IF;
    ELSIF kind = 'user' THEN
        id := CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END;
    END IF;
    PERFORM pg_notify('keyward_changes', TG_TABLE_SCHEMA || ' ' || kind || ' ' || id);
    RETURN NULL;
END
$$;

CREATE TRIGGER keys_changed
    AFTER INSERT OR DELETE OR UPDATE OF name, hash, prefix, user_id, plan, scopes, test, expires_at, revoked_at, rotated_from
    ON keys FOR EACH ROW EXECUTE FUNCTION keyward_notify_change('key');
CREATE TRIGGER users_changed
    AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION keyward_notify_change('user');
CREATE TRIGGER budgets_changed
    AFTER INSERT OR UPDATE OR DELETE ON budgets
    FOR EACH STATEMENT EXECUTE FUNCTION keyward_notify_change('budget');
