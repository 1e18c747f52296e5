-- 13_tenancy_tenants.sql — tenant life cycle: register, update, settings,
-- suspend/activate, delete, limits and statistics.

-- Platform operators: superusers and members of backend_admin. Both the
-- login (session_user) and the effective role must qualify: inside a
-- SECURITY DEFINER function current_user is the extension's owner, and a
-- superuser who SET ROLE to an application role acts as that role.
CREATE FUNCTION tenancy.is_platform_admin() RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT pg_catalog.pg_has_role(session_user, 'backend_admin', 'MEMBER')
     AND pg_catalog.pg_has_role(current_user, 'backend_admin', 'MEMBER')
$$;
COMMENT ON FUNCTION tenancy.is_platform_admin() IS 'True when both the login and the current role are superusers or members of backend_admin.';

-- Effective limits of a tenant: its overrides, else its plan's (NULL: unlimited).
CREATE FUNCTION tenancy.tenant_limits(p_tenant uuid,
  OUT max_users integer, OUT max_api_calls_per_month bigint, OUT max_storage_bytes bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE o jsonb;
BEGIN
  SELECT t.limit_overrides, p.max_users, p.max_api_calls_per_month, p.max_storage_bytes
    INTO o, max_users, max_api_calls_per_month, max_storage_bytes
    FROM tenancy.tenants t JOIN tenancy.plans p ON p.name = t.plan WHERE t.id = p_tenant;
  IF o ? 'max_users' THEN max_users := (o->>'max_users')::integer; END IF;
  IF o ? 'max_api_calls_per_month' THEN max_api_calls_per_month := (o->>'max_api_calls_per_month')::bigint; END IF;
  IF o ? 'max_storage_bytes' THEN max_storage_bytes := (o->>'max_storage_bytes')::bigint; END IF;
END $$;
COMMENT ON FUNCTION tenancy.tenant_limits(uuid) IS 'Effective limits of a tenant (overrides, else plan); NULL means unlimited.';

CREATE FUNCTION tenancy._raise_limit(what text, lim bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  RAISE EXCEPTION 'plan limit reached: %', what USING ERRCODE = 'BF001',
    DETAIL = format('The tenant''s plan allows %s %s.', lim, what),
    HINT = 'Upgrade the plan or remove something first.';
END $$;
COMMENT ON FUNCTION tenancy._raise_limit(text, bigint) IS 'Internal: raises BF001 (plan limit reached), mapped to HTTP 403.';

CREATE FUNCTION tenancy._check_slug(p_slug text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE s text := lower(btrim(p_slug));
BEGIN
  IF s IS NULL OR s !~ '^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$' THEN
    RAISE EXCEPTION 'invalid slug' USING ERRCODE = '22023',
      DETAIL = 'A slug has 3 to 63 lower-case letters, digits or hyphens, and starts and ends with a letter or digit.';
  END IF;
  IF tenancy.is_reserved_slug(s) THEN
    RAISE EXCEPTION 'slug "%" is reserved', s USING ERRCODE = '22023', DETAIL = 'Choose another slug.';
  END IF;
  RETURN s;
END $$;
COMMENT ON FUNCTION tenancy._check_slug(text) IS 'Internal: normalises a slug (trim, lower case) and raises 22023 with a clear message when invalid or reserved.';

-- Registers a tenant and its first owner atomically, then sets the context
-- to that owner (tenant, user, role owner, all scopes) for the rest of the
-- transaction, so the caller can go on (e.g. issue the owner's first token).
CREATE FUNCTION tenancy.register_tenant(slug text, name text, owner_email text, owner_password text,
                                        plan text DEFAULT 'free',
                                        OUT tenant_id uuid, OUT owner_id uuid)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  s text := tenancy._check_slug(slug);
  e text := tenancy._check_email(owner_email);
BEGIN
  IF name IS NULL OR length(btrim(name)) NOT BETWEEN 1 AND 200 THEN
    RAISE EXCEPTION 'invalid tenant name' USING ERRCODE = '22023', DETAIL = 'A name has 1 to 200 characters.';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM tenancy.plans p WHERE p.name = coalesce(register_tenant.plan, 'free')) THEN
    RAISE EXCEPTION 'unknown plan "%"', plan USING ERRCODE = '22023',
      DETAIL = 'Plans: free, basic, premium, enterprise.';
  END IF;
  IF EXISTS (SELECT 1 FROM tenancy.tenants t WHERE t.slug = s) THEN
    RAISE EXCEPTION 'a tenant with slug "%" already exists', s USING ERRCODE = '23505';
  END IF;
  INSERT INTO tenancy.tenants (slug, name, plan) VALUES (s, btrim(name), coalesce(register_tenant.plan, 'free'))
    RETURNING id INTO tenant_id;
  owner_id := gen_random_uuid();
  PERFORM tenancy._set_context(tenant_id, owner_id, 'owner', 'admin profile read write', NULL);
  INSERT INTO tenancy.users (tenant_id, id, email, password_hash, role)
    VALUES (tenant_id, owner_id, e, tenancy.hash_password(owner_password), 'owner');
EXCEPTION WHEN unique_violation THEN
  RAISE EXCEPTION 'a tenant with slug "%" already exists', s USING ERRCODE = '23505';
END $$;
COMMENT ON FUNCTION tenancy.register_tenant(text, text, text, text, text) IS 'Creates a tenant and its first owner atomically and enters that owner''s context for the rest of the transaction.';
REVOKE ALL ON FUNCTION tenancy.register_tenant(text, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.register_tenant(text, text, text, text, text) TO backend_gateway, backend_app, backend_admin;

-- Guards on tenants that hold whatever path the change takes: only owners
-- (or the platform) change the plan; status and limits only the platform.
CREATE FUNCTION tenancy._tenants_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF NEW.plan IS DISTINCT FROM OLD.plan AND NOT tenancy.is_platform_admin()
     AND tenancy.current_user_role() IS DISTINCT FROM 'owner' THEN
    RAISE EXCEPTION 'only an owner may change the plan' USING ERRCODE = '42501';
  END IF;
  IF (NEW.status IS DISTINCT FROM OLD.status OR NEW.limit_overrides IS DISTINCT FROM OLD.limit_overrides
      OR NEW.slug IS DISTINCT FROM OLD.slug) AND NOT tenancy.is_platform_admin() THEN
    RAISE EXCEPTION 'only a platform operator may change status, slug or limits' USING ERRCODE = '42501';
  END IF;
  RETURN NEW;
END $$;
COMMENT ON FUNCTION tenancy._tenants_guard() IS 'Trigger: plan changes need an owner; status, slug and limit changes need backend_admin.';
CREATE TRIGGER tenants_guard BEFORE UPDATE ON tenancy.tenants FOR EACH ROW EXECUTE FUNCTION tenancy._tenants_guard();

CREATE FUNCTION tenancy._tenant_not_found() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  RAISE EXCEPTION 'tenant not found' USING ERRCODE = 'P0002',
    DETAIL = 'No such tenant in the current context, or not allowed.';
END $$;
COMMENT ON FUNCTION tenancy._tenant_not_found() IS 'Internal: raises P0002 (HTTP 404) without telling whether the tenant exists.';

-- Updates name, custom domain ('' clears it) and plan; NULL leaves a field.
CREATE FUNCTION tenancy.update_tenant(p_id uuid, p_name text DEFAULT NULL, p_custom_domain text DEFAULT NULL,
                                      p_plan text DEFAULT NULL)
RETURNS SETOF tenancy.tenants
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE dom text := lower(btrim(p_custom_domain));
BEGIN
  IF p_name IS NOT NULL AND length(btrim(p_name)) NOT BETWEEN 1 AND 200 THEN
    RAISE EXCEPTION 'invalid tenant name' USING ERRCODE = '22023', DETAIL = 'A name has 1 to 200 characters.';
  END IF;
  IF dom <> '' AND dom !~ '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$' THEN
    RAISE EXCEPTION 'invalid custom domain' USING ERRCODE = '22023', DETAIL = 'Give a host name such as app.example.com.';
  END IF;
  IF p_plan IS NOT NULL AND NOT EXISTS (SELECT 1 FROM tenancy.plans WHERE name = p_plan) THEN
    RAISE EXCEPTION 'unknown plan "%"', p_plan USING ERRCODE = '22023', DETAIL = 'Plans: free, basic, premium, enterprise.';
  END IF;
  RETURN QUERY
  UPDATE tenancy.tenants t SET
    name = coalesce(btrim(p_name), t.name),
    custom_domain = CASE WHEN dom IS NULL THEN t.custom_domain WHEN dom = '' THEN NULL ELSE dom END,
    plan = coalesce(p_plan, t.plan)
  WHERE t.id = p_id RETURNING t.*;
  IF NOT FOUND THEN PERFORM tenancy._tenant_not_found(); END IF;
EXCEPTION WHEN unique_violation THEN
  RAISE EXCEPTION 'custom domain "%" is already in use', dom USING ERRCODE = '23505';
END $$;
COMMENT ON FUNCTION tenancy.update_tenant(uuid, text, text, text) IS 'Updates a tenant (admins and owners of it; plan: owners). NULL leaves a field as it is; '''' clears the custom domain.';

CREATE FUNCTION tenancy.delete_tenant(p_id uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  DELETE FROM tenancy.tenants WHERE id = p_id;
  IF NOT FOUND THEN PERFORM tenancy._tenant_not_found(); END IF;
END $$;
COMMENT ON FUNCTION tenancy.delete_tenant(uuid) IS 'Deletes a tenant and, by cascade, all its data (owners of it, or backend_admin after enter_tenant).';

CREATE FUNCTION tenancy.set_tenant_status(p_id uuid, p_status text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF p_status NOT IN ('active', 'suspended') THEN
    RAISE EXCEPTION 'invalid status "%"', p_status USING ERRCODE = '22023', DETAIL = 'Status is active or suspended.';
  END IF;
  UPDATE tenancy.tenants SET status = p_status WHERE id = p_id;
  IF NOT FOUND THEN PERFORM tenancy._tenant_not_found(); END IF;
END $$;
COMMENT ON FUNCTION tenancy.set_tenant_status(uuid, text) IS 'Suspends or activates a tenant (backend_admin only). A suspended tenant resolves to an error.';
REVOKE ALL ON FUNCTION tenancy.set_tenant_status(uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.set_tenant_status(uuid, text) TO backend_admin;

CREATE FUNCTION tenancy.suspend_tenant(p_id uuid) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$ SELECT tenancy.set_tenant_status(p_id, 'suspended') $$;
COMMENT ON FUNCTION tenancy.suspend_tenant(uuid) IS 'Suspends a tenant (backend_admin only).';
CREATE FUNCTION tenancy.activate_tenant(p_id uuid) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$ SELECT tenancy.set_tenant_status(p_id, 'active') $$;
COMMENT ON FUNCTION tenancy.activate_tenant(uuid) IS 'Re-activates a suspended tenant (backend_admin only).';
REVOKE ALL ON FUNCTION tenancy.suspend_tenant(uuid), tenancy.activate_tenant(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.suspend_tenant(uuid), tenancy.activate_tenant(uuid) TO backend_admin;

CREATE FUNCTION tenancy.set_limit_overrides(p_id uuid, p_overrides jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE k text; v jsonb;
BEGIN
  IF jsonb_typeof(p_overrides) IS DISTINCT FROM 'object' THEN
    RAISE EXCEPTION 'limit overrides must be a JSON object' USING ERRCODE = '22023';
  END IF;
  FOR k, v IN SELECT * FROM jsonb_each(p_overrides) LOOP
    IF k NOT IN ('max_users', 'max_api_calls_per_month', 'max_storage_bytes') THEN
      RAISE EXCEPTION 'unknown limit "%"', k USING ERRCODE = '22023';
    END IF;
    IF jsonb_typeof(v) <> 'null' AND (jsonb_typeof(v) <> 'number' OR v::text !~ '^[0-9]+$') THEN
      RAISE EXCEPTION 'limit "%" must be a non-negative integer or null', k USING ERRCODE = '22023';
    END IF;
  END LOOP;
  UPDATE tenancy.tenants SET limit_overrides = p_overrides WHERE id = p_id;
  IF NOT FOUND THEN PERFORM tenancy._tenant_not_found(); END IF;
END $$;
COMMENT ON FUNCTION tenancy.set_limit_overrides(uuid, jsonb) IS 'Replaces a tenant''s limit overrides (backend_admin only); null means unlimited.';
REVOKE ALL ON FUNCTION tenancy.set_limit_overrides(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.set_limit_overrides(uuid, jsonb) TO backend_admin;

-- Settings: validated keys only, so a typo does not silently do nothing.
CREATE FUNCTION tenancy.validate_settings(p jsonb) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE k text; v jsonb;
BEGIN
  IF jsonb_typeof(p) IS DISTINCT FROM 'object' THEN
    RAISE EXCEPTION 'settings must be a JSON object' USING ERRCODE = '22023';
  END IF;
  FOR k, v IN SELECT * FROM jsonb_each(p) LOOP
    CONTINUE WHEN jsonb_typeof(v) = 'null';
    CASE k
    WHEN 'allowed_origins' THEN
      IF jsonb_typeof(v) <> 'array' OR EXISTS (SELECT 1 FROM jsonb_array_elements(v) o
           WHERE jsonb_typeof(o) <> 'string' OR o #>> '{}' !~ '^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$') THEN
        RAISE EXCEPTION 'allowed_origins must be a list of origins such as https://app.example.com' USING ERRCODE = '22023';
      END IF;
    WHEN 'brand_color' THEN
      IF jsonb_typeof(v) <> 'string' OR v #>> '{}' !~ '^#[0-9a-fA-F]{6}$' THEN
        RAISE EXCEPTION 'brand_color must be a colour such as #3355ff' USING ERRCODE = '22023';
      END IF;
    WHEN 'open_registration', 'allow_plain_pkce' THEN
      IF jsonb_typeof(v) <> 'boolean' THEN
        RAISE EXCEPTION '% must be true or false', k USING ERRCODE = '22023';
      END IF;
    WHEN 'access_token_ttl', 'refresh_token_ttl', 'code_ttl' THEN
      IF jsonb_typeof(v) <> 'number' OR v::text !~ '^[0-9]+$' OR v::text::bigint NOT BETWEEN 10 AND 31536000 THEN
        RAISE EXCEPTION '% must be a number of seconds between 10 and 31536000', k USING ERRCODE = '22023';
      END IF;
    ELSE
      RAISE EXCEPTION 'unknown setting "%"', k USING ERRCODE = '22023',
        DETAIL = 'Known: allowed_origins, brand_color, open_registration, allow_plain_pkce, access_token_ttl, refresh_token_ttl, code_ttl.';
    END CASE;
  END LOOP;
END $$;
COMMENT ON FUNCTION tenancy.validate_settings(jsonb) IS 'Raises 22023 for unknown setting keys or values of the wrong shape.';

CREATE FUNCTION tenancy.get_settings() RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT settings FROM tenancy.tenants WHERE id = tenancy.current_tenant_id()
$$;
COMMENT ON FUNCTION tenancy.get_settings() IS 'Settings of the current tenant.';

-- Merges a patch into the current tenant's settings; a null value removes a key.
CREATE FUNCTION tenancy.set_settings(patch jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE result jsonb;
BEGIN
  PERFORM tenancy.validate_settings(patch);
  UPDATE tenancy.tenants t
     SET settings = jsonb_strip_nulls(t.settings || patch)
   WHERE t.id = tenancy.current_tenant_id() RETURNING t.settings INTO result;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'only admins and owners change settings' USING ERRCODE = '42501';
  END IF;
  RETURN result;
END $$;
COMMENT ON FUNCTION tenancy.set_settings(jsonb) IS 'Merges validated settings into the current tenant''s (admins and owners); null removes a key.';
