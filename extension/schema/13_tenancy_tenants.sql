-- 13_tenancy_tenants.sql — tenant life cycle: register, update, settings,
-- suspend/activate, delete, limits and statistics.

-- Platform operators: superusers and members of backend_admin. Both the
-- login (session_user) and the role it SET ROLE to, if any, must qualify,
-- so a superuser who SET ROLE to an application role acts as that role.
-- The role setting, not current_user: inside a SECURITY DEFINER function
-- current_user is backend_definer, while the setting stays the caller's.
CREATE FUNCTION tenancy.is_platform_admin() RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT pg_catalog.pg_has_role(session_user, 'backend_admin', 'MEMBER')
     AND (pg_catalog.current_setting('role') = 'none'
          OR pg_catalog.pg_has_role(pg_catalog.current_setting('role')::name, 'backend_admin', 'MEMBER'))
$$;
COMMENT ON FUNCTION tenancy.is_platform_admin() IS 'True when the login and the role it set (SET ROLE), if any, are superusers or members of backend_admin.';

-- Effective limits of a tenant: its overrides, else its plan's (NULL: unlimited).
CREATE FUNCTION tenancy.tenant_limits(p_tenant uuid,
  OUT max_users integer, OUT max_api_calls_per_month bigint, OUT max_storage_bytes bigint)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
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
  RAISE EXCEPTION 'plan limit reached: %', what USING ERRCODE = 'TB001',
    DETAIL = format('The tenant''s plan allows %s %s.', lim, what),
    HINT = 'Upgrade the plan or remove something first.';
END $$;
COMMENT ON FUNCTION tenancy._raise_limit(text, bigint) IS 'Internal: raises TB001 (plan limit reached), mapped to HTTP 403.';

CREATE FUNCTION tenancy._check_slug(p_slug text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE s text := lower(btrim(p_slug));
BEGIN
  IF s IS NULL OR s !~ (tenancy.patterns()).slug THEN
    RAISE EXCEPTION 'invalid slug' USING ERRCODE = '22023',
      DETAIL = 'A slug has 3 to 63 lower-case letters, digits or hyphens, and starts and ends with a letter or digit.';
  END IF;
  IF tenancy.is_reserved_slug(s) THEN
    RAISE EXCEPTION 'slug "%" is reserved', s USING ERRCODE = '22023', DETAIL = 'Choose another slug.';
  END IF;
  RETURN s;
END $$;
COMMENT ON FUNCTION tenancy._check_slug(text) IS 'Internal: normalises a slug (trim, lower case) and raises 22023 with a clear message when invalid or reserved.';

CREATE FUNCTION tenancy._check_name(p_name text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  n text := btrim(p_name);
  lim integer := (tenancy.bounds()).name_max;
BEGIN
  IF n IS NULL OR length(n) NOT BETWEEN 1 AND lim THEN
    RAISE EXCEPTION 'invalid tenant name' USING ERRCODE = '22023', DETAIL = format('A name has 1 to %s characters.', lim);
  END IF;
  RETURN n;
END $$;
COMMENT ON FUNCTION tenancy._check_name(text) IS 'Internal: a tenant name trimmed; 22023 unless it has 1 to tenancy.bounds().name_max characters.';

-- Sign-up invitations (backend_framework.signup = invite): made by platform
-- operators, shown once, stored as SHA-256 digests, used once.
CREATE TABLE tenancy.invitations (
  code_hash  bytea PRIMARY KEY CHECK (octet_length(code_hash) = 32),
  note       text CHECK (length(note) <= (tenancy.bounds()).name_max),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at    timestamptz,
  used_by    uuid
);
COMMENT ON TABLE tenancy.invitations IS 'Sign-up invitations of platform operators (SHA-256 of the code only); used_at and used_by (the tenant) record the sign-up that used one. Platform table: no application role reads it.';
ALTER TABLE tenancy.invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenancy.invitations FORCE ROW LEVEL SECURITY;

CREATE FUNCTION tenancy.create_invitation(note text DEFAULT NULL, valid_for interval DEFAULT '7 days') RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  code text := oauth.random_token('invitation');
  longest interval := justify_hours(make_interval(secs => (oauth.lifetimes()).invitation_max));
BEGIN
  IF NOT tenancy.is_platform_admin() THEN
    RAISE EXCEPTION 'only a platform operator invites' USING ERRCODE = '42501';
  END IF;
  IF valid_for IS NULL OR valid_for <= interval '0' OR valid_for > longest THEN
    RAISE EXCEPTION 'an invitation is valid for up to %', longest USING ERRCODE = '22023';
  END IF;
  INSERT INTO tenancy.invitations (code_hash, note, expires_at)
    VALUES (oauth.token_digest(code), create_invitation.note, now() + valid_for);
  RETURN code;
END $$;
COMMENT ON FUNCTION tenancy.create_invitation(text, interval) IS 'backend_admin: a one-time sign-up invitation code (bfiv_…), shown only here; valid for up to oauth.lifetimes().invitation_max.';
REVOKE ALL ON FUNCTION tenancy.create_invitation(text, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.create_invitation(text, interval) TO backend_admin;

-- Sign-ups over HTTP per client address and hour (backend_framework.signup_per_hour).
CREATE TABLE tenancy.signup_attempts (
  client_addr  text PRIMARY KEY,
  window_start timestamptz NOT NULL DEFAULT now(),
  attempts     integer NOT NULL DEFAULT 0
);
COMMENT ON TABLE tenancy.signup_attempts IS 'Sign-up attempts per client address in the current hour-long window. Platform table written only by tenancy.signup_throttle.';
ALTER TABLE tenancy.signup_attempts ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenancy.signup_attempts FORCE ROW LEVEL SECURITY;

-- Counts one sign-up attempt of a client address; TB429 (HTTP 429, HINT:
-- seconds to wait) past the hourly limit. Called by the HTTP sign-up
-- before anything else, so refused attempts cost nothing more.
CREATE FUNCTION tenancy.signup_throttle(p_addr text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  lim integer := current_setting('backend_framework.signup_per_hour')::integer;
  win interval := make_interval(secs => (tenancy.throttling()).signup_window);
  a tenancy.signup_attempts;
BEGIN
  INSERT INTO tenancy.signup_attempts AS s (client_addr, attempts) VALUES (coalesce(p_addr, 'unknown'), 1)
  ON CONFLICT (client_addr) DO UPDATE
    SET attempts = CASE WHEN s.window_start < now() - win THEN 1 ELSE s.attempts + 1 END,
        window_start = CASE WHEN s.window_start < now() - win THEN now() ELSE s.window_start END
  RETURNING s.* INTO a;
  IF a.attempts > lim THEN
    RAISE EXCEPTION 'too many sign-ups from this address' USING ERRCODE = 'TB429',
      HINT = greatest(1, ceil(extract(epoch FROM a.window_start + win - now())))::bigint::text;
  END IF;
END $$;
COMMENT ON FUNCTION tenancy.signup_throttle(text) IS 'Counts a sign-up attempt of a client address; TB429 (HTTP 429) past backend_framework.signup_per_hour in the window (tenancy.throttling().signup_window).';
REVOKE ALL ON FUNCTION tenancy.signup_throttle(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.signup_throttle(text) TO backend_gateway;

-- Registers a tenant and its first owner atomically, then sets the context
-- to that owner (tenant, user, role owner, the API scopes) for the rest of the
-- transaction, so the caller can go on (e.g. issue the owner's first token).
-- Platform operators register any tenant on any plan. Anyone else gets the
-- deployment's default plan, and only while backend_framework.signup allows:
-- open, or invite with an unused invitation code.
CREATE FUNCTION tenancy.register_tenant(slug text, name text, owner_email text, owner_password text,
                                        plan text DEFAULT NULL, invitation text DEFAULT NULL,
                                        OUT tenant_id uuid, OUT owner_id uuid)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  s text := tenancy._check_slug(slug);
  e text := tenancy._check_email(owner_email);
  default_plan text := current_setting('backend_framework.default_plan');
  p text := coalesce(register_tenant.plan, default_plan);
  mode text := current_setting('backend_framework.signup');
  n text;
BEGIN
  n := tenancy._check_name(name);
  IF NOT EXISTS (SELECT 1 FROM tenancy.plans x WHERE x.name = p) THEN
    RAISE EXCEPTION 'unknown plan "%"', p USING ERRCODE = '22023',
      DETAIL = 'Plans: free, basic, premium, enterprise.';
  END IF;
  IF NOT tenancy.is_platform_admin() THEN
    IF p <> default_plan THEN
      RAISE EXCEPTION 'only a platform operator chooses the plan' USING ERRCODE = '42501',
        DETAIL = format('New organizations start on the %s plan.', default_plan);
    END IF;
    IF mode = 'closed' THEN
      RAISE EXCEPTION 'sign-up is closed' USING ERRCODE = '42501',
        DETAIL = 'Ask the platform operator to create the organization.';
    END IF;
  END IF;
  IF EXISTS (SELECT 1 FROM tenancy.tenants t WHERE t.slug = s) THEN
    RAISE EXCEPTION 'a tenant with slug "%" already exists', s USING ERRCODE = '23505';
  END IF;
  INSERT INTO tenancy.tenants (slug, name, plan) VALUES (s, n, p)
    RETURNING id INTO tenant_id;
  IF mode = 'invite' AND NOT tenancy.is_platform_admin() THEN
    UPDATE tenancy.invitations i SET used_at = now(), used_by = register_tenant.tenant_id
     WHERE i.code_hash = oauth.token_digest(coalesce(invitation, '')) AND i.used_at IS NULL AND i.expires_at > now();
    IF NOT FOUND THEN
      RAISE EXCEPTION 'sign-up needs a valid invitation' USING ERRCODE = '42501',
        DETAIL = 'The invitation is missing, unknown, used or expired.';
    END IF;
  END IF;
  owner_id := gen_random_uuid();
  PERFORM tenancy._set_context(tenant_id, owner_id, 'owner', oauth._scope_text(oauth.api_scopes()), NULL);
  INSERT INTO tenancy.users (tenant_id, id, email, password_hash, role)
    VALUES (tenant_id, owner_id, e, tenancy.hash_password(owner_password), 'owner');
EXCEPTION WHEN unique_violation THEN
  RAISE EXCEPTION 'a tenant with slug "%" already exists', s USING ERRCODE = '23505';
END $$;
COMMENT ON FUNCTION tenancy.register_tenant(text, text, text, text, text, text) IS 'Creates a tenant and its first owner atomically and enters that owner''s context for the rest of the transaction. Platform operators choose any plan; others get backend_framework.default_plan, and only while backend_framework.signup is open (or invite, with an unused invitation code).';
REVOKE ALL ON FUNCTION tenancy.register_tenant(text, text, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.register_tenant(text, text, text, text, text, text) TO backend_gateway, backend_app, backend_admin;

-- How sign-up works here, for the sign-up page.
CREATE FUNCTION tenancy.signup_policy() RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT jsonb_build_object('signup', current_setting('backend_framework.signup'),
                            'plan', current_setting('backend_framework.default_plan'))
$$;
COMMENT ON FUNCTION tenancy.signup_policy() IS 'Sign-up mode (open, invite, closed) and the plan new organizations get.';

-- Guards on tenants that hold whatever path the change takes: plan, status,
-- slug and limits change only by platform operators.
CREATE FUNCTION tenancy._tenants_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF (NEW.status IS DISTINCT FROM OLD.status OR NEW.limit_overrides IS DISTINCT FROM OLD.limit_overrides
      OR NEW.slug IS DISTINCT FROM OLD.slug OR NEW.plan IS DISTINCT FROM OLD.plan) AND NOT tenancy.is_platform_admin() THEN
    RAISE EXCEPTION 'only a platform operator may change plan, status, slug or limits' USING ERRCODE = '42501';
  END IF;
  RETURN NEW;
END $$;
COMMENT ON FUNCTION tenancy._tenants_guard() IS 'Trigger: plan, status, slug and limit changes need a platform operator (backend_admin).';
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
  IF p_name IS NOT NULL THEN PERFORM tenancy._check_name(p_name); END IF;
  IF dom <> '' AND dom !~ (tenancy.patterns()).domain THEN
    RAISE EXCEPTION 'invalid custom domain' USING ERRCODE = '22023', DETAIL = 'Give a host name such as app.example.com.';
  END IF;
  IF p_plan IS NOT NULL AND NOT EXISTS (SELECT 1 FROM tenancy.plans WHERE name = p_plan) THEN
    RAISE EXCEPTION 'unknown plan "%"', p_plan USING ERRCODE = '22023', DETAIL = 'Plans: free, basic, premium, enterprise.';
  END IF;
  -- The plan column is written only when asked: only platform operators
  -- may write it at all.
  IF p_plan IS NOT NULL THEN
    UPDATE tenancy.tenants t SET plan = p_plan WHERE t.id = p_id;
  END IF;
  RETURN QUERY
  UPDATE tenancy.tenants t SET
    name = coalesce(btrim(p_name), t.name),
    custom_domain = CASE WHEN dom IS NULL THEN t.custom_domain WHEN dom = '' THEN NULL ELSE dom END
  WHERE t.id = p_id RETURNING t.*;
  IF NOT FOUND THEN PERFORM tenancy._tenant_not_found(); END IF;
EXCEPTION WHEN unique_violation THEN
  RAISE EXCEPTION 'custom domain "%" is already in use', dom USING ERRCODE = '23505';
END $$;
COMMENT ON FUNCTION tenancy.update_tenant(uuid, text, text, text) IS 'Updates a tenant (admins and owners of it; plan: platform operators only). NULL leaves a field as it is; '''' clears the custom domain.';

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

-- A number of seconds between lo and hi, as a JSON value: NULL when it is
-- one, else the message saying what k must be. Tenant settings and client
-- metadata (oauth._client_metadata) hold lifetimes to it.
CREATE FUNCTION tenancy._seconds_problem(k text, v jsonb, lo integer, hi integer) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN NOT x.ok THEN format('%s must be a number of seconds between %s and %s', k, lo, hi) END
    FROM (SELECT CASE WHEN jsonb_typeof(v) = 'number' AND v::text ~ '^[0-9]{1,9}$'
                      THEN v::text::integer BETWEEN lo AND hi ELSE false END AS ok) x
$$;
COMMENT ON FUNCTION tenancy._seconds_problem(text, jsonb, integer, integer) IS 'Internal: NULL when a JSON value is a whole number of seconds from lo to hi, else the message saying what k must be.';

-- Settings: validated keys only, so a typo does not silently do nothing.
CREATE FUNCTION tenancy.validate_settings(p jsonb) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  k text;
  v jsonb;
  problem text;
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
    WHEN 'open_registration', 'allow_plain_pkce', 'password_grant', 'pkce_optional_for_confidential_clients' THEN
      IF jsonb_typeof(v) <> 'boolean' THEN
        RAISE EXCEPTION '% must be true or false', k USING ERRCODE = '22023';
      END IF;
    WHEN 'access_token_ttl', 'refresh_token_ttl', 'code_ttl', 'refresh_token_max_lifetime' THEN
      SELECT CASE WHEN k = 'refresh_token_max_lifetime' THEN tenancy._seconds_problem(k, v, l.family_min, l.family_max)
                  ELSE tenancy._seconds_problem(k, v, l.ttl_min, l.ttl_max) END
        INTO problem FROM oauth.lifetimes() l;
      IF problem IS NOT NULL THEN
        RAISE EXCEPTION '%', problem USING ERRCODE = '22023';
      END IF;
    WHEN 'resource_indicators' THEN
      IF jsonb_typeof(v) <> 'array' OR jsonb_array_length(v) > (tenancy.bounds()).resources_max
         OR EXISTS (SELECT 1 FROM jsonb_array_elements(v) o
                     WHERE jsonb_typeof(o) <> 'string' OR o #>> '{}' !~ '^https?://[^[:space:]#]+$'
                        OR length(o #>> '{}') > (tenancy.bounds()).uri_max) THEN
        RAISE EXCEPTION 'resource_indicators must be a list of absolute http(s) URIs without fragment' USING ERRCODE = '22023';
      END IF;
    ELSE
      RAISE EXCEPTION 'unknown setting "%"', k USING ERRCODE = '22023',
        DETAIL = 'Known: allowed_origins, brand_color, open_registration, allow_plain_pkce, password_grant, pkce_optional_for_confidential_clients, access_token_ttl, refresh_token_ttl, code_ttl, refresh_token_max_lifetime, resource_indicators.';
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
