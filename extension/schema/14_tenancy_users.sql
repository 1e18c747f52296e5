-- 14_tenancy_users.sql — users of a tenant: create (within max_users),
-- update, delete, list with keyset paging, and the role rules that hold
-- whatever path a change takes (trigger): only owners grant or remove owner,
-- only admins change roles or status, a tenant keeps one active owner.

CREATE FUNCTION tenancy._users_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  ctx_role text := tenancy.current_user_role();
  t uuid := CASE WHEN TG_OP = 'INSERT' THEN NEW.tenant_id ELSE OLD.tenant_id END;
  loses_owner boolean;
BEGIN
  -- Tenant deletion cascades here: nothing to protect any more.
  IF TG_OP = 'DELETE' AND NOT EXISTS (SELECT 1 FROM tenancy.tenants WHERE id = t) THEN
    RETURN OLD;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    IF TG_OP = 'UPDATE' AND NEW.id IS DISTINCT FROM OLD.id THEN
      RAISE EXCEPTION 'a user id cannot change' USING ERRCODE = '42501';
    END IF;
    IF (TG_OP = 'INSERT' OR NEW.role IS DISTINCT FROM OLD.role OR NEW.status IS DISTINCT FROM OLD.status)
       AND NOT tenancy.is_admin_role(ctx_role) THEN
      RAISE EXCEPTION 'only admins and owners change roles or status' USING ERRCODE = '42501';
    END IF;
    IF (NEW.role = 'owner' AND (TG_OP = 'INSERT' OR OLD.role <> 'owner')) AND ctx_role IS DISTINCT FROM 'owner' THEN
      RAISE EXCEPTION 'only an owner may grant the owner role' USING ERRCODE = '42501';
    END IF;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.role = 'owner' THEN
    loses_owner := TG_OP = 'DELETE' OR NEW.role <> 'owner' OR NEW.status <> 'active';
    IF loses_owner AND ctx_role IS DISTINCT FROM 'owner' THEN
      RAISE EXCEPTION 'only an owner may remove or demote an owner' USING ERRCODE = '42501';
    END IF;
    IF loses_owner AND OLD.status = 'active' THEN
      -- Another active owner must remain, and must stay one until we commit:
      -- FOR SHARE locks it against a concurrent demotion. Under READ
      -- COMMITTED a row changed meanwhile is re-read (and no longer counts);
      -- under REPEATABLE READ and SERIALIZABLE, whose snapshot may be older
      -- than a concurrent demotion, locking that row fails with 40001. A
      -- plain EXISTS would read a stale snapshot and let two owners demote
      -- each other. (users_lock serialises the statements, so the usual
      -- race ends in that clean 40001, not in a deadlock.)
      IF NOT EXISTS (SELECT 1 FROM (SELECT 1 FROM tenancy.users u WHERE u.tenant_id = t AND u.id <> OLD.id
                                      AND u.role = 'owner' AND u.status = 'active' FOR SHARE OF u) o) THEN
        RAISE EXCEPTION 'a tenant must keep at least one active owner' USING ERRCODE = '42501',
          HINT = 'Make another user owner first.';
      END IF;
    END IF;
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
REVOKE ALL ON FUNCTION tenancy._users_guard() FROM PUBLIC;
COMMENT ON FUNCTION tenancy._users_guard() IS 'Trigger: role and status rules for users, and at least one active owner per tenant.';
CREATE TRIGGER users_guard BEFORE INSERT OR UPDATE OR DELETE ON tenancy.users
  FOR EACH ROW EXECUTE FUNCTION tenancy._users_guard();

-- Row-level triggers run after the row is locked, so two statements that
-- each change one owner and check the other would lock in opposite orders
-- (a deadlock). This statement-level trigger first takes a per-tenant lock
-- (the context's tenant; one lock for all changes without a context).
CREATE FUNCTION tenancy._users_lock() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('backend_framework.owners'),
                                hashtext(coalesce(tenancy.current_tenant_id()::text, '')));
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION tenancy._users_lock() FROM PUBLIC;
COMMENT ON FUNCTION tenancy._users_lock() IS 'Trigger (per statement): serialises changes of a tenant''s users (advisory lock on the context''s tenant) before rows are locked, so concurrent owner changes fail cleanly instead of deadlocking.';
CREATE TRIGGER users_lock BEFORE UPDATE OR DELETE ON tenancy.users
  FOR EACH STATEMENT EXECUTE FUNCTION tenancy._users_lock();

CREATE FUNCTION tenancy._check_role(p_role text) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF p_role NOT IN ('user', 'admin', 'owner') THEN
    RAISE EXCEPTION 'invalid role "%"', p_role USING ERRCODE = '22023', DETAIL = 'Roles: user, admin, owner.';
  END IF;
END $$;
COMMENT ON FUNCTION tenancy._check_role(text) IS 'Internal: raises 22023 unless the role is user, admin or owner.';

CREATE FUNCTION tenancy._check_email(p_email text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE e text := btrim(p_email);
BEGIN
  IF e IS NULL OR length(e) > (tenancy.bounds()).email_max OR e !~ '^[^@[:space:][:cntrl:]]+@[^@[:space:][:cntrl:]]+\.[^@[:space:][:cntrl:]]+$' THEN
    RAISE EXCEPTION 'invalid email address' USING ERRCODE = '22023', DETAIL = 'Give an address such as ada@example.com.';
  END IF;
  RETURN e;
END $$;
COMMENT ON FUNCTION tenancy._check_email(text) IS 'Internal: trims an email address and raises 22023 unless it looks like one.';

-- Creates a user in the current tenant (admins and owners), within max_users.
CREATE FUNCTION tenancy.create_user(p_email text, p_password text, p_role text DEFAULT 'user',
                                    p_display_name text DEFAULT NULL)
RETURNS SETOF tenancy.user_info
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t uuid := tenancy.current_tenant_id();
  lim integer;
  e text := tenancy._check_email(p_email);
BEGIN
  PERFORM tenancy._check_role(coalesce(p_role, 'user'));
  IF t IS NULL OR NOT tenancy.is_tenant_admin() THEN
    RAISE EXCEPTION 'only admins and owners create users' USING ERRCODE = '42501';
  END IF;
  -- Count under a per-tenant lock so concurrent creations cannot pass the limit.
  PERFORM pg_advisory_xact_lock(hashtext('backend_framework.users'), hashtext(t::text));
  SELECT max_users INTO lim FROM tenancy.tenant_limits(t);
  IF lim IS NOT NULL AND (SELECT count(*) FROM tenancy.users WHERE tenant_id = t) >= lim THEN
    PERFORM tenancy._raise_limit('users', lim);
  END IF;
  RETURN QUERY
  INSERT INTO tenancy.users AS u (tenant_id, email, password_hash, display_name, role)
  VALUES (t, e, tenancy.hash_password(p_password), nullif(btrim(p_display_name), ''), coalesce(p_role, 'user'))
  RETURNING u.tenant_id, u.id, u.email, u.display_name, u.role, u.status, u.created_at, u.updated_at;
EXCEPTION WHEN unique_violation THEN
  RAISE EXCEPTION 'a user with email "%" already exists', e USING ERRCODE = '23505';
END $$;
COMMENT ON FUNCTION tenancy.create_user(text, text, text, text) IS 'Creates a user in the current tenant (admins and owners; owner role: owners), enforcing max_users (TB001).';

-- Updates a user; NULL leaves a field. Users change their own name; admins
-- also role and status (owner changes: owners). Passwords and e-mail
-- addresses never change here: users change their own with
-- tenancy.change_credentials (giving the current password), admins can
-- only trigger tenancy.reset_password.
CREATE FUNCTION tenancy.update_user(p_id uuid, p_display_name text DEFAULT NULL,
                                    p_role text DEFAULT NULL, p_status text DEFAULT NULL)
RETURNS SETOF tenancy.user_info
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF p_role IS NOT NULL THEN PERFORM tenancy._check_role(p_role); END IF;
  IF p_status IS NOT NULL AND p_status NOT IN ('active', 'disabled') THEN
    RAISE EXCEPTION 'invalid status "%"', p_status USING ERRCODE = '22023', DETAIL = 'Status is active or disabled.';
  END IF;
  IF p_display_name IS NOT NULL AND length(p_display_name) > (tenancy.bounds()).name_max THEN
    RAISE EXCEPTION 'display name is too long' USING ERRCODE = '22023',
      DETAIL = format('At most %s characters.', (tenancy.bounds()).name_max);
  END IF;
  RETURN QUERY
  UPDATE tenancy.users u SET
    display_name = CASE WHEN p_display_name IS NULL THEN u.display_name ELSE nullif(btrim(p_display_name), '') END,
    role   = coalesce(p_role, u.role),
    status = coalesce(p_status, u.status)
  WHERE u.tenant_id = tenancy.current_tenant_id() AND u.id = p_id
  RETURNING u.tenant_id, u.id, u.email, u.display_name, u.role, u.status, u.created_at, u.updated_at;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'user not found' USING ERRCODE = 'P0002';
  END IF;
END $$;
COMMENT ON FUNCTION tenancy.update_user(uuid, text, text, text) IS 'Updates display name, role or status of a user of the current tenant; NULL leaves a field. RLS and the users_guard trigger decide who may change what. Never the password or e-mail (see tenancy.change_credentials, tenancy.reset_password).';

CREATE FUNCTION tenancy.delete_user(p_id uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF p_id = tenancy.current_user_id() THEN
    RAISE EXCEPTION 'you cannot delete yourself' USING ERRCODE = '42501';
  END IF;
  DELETE FROM tenancy.users WHERE tenant_id = tenancy.current_tenant_id() AND id = p_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'user not found' USING ERRCODE = 'P0002';
  END IF;
END $$;
COMMENT ON FUNCTION tenancy.delete_user(uuid) IS 'Deletes a user of the current tenant (admins and owners; owners: owners, never the last one).';

-- Keyset paging in email order: pass the last email of a page as p_after.
-- One page of users after an e-mail, any size: the query of list_users
-- (which caps the size) and of GET /api/v1/users (which asks for one more
-- than its page, to know whether another follows).
CREATE FUNCTION tenancy._users_after(p_after text, p_limit integer)
RETURNS SETOF tenancy.user_info
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT u.tenant_id, u.id, u.email, u.display_name, u.role, u.status, u.created_at, u.updated_at
    FROM tenancy.users u
   WHERE u.tenant_id = tenancy.current_tenant_id()
     AND (p_after IS NULL OR lower(u.email) > lower(p_after))
   ORDER BY lower(u.email)
   LIMIT p_limit
$$;
COMMENT ON FUNCTION tenancy._users_after(text, integer) IS 'Internal: at most p_limit users of the current tenant visible to the caller, in email order, after the e-mail p_after (NULL: from the start).';

CREATE FUNCTION tenancy.list_users(p_limit integer DEFAULT NULL, p_after text DEFAULT NULL)
RETURNS SETOF tenancy.user_info
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT * FROM tenancy._users_after(p_after,
    greatest(1, least(coalesce(p_limit, (tenancy.bounds()).page_size), (tenancy.bounds()).page_max)))
$$;
COMMENT ON FUNCTION tenancy.list_users(integer, text) IS 'Users of the current tenant visible to the caller, in email order; p_after = last email of the previous page; p_limit per page (default and largest: tenancy.bounds().page_size, page_max).';
