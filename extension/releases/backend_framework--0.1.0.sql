-- 00_header.sql — install guard, schemas and the three roles.
-- The parts in extension/schema/ are concatenated in name order into
-- backend_framework--0.1.0.sql by the Makefile.

\echo Use "CREATE EXTENSION backend_framework CASCADE" to load this file. \quit

-- Roles are cluster-wide: create them only when missing, NOLOGIN. Give the
-- gateway a login with: CREATE ROLE gw LOGIN PASSWORD '...' IN ROLE backend_gateway;
DO $roles$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'backend_gateway') THEN
    CREATE ROLE backend_gateway NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'backend_app') THEN
    CREATE ROLE backend_app NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'backend_admin') THEN
    CREATE ROLE backend_admin NOLOGIN;
  END IF;
END
$roles$;
COMMENT ON ROLE backend_gateway IS 'backend_framework: the HTTP gateway logs in as a member of this role; it may call api.handle_request and tenancy.resolve_tenant.';
COMMENT ON ROLE backend_app IS 'backend_framework: SQL clients of applications; they authenticate with tenancy.authenticate(access_token).';
COMMENT ON ROLE backend_admin IS 'backend_framework: platform operators (pgAdmin); may enter any tenant with tenancy.enter_tenant().';

CREATE SCHEMA tenancy;
CREATE SCHEMA oauth;
CREATE SCHEMA api;
COMMENT ON SCHEMA tenancy IS 'backend_framework: plans, tenants, users, roles, usage and the request context.';
COMMENT ON SCHEMA oauth IS 'backend_framework: OAuth 2.0 authorization server — clients, codes, tokens, grants.';
COMMENT ON SCHEMA api IS 'backend_framework: HTTP routing, JSON in and out, HTML pages and error mapping for the gateway.';

GRANT USAGE ON SCHEMA tenancy, oauth, api TO backend_gateway, backend_app, backend_admin;
-- 01_context.sql — the request context: C readers and the one narrow setter.
-- Policies read the context through these STABLE functions wrapped as
-- (SELECT ...), so it is evaluated once per statement.

CREATE FUNCTION tenancy._assert_loaded() RETURNS void
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'bf_assert_loaded';
COMMENT ON FUNCTION tenancy._assert_loaded() IS 'Fails with a hint unless backend_framework is in shared_preload_libraries.';
REVOKE ALL ON FUNCTION tenancy._assert_loaded() FROM PUBLIC;

CREATE FUNCTION tenancy.current_tenant_id() RETURNS uuid
  LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bf_current_tenant_id';
COMMENT ON FUNCTION tenancy.current_tenant_id() IS 'Tenant of the current transaction, or NULL when no context is set.';

CREATE FUNCTION tenancy.current_user_id() RETURNS uuid
  LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bf_current_user_id';
COMMENT ON FUNCTION tenancy.current_user_id() IS 'Authenticated user of the current transaction, or NULL.';

CREATE FUNCTION tenancy.current_user_role() RETURNS text
  LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bf_current_user_role';
COMMENT ON FUNCTION tenancy.current_user_role() IS 'Role (user, admin, owner) of the authenticated user, or NULL.';

CREATE FUNCTION tenancy.current_client_id() RETURNS text
  LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bf_current_client_id';
COMMENT ON FUNCTION tenancy.current_client_id() IS 'OAuth client_id of the access token that set the context, or NULL.';

CREATE FUNCTION tenancy.has_scope(scope text) RETURNS boolean
  LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bf_has_scope';
COMMENT ON FUNCTION tenancy.has_scope(text) IS 'True when the current context was granted this OAuth scope; false when unset.';

-- The only writer of the context. SECURITY DEFINER (owned by the superuser
-- that created the extension) so it may SET LOCAL the superuser-only
-- settings; EXECUTE is revoked from everyone, so only the extension's own
-- checked entry points reach it. SET LOCAL: gone at commit or abort, and
-- propagated by Citus. An empty string clears a setting.
CREATE FUNCTION tenancy._set_context(p_tenant uuid, p_user uuid, p_role text, p_scopes text, p_client text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE stmt text;
BEGIN
  PERFORM tenancy._assert_loaded();
  -- One EXECUTE of the SET LOCAL statements for what changes (a
  -- transaction starts with everything empty).
  SELECT string_agg(format('SET LOCAL backend_framework.%s = %L', k, v), '; ') INTO stmt
    FROM (VALUES ('tenant_id', coalesce(p_tenant::text, '')), ('user_id', coalesce(p_user::text, '')),
                 ('user_role', coalesce(p_role, '')), ('scopes', coalesce(p_scopes, '')),
                 ('client_id', coalesce(p_client, ''))) AS s(k, v)
   WHERE current_setting('backend_framework.' || k) IS DISTINCT FROM v;
  IF stmt IS NOT NULL THEN EXECUTE stmt; END IF;
END $$;
COMMENT ON FUNCTION tenancy._set_context(uuid, uuid, text, text, text) IS 'Internal: sets the whole request context with SET LOCAL. Not callable by applications.';
REVOKE ALL ON FUNCTION tenancy._set_context(uuid, uuid, text, text, text) FROM PUBLIC;
-- 10_tenancy_tables.sql — plans, tenants, users, usage counters and the
-- registry of tenant tables. Keys of tenant tables lead with tenant_id
-- (Citus-ready); plans, tenants and tenant_tables are small reference tables.

CREATE TABLE tenancy.plans (
  name                    text PRIMARY KEY,
  description             text NOT NULL,
  max_users               integer CHECK (max_users >= 0),
  max_api_calls_per_month bigint  CHECK (max_api_calls_per_month >= 0),
  max_storage_bytes       bigint  CHECK (max_storage_bytes >= 0),
  sort_order              integer NOT NULL DEFAULT 0
);
COMMENT ON TABLE tenancy.plans IS 'Subscription plans and their limits; NULL means unlimited. Reference table.';
COMMENT ON COLUMN tenancy.plans.max_users IS 'Users a tenant may have (NULL: unlimited).';
COMMENT ON COLUMN tenancy.plans.max_api_calls_per_month IS 'HTTP API calls per calendar month (UTC) (NULL: unlimited).';
COMMENT ON COLUMN tenancy.plans.max_storage_bytes IS 'Bytes of rows in tenant tables (NULL: unlimited).';
INSERT INTO tenancy.plans VALUES
  ('free',       'For trying things out',          5,     10000,      104857600, 1),
  ('basic',      'Small teams',                   25,    100000,     1073741824, 2),
  ('premium',    'Growing businesses',           100,   1000000,    10737418240, 3),
  ('enterprise', 'No limits',                   NULL,      NULL,           NULL, 4);

-- Slugs name tenants in URLs and host names: refuse words the platform uses.
CREATE FUNCTION tenancy.is_reserved_slug(slug text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT slug = ANY (ARRAY['admin','api','app','assets','auth','billing','cdn','console','dashboard',
    'docs','ftp','health','help','login','logout','mail','metrics','oauth','public','root','signup',
    'static','status','support','system','t','www','localhost','default','tenant','tenants'])
$$;
COMMENT ON FUNCTION tenancy.is_reserved_slug(text) IS 'True for slugs the platform keeps for itself (api, www, admin, ...).';

CREATE TABLE tenancy.tenants (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  slug            text NOT NULL UNIQUE
                  CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$')
                  CHECK (NOT tenancy.is_reserved_slug(slug)),
  name            text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
  custom_domain   text CHECK (custom_domain ~ '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$'),
  plan            text NOT NULL DEFAULT 'free' REFERENCES tenancy.plans(name),
  status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
  settings        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object'),
  limit_overrides jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(limit_overrides) = 'object'),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX tenants_custom_domain_key ON tenancy.tenants (custom_domain);
COMMENT ON TABLE tenancy.tenants IS 'Tenants: each is an isolated organisation with its own users, clients and OAuth issuer. Reference table keyed by id (= tenant_id everywhere else).';
COMMENT ON COLUMN tenancy.tenants.slug IS 'URL name: 3-63 lower-case letters, digits, hyphens; used by subdomain, X-Tenant and /t/{slug}/.';
COMMENT ON COLUMN tenancy.tenants.custom_domain IS 'Optional host name that identifies the tenant (lower case, unique).';
COMMENT ON COLUMN tenancy.tenants.settings IS 'Tenant settings (see tenancy.set_settings for the known keys).';
COMMENT ON COLUMN tenancy.tenants.limit_overrides IS 'Per-tenant limits replacing the plan''s: {"max_users": n, "max_api_calls_per_month": n, "max_storage_bytes": n}; null means unlimited.';

CREATE TABLE tenancy.users (
  tenant_id     uuid NOT NULL REFERENCES tenancy.tenants(id) ON DELETE CASCADE,
  id            uuid NOT NULL DEFAULT gen_random_uuid(),
  email         text NOT NULL CHECK (length(email) <= 254 AND email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
  password_hash text NOT NULL CHECK (password_hash ~ '^\$2[abxy]\$[0-9]{2}\$.{53}$'),
  display_name  text CHECK (length(display_name) <= 200),
  role          text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin', 'owner')),
  status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX users_tenant_email_key ON tenancy.users (tenant_id, lower(email));
COMMENT ON TABLE tenancy.users IS 'Users of a tenant. Email unique per tenant (case-insensitive); password stored as a bcrypt hash only.';
COMMENT ON COLUMN tenancy.users.password_hash IS 'bcrypt hash (pgcrypto crypt/gen_salt(''bf'')); never readable by application roles.';
COMMENT ON COLUMN tenancy.users.role IS 'user < admin < owner. Admins manage users and clients; only owners grant or remove owner.';

-- Users as applications may read them (no password hash). security_invoker:
-- row-level security of tenancy.users applies to the reader.
CREATE VIEW tenancy.user_info WITH (security_invoker = true) AS
  SELECT tenant_id, id, email, display_name, role, status, created_at, updated_at FROM tenancy.users;
COMMENT ON VIEW tenancy.user_info IS 'Users without their password hash; RLS of tenancy.users applies.';

-- API calls are counted in a few shards per tenant and month, so concurrent
-- requests of one tenant do not queue on one hot row (see tenancy.count_api_call).
CREATE TABLE tenancy.api_usage (
  tenant_id uuid NOT NULL REFERENCES tenancy.tenants(id) ON DELETE CASCADE,
  month     date NOT NULL,
  shard     smallint NOT NULL,
  calls     bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, month, shard)
);
COMMENT ON TABLE tenancy.api_usage IS 'API calls per tenant and month, split over shards to avoid a hot row; sum the shards for the total.';

CREATE TABLE tenancy.storage_usage (
  tenant_id   uuid NOT NULL REFERENCES tenancy.tenants(id) ON DELETE CASCADE,
  month       date NOT NULL,
  bytes       bigint NOT NULL DEFAULT 0,
  measured_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, month)
);
COMMENT ON TABLE tenancy.storage_usage IS 'Storage of a tenant''s rows in all tenant tables, last measurement of each month.';

CREATE TABLE tenancy.tenant_tables (
  table_name regclass PRIMARY KEY,
  builtin    boolean NOT NULL DEFAULT false,
  enabled_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE tenancy.tenant_tables IS 'Every tenant table (built-in and enabled with tenancy.enable_tenant_table): storage is measured over them and the catalog checks cover them.';
INSERT INTO tenancy.tenant_tables (table_name, builtin) VALUES
  ('tenancy.users', true), ('tenancy.api_usage', true), ('tenancy.storage_usage', true);

CREATE FUNCTION tenancy._touch_updated_at() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END $$;
COMMENT ON FUNCTION tenancy._touch_updated_at() IS 'Trigger: keeps updated_at current.';
CREATE TRIGGER tenants_touch BEFORE UPDATE ON tenancy.tenants FOR EACH ROW EXECUTE FUNCTION tenancy._touch_updated_at();
CREATE TRIGGER users_touch BEFORE UPDATE ON tenancy.users FOR EACH ROW EXECUTE FUNCTION tenancy._touch_updated_at();
-- 11_tenancy_policies.sql — row-level security and grants of the tenancy
-- tables. Every policy reads the context through (SELECT tenancy.…()), which
-- is NULL when unset, so no row matches without a context (fail closed).

ALTER TABLE tenancy.tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenancy.tenants FORCE ROW LEVEL SECURITY;
ALTER TABLE tenancy.users ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenancy.users FORCE ROW LEVEL SECURITY;
ALTER TABLE tenancy.api_usage ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenancy.api_usage FORCE ROW LEVEL SECURITY;
ALTER TABLE tenancy.storage_usage ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenancy.storage_usage FORCE ROW LEVEL SECURITY;

-- True when the context's user is an admin or owner of the context's tenant.
CREATE FUNCTION tenancy.is_tenant_admin() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT coalesce(tenancy.current_user_role() IN ('admin', 'owner'), false)
$$;
COMMENT ON FUNCTION tenancy.is_tenant_admin() IS 'True when the current context is an admin or owner of its tenant.';

-- Tenants: anyone in the tenant's context reads its row; admins and owners
-- update it; only owners delete it. New tenants come from register_tenant.
CREATE POLICY tenant_read ON tenancy.tenants FOR SELECT
  USING (id = (SELECT tenancy.current_tenant_id()));
CREATE POLICY tenant_update ON tenancy.tenants FOR UPDATE
  USING (id = (SELECT tenancy.current_tenant_id()) AND (SELECT tenancy.is_tenant_admin()))
  WITH CHECK (id = (SELECT tenancy.current_tenant_id()));
CREATE POLICY tenant_delete ON tenancy.tenants FOR DELETE
  USING (id = (SELECT tenancy.current_tenant_id()) AND (SELECT tenancy.current_user_role()) = 'owner');

-- Users: read your own row; admins and owners manage every user of the tenant.
CREATE POLICY user_read ON tenancy.users FOR SELECT
  USING (tenant_id = (SELECT tenancy.current_tenant_id())
         AND (id = (SELECT tenancy.current_user_id()) OR (SELECT tenancy.is_tenant_admin())));
CREATE POLICY user_insert ON tenancy.users FOR INSERT
  WITH CHECK (tenant_id = (SELECT tenancy.current_tenant_id()) AND (SELECT tenancy.is_tenant_admin()));
CREATE POLICY user_update ON tenancy.users FOR UPDATE
  USING (tenant_id = (SELECT tenancy.current_tenant_id())
         AND (id = (SELECT tenancy.current_user_id()) OR (SELECT tenancy.is_tenant_admin())))
  WITH CHECK (tenant_id = (SELECT tenancy.current_tenant_id()));
CREATE POLICY user_delete ON tenancy.users FOR DELETE
  USING (tenant_id = (SELECT tenancy.current_tenant_id()) AND (SELECT tenancy.is_tenant_admin()));

-- Usage: admins and owners read their tenant's counters; writes go through
-- tenancy.count_api_call / tenancy.measure_storage only.
CREATE POLICY usage_read ON tenancy.api_usage FOR SELECT
  USING (tenant_id = (SELECT tenancy.current_tenant_id()) AND (SELECT tenancy.is_tenant_admin()));
CREATE POLICY storage_read ON tenancy.storage_usage FOR SELECT
  USING (tenant_id = (SELECT tenancy.current_tenant_id()) AND (SELECT tenancy.is_tenant_admin()));

-- Grants: the least that works. The password hash is never readable;
-- status and limit overrides of a tenant only change through the
-- backend_admin functions.
GRANT SELECT ON tenancy.plans, tenancy.tenant_tables TO backend_gateway, backend_app, backend_admin;
GRANT INSERT, DELETE ON tenancy.tenant_tables TO backend_admin;
GRANT SELECT ON tenancy.tenants TO backend_gateway, backend_app, backend_admin;
GRANT UPDATE (name, custom_domain, plan, settings) ON tenancy.tenants TO backend_gateway, backend_app, backend_admin;
GRANT DELETE ON tenancy.tenants TO backend_gateway, backend_app, backend_admin;
GRANT SELECT (tenant_id, id, email, display_name, role, status, created_at, updated_at) ON tenancy.users
  TO backend_gateway, backend_app, backend_admin;
GRANT INSERT (tenant_id, id, email, password_hash, display_name, role, status) ON tenancy.users
  TO backend_gateway, backend_app, backend_admin;
GRANT UPDATE (email, password_hash, display_name, role, status) ON tenancy.users
  TO backend_gateway, backend_app, backend_admin;
GRANT DELETE ON tenancy.users TO backend_gateway, backend_app, backend_admin;
GRANT SELECT ON tenancy.user_info TO backend_gateway, backend_app, backend_admin;
GRANT SELECT ON tenancy.api_usage, tenancy.storage_usage TO backend_gateway, backend_app, backend_admin;
-- 12_tenancy_passwords.sql — password policy, bcrypt hashing (pgcrypto) and
-- verification that costs the same whether or not the email exists.

-- pgcrypto may live in any schema: bind its functions by qualified name now,
-- so no function of ours ever resolves them through a caller's search_path.
DO $bind$
DECLARE s text;
BEGIN
  SELECT n.nspname INTO STRICT s FROM pg_catalog.pg_extension e
    JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pgcrypto';
  EXECUTE format($f$
    CREATE FUNCTION tenancy._bcrypt(password text, salt_or_hash text) RETURNS text
    LANGUAGE sql VOLATILE STRICT SET search_path = pg_catalog, pg_temp
    AS 'SELECT %1$I.crypt(password, salt_or_hash)'$f$, s);
  EXECUTE format($f$
    CREATE FUNCTION tenancy._bcrypt_salt(cost integer) RETURNS text
    LANGUAGE sql VOLATILE STRICT SET search_path = pg_catalog, pg_temp
    AS 'SELECT %1$I.gen_salt(''bf'', cost)'$f$, s);
END
$bind$;
COMMENT ON FUNCTION tenancy._bcrypt(text, text) IS 'Internal: pgcrypto crypt(), bound to pgcrypto''s schema at install time.';
COMMENT ON FUNCTION tenancy._bcrypt_salt(integer) IS 'Internal: pgcrypto gen_salt(''bf'', cost).';

CREATE FUNCTION tenancy.check_password_policy(password text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE min_len integer := current_setting('backend_framework.password_min_length')::integer;
BEGIN
  IF password IS NULL OR char_length(password) < min_len THEN
    RAISE EXCEPTION 'password is too short' USING ERRCODE = '22023',
      DETAIL = format('A password needs at least %s characters.', min_len);
  END IF;
  IF octet_length(password) > 72 THEN
    -- bcrypt reads only 72 bytes; refuse rather than silently truncate.
    RAISE EXCEPTION 'password is too long' USING ERRCODE = '22023',
      DETAIL = 'A password may have at most 72 bytes (bcrypt''s limit).';
  END IF;
  IF password ~ '[[:cntrl:]]' THEN
    RAISE EXCEPTION 'password contains control characters' USING ERRCODE = '22023';
  END IF;
END $$;
COMMENT ON FUNCTION tenancy.check_password_policy(text) IS 'Raises 22023 unless the password has backend_framework.password_min_length characters and at most 72 bytes.';

CREATE FUNCTION tenancy.hash_password(password text) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM tenancy.check_password_policy(password);
  RETURN tenancy._bcrypt(password, tenancy._bcrypt_salt(current_setting('backend_framework.bcrypt_cost')::integer));
END $$;
COMMENT ON FUNCTION tenancy.hash_password(text) IS 'bcrypt hash of a password that meets the policy (cost: backend_framework.bcrypt_cost).';

-- Constant-time check of a password against a stored bcrypt hash.
CREATE FUNCTION tenancy._password_matches(password text, hash text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF password IS NULL OR hash IS NULL OR octet_length(password) > 72 THEN
    PERFORM tenancy._bcrypt('x', tenancy._bcrypt_salt(current_setting('backend_framework.bcrypt_cost')::integer));
    RETURN false;
  END IF;
  RETURN oauth.ct_equal(convert_to(tenancy._bcrypt(password, hash), 'UTF8'), convert_to(hash, 'UTF8'));
END $$;
COMMENT ON FUNCTION tenancy._password_matches(text, text) IS 'Internal: bcrypt check with a constant-time comparison; the same work when hash is NULL.';
REVOKE ALL ON FUNCTION tenancy._password_matches(text, text) FROM PUBLIC;

-- The user id of an active user of the current tenant whose password
-- matches, else NULL. Unknown emails cost one bcrypt too, so timing does not
-- tell who exists. Throttling of repeated failures lives in the OAuth layer.
CREATE FUNCTION tenancy.verify_password(email text, password text) RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE u record;
BEGIN
  SELECT x.id, x.password_hash, x.status INTO u FROM tenancy.users x
   WHERE x.tenant_id = tenancy.current_tenant_id() AND lower(x.email) = lower(verify_password.email);
  IF tenancy._password_matches(password, u.password_hash) AND u.status = 'active' THEN
    RETURN u.id;
  END IF;
  RETURN NULL;
END $$;
COMMENT ON FUNCTION tenancy.verify_password(text, text) IS 'Id of the active user of the current tenant with this email and password, or NULL; same cost for unknown emails.';
REVOKE ALL ON FUNCTION tenancy.verify_password(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.verify_password(text, text) TO backend_gateway, backend_admin;
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
       AND ctx_role IS DISTINCT FROM 'owner' AND ctx_role IS DISTINCT FROM 'admin' THEN
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
      -- Serialise owner changes of this tenant, then make sure one remains.
      PERFORM pg_advisory_xact_lock(hashtext('backend_framework.owners'), hashtext(t::text));
      IF NOT EXISTS (SELECT 1 FROM tenancy.users u WHERE u.tenant_id = t AND u.id <> OLD.id
                      AND u.role = 'owner' AND u.status = 'active') THEN
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
  IF e IS NULL OR length(e) > 254 OR e !~ '^[^@[:space:][:cntrl:]]+@[^@[:space:][:cntrl:]]+\.[^@[:space:][:cntrl:]]+$' THEN
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
COMMENT ON FUNCTION tenancy.create_user(text, text, text, text) IS 'Creates a user in the current tenant (admins and owners; owner role: owners), enforcing max_users (BF001).';

-- Updates a user; NULL leaves a field. Users change their own name and
-- password; admins also role and status (owner changes: owners).
CREATE FUNCTION tenancy.update_user(p_id uuid, p_display_name text DEFAULT NULL, p_password text DEFAULT NULL,
                                    p_role text DEFAULT NULL, p_status text DEFAULT NULL)
RETURNS SETOF tenancy.user_info
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF p_role IS NOT NULL THEN PERFORM tenancy._check_role(p_role); END IF;
  IF p_status IS NOT NULL AND p_status NOT IN ('active', 'disabled') THEN
    RAISE EXCEPTION 'invalid status "%"', p_status USING ERRCODE = '22023', DETAIL = 'Status is active or disabled.';
  END IF;
  IF p_display_name IS NOT NULL AND length(p_display_name) > 200 THEN
    RAISE EXCEPTION 'display name is too long' USING ERRCODE = '22023', DETAIL = 'At most 200 characters.';
  END IF;
  -- The hash is written by its own UPDATE: reading it (as a CASE would)
  -- needs a SELECT privilege that applications do not have.
  IF p_password IS NOT NULL THEN
    UPDATE tenancy.users u SET password_hash = tenancy.hash_password(p_password)
     WHERE u.tenant_id = tenancy.current_tenant_id() AND u.id = p_id;
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
COMMENT ON FUNCTION tenancy.update_user(uuid, text, text, text, text) IS 'Updates a user of the current tenant; NULL leaves a field. RLS and the users_guard trigger decide who may change what.';

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
CREATE FUNCTION tenancy.list_users(p_limit integer DEFAULT 50, p_after text DEFAULT NULL)
RETURNS SETOF tenancy.user_info
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT u.tenant_id, u.id, u.email, u.display_name, u.role, u.status, u.created_at, u.updated_at
    FROM tenancy.users u
   WHERE u.tenant_id = tenancy.current_tenant_id()
     AND (p_after IS NULL OR lower(u.email) > lower(p_after))
   ORDER BY lower(u.email)
   LIMIT greatest(1, least(coalesce(p_limit, 50), 200))
$$;
COMMENT ON FUNCTION tenancy.list_users(integer, text) IS 'Users of the current tenant visible to the caller, in email order; p_after = last email of the previous page; at most 200 per page.';
-- 15_tenancy_resolve.sql — which tenant a request is for (subdomain, custom
-- domain, X-Tenant header, /t/{slug}/ path), and enter_tenant for operators.

CREATE TYPE tenancy.resolved_tenant AS (
  tenant_id uuid,   -- NULL when the request names no tenant
  slug      text,
  strategy  text,   -- header, path, subdomain or domain: the first that matched
  prefix    text,   -- '/t/{slug}' when the path named the tenant, else ''
  path      text    -- the request path without that prefix
);
COMMENT ON TYPE tenancy.resolved_tenant IS 'Result of tenancy.resolve_tenant.';

-- Looks a tenant up by slug or id; raises P0002 (unknown) or BF003 (suspended).
CREATE FUNCTION tenancy._find_tenant(p_key text, p_by_id_too boolean, OUT id uuid, OUT slug text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE st text;
BEGIN
  IF p_by_id_too AND p_key ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
    SELECT t.id, t.slug, t.status INTO id, slug, st FROM tenancy.tenants t WHERE t.id = p_key::uuid;
  ELSE
    SELECT t.id, t.slug, t.status INTO id, slug, st FROM tenancy.tenants t WHERE t.slug = lower(p_key);
  END IF;
  IF id IS NULL THEN
    RAISE EXCEPTION 'tenant not found' USING ERRCODE = 'P0002';
  END IF;
  IF st = 'suspended' THEN
    RAISE EXCEPTION 'tenant suspended' USING ERRCODE = 'BF003',
      DETAIL = 'This tenant is suspended; contact the platform operator.';
  END IF;
END $$;
COMMENT ON FUNCTION tenancy._find_tenant(text, boolean) IS 'Internal: tenant by slug (or id); P0002 when unknown, BF003 when suspended.';
REVOKE ALL ON FUNCTION tenancy._find_tenant(text, boolean) FROM PUBLIC;

-- Resolves the tenant of a request with the strategies listed in
-- backend_framework.tenant_strategies, and sets the tenant context (no
-- user) for the rest of the transaction. Strategies that name different
-- tenants are an error, not a precedence game.
CREATE FUNCTION tenancy.resolve_tenant(host text, path text, headers jsonb DEFAULT '{}')
RETURNS tenancy.resolved_tenant
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  r tenancy.resolved_tenant := ROW(NULL, NULL, NULL, '', coalesce(path, '/'));
  base text := lower(current_setting('backend_framework.base_domain'));
  h text := lower(coalesce(host, headers->>'host', ''));
  strategy text;
  key text;
  by_id boolean;
  m text[];
  found_id uuid;
  found_slug text;
BEGIN
  -- Host without port; bracketed IPv6 literals name no tenant.
  h := CASE WHEN h LIKE '[%' THEN '' ELSE regexp_replace(h, ':[0-9]*$', '') END;
  FOREACH strategy IN ARRAY string_to_array(replace(current_setting('backend_framework.tenant_strategies'), ' ', ''), ',') LOOP
    key := NULL; by_id := false;
    CASE strategy
    WHEN 'header' THEN
      key := nullif(btrim(headers->>'x-tenant'), ''); by_id := true;
    WHEN 'path' THEN
      m := regexp_match(coalesce(path, ''), '^/t/([^/]+)(/.*)?$');
      IF m IS NOT NULL THEN
        key := m[1]; r.prefix := '/t/' || m[1]; r.path := coalesce(m[2], '/');
      ELSE
        -- RFC 8414 §3: metadata of issuer .../t/{slug} lives at /.well-known/oauth-authorization-server/t/{slug}
        m := regexp_match(coalesce(path, ''), '^(/\.well-known/oauth-authorization-server)/t/([^/]+)$');
        IF m IS NOT NULL THEN key := m[2]; r.prefix := '/t/' || m[2]; r.path := m[1]; END IF;
      END IF;
    WHEN 'subdomain' THEN
      IF base <> '' AND right(h, length(base) + 1) = '.' || base THEN
        key := left(h, length(h) - length(base) - 1);
        IF key LIKE '%.%' OR key = '' THEN key := NULL; END IF;
      END IF;
    WHEN 'domain' THEN
      IF h <> '' AND h <> base AND right(h, length(base) + 1) <> '.' || base THEN
        SELECT t.slug INTO key FROM tenancy.tenants t WHERE t.custom_domain = h;
      END IF;
    ELSE
      RAISE EXCEPTION 'unknown tenant strategy "%"', strategy USING ERRCODE = '22023',
        HINT = 'backend_framework.tenant_strategies lists header, path, subdomain and domain.';
    END CASE;
    CONTINUE WHEN key IS NULL;
    SELECT f.id, f.slug INTO found_id, found_slug FROM tenancy._find_tenant(key, by_id) f;
    IF r.tenant_id IS NULL THEN
      r.tenant_id := found_id; r.slug := found_slug; r.strategy := strategy;
    ELSIF r.tenant_id <> found_id THEN
      RAISE EXCEPTION 'conflicting tenant identification' USING ERRCODE = '22023',
        DETAIL = format('The %s and the %s name different tenants.', r.strategy, strategy);
    END IF;
  END LOOP;
  PERFORM tenancy._set_context(r.tenant_id, NULL, NULL, NULL, NULL);
  RETURN r;
END $$;
COMMENT ON FUNCTION tenancy.resolve_tenant(text, text, jsonb) IS 'Tenant of a request by X-Tenant header (slug or id), /t/{slug}/ path, subdomain of backend_framework.base_domain or custom domain, as backend_framework.tenant_strategies lists; sets the tenant context (no user). P0002 unknown, BF003 suspended, 22023 conflicting.';
REVOKE ALL ON FUNCTION tenancy.resolve_tenant(text, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.resolve_tenant(text, text, jsonb) TO backend_gateway, backend_admin;

-- Platform operators (pgAdmin, psql) work inside one tenant as its owner.
CREATE FUNCTION tenancy.enter_tenant(slug_or_id text) RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE t uuid;
BEGIN
  IF slug_or_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
    SELECT id INTO t FROM tenancy.tenants WHERE id = slug_or_id::uuid;
  ELSE
    SELECT id INTO t FROM tenancy.tenants WHERE slug = lower(slug_or_id);
  END IF;
  IF t IS NULL THEN
    RAISE EXCEPTION 'tenant not found' USING ERRCODE = 'P0002';
  END IF;
  PERFORM tenancy._set_context(t, NULL, 'owner', 'admin profile read write', NULL);
  RETURN t;
END $$;
COMMENT ON FUNCTION tenancy.enter_tenant(text) IS 'backend_admin only: act as an owner of the tenant (slug or id) for the rest of the transaction.';
REVOKE ALL ON FUNCTION tenancy.enter_tenant(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.enter_tenant(text) TO backend_admin;
-- 16_tenancy_usage.sql — metering: API calls per month (sharded counters)
-- and storage of a tenant's rows, the limits on them, and tenant_stats.

-- Counts one API call of a tenant, refusing it (BF002, HTTP 429) once the
-- month's limit is reached. Each backend writes its own shard
-- (pid mod 16), so concurrent requests of one tenant rarely wait on the
-- same row; the limit check sums the shards. Exactness: concurrent calls
-- may each see the total just under the limit, so it can be exceeded by at
-- most the number of calls in flight at that moment (one per pooled
-- connection); nothing is ever counted twice or lost.
CREATE FUNCTION tenancy.count_api_call(p_tenant uuid) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  m date := tenancy._month_start();
  lim bigint;
  used bigint;
BEGIN
  IF p_tenant IS NULL THEN RETURN NULL; END IF;
  SELECT CASE WHEN t.limit_overrides ? 'max_api_calls_per_month'
              THEN (t.limit_overrides->>'max_api_calls_per_month')::bigint ELSE p.max_api_calls_per_month END
    INTO lim FROM tenancy.tenants t JOIN tenancy.plans p ON p.name = t.plan WHERE t.id = p_tenant;
  IF lim IS NOT NULL THEN
    SELECT coalesce(sum(calls), 0) INTO used FROM tenancy.api_usage WHERE tenant_id = p_tenant AND month = m;
    IF used >= lim THEN
      RAISE EXCEPTION 'monthly API call limit reached' USING ERRCODE = 'BF002',
        DETAIL = format('The tenant''s plan allows %s API calls per month.', lim),
        HINT = 'Upgrade the plan or wait for next month.';
    END IF;
  END IF;
  -- The shard's row exists after its first call of the month: a plain
  -- UPDATE is the common case, cheaper than INSERT ... ON CONFLICT.
  UPDATE tenancy.api_usage SET calls = calls + 1
   WHERE tenant_id = p_tenant AND month = m AND shard = (pg_backend_pid() % 16)::smallint;
  IF NOT FOUND THEN
    INSERT INTO tenancy.api_usage AS u (tenant_id, month, shard, calls)
    VALUES (p_tenant, m, (pg_backend_pid() % 16)::smallint, 1)
    ON CONFLICT (tenant_id, month, shard) DO UPDATE SET calls = u.calls + 1;
  END IF;
  RETURN coalesce(used, 0) + 1;
END $$;
COMMENT ON FUNCTION tenancy.count_api_call(uuid) IS 'Counts one API call of a tenant this month; BF002 (HTTP 429) when the plan''s monthly limit is reached. Exact up to the calls in flight.';
REVOKE ALL ON FUNCTION tenancy.count_api_call(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.count_api_call(uuid) TO backend_gateway, backend_admin;

-- Bytes of a tenant's rows over every registered tenant table; stored as the
-- month's measurement.
CREATE FUNCTION tenancy.measure_storage(p_tenant uuid) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  tbl regclass;
  part bigint;
  total bigint := 0;
  m date := tenancy._month_start();
BEGIN
  FOR tbl IN SELECT table_name FROM tenancy.tenant_tables ORDER BY table_name::text LOOP
    EXECUTE format('SELECT coalesce(sum(pg_column_size(x.*)), 0) FROM %s x WHERE x.tenant_id = $1', tbl)
      INTO part USING p_tenant;
    total := total + part;
  END LOOP;
  INSERT INTO tenancy.storage_usage AS s (tenant_id, month, bytes, measured_at) VALUES (p_tenant, m, total, now())
  ON CONFLICT (tenant_id, month) DO UPDATE SET bytes = excluded.bytes, measured_at = excluded.measured_at;
  RETURN total;
END $$;
COMMENT ON FUNCTION tenancy.measure_storage(uuid) IS 'Measures the bytes of a tenant''s rows in all tenant tables and records them for the month.';
REVOKE ALL ON FUNCTION tenancy.measure_storage(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.measure_storage(uuid) TO backend_admin;

-- Trigger of enabled application tables: refuses a new row that would take
-- the tenant past its storage limit (BF001). The month's measurement is
-- taken again when older than a minute and otherwise advanced by each new
-- row's size, so the check is cheap; deletes and updates are seen at the
-- next measurement, so the limit is exact to within a minute of changes.
-- The counter row serialises concurrent inserts of one tenant until commit.
CREATE FUNCTION tenancy._check_storage() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  lim bigint;
  used bigint;
  m date := tenancy._month_start();
  row_bytes bigint := pg_column_size(NEW);
BEGIN
  SELECT max_storage_bytes INTO lim FROM tenancy.tenant_limits(NEW.tenant_id);
  IF lim IS NULL THEN RETURN NEW; END IF;
  UPDATE tenancy.storage_usage SET bytes = bytes + row_bytes
   WHERE tenant_id = NEW.tenant_id AND month = m AND measured_at > now() - interval '1 minute'
  RETURNING bytes INTO used;
  IF used IS NULL THEN
    used := tenancy.measure_storage(NEW.tenant_id) + row_bytes;
    UPDATE tenancy.storage_usage SET bytes = used WHERE tenant_id = NEW.tenant_id AND month = m;
  END IF;
  IF used > lim THEN PERFORM tenancy._raise_limit('bytes of storage', lim); END IF;
  RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION tenancy._check_storage() FROM PUBLIC;
COMMENT ON FUNCTION tenancy._check_storage() IS 'Trigger: BF001 when a new row would take the tenant past its storage limit (measurement at most a minute old, advanced by each insert).';

CREATE FUNCTION tenancy._month_start() RETURNS date
LANGUAGE sql STABLE AS $$
  SELECT date_trunc('month', now() AT TIME ZONE 'UTC')::date
$$;
COMMENT ON FUNCTION tenancy._month_start() IS 'Internal: first day of the current UTC month.';

-- Users, API calls this month and storage, each against its limit.
CREATE FUNCTION tenancy.tenant_stats(p_id uuid DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t uuid := coalesce(p_id, tenancy.current_tenant_id());
  l record;
  m date := tenancy._month_start();
BEGIN
  IF t IS NULL OR NOT (tenancy.is_platform_admin()
                       OR (t = tenancy.current_tenant_id() AND tenancy.is_tenant_admin())) THEN
    PERFORM tenancy._tenant_not_found();
  END IF;
  SELECT * INTO l FROM tenancy.tenant_limits(t);
  IF NOT FOUND THEN PERFORM tenancy._tenant_not_found(); END IF;
  RETURN jsonb_build_object(
    'tenant_id', t,
    'plan', (SELECT plan FROM tenancy.tenants WHERE id = t),
    'month', to_char(m, 'YYYY-MM'),
    'users', jsonb_build_object('used', (SELECT count(*) FROM tenancy.users WHERE tenant_id = t), 'limit', l.max_users),
    'api_calls', jsonb_build_object('used', (SELECT coalesce(sum(calls), 0) FROM tenancy.api_usage
                                             WHERE tenant_id = t AND month = m), 'limit', l.max_api_calls_per_month),
    'storage_bytes', jsonb_build_object('used', tenancy.measure_storage(t), 'limit', l.max_storage_bytes));
END $$;
REVOKE ALL ON FUNCTION tenancy.tenant_stats(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.tenant_stats(uuid) TO backend_gateway, backend_app, backend_admin;
COMMENT ON FUNCTION tenancy.tenant_stats(uuid) IS 'Usage of a tenant against its limits: users, API calls this month, storage bytes (admins and owners of the tenant, or backend_admin). Limit null = unlimited.';
-- 17_tenancy_enable.sql — tenancy.enable_tenant_table: turns an
-- application's table into a tenant table, and the key check (Citus-ready)
-- that it and the catalog test share.

-- Keys of a table that do not lead with tenant_id, and foreign keys to other
-- tenant tables that do not include it: one row per violation, empty when
-- the table can be distributed by tenant_id.
CREATE FUNCTION tenancy.key_violations(p_table regclass)
RETURNS TABLE(constraint_name text, problem text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT i.indexrelid::regclass::text,
         format('%s must start with tenant_id', CASE WHEN i.indisprimary THEN 'primary key' ELSE 'unique key' END)
    FROM pg_index i
   WHERE i.indrelid = p_table AND (i.indisunique OR i.indisprimary)
     AND (i.indkey[0] = 0 OR (SELECT attname FROM pg_attribute WHERE attrelid = p_table AND attnum = i.indkey[0]) <> 'tenant_id')
     AND p_table <> 'tenancy.tenants'::regclass
  UNION ALL
  SELECT c.conname::text, 'foreign key to a tenant table must include tenant_id'
    FROM pg_constraint c
   WHERE c.conrelid = p_table AND c.contype = 'f'
     AND c.confrelid IN (SELECT table_name FROM tenancy.tenant_tables)
     AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = p_table AND a.attname = 'tenant_id'
                      AND a.attnum = ANY (c.conkey))
$$;
COMMENT ON FUNCTION tenancy.key_violations(regclass) IS 'Keys of a table not led by tenant_id and foreign keys to tenant tables without tenant_id (Citus distribution by tenant_id needs neither).';

-- Makes an application table a tenant table: tenant_id (uuid, NOT NULL,
-- default: the context's tenant, foreign key to tenants with ON DELETE
-- CASCADE), RLS enabled and forced with a policy on the context, an index,
-- the storage-limit trigger, and registration for storage and catalog
-- checks. Refuses tables whose keys do not lead with tenant_id. Run it as
-- the table's owner; grant privileges to backend_app/backend_gateway yourself.
CREATE FUNCTION tenancy.enable_tenant_table(p_table regclass) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  col record;
  v record;
  rel text := p_table::text;
  short text := (SELECT relname FROM pg_class WHERE oid = p_table);
BEGIN
  IF (SELECT relkind FROM pg_class WHERE oid = p_table) NOT IN ('r', 'p') THEN
    RAISE EXCEPTION '% is not a table', rel USING ERRCODE = '42809';
  END IF;
  SELECT a.attnum, format_type(a.atttypid, a.atttypmod) AS typ, a.attnotnull INTO col
    FROM pg_attribute a WHERE a.attrelid = p_table AND a.attname = 'tenant_id' AND NOT a.attisdropped;
  IF col IS NULL THEN
    RAISE EXCEPTION '% has no tenant_id column', rel USING ERRCODE = '42703',
      HINT = 'Add "tenant_id uuid NOT NULL" and lead the primary key with it: PRIMARY KEY (tenant_id, id).';
  END IF;
  IF col.typ <> 'uuid' THEN
    RAISE EXCEPTION 'tenant_id of % must be uuid, not %', rel, col.typ USING ERRCODE = '42804';
  END IF;
  SELECT * INTO v FROM tenancy.key_violations(p_table) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '% cannot be a tenant table: % (%)', rel, v.problem, v.constraint_name USING ERRCODE = '42P16',
      HINT = 'Tenant tables are distributed by tenant_id: write PRIMARY KEY (tenant_id, id) and UNIQUE (tenant_id, ...).';
  END IF;
  EXECUTE format('ALTER TABLE %s ALTER COLUMN tenant_id SET DEFAULT tenancy.current_tenant_id(), ALTER COLUMN tenant_id SET NOT NULL', rel);
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = p_table AND contype = 'f'
                  AND confrelid = 'tenancy.tenants'::regclass) THEN
    EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I FOREIGN KEY (tenant_id) REFERENCES tenancy.tenants(id) ON DELETE CASCADE',
                   rel, short || '_tenant_fkey');
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_index WHERE indrelid = p_table AND indkey[0] = col.attnum) THEN
    EXECUTE format('CREATE INDEX %I ON %s (tenant_id)', short || '_tenant_idx', rel);
  END IF;
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', rel);
  IF NOT EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = p_table AND polname = 'tenant_isolation') THEN
    EXECUTE format('CREATE POLICY tenant_isolation ON %s AS RESTRICTIVE FOR ALL
                      USING (tenant_id = (SELECT tenancy.current_tenant_id()))
                      WITH CHECK (tenant_id = (SELECT tenancy.current_tenant_id()))', rel);
    -- RESTRICTIVE alone admits nothing; this permissive one admits the
    -- tenant's rows, and applications may add narrower restrictive ones.
    EXECUTE format('CREATE POLICY tenant_rows ON %s FOR ALL USING (true) WITH CHECK (true)', rel);
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = p_table AND tgname = 'tenant_storage_limit') THEN
    EXECUTE format('CREATE TRIGGER tenant_storage_limit BEFORE INSERT ON %s FOR EACH ROW EXECUTE FUNCTION tenancy._check_storage()', rel);
  END IF;
  INSERT INTO tenancy.tenant_tables (table_name) VALUES (p_table) ON CONFLICT DO NOTHING;
END $$;
COMMENT ON FUNCTION tenancy.enable_tenant_table(regclass) IS 'Turns an application table into a tenant table: tenant_id defaulting to the context, FK with cascade, RLS forced, index, storage limit, registration. Keys must lead with tenant_id (42P16 otherwise).';
REVOKE ALL ON FUNCTION tenancy.enable_tenant_table(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.enable_tenant_table(regclass) TO backend_admin;

-- pg_dump skips the rows of an extension's tables unless they are marked:
-- tenant data is user data, so it is dumped (and restored by pg_restore).
-- Seeded rows stay out (CREATE EXTENSION makes them again).
SELECT pg_catalog.pg_extension_config_dump('tenancy.tenants', '');
SELECT pg_catalog.pg_extension_config_dump('tenancy.users', '');
SELECT pg_catalog.pg_extension_config_dump('tenancy.api_usage', '');
SELECT pg_catalog.pg_extension_config_dump('tenancy.storage_usage', '');
SELECT pg_catalog.pg_extension_config_dump('tenancy.tenant_tables', 'WHERE NOT builtin');
SELECT pg_catalog.pg_extension_config_dump('tenancy.plans', $$WHERE name NOT IN ('free', 'basic', 'premium', 'enterprise')$$);
-- 20_oauth_primitives.sql — C security primitives of the OAuth server
-- (extension/src/crypto.c over the backend-free cores of form.c): random
-- tokens, SHA-256 digests, constant-time comparison, base64url, PKCE,
-- form-urlencoded bodies, HTTP Basic credentials, percent-encoding and
-- HTML escaping. Pure functions that reveal nothing: EXECUTE stays with
-- PUBLIC. Errors: 22023 malformed input (OAuth invalid_request), 28000
-- malformed Basic credentials (OAuth invalid_client), 54000 limits.

CREATE FUNCTION oauth.random_token(kind text) RETURNS text
  LANGUAGE c VOLATILE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'oauth_random_token';
COMMENT ON FUNCTION oauth.random_token(text) IS
'New secret from pg_strong_random: 256 bits as unpadded base64url (43 characters) after a prefix naming its kind, so secret scanners can find leaked ones: access bfat_, refresh bfrt_, code bfac_, client_secret bfcs_, registration bfrg_, session bfss_, csrf bfcf_; client_id bfci_ with 128 bits (22 characters). Unknown kind: ERROR 22023. Store only oauth.token_digest() of it.';

CREATE FUNCTION oauth.token_digest(secret text) RETURNS bytea
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'oauth_token_digest';
COMMENT ON FUNCTION oauth.token_digest(text) IS
'SHA-256 of the UTF-8 bytes of a secret (32 bytes): the only form in which tokens, codes, client secrets and session ids are stored.';

CREATE FUNCTION oauth.ct_equal(a bytea, b bytea) RETURNS boolean
  LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'oauth_ct_equal';
COMMENT ON FUNCTION oauth.ct_equal(bytea, bytea) IS
'Constant-time equality: the time depends only on the lengths, never on where the contents differ; different lengths are unequal. Not STRICT: a NULL argument gives false, never NULL (fail closed).';

CREATE FUNCTION oauth.base64url_encode(data bytea) RETURNS text
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'oauth_base64url_encode';
COMMENT ON FUNCTION oauth.base64url_encode(bytea) IS
'base64url (RFC 4648 section 5) without padding.';

CREATE FUNCTION oauth.base64url_decode(data text) RETURNS bytea
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'oauth_base64url_decode';
COMMENT ON FUNCTION oauth.base64url_decode(text) IS
'Strict base64url decoder: only A-Z a-z 0-9 - _, no padding, no whitespace, no impossible length (4n+1), no non-zero unused bits (canonical form only). Anything else: ERROR 22023.';

CREATE FUNCTION oauth.pkce_s256(verifier text) RETURNS text
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'oauth_pkce_s256';
COMMENT ON FUNCTION oauth.pkce_s256(text) IS
'RFC 7636 S256 code_challenge of a code_verifier: base64url(SHA-256(ASCII verifier)), 43 characters. The verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~, else ERROR 22023. To check a verifier use oauth.pkce_verify.';

CREATE FUNCTION oauth.pkce_verify(verifier text, challenge text, method text) RETURNS boolean
  LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'oauth_pkce_verify';
COMMENT ON FUNCTION oauth.pkce_verify(text, text, text) IS
'RFC 7636 section 4.6: true when the code_verifier matches the code_challenge, compared in constant time; method S256 or plain (case-sensitive; whether plain is allowed is decided by the caller). A verifier that is not 43 to 128 characters of A-Z a-z 0-9 - . _ ~ gives false, as does a NULL verifier or challenge (never NULL). A NULL or other method: ERROR 22023.';

CREATE FUNCTION oauth.form_decode(body text) RETURNS jsonb
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'oauth_form_decode_text';
COMMENT ON FUNCTION oauth.form_decode(text) IS
'Strict application/x-www-form-urlencoded parser (HTML form encoding, RFC 6749 section 3.1) to a flat jsonb object of strings: pairs split at &, + is a space, %XX a byte; empty segments are skipped, a name without = has the value "". ERROR 22023, with a message fit for an invalid_request error_description, on a bad % escape, decoded bytes that are not UTF-8, a NUL byte, an empty name, or a parameter included more than once. More than 1000 pairs: ERROR 54000.';

CREATE FUNCTION oauth.form_decode(body bytea) RETURNS jsonb
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'oauth_form_decode_bytea';
COMMENT ON FUNCTION oauth.form_decode(bytea) IS
'oauth.form_decode of a raw HTTP body: the raw bytes must be UTF-8 without NUL as well (else ERROR 22023); same rules and errors as the text version.';

CREATE FUNCTION oauth.basic_credentials(authorization text)
  RETURNS TABLE (client_id text, client_secret text)
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE ROWS 1 AS 'MODULE_PATHNAME', 'oauth_basic_credentials';
COMMENT ON FUNCTION oauth.basic_credentials(text) IS
'Client credentials of an HTTP Authorization header value (RFC 7617, RFC 6749 section 2.3.1). No row when the scheme is not Basic (the caller tries other authentication). Basic (any case), one or more spaces, standard base64 with its padding; the decoded text is split at the first colon and each part form-urlencoded-decoded (+ is a space, %XX a byte). Malformed Basic credentials (bad base64, no colon, control characters, bad % escape, invalid UTF-8, NUL, empty client_id) raise ERROR 28000 (invalid_authorization_specification) rather than 22023, because the OAuth layer answers 28000 with invalid_client (401) as RFC 6749 section 5.2 requires for failed client authentication. The message never contains the credentials.';

CREATE FUNCTION oauth.form_encode(params jsonb) RETURNS text
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'oauth_form_encode';
COMMENT ON FUNCTION oauth.form_encode(jsonb) IS
'Query string of a flat JSON object, for redirect URIs (code, state, iss, error...): name=value pairs joined by &, every byte of the UTF-8 text but A-Z a-z 0-9 - . _ ~ as upper-case %XX (space is %20). Null values are left out; numbers and booleans are written as text; arrays, objects or a non-object argument: ERROR 22023. Pairs come in jsonb key order.';

CREATE FUNCTION oauth.url_encode(value text) RETURNS text
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'oauth_url_encode';
COMMENT ON FUNCTION oauth.url_encode(text) IS
'Percent-encoding (RFC 3986) of the UTF-8 bytes of a value: A-Z a-z 0-9 - . _ ~ kept, everything else upper-case %XX, space as %20.';

CREATE FUNCTION oauth.html_escape(value text) RETURNS text
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'oauth_html_escape';
COMMENT ON FUNCTION oauth.html_escape(text) IS
'Text made safe for HTML element content and quoted attribute values of the server-rendered pages: & < > " and single quote become &amp; &lt; &gt; &quot; &#39;.';
-- 30_oauth_tables.sql — the OAuth 2.0 server's state: clients, consents,
-- authorization codes, access and refresh tokens, login sessions of the
-- authorize page, and failed password attempts (throttling).
--
-- Every table is a tenant table: keys lead with tenant_id, foreign keys
-- between them include it, RLS is enabled and forced. Secrets (client
-- secrets, registration access tokens, codes, tokens, session ids) are kept
-- only as SHA-256 digests (oauth.token_digest), which are also the lookup
-- keys: a lookup is one probe of the primary key (tenant_id, digest). The
-- endpoint functions are SECURITY DEFINER and filter by tenant_id
-- themselves; the policies below are for applications reading these tables
-- directly (admins see their tenant's clients, users their own tokens,
-- sessions and consents).

CREATE TABLE oauth.clients (
  tenant_id                  uuid NOT NULL REFERENCES tenancy.tenants(id) ON DELETE CASCADE,
  client_id                  text NOT NULL CHECK (client_id ~ '^[A-Za-z0-9._~-]{3,100}$'),
  client_name                text NOT NULL CHECK (length(client_name) BETWEEN 1 AND 200),
  secret_hash                bytea CHECK (octet_length(secret_hash) = 32),
  registration_token_hash    bytea CHECK (octet_length(registration_token_hash) = 32),
  token_endpoint_auth_method text NOT NULL DEFAULT 'client_secret_basic'
                             CHECK (token_endpoint_auth_method IN ('client_secret_basic', 'client_secret_post', 'none')),
  redirect_uris              text[] NOT NULL DEFAULT '{}',
  grant_types                text[] NOT NULL DEFAULT '{authorization_code}'
                             CHECK (grant_types <@ '{authorization_code,refresh_token,client_credentials,password}'
                                    AND cardinality(grant_types) > 0),
  response_types             text[] NOT NULL DEFAULT '{code}' CHECK (response_types <@ '{code}'),
  scope                      text NOT NULL CHECK (scope ~ '^(admin|profile|read|write)( (admin|profile|read|write))*$'),
  extra                      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(extra) = 'object'),
  access_token_ttl           integer CHECK (access_token_ttl BETWEEN 10 AND 31536000),
  refresh_token_ttl          integer CHECK (refresh_token_ttl BETWEEN 10 AND 31536000),
  builtin                    boolean NOT NULL DEFAULT false,
  registered_via             text NOT NULL DEFAULT 'admin' CHECK (registered_via IN ('admin', 'dynamic', 'open')),
  created_at                 timestamptz NOT NULL DEFAULT now(),
  updated_at                 timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, client_id),
  CONSTRAINT clients_secret_iff_confidential CHECK ((token_endpoint_auth_method = 'none') = (secret_hash IS NULL)),
  CONSTRAINT clients_public_no_client_credentials
    CHECK (token_endpoint_auth_method <> 'none' OR NOT 'client_credentials' = ANY (grant_types))
);
-- One console client per tenant.
CREATE UNIQUE INDEX clients_console_key ON oauth.clients (tenant_id) WHERE builtin;
COMMENT ON TABLE oauth.clients IS 'OAuth clients of a tenant (RFC 7591 metadata). Secrets and registration access tokens as SHA-256 digests only; auth method none = public client. builtin marks the tenant''s console client.';
COMMENT ON COLUMN oauth.clients.secret_hash IS 'SHA-256 of the client secret (256 random bits, shown once); NULL for public clients.';
COMMENT ON COLUMN oauth.clients.registration_token_hash IS 'SHA-256 of the RFC 7592 registration access token (shown once).';
COMMENT ON COLUMN oauth.clients.redirect_uris IS 'Registered redirect URIs, compared as exact strings (https, or http on loopback hosts; no fragment).';
COMMENT ON COLUMN oauth.clients.scope IS 'Space-separated scopes the client may be granted (alphabetical).';
COMMENT ON COLUMN oauth.clients.extra IS 'Other RFC 7591 metadata kept and returned as given: client_uri, logo_uri, tos_uri, policy_uri, contacts, software_id, software_version.';
COMMENT ON COLUMN oauth.clients.access_token_ttl IS 'Access token lifetime in seconds for this client (NULL: the tenant''s access_token_ttl setting, else 3600).';
COMMENT ON COLUMN oauth.clients.refresh_token_ttl IS 'Refresh token lifetime in seconds for this client (NULL: the tenant''s refresh_token_ttl setting, else 30 days).';
COMMENT ON COLUMN oauth.clients.builtin IS 'True for the tenant''s console client (public, created with the tenant, cannot be deleted).';
COMMENT ON COLUMN oauth.clients.registered_via IS 'admin: created by an admin (create_client, or the console client); dynamic: RFC 7591 with an admin''s access token; open: RFC 7591 without one (open_registration), which limits what RFC 7592 updates may ask for.';

-- Consent a user gave a client: the scopes it may get without asking again.
CREATE TABLE oauth.consents (
  tenant_id  uuid NOT NULL REFERENCES tenancy.tenants(id) ON DELETE CASCADE,
  user_id    uuid NOT NULL,
  client_id  text NOT NULL,
  scope      text NOT NULL,
  granted_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, user_id, client_id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES tenancy.users (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, client_id) REFERENCES oauth.clients (tenant_id, client_id) ON DELETE CASCADE
);
COMMENT ON TABLE oauth.consents IS 'Scopes a user has allowed a client on the authorize page; later requests within them skip the consent page. Delete a row to withdraw consent.';

-- Authorization codes: single use, short-lived. A redeemed code is kept
-- (used_at set) until purged, so a replay is recognised and revokes the
-- tokens issued from it: they carry the code's family_id.
CREATE TABLE oauth.authorization_codes (
  tenant_id             uuid NOT NULL REFERENCES tenancy.tenants(id) ON DELETE CASCADE,
  code_hash             bytea NOT NULL CHECK (octet_length(code_hash) = 32),
  client_id             text NOT NULL,
  user_id               uuid NOT NULL,
  redirect_uri          text NOT NULL,
  redirect_uri_given    boolean NOT NULL,
  scope                 text NOT NULL,
  code_challenge        text,
  code_challenge_method text CHECK (code_challenge_method IN ('S256', 'plain')),
  family_id             uuid NOT NULL DEFAULT gen_random_uuid(),
  created_at            timestamptz NOT NULL DEFAULT now(),
  expires_at            timestamptz NOT NULL,
  used_at               timestamptz,
  PRIMARY KEY (tenant_id, code_hash),
  FOREIGN KEY (tenant_id, user_id) REFERENCES tenancy.users (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, client_id) REFERENCES oauth.clients (tenant_id, client_id) ON DELETE CASCADE,
  CHECK ((code_challenge IS NULL) = (code_challenge_method IS NULL))
);
CREATE INDEX authorization_codes_expires_idx ON oauth.authorization_codes (expires_at);
COMMENT ON TABLE oauth.authorization_codes IS 'Authorization codes (SHA-256 digests), bound to client, user, redirect URI, scope and PKCE challenge; single use (used_at), kept after use until purged so replays revoke the tokens of family_id.';
COMMENT ON COLUMN oauth.authorization_codes.redirect_uri_given IS 'Whether the authorization request named redirect_uri (then the token request must repeat it, RFC 6749 section 4.1.3).';
COMMENT ON COLUMN oauth.authorization_codes.family_id IS 'Family of the tokens issued for this code; a replay of the code revokes the family.';

-- Access and refresh tokens in one table: one probe of the primary key
-- answers "which token is this" for every endpoint. The extra hash index on
-- the digest alone serves tenancy.authenticate() when no tenant context is
-- set yet (SQL clients); under Citus that lookup fans out to every shard,
-- which is fine for session starts (HTTP requests always have a tenant).
CREATE TABLE oauth.tokens (
  tenant_id  uuid NOT NULL REFERENCES tenancy.tenants(id) ON DELETE CASCADE,
  token_hash bytea NOT NULL CHECK (octet_length(token_hash) = 32),
  kind       text NOT NULL CHECK (kind IN ('access', 'refresh')),
  client_id  text NOT NULL,
  user_id    uuid,
  scope      text NOT NULL,
  family_id  uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  rotated_at timestamptz,
  revoked_at timestamptz,
  PRIMARY KEY (tenant_id, token_hash),
  FOREIGN KEY (tenant_id, user_id) REFERENCES tenancy.users (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, client_id) REFERENCES oauth.clients (tenant_id, client_id) ON DELETE CASCADE,
  CHECK (kind = 'refresh' OR rotated_at IS NULL)
);
CREATE INDEX tokens_digest_idx ON oauth.tokens USING hash (token_hash);
CREATE INDEX tokens_family_idx ON oauth.tokens (tenant_id, family_id) WHERE family_id IS NOT NULL;
CREATE INDEX tokens_expires_idx ON oauth.tokens (expires_at);
COMMENT ON TABLE oauth.tokens IS 'Access and refresh tokens (SHA-256 digests). family_id groups the tokens of one grant (code or password sign-in and all its refresh rotations); reuse of a rotated refresh token or replay of the code revokes the family.';
COMMENT ON COLUMN oauth.tokens.user_id IS 'Resource owner; NULL for client credentials tokens.';
COMMENT ON COLUMN oauth.tokens.rotated_at IS 'Refresh tokens: when exchanged for a new one; presenting it again revokes the family.';

-- Login sessions of the authorize page (cookie bf_session).
CREATE TABLE oauth.login_sessions (
  tenant_id    uuid NOT NULL REFERENCES tenancy.tenants(id) ON DELETE CASCADE,
  session_hash bytea NOT NULL CHECK (octet_length(session_hash) = 32),
  user_id      uuid NOT NULL,
  client_addr  text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, session_hash),
  FOREIGN KEY (tenant_id, user_id) REFERENCES tenancy.users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX login_sessions_expires_idx ON oauth.login_sessions (expires_at);
COMMENT ON TABLE oauth.login_sessions IS 'Signed-in browser sessions of the authorize page (cookie bf_session, stored as a SHA-256 digest). Delete a user''s rows to sign them out.';

-- Failed password attempts, counted per e-mail address and per client
-- address of a tenant, for exponential back-off (see oauth._throttle_wait).
CREATE TABLE oauth.login_attempts (
  tenant_id        uuid NOT NULL REFERENCES tenancy.tenants(id) ON DELETE CASCADE,
  kind             text NOT NULL CHECK (kind IN ('email', 'addr')),
  key              text NOT NULL,
  failures         integer NOT NULL DEFAULT 0,
  first_failure_at timestamptz NOT NULL DEFAULT now(),
  last_failure_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, kind, key)
);
CREATE INDEX login_attempts_last_idx ON oauth.login_attempts (last_failure_at);
COMMENT ON TABLE oauth.login_attempts IS 'Failed password checks per (tenant, lower-case e-mail) and per (tenant, client address), for exponential back-off; cleared by a success, forgotten after a day.';

-- Row-level security: fail closed without a context.
ALTER TABLE oauth.clients ENABLE ROW LEVEL SECURITY;
ALTER TABLE oauth.clients FORCE ROW LEVEL SECURITY;
ALTER TABLE oauth.consents ENABLE ROW LEVEL SECURITY;
ALTER TABLE oauth.consents FORCE ROW LEVEL SECURITY;
ALTER TABLE oauth.authorization_codes ENABLE ROW LEVEL SECURITY;
ALTER TABLE oauth.authorization_codes FORCE ROW LEVEL SECURITY;
ALTER TABLE oauth.tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE oauth.tokens FORCE ROW LEVEL SECURITY;
ALTER TABLE oauth.login_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE oauth.login_sessions FORCE ROW LEVEL SECURITY;
ALTER TABLE oauth.login_attempts ENABLE ROW LEVEL SECURITY;
ALTER TABLE oauth.login_attempts FORCE ROW LEVEL SECURITY;

-- Clients: admins and owners of the context's tenant manage them.
CREATE POLICY clients_admin ON oauth.clients FOR ALL
  USING (tenant_id = (SELECT tenancy.current_tenant_id()) AND (SELECT tenancy.is_tenant_admin()))
  WITH CHECK (tenant_id = (SELECT tenancy.current_tenant_id()) AND (SELECT tenancy.is_tenant_admin()));
-- Consents, tokens, sessions: users see (and may delete) their own; admins all of the tenant.
CREATE POLICY consents_own ON oauth.consents FOR ALL
  USING (tenant_id = (SELECT tenancy.current_tenant_id())
         AND (user_id = (SELECT tenancy.current_user_id()) OR (SELECT tenancy.is_tenant_admin())))
  WITH CHECK (false);
CREATE POLICY tokens_own ON oauth.tokens FOR SELECT
  USING (tenant_id = (SELECT tenancy.current_tenant_id())
         AND (user_id = (SELECT tenancy.current_user_id()) OR (SELECT tenancy.is_tenant_admin())));
CREATE POLICY login_sessions_own ON oauth.login_sessions FOR ALL
  USING (tenant_id = (SELECT tenancy.current_tenant_id())
         AND (user_id = (SELECT tenancy.current_user_id()) OR (SELECT tenancy.is_tenant_admin())))
  WITH CHECK (false);
-- Codes and attempts: only admins may look (no privileges are granted; the
-- policies make the rule explicit should an operator grant some).
CREATE POLICY authorization_codes_admin ON oauth.authorization_codes FOR SELECT
  USING (tenant_id = (SELECT tenancy.current_tenant_id()) AND (SELECT tenancy.is_tenant_admin()));
CREATE POLICY login_attempts_admin ON oauth.login_attempts FOR SELECT
  USING (tenant_id = (SELECT tenancy.current_tenant_id()) AND (SELECT tenancy.is_tenant_admin()));

-- Privileges: digests are never readable by application roles.
GRANT SELECT (tenant_id, client_id, client_name, token_endpoint_auth_method, redirect_uris, grant_types,
              response_types, scope, extra, access_token_ttl, refresh_token_ttl, builtin, registered_via,
              created_at, updated_at)
  ON oauth.clients TO backend_gateway, backend_app, backend_admin;
GRANT INSERT (tenant_id, client_id, client_name, secret_hash, registration_token_hash, token_endpoint_auth_method,
              redirect_uris, grant_types, response_types, scope, extra, access_token_ttl, refresh_token_ttl)
  ON oauth.clients TO backend_gateway, backend_app, backend_admin;
GRANT UPDATE (client_name, secret_hash, registration_token_hash, token_endpoint_auth_method, redirect_uris,
              grant_types, response_types, scope, extra, access_token_ttl, refresh_token_ttl, updated_at)
  ON oauth.clients TO backend_gateway, backend_app, backend_admin;
GRANT DELETE ON oauth.clients TO backend_gateway, backend_app, backend_admin;
GRANT SELECT, DELETE ON oauth.consents TO backend_gateway, backend_app, backend_admin;
GRANT SELECT (tenant_id, kind, client_id, user_id, scope, family_id, created_at, expires_at, rotated_at, revoked_at)
  ON oauth.tokens TO backend_gateway, backend_app, backend_admin;
GRANT SELECT (tenant_id, user_id, client_addr, created_at, expires_at), DELETE
  ON oauth.login_sessions TO backend_gateway, backend_app, backend_admin;

INSERT INTO tenancy.tenant_tables (table_name, builtin) VALUES
  ('oauth.clients', true), ('oauth.consents', true), ('oauth.authorization_codes', true),
  ('oauth.tokens', true), ('oauth.login_sessions', true), ('oauth.login_attempts', true);

-- Guard of the console client, whatever path a change takes: it stays a
-- public client with its grants and scope, and is deleted only with its tenant.
CREATE FUNCTION oauth._clients_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.builtin AND EXISTS (SELECT 1 FROM tenancy.tenants WHERE id = OLD.tenant_id) THEN
      RAISE EXCEPTION 'the console client cannot be deleted' USING ERRCODE = '42501';
    END IF;
    RETURN OLD;
  END IF;
  IF OLD.builtin AND (NEW.token_endpoint_auth_method, NEW.grant_types, NEW.response_types, NEW.scope, NEW.secret_hash)
                     IS DISTINCT FROM
                     (OLD.token_endpoint_auth_method, OLD.grant_types, OLD.response_types, OLD.scope, OLD.secret_hash) THEN
    RAISE EXCEPTION 'the console client''s grants, scope and authentication cannot be changed' USING ERRCODE = '42501',
      HINT = 'Only its name and redirect URIs can change (oauth.ensure_console_client).';
  END IF;
  NEW.updated_at := now();
  RETURN NEW;
END $$;
COMMENT ON FUNCTION oauth._clients_guard() IS 'Trigger: the console client (builtin) keeps its grants, scope and public authentication and is deleted only with its tenant; keeps updated_at current.';
REVOKE ALL ON FUNCTION oauth._clients_guard() FROM PUBLIC;
CREATE TRIGGER clients_guard BEFORE UPDATE OR DELETE ON oauth.clients
  FOR EACH ROW EXECUTE FUNCTION oauth._clients_guard();

-- Extension member tables: pg_dump dumps their rows only when marked (all
-- rows; restore with session_replication_role = replica, as
-- scripts/restore_db.sh does, so that the console-client trigger on
-- tenancy.tenants does not add a second console client per tenant).
SELECT pg_catalog.pg_extension_config_dump('oauth.clients', '');
SELECT pg_catalog.pg_extension_config_dump('oauth.consents', '');
SELECT pg_catalog.pg_extension_config_dump('oauth.authorization_codes', '');
SELECT pg_catalog.pg_extension_config_dump('oauth.tokens', '');
SELECT pg_catalog.pg_extension_config_dump('oauth.login_sessions', '');
SELECT pg_catalog.pg_extension_config_dump('oauth.login_attempts', '');
-- 31_oauth_clients.sql — scopes, client metadata (RFC 7591) validation,
-- client management for admins (SECURITY INVOKER, row-level security
-- decides), and the built-in console client of every tenant.

-- Scopes ----------------------------------------------------------------
-- These helpers are on every token request's path: plain SQL expressions
-- without a SET clause, so the planner inlines them into the caller (whose
-- own search_path is pinned) and folds them for constants. Scope arrays
-- are always sorted and distinct (the order of the known list below).

-- The scopes of a space-separated string as a sorted, distinct array; NULL
-- when a value is not one of admin, profile, read, write (tabs, control
-- characters and the like make a value unknown). A blank string gives '{}'.
-- PL/pgSQL, not SQL: a sub-select keeps a SQL function from being inlined,
-- and a SQL function that is not inlined is planned again on every call.
CREATE FUNCTION oauth._scopes(s text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE given text[] := array_remove(string_to_array(s, ' '), '');
BEGIN
  IF NOT given <@ '{admin,profile,read,write}'::text[] THEN RETURN NULL; END IF;
  RETURN ARRAY(SELECT k FROM unnest('{admin,profile,read,write}'::text[]) k WHERE k = ANY (given));
END $$;
COMMENT ON FUNCTION oauth._scopes(text) IS 'Internal: scope string (RFC 6749 section 3.3) as a sorted distinct array of known scopes; NULL when any value is unknown or malformed.';

CREATE FUNCTION oauth._scope_text(a text[]) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT array_to_string(a, ' ')
$$;
COMMENT ON FUNCTION oauth._scope_text(text[]) IS 'Internal: a sorted scope array as a space-separated string.';

-- Scopes a user's role allows: admin only for admins and owners.
CREATE FUNCTION oauth._role_scopes(role text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN role IN ('admin', 'owner') THEN '{admin,profile,read,write}'::text[]
              WHEN role = 'user' THEN '{profile,read,write}'::text[]
              ELSE '{}'::text[] END
$$;
COMMENT ON FUNCTION oauth._role_scopes(text) IS 'Internal: scopes a role may be granted (admin only for admin and owner).';

-- Intersection of two scope arrays, in the order of the first (sorted).
CREATE FUNCTION oauth._scope_and(a text[], b text[]) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  RETURN ARRAY(SELECT x FROM unnest(a) x WHERE x = ANY (b));
END $$;
COMMENT ON FUNCTION oauth._scope_and(text[], text[]) IS 'Internal: intersection of two scope arrays, sorted.';

-- Client metadata --------------------------------------------------------

-- A redirect URI as RFC 6749 section 3.1.2 and RFC 8252 allow it here:
-- absolute, https (any host) or http on a loopback host, no fragment, no
-- user info, no white space or control characters.
CREATE FUNCTION oauth._redirect_uri_problem(u text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE
    WHEN u IS NULL OR u = '' THEN 'a redirect URI is empty'
    WHEN length(u) > 2000 THEN 'a redirect URI is longer than 2000 characters'
    WHEN u ~ '[[:space:][:cntrl:]]' THEN 'a redirect URI contains white space or control characters'
    WHEN strpos(u, '#') > 0 THEN format('redirect URI %s has a fragment (#), which is not allowed', u)
    WHEN u !~* '^[a-z][a-z0-9+.-]*://' THEN format('redirect URI %s is not an absolute URI', u)
    WHEN u ~* '^http://' THEN
      CASE WHEN u ~* '^http://(localhost|127\.0\.0\.1|\[::1\])(:[0-9]{1,5})?([/?].*)?$' THEN NULL
           ELSE format('redirect URI %s uses http, which is allowed only for localhost, 127.0.0.1 and [::1]; use https', u) END
    WHEN u ~* '^https://' THEN
      CASE WHEN u ~* '^https://([a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])(:[0-9]{1,5})?([/?].*)?$' THEN NULL
           ELSE format('redirect URI %s has an invalid host', u) END
    ELSE format('redirect URI %s must use https (or http on a loopback host)', u) END
$$;
COMMENT ON FUNCTION oauth._redirect_uri_problem(text) IS 'Internal: why a redirect URI cannot be registered (https; http only on localhost, 127.0.0.1, [::1]; no fragment), or NULL when it can.';

-- Validates and normalises client metadata. mode: 'admin' (create_client,
-- update_client), 'dynamic' (RFC 7591 with an admin's access token) or
-- 'open' (RFC 7591 without one, when the tenant allows open registration:
-- only authorization_code and refresh_token, no admin scope). Returns
-- {"error": ..., "error_description": ...} (RFC 7591 section 3.2.2 codes)
-- or the normalised metadata. Unknown fields are ignored (RFC 7591 section 2).
CREATE FUNCTION oauth._client_metadata(m jsonb, mode text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  r jsonb := '{}';
  name text;
  uris text[] := '{}';
  grants text[];
  rtypes text[];
  method text;
  scopes text[];
  u text;
  p text;
  extra jsonb := '{}';
  k text;
  v jsonb;
  ttl text;
BEGIN
  IF m IS NULL OR jsonb_typeof(m) <> 'object' THEN
    RETURN jsonb_build_object('error', 'invalid_client_metadata', 'error_description', 'client metadata must be a JSON object');
  END IF;
  -- client_name
  IF m ? 'client_name' AND jsonb_typeof(m->'client_name') <> 'null' THEN
    name := btrim(m->>'client_name');
    IF jsonb_typeof(m->'client_name') <> 'string' OR length(name) NOT BETWEEN 1 AND 200 OR name ~ '[[:cntrl:]]' THEN
      RETURN jsonb_build_object('error', 'invalid_client_metadata',
        'error_description', 'client_name must be a text of 1 to 200 characters without control characters');
    END IF;
  END IF;
  -- token_endpoint_auth_method
  method := coalesce(m->>'token_endpoint_auth_method', 'client_secret_basic');
  IF jsonb_typeof(m->'token_endpoint_auth_method') NOT IN ('string', 'null')
     OR method NOT IN ('client_secret_basic', 'client_secret_post', 'none') THEN
    RETURN jsonb_build_object('error', 'invalid_client_metadata',
      'error_description', 'token_endpoint_auth_method must be client_secret_basic, client_secret_post or none');
  END IF;
  -- grant_types
  IF m ? 'grant_types' AND jsonb_typeof(m->'grant_types') <> 'null' THEN
    IF jsonb_typeof(m->'grant_types') <> 'array'
       OR EXISTS (SELECT 1 FROM jsonb_array_elements(m->'grant_types') g WHERE jsonb_typeof(g) <> 'string') THEN
      RETURN jsonb_build_object('error', 'invalid_client_metadata', 'error_description', 'grant_types must be an array of strings');
    END IF;
    SELECT array_agg(DISTINCT g ORDER BY g) INTO grants FROM jsonb_array_elements_text(m->'grant_types') g;
    SELECT g INTO u FROM unnest(grants) g
     WHERE g NOT IN ('authorization_code', 'refresh_token', 'client_credentials', 'password') LIMIT 1;
    IF u IS NOT NULL THEN
      RETURN jsonb_build_object('error', 'invalid_client_metadata', 'error_description',
        format('unsupported grant type "%s" (supported: authorization_code, refresh_token, client_credentials, password)', u));
    END IF;
    IF grants IS NULL THEN
      RETURN jsonb_build_object('error', 'invalid_client_metadata', 'error_description', 'grant_types must not be empty');
    END IF;
  ELSE
    grants := '{authorization_code}';
  END IF;
  IF method = 'none' AND 'client_credentials' = ANY (grants) THEN
    RETURN jsonb_build_object('error', 'invalid_client_metadata', 'error_description',
      'a public client (token_endpoint_auth_method none) cannot use the client_credentials grant');
  END IF;
  IF mode = 'open' AND NOT grants <@ '{authorization_code,refresh_token}' THEN
    RETURN jsonb_build_object('error', 'invalid_client_metadata', 'error_description',
      'clients registered without an access token may only use the authorization_code and refresh_token grants');
  END IF;
  -- response_types: code exactly when the authorization_code grant is registered.
  IF m ? 'response_types' AND jsonb_typeof(m->'response_types') <> 'null' THEN
    IF jsonb_typeof(m->'response_types') <> 'array'
       OR EXISTS (SELECT 1 FROM jsonb_array_elements(m->'response_types') g WHERE jsonb_typeof(g) <> 'string') THEN
      RETURN jsonb_build_object('error', 'invalid_client_metadata', 'error_description', 'response_types must be an array of strings');
    END IF;
    SELECT coalesce(array_agg(DISTINCT g ORDER BY g), '{}') INTO rtypes FROM jsonb_array_elements_text(m->'response_types') g;
    IF NOT rtypes <@ '{code}' THEN
      RETURN jsonb_build_object('error', 'invalid_client_metadata', 'error_description', 'the only supported response type is "code"');
    END IF;
    IF ('code' = ANY (rtypes)) <> ('authorization_code' = ANY (grants)) THEN
      RETURN jsonb_build_object('error', 'invalid_client_metadata', 'error_description',
        'response type "code" goes with the authorization_code grant type, and only with it');
    END IF;
  ELSE
    rtypes := CASE WHEN 'authorization_code' = ANY (grants) THEN '{code}' ELSE '{}' END;
  END IF;
  -- redirect_uris
  IF m ? 'redirect_uris' AND jsonb_typeof(m->'redirect_uris') <> 'null' THEN
    IF jsonb_typeof(m->'redirect_uris') <> 'array'
       OR EXISTS (SELECT 1 FROM jsonb_array_elements(m->'redirect_uris') g WHERE jsonb_typeof(g) <> 'string') THEN
      RETURN jsonb_build_object('error', 'invalid_redirect_uri', 'error_description', 'redirect_uris must be an array of strings');
    END IF;
    IF jsonb_array_length(m->'redirect_uris') > 20 THEN
      RETURN jsonb_build_object('error', 'invalid_redirect_uri', 'error_description', 'at most 20 redirect URIs');
    END IF;
    FOR u IN SELECT jsonb_array_elements_text(m->'redirect_uris') LOOP
      p := oauth._redirect_uri_problem(u);
      IF p IS NOT NULL THEN
        RETURN jsonb_build_object('error', 'invalid_redirect_uri', 'error_description', p);
      END IF;
      IF NOT u = ANY (uris) THEN uris := uris || u; END IF;
    END LOOP;
  END IF;
  IF 'authorization_code' = ANY (grants) AND cardinality(uris) = 0 THEN
    RETURN jsonb_build_object('error', 'invalid_redirect_uri', 'error_description',
      'the authorization_code grant needs at least one redirect URI in redirect_uris');
  END IF;
  -- scope
  IF m ? 'scope' AND jsonb_typeof(m->'scope') <> 'null' THEN
    scopes := CASE WHEN jsonb_typeof(m->'scope') = 'string' THEN oauth._scopes(m->>'scope') END;
    IF scopes IS NULL OR cardinality(scopes) = 0 THEN
      RETURN jsonb_build_object('error', 'invalid_client_metadata', 'error_description',
        'scope must list one or more of read, write, profile, admin, separated by spaces');
    END IF;
  ELSE
    scopes := '{profile,read,write}';
  END IF;
  IF mode = 'open' AND 'admin' = ANY (scopes) THEN
    RETURN jsonb_build_object('error', 'invalid_client_metadata', 'error_description',
      'clients registered without an access token cannot have the admin scope');
  END IF;
  -- Informational metadata, kept as given.
  FOR k, v IN SELECT * FROM jsonb_each(m) WHERE key IN ('client_uri', 'logo_uri', 'tos_uri', 'policy_uri',
                                                         'software_id', 'software_version', 'contacts') LOOP
    CONTINUE WHEN jsonb_typeof(v) = 'null';
    IF k = 'contacts' THEN
      IF jsonb_typeof(v) <> 'array' OR jsonb_array_length(v) > 10
         OR EXISTS (SELECT 1 FROM jsonb_array_elements(v) c WHERE jsonb_typeof(c) <> 'string' OR length(c #>> '{}') > 254) THEN
        RETURN jsonb_build_object('error', 'invalid_client_metadata', 'error_description', 'contacts must be an array of at most 10 e-mail addresses');
      END IF;
    ELSIF jsonb_typeof(v) <> 'string' OR length(v #>> '{}') > 2000 OR (v #>> '{}') ~ '[[:cntrl:]]' THEN
      RETURN jsonb_build_object('error', 'invalid_client_metadata', 'error_description', format('%s must be a text', k));
    ELSIF k LIKE '%\_uri' AND (v #>> '{}') !~* '^https?://[^[:space:]]+$' THEN
      RETURN jsonb_build_object('error', 'invalid_client_metadata', 'error_description', format('%s must be an http or https URL', k));
    END IF;
    extra := extra || jsonb_build_object(k, v);
  END LOOP;
  r := jsonb_build_object('client_name', name, 'redirect_uris', to_jsonb(uris), 'grant_types', to_jsonb(grants),
                          'response_types', to_jsonb(rtypes), 'scope', oauth._scope_text(scopes),
                          'token_endpoint_auth_method', method, 'extra', extra);
  -- Administrators may also choose the client_id and token lifetimes.
  IF mode = 'admin' THEN
    IF m ? 'client_id' AND jsonb_typeof(m->'client_id') <> 'null' THEN
      IF jsonb_typeof(m->'client_id') <> 'string' OR (m->>'client_id') !~ '^[A-Za-z0-9._~-]{3,100}$' THEN
        RETURN jsonb_build_object('error', 'invalid_client_metadata', 'error_description',
          'client_id must have 3 to 100 letters, digits or . _ ~ -');
      END IF;
      r := r || jsonb_build_object('client_id', m->'client_id');
    END IF;
    FOREACH ttl IN ARRAY ARRAY['access_token_ttl', 'refresh_token_ttl'] LOOP
      IF m ? ttl AND jsonb_typeof(m->ttl) <> 'null' THEN
        IF jsonb_typeof(m->ttl) <> 'number' OR (m->>ttl) !~ '^[0-9]{1,9}$' OR (m->>ttl)::integer NOT BETWEEN 10 AND 31536000 THEN
          RETURN jsonb_build_object('error', 'invalid_client_metadata', 'error_description',
            format('%s must be a number of seconds between 10 and 31536000', ttl));
        END IF;
        r := r || jsonb_build_object(ttl, m->ttl);
      END IF;
    END LOOP;
  ELSIF m ? 'client_id' THEN
    RETURN jsonb_build_object('error', 'invalid_client_metadata', 'error_description',
      'client_id is assigned by the server and cannot be chosen');
  END IF;
  RETURN r;
END $$;
COMMENT ON FUNCTION oauth._client_metadata(jsonb, text) IS 'Internal: validates RFC 7591 client metadata for mode admin, dynamic or open; returns the normalised metadata or an RFC 7591 error object (invalid_redirect_uri, invalid_client_metadata).';

-- The public view of a client row (given as jsonb of its non-secret
-- columns): the RFC 7591 metadata plus client_id_issued_at and, for
-- confidential clients, client_secret_expires_at 0 (secrets do not expire).
CREATE FUNCTION oauth._client_json(c jsonb, with_admin_fields boolean DEFAULT false) RETURNS jsonb
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object(
           'client_id', c->'client_id',
           'client_name', c->'client_name',
           'redirect_uris', c->'redirect_uris',
           'grant_types', c->'grant_types',
           'response_types', c->'response_types',
           'scope', c->'scope',
           'token_endpoint_auth_method', c->'token_endpoint_auth_method',
           'client_id_issued_at', floor(extract(epoch FROM (c->>'created_at')::timestamptz))::bigint,
           'client_secret_expires_at', CASE WHEN c->>'token_endpoint_auth_method' <> 'none' THEN 0 END,
           'access_token_ttl', c->'access_token_ttl',
           'refresh_token_ttl', c->'refresh_token_ttl'))
         || coalesce(c->'extra', '{}')
         || CASE WHEN with_admin_fields THEN jsonb_build_object('builtin', c->'builtin', 'registered_via', c->'registered_via',
                   'created_at', c->'created_at', 'updated_at', c->'updated_at') ELSE '{}' END
$$;
COMMENT ON FUNCTION oauth._client_json(jsonb, boolean) IS 'Internal: RFC 7591 client information (never a secret) from a row''s non-secret columns; with_admin_fields adds builtin, registered_via, created_at, updated_at.';

-- Management by admins and owners of the current tenant -------------------

CREATE FUNCTION oauth._require_client_admin() RETURNS uuid
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE t uuid := tenancy.current_tenant_id();
BEGIN
  IF t IS NULL OR NOT tenancy.is_tenant_admin() OR NOT tenancy.has_scope('admin') THEN
    RAISE EXCEPTION 'only admins and owners of the tenant manage OAuth clients' USING ERRCODE = '42501',
      DETAIL = 'Sign in as an admin or owner with the admin scope.';
  END IF;
  RETURN t;
END $$;
COMMENT ON FUNCTION oauth._require_client_admin() IS 'Internal: the current tenant, or 42501 unless the context is an admin or owner with scope admin.';

CREATE FUNCTION oauth._raise_metadata(v jsonb) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF v ? 'error' THEN
    RAISE EXCEPTION '%', v->>'error_description' USING ERRCODE = '22023', DETAIL = v->>'error';
  END IF;
END $$;
COMMENT ON FUNCTION oauth._raise_metadata(jsonb) IS 'Internal: raises 22023 with the description of an RFC 7591 metadata error.';

-- Non-secret columns of one client of the current tenant (RLS applies).
CREATE FUNCTION oauth._client_row(p_client_id text) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT to_jsonb(x) FROM (
    SELECT c.client_id, c.client_name, c.token_endpoint_auth_method, c.redirect_uris, c.grant_types, c.response_types,
           c.scope, c.extra, c.access_token_ttl, c.refresh_token_ttl, c.builtin, c.registered_via, c.created_at, c.updated_at
      FROM oauth.clients c
     WHERE c.tenant_id = tenancy.current_tenant_id() AND c.client_id = p_client_id) x
$$;
COMMENT ON FUNCTION oauth._client_row(text) IS 'Internal: non-secret columns of a client of the current tenant as jsonb (row-level security applies).';

CREATE FUNCTION oauth.create_client(metadata jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t uuid := oauth._require_client_admin();
  v jsonb := oauth._client_metadata(metadata, 'admin');
  cid text;
  secret text;
  reg text := oauth.random_token('registration');
BEGIN
  PERFORM oauth._raise_metadata(v);
  cid := coalesce(v->>'client_id', oauth.random_token('client_id'));
  IF v->>'token_endpoint_auth_method' <> 'none' THEN secret := oauth.random_token('client_secret'); END IF;
  INSERT INTO oauth.clients (tenant_id, client_id, client_name, secret_hash, registration_token_hash,
                             token_endpoint_auth_method, redirect_uris, grant_types, response_types, scope, extra,
                             access_token_ttl, refresh_token_ttl)
  VALUES (t, cid, coalesce(v->>'client_name', cid), oauth.token_digest(secret), oauth.token_digest(reg),
          v->>'token_endpoint_auth_method',
          ARRAY(SELECT jsonb_array_elements_text(v->'redirect_uris')),
          ARRAY(SELECT jsonb_array_elements_text(v->'grant_types')),
          ARRAY(SELECT jsonb_array_elements_text(v->'response_types')),
          v->>'scope', v->'extra', (v->>'access_token_ttl')::integer, (v->>'refresh_token_ttl')::integer);
  RETURN oauth._client_json(oauth._client_row(cid))
         || jsonb_strip_nulls(jsonb_build_object('client_secret', secret, 'registration_access_token', reg));
EXCEPTION WHEN unique_violation THEN
  RAISE EXCEPTION 'a client with client_id "%" already exists', cid USING ERRCODE = '23505';
END $$;
COMMENT ON FUNCTION oauth.create_client(jsonb) IS 'Registers a client in the current tenant (admins and owners with scope admin) from RFC 7591 metadata (plus client_id, access_token_ttl, refresh_token_ttl). Returns the RFC 7591 client information with client_secret (confidential clients) and registration_access_token, both shown only here. 22023 invalid metadata, 23505 client_id taken.';

CREATE FUNCTION oauth.list_clients() RETURNS SETOF jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM oauth._require_client_admin();
  RETURN QUERY
  SELECT oauth._client_json(to_jsonb(x), true) FROM (
    SELECT c.client_id, c.client_name, c.token_endpoint_auth_method, c.redirect_uris, c.grant_types, c.response_types,
           c.scope, c.extra, c.access_token_ttl, c.refresh_token_ttl, c.builtin, c.registered_via, c.created_at, c.updated_at
      FROM oauth.clients c
     WHERE c.tenant_id = tenancy.current_tenant_id()
     ORDER BY c.builtin DESC, c.created_at, c.client_id) x;
END $$;
COMMENT ON FUNCTION oauth.list_clients() IS 'Clients of the current tenant (admins and owners), console client first, then by creation; never secrets.';

CREATE FUNCTION oauth.get_client(client_id text) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE c jsonb;
BEGIN
  PERFORM oauth._require_client_admin();
  c := oauth._client_row(get_client.client_id);
  IF c IS NULL THEN
    RAISE EXCEPTION 'client not found' USING ERRCODE = 'P0002';
  END IF;
  RETURN oauth._client_json(c, true);
END $$;
COMMENT ON FUNCTION oauth.get_client(text) IS 'One client of the current tenant (admins and owners); P0002 when unknown. Never secrets.';

-- Updates a client: the fields present in metadata replace the stored
-- ones, absent fields stay (a PATCH). Switching to auth method none drops
-- the secret; switching from none to a secret method issues one (in the
-- answer as client_secret).
CREATE FUNCTION oauth.update_client(client_id text, metadata jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t uuid := oauth._require_client_admin();
  cur jsonb := oauth._client_row(update_client.client_id);
  merged jsonb;
  v jsonb;
  secret text;
BEGIN
  IF cur IS NULL THEN
    RAISE EXCEPTION 'client not found' USING ERRCODE = 'P0002';
  END IF;
  IF metadata IS NULL OR jsonb_typeof(metadata) <> 'object' THEN
    RAISE EXCEPTION 'client metadata must be a JSON object' USING ERRCODE = '22023';
  END IF;
  IF metadata ? 'client_id' AND metadata->>'client_id' IS DISTINCT FROM update_client.client_id THEN
    RAISE EXCEPTION 'client_id cannot change' USING ERRCODE = '22023';
  END IF;
  merged := (cur - 'extra' - 'builtin' - 'registered_via' - 'created_at' - 'updated_at') || (cur->'extra')
            || (metadata - 'client_id' - 'client_secret' - 'registration_access_token');
  v := oauth._client_metadata(merged, 'admin');
  PERFORM oauth._raise_metadata(v);
  IF v->>'token_endpoint_auth_method' <> 'none' AND cur->>'token_endpoint_auth_method' = 'none' THEN
    secret := oauth.random_token('client_secret');
  END IF;
  -- The digests are written, never read (applications cannot SELECT them).
  UPDATE oauth.clients c SET
    client_name = coalesce(v->>'client_name', c.client_name),
    redirect_uris = ARRAY(SELECT jsonb_array_elements_text(v->'redirect_uris')),
    grant_types = ARRAY(SELECT jsonb_array_elements_text(v->'grant_types')),
    response_types = ARRAY(SELECT jsonb_array_elements_text(v->'response_types')),
    scope = v->>'scope', extra = v->'extra',
    access_token_ttl = (v->>'access_token_ttl')::integer, refresh_token_ttl = (v->>'refresh_token_ttl')::integer
  WHERE c.tenant_id = t AND c.client_id = update_client.client_id;
  IF v->>'token_endpoint_auth_method' = 'none' AND cur->>'token_endpoint_auth_method' <> 'none' THEN
    UPDATE oauth.clients c SET token_endpoint_auth_method = 'none', secret_hash = NULL
     WHERE c.tenant_id = t AND c.client_id = update_client.client_id;
  ELSIF secret IS NOT NULL THEN
    UPDATE oauth.clients c SET token_endpoint_auth_method = v->>'token_endpoint_auth_method', secret_hash = oauth.token_digest(secret)
     WHERE c.tenant_id = t AND c.client_id = update_client.client_id;
  ELSIF v->>'token_endpoint_auth_method' <> cur->>'token_endpoint_auth_method' THEN
    UPDATE oauth.clients c SET token_endpoint_auth_method = v->>'token_endpoint_auth_method'
     WHERE c.tenant_id = t AND c.client_id = update_client.client_id;
  END IF;
  RETURN oauth._client_json(oauth._client_row(update_client.client_id), true)
         || jsonb_strip_nulls(jsonb_build_object('client_secret', secret));
END $$;
COMMENT ON FUNCTION oauth.update_client(text, jsonb) IS 'Changes a client of the current tenant (admins and owners): fields present replace the stored ones, absent ones stay; null removes an optional field. Console client: only name and redirect URIs. P0002 unknown, 22023 invalid.';

CREATE FUNCTION oauth.rotate_client_secret(client_id text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t uuid := oauth._require_client_admin();
  cur jsonb := oauth._client_row(rotate_client_secret.client_id);
  secret text := oauth.random_token('client_secret');
BEGIN
  IF cur IS NULL THEN
    RAISE EXCEPTION 'client not found' USING ERRCODE = 'P0002';
  END IF;
  IF cur->>'token_endpoint_auth_method' = 'none' THEN
    RAISE EXCEPTION 'a public client has no secret to rotate' USING ERRCODE = '22023',
      HINT = 'Change token_endpoint_auth_method first.';
  END IF;
  UPDATE oauth.clients c SET secret_hash = oauth.token_digest(secret)
   WHERE c.tenant_id = t AND c.client_id = rotate_client_secret.client_id;
  RETURN oauth._client_json(oauth._client_row(rotate_client_secret.client_id))
         || jsonb_build_object('client_secret', secret);
END $$;
COMMENT ON FUNCTION oauth.rotate_client_secret(text) IS 'Replaces the secret of a confidential client of the current tenant (admins and owners); the new secret is in this answer only and the old one stops working at once. Issued tokens stay valid.';

CREATE FUNCTION oauth.delete_client(client_id text) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE t uuid := oauth._require_client_admin();
BEGIN
  -- Tokens, codes and consents of the client go with it (foreign keys, cascade).
  DELETE FROM oauth.clients c WHERE c.tenant_id = t AND c.client_id = delete_client.client_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'client not found' USING ERRCODE = 'P0002';
  END IF;
END $$;
COMMENT ON FUNCTION oauth.delete_client(text) IS 'Deletes a client of the current tenant (admins and owners) and with it all its tokens, codes and consents; the console client cannot be deleted (42501). P0002 unknown.';

-- The console client ---------------------------------------------------------

-- The platform's console URLs (superuser setting, comma-separated): every
-- tenant's console client accepts them as redirect URIs, besides its own
-- (ensure_console_client). Entries that are not valid redirect URIs are
-- ignored; an unset setting (older library) gives none.
CREATE FUNCTION oauth.console_redirect_uris() RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT coalesce(array_agg(DISTINCT u ORDER BY u), '{}')
    FROM regexp_split_to_table(coalesce(current_setting('backend_framework.console_redirect_uris', true), ''), '\s*,\s*') u
   WHERE u <> '' AND oauth._redirect_uri_problem(u) IS NULL
$$;
COMMENT ON FUNCTION oauth.console_redirect_uris() IS 'Redirect URIs every tenant''s console client accepts besides its own: the valid entries of the setting backend_framework.console_redirect_uris.';

-- Creates or updates the console client of a tenant (internal).
CREATE FUNCTION oauth._console_client(p_tenant uuid, p_redirect_uris jsonb) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v jsonb := oauth._client_metadata(jsonb_build_object(
               'client_name', 'Console', 'redirect_uris', p_redirect_uris, 'token_endpoint_auth_method', 'none',
               'grant_types', '["authorization_code", "refresh_token"]'::jsonb, 'scope', 'read write profile admin'), 'admin');
  cid text;
BEGIN
  PERFORM oauth._raise_metadata(v);
  INSERT INTO oauth.clients AS c (tenant_id, client_id, client_name, token_endpoint_auth_method, redirect_uris,
                                  grant_types, response_types, scope, builtin)
  VALUES (p_tenant, 'console', 'Console', 'none', ARRAY(SELECT jsonb_array_elements_text(v->'redirect_uris')),
          '{authorization_code,refresh_token}', '{code}', v->>'scope', true)
  ON CONFLICT (tenant_id) WHERE builtin DO UPDATE SET redirect_uris = excluded.redirect_uris
  RETURNING c.client_id INTO cid;
  RETURN cid;
END $$;
COMMENT ON FUNCTION oauth._console_client(uuid, jsonb) IS 'Internal: creates or updates the console client (client_id console, public, code + refresh, all scopes) of a tenant.';
REVOKE ALL ON FUNCTION oauth._console_client(uuid, jsonb) FROM PUBLIC;

CREATE FUNCTION oauth.ensure_console_client(redirect_uris jsonb) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE t uuid := tenancy.current_tenant_id();
BEGIN
  IF t IS NULL THEN
    RAISE EXCEPTION 'no tenant in the current context' USING ERRCODE = 'P0002';
  END IF;
  RETURN oauth._console_client(t, redirect_uris);
END $$;
COMMENT ON FUNCTION oauth.ensure_console_client(jsonb) IS 'Creates or updates the current tenant''s console client (public, client_id "console", authorization_code + refresh_token, scope admin profile read write) with these redirect URIs (the console''s own callback URL; the URIs of the setting backend_framework.console_redirect_uris are accepted for every tenant anyway); idempotent; returns its client_id. 22023 for an invalid redirect URI.';
REVOKE ALL ON FUNCTION oauth.ensure_console_client(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth.ensure_console_client(jsonb) TO backend_gateway, backend_admin;

-- Every new tenant gets its console client. Its own redirect URIs start as
-- the development console's; the platform's console URLs
-- (backend_framework.console_redirect_uris) are accepted for every tenant
-- at authorization time, and ensure_console_client sets a tenant's own.
CREATE FUNCTION oauth._tenant_console_client() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM oauth._console_client(NEW.id,
    '["http://localhost:8080/console/callback.html", "http://127.0.0.1:8080/console/callback.html"]');
  RETURN NULL;
END $$;
COMMENT ON FUNCTION oauth._tenant_console_client() IS 'Trigger: creates the console client of a new tenant (default redirect URIs on localhost:8080).';
REVOKE ALL ON FUNCTION oauth._tenant_console_client() FROM PUBLIC;
CREATE TRIGGER tenants_console_client AFTER INSERT ON tenancy.tenants
  FOR EACH ROW EXECUTE FUNCTION oauth._tenant_console_client();
-- 32_oauth_tokens.sql — the token endpoint (RFC 6749 sections 4.1.3, 4.3,
-- 4.4, 6): client authentication, the four grants, issuance, refresh
-- rotation with reuse detection, and throttling of password attempts.
--
-- The endpoint never raises for a client's mistake: it returns the RFC 6749
-- section 5.1 body (200) or the section 5.2 error body with its status
-- (400, or 401 for invalid_client), so every outcome, including a failed
-- password recorded for throttling or a family revoked after a replay, is
-- committed. An exception means a bug.
--
-- Internal helpers (oauth._*) that only the SECURITY DEFINER entry points
-- call are plain functions with EXECUTE revoked from PUBLIC: only the
-- extension's owner may run them, and they run under the entry point's
-- pinned search_path. They carry no SET clause of their own: a SET clause
-- costs a settings save and restore on every call (and prevents inlining),
-- which the token path, run thousands of times a second, cannot afford.

-- Lifetimes: the client's, else the tenant's setting, else the default
-- (access 1 h, refresh 30 days, code 60 s).
CREATE FUNCTION oauth._ttl(kind text, client_ttl integer, settings jsonb) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(client_ttl, (settings->>(kind || '_ttl'))::integer,
                  CASE kind WHEN 'access_token' THEN 3600 WHEN 'refresh_token' THEN 2592000 WHEN 'code' THEN 60 END)
$$;
COMMENT ON FUNCTION oauth._ttl(text, integer, jsonb) IS 'Internal: lifetime in seconds of an access_token, refresh_token or code: the client''s, else the tenant setting <kind>_ttl, else 3600 / 2592000 / 60.';

CREATE FUNCTION oauth._error(http_status integer, error text, description text, OUT status integer, OUT body jsonb)
LANGUAGE sql IMMUTABLE AS $$
  SELECT http_status, jsonb_build_object('error', error, 'error_description', description)
$$;
COMMENT ON FUNCTION oauth._error(integer, text, text) IS 'Internal: an OAuth error answer (status, {"error", "error_description"}).';

-- The checks every form endpoint starts with: a tenant in the context and a
-- form (an object of strings, what oauth.form_decode makes). NULLs when fine.
CREATE FUNCTION oauth._form_precheck(params jsonb, OUT status integer, OUT body jsonb)
LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF tenancy.current_tenant_id() IS NULL THEN
    SELECT * INTO status, body FROM oauth._error(404, 'invalid_request', 'unknown tenant');
  ELSIF params IS NULL OR jsonb_typeof(params) <> 'object'
        OR EXISTS (SELECT 1 FROM jsonb_each(params) e WHERE jsonb_typeof(e.value) <> 'string') THEN
    SELECT * INTO status, body FROM oauth._error(400, 'invalid_request',
      'the request must be application/x-www-form-urlencoded parameters');
  END IF;
END $$;
COMMENT ON FUNCTION oauth._form_precheck(jsonb) IS 'Internal: the error answer of a form endpoint called without a tenant or without form parameters; NULLs when fine.';

-- Client authentication (RFC 6749 section 2.3.1): HTTP Basic
-- (client_secret_basic), client_id and client_secret in the body
-- (client_secret_post), or client_id alone for public clients (none). The
-- method must be the one the client registered; the secret is compared as
-- SHA-256 digests in constant time. err is NULL on success.
CREATE FUNCTION oauth._client_auth(p_tenant uuid, params jsonb, authorization text,
  OUT err text, OUT err_description text, OUT client_id text, OUT auth_method text, OUT grant_types text[],
  OUT scope text, OUT access_ttl integer, OUT refresh_ttl integer, OUT code_ttl integer)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  basic_id text;
  basic_secret text;
  body_id text := params->>'client_id';
  body_secret text := params->>'client_secret';
  presented text;
  used text;
  c record;
BEGIN
  IF nullif(btrim(_client_auth.authorization), '') IS NOT NULL THEN
    BEGIN
      SELECT b.client_id, b.client_secret INTO basic_id, basic_secret FROM oauth.basic_credentials(_client_auth.authorization) b;
    EXCEPTION WHEN invalid_authorization_specification THEN
      err := 'invalid_client'; err_description := SQLERRM;
      RETURN;
    END;
    IF basic_id IS NULL THEN
      err := 'invalid_client';
      err_description := 'unsupported authentication scheme: use HTTP Basic (client_secret_basic) or client_id and client_secret in the body (client_secret_post)';
      RETURN;
    END IF;
  END IF;
  IF basic_id IS NOT NULL THEN
    IF body_secret IS NOT NULL THEN
      err := 'invalid_request';
      err_description := 'client credentials were sent both in the Authorization header and in the body; use one method only';
      RETURN;
    END IF;
    IF body_id IS NOT NULL AND body_id <> basic_id THEN
      err := 'invalid_request';
      err_description := 'the client_id in the body differs from the one in the Authorization header';
      RETURN;
    END IF;
    client_id := basic_id; presented := basic_secret; used := 'client_secret_basic';
  ELSIF body_secret IS NOT NULL THEN
    client_id := body_id; presented := body_secret; used := 'client_secret_post';
  ELSE
    client_id := body_id; used := 'none';
  END IF;
  IF client_id IS NULL THEN
    err := 'invalid_client';
    err_description := 'client authentication is required: send HTTP Basic credentials, or client_id (and client_secret)';
    RETURN;
  END IF;
  SELECT k.token_endpoint_auth_method, k.secret_hash, k.grant_types, k.scope,
         k.access_token_ttl, k.refresh_token_ttl, t.settings
    INTO c
    FROM oauth.clients k JOIN tenancy.tenants t ON t.id = k.tenant_id
   WHERE k.tenant_id = p_tenant AND k.client_id = _client_auth.client_id;
  IF NOT FOUND THEN
    err := 'invalid_client'; err_description := 'unknown client';
    client_id := NULL;
    RETURN;
  END IF;
  -- Public clients: client_id alone (an empty Basic password is accepted too).
  IF c.token_endpoint_auth_method = 'none' THEN
    IF used = 'client_secret_post' OR (used = 'client_secret_basic' AND presented <> '') THEN
      err := 'invalid_client'; err_description := 'this is a public client: send client_id only, without a secret';
      client_id := NULL;
      RETURN;
    END IF;
  ELSE
    IF used = 'none' THEN
      err := 'invalid_client'; err_description := 'client authentication is required for this client';
      client_id := NULL;
      RETURN;
    END IF;
    IF used <> c.token_endpoint_auth_method THEN
      err := 'invalid_client';
      err_description := format('this client authenticates with %s', c.token_endpoint_auth_method);
      client_id := NULL;
      RETURN;
    END IF;
    IF NOT oauth.ct_equal(oauth.token_digest(presented), c.secret_hash) THEN
      err := 'invalid_client'; err_description := 'client authentication failed';
      client_id := NULL;
      RETURN;
    END IF;
  END IF;
  auth_method := c.token_endpoint_auth_method;
  grant_types := c.grant_types;
  scope := c.scope;
  access_ttl := oauth._ttl('access_token', c.access_token_ttl, c.settings);
  refresh_ttl := oauth._ttl('refresh_token', c.refresh_token_ttl, c.settings);
  code_ttl := oauth._ttl('code', NULL, c.settings);
END $$;
COMMENT ON FUNCTION oauth._client_auth(uuid, jsonb, text) IS 'Internal: authenticates the client of a token, revocation or introspection request (client_secret_basic, client_secret_post or none, as registered); err/err_description are set on failure.';
REVOKE ALL ON FUNCTION oauth._client_auth(uuid, jsonb, text) FROM PUBLIC;

-- Granted scope: the requested scopes (default: all of the ceiling)
-- intersected with the ceiling (client's ∩ what the user's role allows).
-- err is invalid_scope when a value is unknown or nothing remains.
CREATE FUNCTION oauth._grant_scope(requested text, ceiling text[], OUT scopes text[], OUT err text)
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE r text[];
BEGIN
  IF requested IS NULL OR btrim(requested) = '' THEN
    scopes := ceiling;
  ELSE
    r := oauth._scopes(requested);
    IF r IS NULL THEN
      err := 'unknown scope: the scopes are read, write, profile and admin';
      RETURN;
    END IF;
    scopes := oauth._scope_and(r, ceiling);
  END IF;
  IF cardinality(scopes) = 0 THEN
    err := 'none of the requested scopes can be granted';
  END IF;
END $$;
COMMENT ON FUNCTION oauth._grant_scope(text, text[]) IS 'Internal: requested scope (default: the ceiling) intersected with the ceiling; err when unknown or empty.';

-- Throttling of password checks. Failures are counted per (tenant, e-mail)
-- and per (tenant, client address). A key with n failures at or above its
-- threshold waits 2^(n - threshold) seconds after its last failure, at most
-- 15 minutes; never a lock-out. Thresholds: 5 per address, 20 per e-mail —
-- so one address guessing at an account is held by its own back-off long
-- before the account's counter matters, and the real user signs in from
-- elsewhere; the e-mail counter slows attacks spread over many addresses
-- (then the real user waits too, at most 15 minutes: the price of that
-- protection). Throttled attempts are not checked, so they do not count;
-- counters are cleared by a success and forgotten a day after the last failure.
CREATE FUNCTION oauth._throttle_wait(p_tenant uuid, p_email text, p_addr text) RETURNS integer
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT coalesce(max(greatest(0, ceil(extract(epoch FROM
           a.last_failure_at + make_interval(secs => least(900, 2 ^ least(a.failures - th.n, 10))) - now())))), 0)::integer
    FROM oauth.login_attempts a
    JOIN (VALUES ('email', lower(btrim(p_email)), 20), ('addr', p_addr, 5)) th(kind, key, n)
      ON a.kind = th.kind AND a.key = th.key
   WHERE a.tenant_id = p_tenant AND a.failures >= th.n AND a.last_failure_at > now() - interval '1 day'
$$;
COMMENT ON FUNCTION oauth._throttle_wait(uuid, text, text) IS 'Internal: seconds to wait before the next password check for this e-mail or client address (0: go ahead). Back-off 2^(n-threshold) s capped at 900 s; thresholds 5 failures per address, 20 per e-mail.';
REVOKE ALL ON FUNCTION oauth._throttle_wait(uuid, text, text) FROM PUBLIC;

CREATE FUNCTION oauth._record_login(p_tenant uuid, p_email text, p_addr text, p_success boolean) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  IF p_success THEN
    DELETE FROM oauth.login_attempts
     WHERE tenant_id = p_tenant AND ((kind = 'email' AND key = lower(btrim(p_email))) OR (kind = 'addr' AND key = p_addr));
    RETURN;
  END IF;
  INSERT INTO oauth.login_attempts AS a (tenant_id, kind, key, failures)
  SELECT p_tenant, k.kind, k.key, 1
    FROM (VALUES ('email', lower(btrim(p_email))), ('addr', p_addr)) k(kind, key) WHERE k.key IS NOT NULL
  ON CONFLICT (tenant_id, kind, key) DO UPDATE
    SET failures = CASE WHEN a.last_failure_at < now() - interval '1 day' THEN 1 ELSE a.failures + 1 END,
        first_failure_at = CASE WHEN a.last_failure_at < now() - interval '1 day' THEN now() ELSE a.first_failure_at END,
        last_failure_at = now();
END $$;
COMMENT ON FUNCTION oauth._record_login(uuid, text, text, boolean) IS 'Internal: counts a failed password check for the e-mail and the client address, or clears both counters after a success.';
REVOKE ALL ON FUNCTION oauth._record_login(uuid, text, text, boolean) FROM PUBLIC;

-- Checks a password with throttling. Returns the user id, or NULL with
-- wait_seconds > 0 (throttled, password not checked) or 0 (wrong).
CREATE FUNCTION oauth._check_password(p_tenant uuid, p_email text, p_password text, p_addr text,
                                      OUT user_id uuid, OUT wait_seconds integer)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  wait_seconds := oauth._throttle_wait(p_tenant, p_email, p_addr);
  IF wait_seconds > 0 THEN RETURN; END IF;
  user_id := tenancy.verify_password(p_email, p_password);
  PERFORM oauth._record_login(p_tenant, p_email, p_addr, user_id IS NOT NULL);
END $$;
COMMENT ON FUNCTION oauth._check_password(uuid, text, text, text) IS 'Internal: throttled password check of a user of the current tenant (tenancy.verify_password); records the outcome.';
REVOKE ALL ON FUNCTION oauth._check_password(uuid, text, text, text) FROM PUBLIC;

-- Issues an access token and, when refresh_ttl is not NULL, a refresh token
-- of the same family, in one INSERT. Returns the RFC 6749 section 5.1 body.
CREATE FUNCTION oauth._issue(p_tenant uuid, p_client text, p_user uuid, p_scope text, p_family uuid,
                             access_ttl integer, refresh_ttl integer, refresh_scope text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  at text := oauth.random_token('access');
  rt text := CASE WHEN refresh_ttl IS NOT NULL THEN oauth.random_token('refresh') END;
BEGIN
  INSERT INTO oauth.tokens (tenant_id, token_hash, kind, client_id, user_id, scope, family_id, expires_at)
  SELECT p_tenant, oauth.token_digest(v.tok), v.kind, p_client, p_user, v.scope, p_family,
         now() + make_interval(secs => v.ttl)
    FROM (VALUES (at, 'access', p_scope, access_ttl), (rt, 'refresh', coalesce(refresh_scope, p_scope), refresh_ttl)) v(tok, kind, scope, ttl)
   WHERE v.tok IS NOT NULL;
  RETURN jsonb_strip_nulls(jsonb_build_object('access_token', at, 'token_type', 'Bearer', 'expires_in', access_ttl,
                                              'scope', p_scope, 'refresh_token', rt));
END $$;
COMMENT ON FUNCTION oauth._issue(uuid, text, uuid, text, uuid, integer, integer, text) IS 'Internal: stores the digests of a new access token (and refresh token when refresh_ttl is given; its scope is refresh_scope, default the same) and returns the RFC 6749 section 5.1 body.';
REVOKE ALL ON FUNCTION oauth._issue(uuid, text, uuid, text, uuid, integer, integer, text) FROM PUBLIC;

-- Revokes every live token of a family (code replay, refresh token reuse,
-- revocation of a refresh token).
CREATE FUNCTION oauth._revoke_family(p_tenant uuid, p_family uuid) RETURNS bigint
LANGUAGE sql VOLATILE AS $$
  WITH r AS (UPDATE oauth.tokens SET revoked_at = now()
              WHERE tenant_id = p_tenant AND family_id = p_family AND revoked_at IS NULL RETURNING 1)
  SELECT count(*) FROM r
$$;
COMMENT ON FUNCTION oauth._revoke_family(uuid, uuid) IS 'Internal: revokes all tokens of a family; returns how many.';
REVOKE ALL ON FUNCTION oauth._revoke_family(uuid, uuid) FROM PUBLIC;

-- The token endpoint --------------------------------------------------------

CREATE FUNCTION oauth.token_endpoint(params jsonb, authorization text, client_addr text,
                                     OUT status integer, OUT body jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t uuid := tenancy.current_tenant_id();
  c record;
  gt text;
  g record;
  sc text;
  at text;
  ttl integer;
  bid text;
  bsecret text;
  u record;
  k record;
  tok record;
  uid uuid;
  wait integer;
  fam uuid;
  ceiling text[];
BEGIN
  SELECT * INTO status, body FROM oauth._form_precheck(params);
  IF status IS NOT NULL THEN RETURN; END IF;
  -- Fast path: client credentials with HTTP Basic and the registered scope
  -- (what services do, thousands of times a second). One statement checks
  -- the client (method, grant, secret digest in constant time) and stores
  -- the token. When it stores nothing, the general path below runs the
  -- same checks one by one and answers precisely why.
  IF params->>'grant_type' = 'client_credentials' AND params->>'scope' IS NULL AND params->>'client_secret' IS NULL
     AND lower(left(token_endpoint.authorization, 6)) = 'basic ' THEN
    -- Decoding may raise (malformed Basic): catch that in a block that
    -- writes nothing, so the INSERT below needs no subtransaction.
    BEGIN
      SELECT x.client_id, x.client_secret INTO bid, bsecret FROM oauth.basic_credentials(token_endpoint.authorization) x;
    EXCEPTION WHEN invalid_authorization_specification THEN
      bid := NULL;
    END;
    IF bid IS NOT NULL AND coalesce(params->>'client_id', bid) = bid THEN
      at := oauth.random_token('access');
      INSERT INTO oauth.tokens (tenant_id, token_hash, kind, client_id, scope, expires_at)
      SELECT t, oauth.token_digest(at), 'access', cl.client_id, cl.scope,
             now() + make_interval(secs => coalesce(cl.access_token_ttl, (tn.settings->>'access_token_ttl')::integer, 3600))
        FROM oauth.clients cl JOIN tenancy.tenants tn ON tn.id = cl.tenant_id
       WHERE cl.tenant_id = t AND cl.client_id = bid
         AND cl.token_endpoint_auth_method = 'client_secret_basic' AND 'client_credentials' = ANY (cl.grant_types)
         AND oauth.ct_equal(oauth.token_digest(bsecret), cl.secret_hash)
      RETURNING tokens.scope, extract(epoch FROM tokens.expires_at - tokens.created_at)::integer INTO sc, ttl;
    END IF;
    IF sc IS NOT NULL THEN
      SET LOCAL synchronous_commit = off;  -- see the general path's comment
      status := 200;
      body := jsonb_build_object('access_token', at, 'token_type', 'Bearer', 'expires_in', ttl, 'scope', sc);
      RETURN;
    END IF;
  END IF;

  SELECT * INTO c FROM oauth._client_auth(t, params, token_endpoint.authorization);
  IF c.err IS NOT NULL THEN
    SELECT * INTO status, body FROM oauth._error(CASE WHEN c.err = 'invalid_client' THEN 401 ELSE 400 END, c.err, c.err_description);
    RETURN;
  END IF;
  gt := params->>'grant_type';
  IF gt IS NULL OR gt = '' THEN
    SELECT * INTO status, body FROM oauth._error(400, 'invalid_request', 'grant_type is missing');
    RETURN;
  END IF;
  IF gt NOT IN ('authorization_code', 'refresh_token', 'client_credentials', 'password') THEN
    SELECT * INTO status, body FROM oauth._error(400, 'unsupported_grant_type',
      'grant_type must be authorization_code, refresh_token, client_credentials or password');
    RETURN;
  END IF;
  IF NOT gt = ANY (c.grant_types) THEN
    SELECT * INTO status, body FROM oauth._error(400, 'unauthorized_client',
      format('this client is not allowed to use the %s grant', gt));
    RETURN;
  END IF;

  CASE gt
  -- RFC 6749 section 4.4: confidential clients only, no refresh token, no user.
  WHEN 'client_credentials' THEN
    IF c.auth_method = 'none' THEN
      SELECT * INTO status, body FROM oauth._error(400, 'unauthorized_client', 'public clients cannot use the client_credentials grant');
      RETURN;
    END IF;
    IF params->>'scope' IS NULL THEN
      sc := c.scope;  -- the client's registered scope, stored canonical
    ELSE
      SELECT * INTO g FROM oauth._grant_scope(params->>'scope', oauth._scopes(c.scope));
      IF g.err IS NOT NULL THEN
        SELECT * INTO status, body FROM oauth._error(400, 'invalid_scope', g.err);
        RETURN;
      END IF;
      sc := oauth._scope_text(g.scopes);
    END IF;
    -- Speed: this path writes one token row and nothing else that matters
    -- (the HTTP layer's API call counter at most), so its commit does not
    -- wait for the WAL flush. Trade-off: after a crash of PostgreSQL (not
    -- of a client), tokens issued in the last few hundred milliseconds
    -- (3 x wal_writer_delay at most) may be gone; their clients get 401 and
    -- ask again. Nothing else is affected: never used for tenants, users,
    -- clients, codes or refresh rotation.
    SET LOCAL synchronous_commit = off;
    status := 200;
    body := oauth._issue(t, c.client_id, NULL, sc, NULL, c.access_ttl, NULL);

  -- RFC 6749 section 4.3: only for clients registered with it; throttled.
  WHEN 'password' THEN
    IF params->>'username' IS NULL OR params->>'password' IS NULL THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_request', 'username and password are required');
      RETURN;
    END IF;
    IF params->>'scope' IS NOT NULL AND oauth._scopes(params->>'scope') IS NULL THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_scope', 'unknown scope: the scopes are read, write, profile and admin');
      RETURN;
    END IF;
    SELECT * INTO uid, wait FROM oauth._check_password(t, params->>'username', params->>'password', client_addr);
    IF wait > 0 THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_grant',
        format('Too many attempts, try again in %s seconds', wait));
      RETURN;
    END IF;
    IF uid IS NULL THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_grant', 'invalid username or password');
      RETURN;
    END IF;
    SELECT x.role INTO u FROM tenancy.users x WHERE x.tenant_id = t AND x.id = uid;
    SELECT * INTO g FROM oauth._grant_scope(params->>'scope', oauth._scope_and(oauth._scopes(c.scope), oauth._role_scopes(u.role)));
    IF g.err IS NOT NULL THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_scope', g.err);
      RETURN;
    END IF;
    status := 200;
    body := oauth._issue(t, c.client_id, uid, oauth._scope_text(g.scopes), gen_random_uuid(), c.access_ttl,
                         CASE WHEN 'refresh_token' = ANY (c.grant_types) THEN c.refresh_ttl END);

  -- RFC 6749 section 4.1.3 with RFC 7636 section 4.6.
  WHEN 'authorization_code' THEN
    IF params->>'code' IS NULL THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_request', 'code is missing');
      RETURN;
    END IF;
    SELECT a.client_id, a.user_id, a.redirect_uri, a.redirect_uri_given, a.scope, a.code_challenge,
           a.code_challenge_method, a.family_id, a.expires_at, a.used_at, x.role, x.status AS user_status
      INTO k
      FROM oauth.authorization_codes a JOIN tenancy.users x ON x.tenant_id = a.tenant_id AND x.id = a.user_id
     WHERE a.tenant_id = t AND a.code_hash = oauth.token_digest(params->>'code');
    IF NOT FOUND OR k.client_id <> c.client_id THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_grant', 'invalid authorization code');
      RETURN;
    END IF;
    -- Mark it used first: of two concurrent redemptions exactly one wins.
    UPDATE oauth.authorization_codes SET used_at = now()
     WHERE tenant_id = t AND code_hash = oauth.token_digest(params->>'code') AND used_at IS NULL;
    IF NOT FOUND THEN
      PERFORM oauth._revoke_family(t, k.family_id);
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_grant',
        'authorization code already used; the tokens issued for it have been revoked');
      RETURN;
    END IF;
    IF k.expires_at <= now() THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_grant', 'authorization code expired');
      RETURN;
    END IF;
    IF k.redirect_uri_given AND params->>'redirect_uri' IS NULL THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_grant',
        'redirect_uri is required: it was part of the authorization request');
      RETURN;
    END IF;
    IF params->>'redirect_uri' IS DISTINCT FROM k.redirect_uri AND params->>'redirect_uri' IS NOT NULL THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_grant',
        'redirect_uri does not match the one of the authorization request');
      RETURN;
    END IF;
    IF k.code_challenge IS NOT NULL AND params->>'code_verifier' IS NULL THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_grant', 'code_verifier is required (PKCE)');
      RETURN;
    END IF;
    IF k.code_challenge IS NULL AND params->>'code_verifier' IS NOT NULL THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_grant',
        'code_verifier sent, but the authorization request had no code_challenge');
      RETURN;
    END IF;
    IF k.code_challenge IS NOT NULL AND NOT oauth.pkce_verify(params->>'code_verifier', k.code_challenge, k.code_challenge_method) THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_grant', 'code_verifier does not match the code_challenge');
      RETURN;
    END IF;
    IF k.user_status <> 'active' THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_grant', 'the user is disabled');
      RETURN;
    END IF;
    -- The user's role may have changed since: intersect again.
    SELECT * INTO g FROM oauth._grant_scope(NULL, oauth._scope_and(oauth._scopes(k.scope), oauth._role_scopes(k.role)));
    IF g.err IS NOT NULL THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_grant', 'the user may no longer be granted these scopes');
      RETURN;
    END IF;
    status := 200;
    body := oauth._issue(t, c.client_id, k.user_id, oauth._scope_text(g.scopes), k.family_id, c.access_ttl,
                         CASE WHEN 'refresh_token' = ANY (c.grant_types) THEN c.refresh_ttl END);

  -- RFC 6749 section 6, rotated on every use (RFC 9700 section 4.14.2).
  WHEN 'refresh_token' THEN
    IF params->>'refresh_token' IS NULL THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_request', 'refresh_token is missing');
      RETURN;
    END IF;
    SELECT r.client_id, r.user_id, r.scope, r.family_id, r.expires_at, r.rotated_at, r.revoked_at, x.role,
           x.status AS user_status
      INTO tok
      FROM oauth.tokens r LEFT JOIN tenancy.users x ON x.tenant_id = r.tenant_id AND x.id = r.user_id
     WHERE r.tenant_id = t AND r.token_hash = oauth.token_digest(params->>'refresh_token') AND r.kind = 'refresh';
    IF NOT FOUND OR tok.client_id <> c.client_id THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_grant', 'invalid refresh token');
      RETURN;
    END IF;
    IF tok.revoked_at IS NOT NULL THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_grant', 'refresh token revoked');
      RETURN;
    END IF;
    -- A rotated token used again has leaked (or its client lost track):
    -- the whole grant ends (RFC 9700 section 4.14.2).
    IF tok.rotated_at IS NOT NULL THEN
      PERFORM oauth._revoke_family(t, tok.family_id);
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_grant',
        'refresh token already used; all tokens of this grant have been revoked');
      RETURN;
    END IF;
    IF tok.expires_at <= now() THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_grant', 'refresh token expired');
      RETURN;
    END IF;
    IF tok.user_id IS NOT NULL AND tok.user_status IS DISTINCT FROM 'active' THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_grant', 'the user is disabled');
      RETURN;
    END IF;
    -- May only narrow (RFC 6749 section 6), within what client and role allow now.
    ceiling := oauth._scope_and(oauth._scope_and(oauth._scopes(tok.scope), oauth._scopes(c.scope)),
                                CASE WHEN tok.user_id IS NULL THEN '{admin,profile,read,write}' ELSE oauth._role_scopes(tok.role) END);
    IF params->>'scope' IS NOT NULL AND btrim(params->>'scope') <> ''
       AND NOT coalesce(oauth._scopes(params->>'scope') <@ oauth._scopes(tok.scope), false) THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_scope',
        'the requested scope exceeds the scope originally granted');
      RETURN;
    END IF;
    SELECT * INTO g FROM oauth._grant_scope(params->>'scope', ceiling);
    IF g.err IS NOT NULL THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_scope', g.err);
      RETURN;
    END IF;
    -- Rotate: of two concurrent uses exactly one wins; the other is a reuse.
    UPDATE oauth.tokens SET rotated_at = now()
     WHERE tenant_id = t AND token_hash = oauth.token_digest(params->>'refresh_token') AND rotated_at IS NULL
       AND revoked_at IS NULL;
    IF NOT FOUND THEN
      PERFORM oauth._revoke_family(t, tok.family_id);
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_grant',
        'refresh token already used; all tokens of this grant have been revoked');
      RETURN;
    END IF;
    status := 200;
    body := oauth._issue(t, c.client_id, tok.user_id, oauth._scope_text(g.scopes), tok.family_id, c.access_ttl,
                         c.refresh_ttl, oauth._scope_text(ceiling));
  END CASE;
END $$;
COMMENT ON FUNCTION oauth.token_endpoint(jsonb, text, text) IS 'POST /oauth/token of the current tenant (RFC 6749): params = the decoded form body, authorization = the Authorization header (or NULL), client_addr for throttling. Grants authorization_code (PKCE, RFC 7636), refresh_token (rotation, reuse revokes the family), client_credentials, password (throttled). Returns status 200 and the section 5.1 body, or 400/401 and the section 5.2 error body; never raises for a client error. The caller adds Cache-Control: no-store, and WWW-Authenticate: Basic on 401.';
REVOKE ALL ON FUNCTION oauth.token_endpoint(jsonb, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth.token_endpoint(jsonb, text, text) TO backend_gateway, backend_admin;
-- 33_oauth_authorize.sql — the authorization endpoint (RFC 6749 section
-- 4.1.1/4.1.2, RFC 7636, RFC 9207) as one function returning a whole HTTP
-- answer: the server-rendered sign-in and consent pages, and 303 redirects
-- to the client's registered redirect URI with code, state and iss.
--
-- Browser state: cookie bf_csrf (a random token; the form carries the
-- base64url SHA-256 of it, a double submit that never puts the cookie value
-- itself in the page) and cookie bf_session (the login session; only its
-- SHA-256 is stored). Both HttpOnly, SameSite=Lax, scoped to the path of
-- the authorize endpoint, Secure behind https. The pages have no
-- JavaScript; every value in them goes through oauth.html_escape.

-- Path of the issuer URL (e.g. /t/acme for http://localhost:8080/t/acme),
-- '' when it has none or anything unusual.
CREATE FUNCTION oauth._issuer_path(issuer text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN p ~ '^(/[A-Za-z0-9._~-]+)*$' THEN p ELSE '' END
    FROM (SELECT rtrim(regexp_replace(coalesce(issuer, ''), '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*', ''), '/') AS p) x
$$;
COMMENT ON FUNCTION oauth._issuer_path(text) IS 'Internal: the path part of an issuer URL without trailing slash (/t/acme), or '''' — the prefix of the authorize endpoint''s path.';

CREATE FUNCTION oauth._cookie(name text, value text, path text, secure boolean, max_age integer DEFAULT NULL) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT name || '=' || value || '; Path=' || path
         || CASE WHEN max_age IS NOT NULL THEN '; Max-Age=' || max_age ELSE '' END
         || '; HttpOnly; SameSite=Lax' || CASE WHEN secure THEN '; Secure' ELSE '' END
$$;
COMMENT ON FUNCTION oauth._cookie(text, text, text, boolean, integer) IS 'Internal: a Set-Cookie value (HttpOnly, SameSite=Lax, Secure when secure).';

-- Set-Cookie header(s): one value as a string, several as an array.
CREATE FUNCTION oauth._set_cookie_header(cookies text[]) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN cardinality(cookies) = 1 THEN jsonb_build_object('Set-Cookie', cookies[1])
              WHEN cardinality(cookies) > 1 THEN jsonb_build_object('Set-Cookie', to_jsonb(cookies))
              ELSE '{}' END
$$;
COMMENT ON FUNCTION oauth._set_cookie_header(text[]) IS 'Internal: {"Set-Cookie": value} for one cookie, {"Set-Cookie": [values]} for several, {} for none.';

-- A redirect URI with parameters added to its query (RFC 6749 section
-- 3.1.2 keeps an existing query); NULL values are left out.
CREATE FUNCTION oauth._redirect_to(uri text, names text[], vals text[]) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT uri || CASE WHEN strpos(uri, '?') > 0 THEN CASE WHEN uri ~ '[?&]$' THEN '' ELSE '&' END ELSE '?' END
         || string_agg(n || '=' || oauth.url_encode(v), '&' ORDER BY i)
    FROM unnest(names, vals) WITH ORDINALITY AS x(n, v, i) WHERE v IS NOT NULL
$$;
COMMENT ON FUNCTION oauth._redirect_to(text, text[], text[]) IS 'Internal: uri with name=value pairs (percent-encoded) appended to its query, in the given order.';

-- Words for scopes on the consent page.
CREATE FUNCTION oauth._scope_words(scope text, tenant_name text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE scope
    WHEN 'read' THEN 'Read your data'
    WHEN 'write' THEN 'Create, change and delete your data'
    WHEN 'profile' THEN 'See your name and email address'
    WHEN 'admin' THEN 'Manage users, applications and settings of ' || tenant_name
    ELSE scope END
$$;
COMMENT ON FUNCTION oauth._scope_words(text, text) IS 'Internal: what a scope allows, in words for the consent page.';

-- Text colour that reads on the brand colour (#rrggbb).
CREATE FUNCTION oauth._on_color(brand text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN 0.299 * ('x' || substr(brand, 2, 2))::bit(8)::int + 0.587 * ('x' || substr(brand, 4, 2))::bit(8)::int
                 + 0.114 * ('x' || substr(brand, 6, 2))::bit(8)::int > 160 THEN '#111827' ELSE '#ffffff' END
$$;
COMMENT ON FUNCTION oauth._on_color(text) IS 'Internal: black or white text, whichever reads better on a #rrggbb background.';

-- A whole page: head, inline style, a centred card in <main>.
CREATE FUNCTION oauth._page(title text, tenant_name text, brand text, content text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT '<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex, nofollow">
<title>' || oauth.html_escape(title) || ' · ' || oauth.html_escape(tenant_name) || '</title>
<style>
:root{--brand:' || oauth.html_escape(b) || ';--on-brand:' || oauth._on_color(b) || ';--bg:#f3f4f6;--card:#fff;--text:#111827;--muted:#4b5563;--line:#d1d5db;--danger:#b42318;--danger-bg:#fef3f2;--radius:14px;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#0b0d12;--card:#161a22;--text:#f3f4f6;--muted:#9ca3af;--line:#2d3440;--danger:#fda29b;--danger-bg:#3a1614}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;padding:24px 16px;background:var(--bg);color:var(--text);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{width:100%;max-width:420px;background:var(--card);border:1px solid var(--line);border-top:4px solid var(--brand);border-radius:var(--radius);padding:32px 28px;box-shadow:0 10px 30px rgba(17,24,39,.08)}
.tenant{display:flex;align-items:center;gap:10px;margin:0 0 24px;font-weight:600;color:var(--muted)}
.mark{flex:none;width:28px;height:28px;border-radius:8px;background:var(--brand)}
h1{font-size:1.375rem;line-height:1.3;margin:0 0 8px}
h2{font-size:1rem;margin:20px 0 8px}
p{margin:0 0 16px;color:var(--muted)}
strong{color:var(--text)}
label{display:block;font-weight:600;margin:16px 0 6px}
input[type=email],input[type=password]{display:block;width:100%;padding:10px 12px;font:inherit;color:inherit;background:transparent;border:1px solid var(--line);border-radius:8px}
input:focus-visible,button:focus-visible,a:focus-visible{outline:2px solid var(--brand);outline-offset:2px}
ul.scopes{list-style:none;margin:0 0 8px;padding:0;border:1px solid var(--line);border-radius:8px}
ul.scopes li{padding:10px 12px 10px 36px;position:relative}
ul.scopes li+li{border-top:1px solid var(--line)}
ul.scopes li::before{content:"";position:absolute;left:14px;top:18px;width:8px;height:8px;border-radius:50%;background:var(--brand)}
.notice{padding:10px 12px;border:1px solid var(--danger);border-radius:8px;background:var(--danger-bg);color:var(--danger)}
.actions{display:flex;flex-direction:row-reverse;gap:12px;margin-top:24px}
button,.button{flex:1 1 auto;white-space:nowrap;display:inline-block;text-align:center;text-decoration:none;padding:11px 16px;font:inherit;font-weight:600;border-radius:8px;border:1px solid var(--line);background:transparent;color:var(--text);cursor:pointer}
button.primary,.button.primary{background:var(--brand);border-color:var(--brand);color:var(--on-brand)}
button:hover{filter:brightness(1.05)}
.small{font-size:.875rem;margin:20px 0 0}
a{color:inherit}
@media (max-width:480px){main{padding:24px 18px}.actions{flex-direction:column}}
</style>
</head>
<body>
<main>
<div class="tenant"><span class="mark" aria-hidden="true"></span>' || oauth.html_escape(tenant_name) || '</div>
' || content || '
</main>
</body>
</html>
'
    FROM (SELECT CASE WHEN brand ~ '^#[0-9a-fA-F]{6}$' THEN brand ELSE '#3355ff' END AS b) x
$$;
COMMENT ON FUNCTION oauth._page(text, text, text, text) IS 'Internal: an HTML page of the authorize endpoint (tenant name and brand colour, centred card, responsive, light and dark; no JavaScript). content is HTML already escaped by the caller.';

-- The OAuth parameters a form carries along, as hidden fields.
CREATE FUNCTION oauth._hidden_fields(params jsonb) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT coalesce(string_agg('<input type="hidden" name="' || n || '" value="' || oauth.html_escape(params->>n) || '">', E'\n' ORDER BY i), '')
    FROM unnest(ARRAY['response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'code_challenge',
                      'code_challenge_method']) WITH ORDINALITY AS x(n, i)
   WHERE params->>n IS NOT NULL
$$;
COMMENT ON FUNCTION oauth._hidden_fields(jsonb) IS 'Internal: hidden inputs for the authorization request parameters (HTML-escaped).';

CREATE FUNCTION oauth._scope_list(scopes text[], tenant_name text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT '<ul class="scopes">' || string_agg('<li>' || oauth.html_escape(oauth._scope_words(s, tenant_name)) || '</li>', ''
           ORDER BY array_position(ARRAY['profile', 'read', 'write', 'admin'], s)) || '</ul>'
    FROM unnest(scopes) s
$$;
COMMENT ON FUNCTION oauth._scope_list(text[], text) IS 'Internal: the scopes asked for, in words, as an HTML list.';

-- Validates an authorization request of the current tenant. fatal: a
-- message for an error page (unknown client, bad redirect URI: never
-- redirect then); else err/err_description for a redirect to redirect_uri.
CREATE FUNCTION oauth._authorize_request(p_tenant uuid, params jsonb,
  OUT fatal text, OUT err text, OUT err_description text,
  OUT client_id text, OUT client_name text, OUT builtin boolean, OUT redirect_uri text, OUT redirect_uri_given boolean,
  OUT scopes text[], OUT code_challenge text, OUT code_challenge_method text, OUT state text, OUT prompt text,
  OUT code_ttl integer)
LANGUAGE plpgsql STABLE AS $$
DECLARE
  c record;
  req text[];
  uris text[];
BEGIN
  IF params IS NULL OR jsonb_typeof(params) <> 'object'
     OR EXISTS (SELECT 1 FROM jsonb_each(params) e WHERE jsonb_typeof(e.value) <> 'string') THEN
    fatal := 'The request parameters are malformed.';
    RETURN;
  END IF;
  IF params->>'client_id' IS NULL THEN
    fatal := 'The request does not say which application it is for (client_id is missing).';
    RETURN;
  END IF;
  SELECT k.client_id, k.client_name, k.builtin, k.redirect_uris, k.grant_types, k.scope, k.token_endpoint_auth_method,
         t.settings
    INTO c
    FROM oauth.clients k JOIN tenancy.tenants t ON t.id = k.tenant_id
   WHERE k.tenant_id = p_tenant AND k.client_id = params->>'client_id';
  IF NOT FOUND THEN
    fatal := 'The application that sent you here is not registered (unknown client_id).';
    RETURN;
  END IF;
  client_id := c.client_id; client_name := c.client_name; builtin := c.builtin;
  uris := c.redirect_uris;
  IF c.builtin THEN
    uris := uris || oauth.console_redirect_uris();
  END IF;
  redirect_uri_given := params ? 'redirect_uri';
  IF cardinality(uris) = 0 THEN
    fatal := 'This application is not set up for signing in here (it has no registered redirect URI).';
    RETURN;
  ELSIF redirect_uri_given THEN
    IF NOT (params->>'redirect_uri') = ANY (uris) THEN
      fatal := 'The address to return to (redirect_uri) is not registered for this application.';
      RETURN;
    END IF;
    redirect_uri := params->>'redirect_uri';
  ELSIF cardinality(uris) = 1 THEN
    redirect_uri := uris[1];
  ELSE
    fatal := 'The request does not say where to return to (redirect_uri is missing).';
    RETURN;
  END IF;
  -- From here on errors go back to the client.
  state := params->>'state';
  code_ttl := oauth._ttl('code', NULL, c.settings);
  IF params->>'response_type' IS NULL THEN
    err := 'invalid_request'; err_description := 'response_type is missing';
  ELSIF params->>'response_type' <> 'code' THEN
    err := 'unsupported_response_type'; err_description := 'the only supported response_type is code';
  ELSIF NOT 'authorization_code' = ANY (c.grant_types) THEN
    err := 'unauthorized_client'; err_description := 'this client is not allowed to use the authorization code grant';
  ELSIF params->>'prompt' IS NOT NULL AND params->>'prompt' NOT IN ('none', 'login', 'consent') THEN
    err := 'invalid_request'; err_description := 'prompt must be none, login or consent';
  ELSIF params ? 'code_challenge_method' AND NOT params ? 'code_challenge' THEN
    err := 'invalid_request'; err_description := 'code_challenge_method without code_challenge';
  ELSIF params ? 'code_challenge' AND (params->>'code_challenge') !~ '^[A-Za-z0-9._~-]{43,128}$' THEN
    err := 'invalid_request'; err_description := 'code_challenge must have 43 to 128 characters of A-Z a-z 0-9 - . _ ~';
  ELSIF params ? 'code_challenge' AND coalesce(params->>'code_challenge_method', 'plain') NOT IN ('S256', 'plain') THEN
    err := 'invalid_request'; err_description := 'code_challenge_method must be S256';
  ELSIF params ? 'code_challenge' AND coalesce(params->>'code_challenge_method', 'plain') = 'plain'
        AND NOT coalesce((c.settings->>'allow_plain_pkce')::boolean, false) THEN
    err := 'invalid_request'; err_description := 'PKCE method plain is not allowed: use code_challenge_method S256';
  ELSIF c.token_endpoint_auth_method = 'none' AND NOT params ? 'code_challenge' THEN
    err := 'invalid_request'; err_description := 'PKCE is required for public clients: send code_challenge and code_challenge_method S256';
  END IF;
  IF err IS NOT NULL THEN RETURN; END IF;
  IF params ? 'code_challenge' THEN
    code_challenge := params->>'code_challenge';
    code_challenge_method := coalesce(params->>'code_challenge_method', 'plain');
  END IF;
  prompt := params->>'prompt';
  IF nullif(btrim(params->>'scope'), '') IS NULL THEN
    scopes := oauth._scopes(c.scope);
  ELSE
    req := oauth._scopes(params->>'scope');
    IF req IS NULL THEN
      err := 'invalid_scope'; err_description := 'unknown scope: the scopes are read, write, profile and admin';
      RETURN;
    END IF;
    scopes := oauth._scope_and(req, oauth._scopes(c.scope));
    IF cardinality(scopes) = 0 THEN
      err := 'invalid_scope'; err_description := 'none of the requested scopes is allowed for this client';
    END IF;
  END IF;
END $$;
COMMENT ON FUNCTION oauth._authorize_request(uuid, jsonb) IS 'Internal: validates an authorization request (client, exact redirect URI, response_type, PKCE, prompt, scope ∩ client''s).';
REVOKE ALL ON FUNCTION oauth._authorize_request(uuid, jsonb) FROM PUBLIC;

CREATE FUNCTION oauth.authorize_endpoint(method text, params jsonb, cookies jsonb, issuer text, client_addr text,
                                         secure boolean, OUT status integer, OUT headers jsonb, OUT body text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t uuid := tenancy.current_tenant_id();
  ten record;
  r record;
  base text := oauth._issuer_path(issuer);
  cpath text;
  action_url text;
  set_cookies text[] := '{}';
  csrf text := cookies->>'bf_csrf';
  csrf_field text;
  sess text := cookies->>'bf_session';
  s record;
  uid uuid;
  urole text;
  uemail text;
  wait integer;
  granted text[];
  prior text;
  code text;
  notice text;
  page_status integer := 200;
  content text;
  location text;
  html_headers jsonb := '{"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}';
BEGIN
  cpath := base || '/oauth/authorize';
  action_url := cpath;
  IF jsonb_typeof(cookies) IS DISTINCT FROM 'object' THEN cookies := '{}'; csrf := NULL; sess := NULL; END IF;
  SELECT x.name, x.settings->>'brand_color' AS brand INTO ten FROM tenancy.tenants x WHERE x.id = t;
  IF t IS NULL OR NOT FOUND THEN
    status := 404; headers := html_headers;
    body := oauth._page('Not found', 'Sign in', NULL,
      '<h1>Not found</h1><p>There is no sign-in page at this address.</p>');
    RETURN;
  END IF;
  IF upper(method) NOT IN ('GET', 'POST') THEN
    status := 405; headers := html_headers || '{"Allow": "GET, POST"}';
    body := oauth._page('Method not allowed', ten.name, ten.brand,
      '<h1>Method not allowed</h1><p>Use GET or POST.</p>');
    RETURN;
  END IF;

  SELECT * INTO r FROM oauth._authorize_request(t, params);
  IF r.fatal IS NOT NULL THEN
    status := 400; headers := html_headers;
    body := oauth._page('Cannot sign in', ten.name, ten.brand,
      '<h1>This sign-in link is not valid</h1><p class="notice" role="alert">' || oauth.html_escape(r.fatal) || '</p>'
      || '<p>Go back to the application and try again. If it keeps happening, tell its developers.</p>');
    RETURN;
  END IF;

  -- Cookies of another shape are ignored (a form page makes a new CSRF cookie).
  IF csrf !~ '^bfcf_[A-Za-z0-9_-]{43}$' THEN csrf := NULL; END IF;
  IF sess !~ '^bfss_[A-Za-z0-9_-]{43}$' THEN sess := NULL; END IF;

  IF upper(method) = 'POST' THEN
    IF csrf IS NULL OR params->>'csrf' IS NULL
       OR NOT oauth.ct_equal(convert_to(oauth.base64url_encode(oauth.token_digest(csrf)), 'UTF8'),
                             convert_to(params->>'csrf', 'UTF8')) THEN
      status := 403; headers := html_headers;
      body := oauth._page('Form expired', ten.name, ten.brand,
        '<h1>This form has expired</h1><p class="notice" role="alert">The form was not sent from this page, or it is too old, so it was not accepted (CSRF check).</p>'
        || '<p><a class="button primary" href="' || oauth.html_escape(action_url || '?' || oauth.form_encode(
             (SELECT coalesce(jsonb_object_agg(key, value), '{}') FROM jsonb_each(params)
               WHERE key IN ('response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'code_challenge', 'code_challenge_method'))))
        || '">Start again</a></p>');
      RETURN;
    END IF;
  END IF;

  IF r.err IS NULL AND upper(method) = 'POST' AND params->>'action' = 'deny' THEN
    r.err := 'access_denied'; r.err_description := 'the user denied the request';
  ELSIF r.err IS NULL AND upper(method) = 'POST' AND params->>'action' IS DISTINCT FROM 'allow' THEN
    r.err := 'invalid_request'; r.err_description := 'the form was sent without a valid action';
  END IF;
  IF r.err IS NOT NULL THEN
    status := 303;
    headers := jsonb_build_object('Cache-Control', 'no-store', 'Location', oauth._redirect_to(r.redirect_uri,
      ARRAY['error', 'error_description', 'state', 'iss'], ARRAY[r.err, r.err_description, r.state, issuer]));
    body := '';
    RETURN;
  END IF;

  -- Who is signing in: a password just sent, else the session cookie.
  IF upper(method) = 'POST' AND params ? 'email' THEN
    IF coalesce(btrim(params->>'email'), '') = '' OR coalesce(params->>'password', '') = '' THEN
      notice := 'Enter your email address and your password.';
    ELSE
      SELECT * INTO uid, wait FROM oauth._check_password(t, params->>'email', params->>'password', client_addr);
      IF wait > 0 THEN
        notice := format('Too many attempts, try again in %s seconds.', wait);
        page_status := 429;
        html_headers := html_headers || jsonb_build_object('Retry-After', wait::text);
      ELSIF uid IS NULL THEN
        notice := 'The email address or password is incorrect.';
      ELSE
        -- A new session id at every sign-in (no fixation); the old one ends.
        IF sess IS NOT NULL THEN
          DELETE FROM oauth.login_sessions WHERE tenant_id = t AND session_hash = oauth.token_digest(sess);
        END IF;
        sess := oauth.random_token('session');
        INSERT INTO oauth.login_sessions (tenant_id, session_hash, user_id, client_addr, expires_at)
        VALUES (t, oauth.token_digest(sess), uid, client_addr, now() + interval '8 hours');
        set_cookies := set_cookies || oauth._cookie('bf_session', sess, cpath, secure, 28800);
      END IF;
    END IF;
  ELSIF sess IS NOT NULL AND NOT (upper(method) = 'GET' AND r.prompt IS NOT DISTINCT FROM 'login') THEN
    SELECT l.user_id INTO uid FROM oauth.login_sessions l
     WHERE l.tenant_id = t AND l.session_hash = oauth.token_digest(sess) AND l.expires_at > now();
    IF uid IS NULL AND upper(method) = 'POST' THEN
      notice := 'Your session has ended. Sign in again.';
    END IF;
  ELSIF upper(method) = 'POST' THEN
    notice := 'Your session has ended. Sign in again.';
  END IF;
  IF uid IS NOT NULL THEN
    SELECT x.role, x.email INTO urole, uemail FROM tenancy.users x WHERE x.tenant_id = t AND x.id = uid AND x.status = 'active';
    IF urole IS NULL THEN uid := NULL; END IF;
  END IF;

  IF uid IS NULL AND upper(method) = 'GET' AND r.prompt = 'none' THEN
    status := 303;
    headers := jsonb_build_object('Cache-Control', 'no-store', 'Location', oauth._redirect_to(r.redirect_uri,
      ARRAY['error', 'error_description', 'state', 'iss'], ARRAY['login_required', 'the user is not signed in', r.state, issuer]));
    body := '';
    RETURN;
  END IF;

  -- Not signed in: the sign-in page (with the scopes asked for).
  IF uid IS NULL THEN
    IF csrf IS NULL THEN
      csrf := oauth.random_token('csrf');
      set_cookies := set_cookies || oauth._cookie('bf_csrf', csrf, cpath, secure);
    END IF;
    csrf_field := oauth.base64url_encode(oauth.token_digest(csrf));
    content := '<h1>Sign in</h1>
<p><strong>' || oauth.html_escape(r.client_name) || '</strong> wants to access your ' || oauth.html_escape(ten.name) || ' account.</p>
' || CASE WHEN notice IS NOT NULL THEN '<p class="notice" role="alert">' || oauth.html_escape(notice) || '</p>
' ELSE '' END || '<h2>It will be able to</h2>
' || oauth._scope_list(r.scopes, ten.name) || '
<form method="post" action="' || oauth.html_escape(action_url) || '">
' || oauth._hidden_fields(params) || '
<input type="hidden" name="csrf" value="' || oauth.html_escape(csrf_field) || '">
<label for="email">Email address</label>
<input id="email" name="email" type="email" autocomplete="username" inputmode="email" required'
      || CASE WHEN coalesce(params->>'email', params->>'login_hint', '') = '' THEN ' autofocus' ELSE '' END || ' value="'
      || oauth.html_escape(coalesce(params->>'email', params->>'login_hint', '')) || '">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required'
      || CASE WHEN coalesce(params->>'email', params->>'login_hint', '') = '' THEN '' ELSE ' autofocus' END || '>
<div class="actions">
<button type="submit" name="action" value="allow" class="primary">Sign in and allow</button>
<button type="submit" name="action" value="deny" formnovalidate>Cancel</button>
</div>
</form>';
    status := page_status;
    headers := html_headers;
    headers := headers || oauth._set_cookie_header(set_cookies);
    body := oauth._page('Sign in', ten.name, ten.brand, content);
    RETURN;
  END IF;

  -- Signed in: what this user may be granted.
  granted := oauth._scope_and(r.scopes, oauth._role_scopes(urole));
  IF cardinality(granted) = 0 THEN
    status := 303;
    headers := jsonb_build_object('Cache-Control', 'no-store', 'Location', oauth._redirect_to(r.redirect_uri,
      ARRAY['error', 'error_description', 'state', 'iss'],
      ARRAY['invalid_scope', 'none of the requested scopes can be granted to this user', r.state, issuer]));
    headers := headers || oauth._set_cookie_header(set_cookies);
    body := '';
    RETURN;
  END IF;
  SELECT x.scope INTO prior FROM oauth.consents x WHERE x.tenant_id = t AND x.user_id = uid AND x.client_id = r.client_id;

  -- GET: ask for consent unless given before for these scopes (the
  -- console, the tenant's own application, needs none) or prompt=consent.
  IF upper(method) = 'GET'
     AND (r.prompt IS NOT DISTINCT FROM 'consent'
          OR NOT (r.builtin OR coalesce(granted <@ oauth._scopes(prior), false))) THEN
    IF r.prompt = 'none' THEN
      status := 303;
      headers := jsonb_build_object('Cache-Control', 'no-store', 'Location', oauth._redirect_to(r.redirect_uri,
        ARRAY['error', 'error_description', 'state', 'iss'], ARRAY['consent_required', 'the user has not allowed this application yet', r.state, issuer]));
      body := '';
      RETURN;
    END IF;
    IF csrf IS NULL THEN
      csrf := oauth.random_token('csrf');
      set_cookies := set_cookies || oauth._cookie('bf_csrf', csrf, cpath, secure);
    END IF;
    csrf_field := oauth.base64url_encode(oauth.token_digest(csrf));
    content := '<h1>Allow access?</h1>
<p><strong>' || oauth.html_escape(r.client_name) || '</strong> wants to access your ' || oauth.html_escape(ten.name) || ' account.</p>
<h2>It will be able to</h2>
' || oauth._scope_list(granted, ten.name) || '
<form method="post" action="' || oauth.html_escape(action_url) || '">
' || oauth._hidden_fields(params) || '
<input type="hidden" name="csrf" value="' || oauth.html_escape(csrf_field) || '">
<div class="actions">
<button type="submit" name="action" value="allow" class="primary">Allow</button>
<button type="submit" name="action" value="deny">Deny</button>
</div>
</form>
<p class="small">Signed in as <strong>' || oauth.html_escape(uemail) || '</strong>. <a href="'
      || oauth.html_escape(action_url || '?' || oauth.form_encode(
           (SELECT coalesce(jsonb_object_agg(key, value), '{}') FROM jsonb_each(params)
             WHERE key IN ('response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'code_challenge', 'code_challenge_method'))
           || '{"prompt": "login"}'))
      || '">Not you? Sign in as someone else</a></p>';
    status := 200;
    headers := html_headers;
    headers := headers || oauth._set_cookie_header(set_cookies);
    body := oauth._page('Allow access', ten.name, ten.brand, content);
    RETURN;
  END IF;

  -- Allowed (form) or allowed before: remember, issue the code, go back.
  IF upper(method) = 'POST' THEN
    INSERT INTO oauth.consents AS x (tenant_id, user_id, client_id, scope)
    VALUES (t, uid, r.client_id, oauth._scope_text(granted))
    ON CONFLICT (tenant_id, user_id, client_id) DO UPDATE
      SET scope = oauth._scope_text(oauth._scopes(x.scope) || oauth._scopes(excluded.scope)), granted_at = now();
  END IF;
  code := oauth.random_token('code');
  INSERT INTO oauth.authorization_codes (tenant_id, code_hash, client_id, user_id, redirect_uri, redirect_uri_given, scope,
                                         code_challenge, code_challenge_method, expires_at)
  VALUES (t, oauth.token_digest(code), r.client_id, uid, r.redirect_uri, r.redirect_uri_given, oauth._scope_text(granted),
          r.code_challenge, r.code_challenge_method, now() + make_interval(secs => r.code_ttl));
  status := 303;
  headers := jsonb_build_object('Cache-Control', 'no-store', 'Location',
    oauth._redirect_to(r.redirect_uri, ARRAY['code', 'state', 'iss'], ARRAY[code, r.state, issuer]));
  headers := headers || oauth._set_cookie_header(set_cookies);
  body := '';
END $$;
COMMENT ON FUNCTION oauth.authorize_endpoint(text, jsonb, jsonb, text, text, boolean) IS 'GET/POST /oauth/authorize of the current tenant as a whole HTTP answer (status, headers, HTML body). params: the query (GET) or the form (POST: the request parameters, csrf, email, password, action=allow|deny); cookies: name → value. Sign-in page (200; wrong password: 200 with a notice; throttled: 429 with Retry-After), consent page, 303 to the redirect URI with code, state and iss (RFC 9207) or with error; unknown client or unregistered redirect URI: 400 error page, never a redirect; failed CSRF check: 403 page. prompt=none|login|consent honoured; the console client needs no consent.';
REVOKE ALL ON FUNCTION oauth.authorize_endpoint(text, jsonb, jsonb, text, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth.authorize_endpoint(text, jsonb, jsonb, text, text, boolean) TO backend_gateway, backend_admin;
-- 34_oauth_endpoints.sql — revocation (RFC 7009), introspection (RFC
-- 7662), dynamic client registration and management (RFC 7591, RFC 7592),
-- userinfo, and the authorization server metadata (RFC 8414). Like the
-- token endpoint, the endpoint functions return (status, body) and never
-- raise for a client's mistake.

-- Revocation ------------------------------------------------------------------

CREATE FUNCTION oauth.revoke_endpoint(params jsonb, authorization text, OUT status integer, OUT body jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t uuid := tenancy.current_tenant_id();
  c record;
  k record;
  h bytea;
BEGIN
  SELECT * INTO status, body FROM oauth._form_precheck(params);
  IF status IS NOT NULL THEN RETURN; END IF;
  SELECT * INTO c FROM oauth._client_auth(t, params, revoke_endpoint.authorization);
  IF c.err IS NOT NULL THEN
    SELECT * INTO status, body FROM oauth._error(CASE WHEN c.err = 'invalid_client' THEN 401 ELSE 400 END, c.err, c.err_description);
    RETURN;
  END IF;
  IF params->>'token' IS NULL THEN
    SELECT * INTO status, body FROM oauth._error(400, 'invalid_request', 'token is missing');
    RETURN;
  END IF;
  -- Access and refresh tokens share one table and one digest key, so the
  -- hint (access_token, refresh_token, or anything) needs no second search;
  -- what kind the token is comes from the row, never from the hint.
  h := oauth.token_digest(params->>'token');
  SELECT x.kind, x.client_id, x.family_id INTO k FROM oauth.tokens x WHERE x.tenant_id = t AND x.token_hash = h;
  IF FOUND AND k.client_id = c.client_id THEN
    IF k.kind = 'refresh' AND k.family_id IS NOT NULL THEN
      -- The grant ends: its access tokens and refresh tokens go with it.
      PERFORM oauth._revoke_family(t, k.family_id);
    END IF;
    UPDATE oauth.tokens SET revoked_at = now() WHERE tenant_id = t AND token_hash = h AND revoked_at IS NULL;
  END IF;
  -- RFC 7009 section 2.2: success also for unknown, invalid or other clients' tokens.
  status := 200;
  body := '{}';
END $$;
COMMENT ON FUNCTION oauth.revoke_endpoint(jsonb, text) IS 'POST /oauth/revoke of the current tenant (RFC 7009): the authenticated client revokes one of its own tokens; a refresh token takes its whole family (all access and refresh tokens of the grant) with it. 200 {} also for unknown tokens and tokens of other clients (then nothing happens); 400/401 errors as at the token endpoint.';
REVOKE ALL ON FUNCTION oauth.revoke_endpoint(jsonb, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth.revoke_endpoint(jsonb, text) TO backend_gateway, backend_admin;

-- Introspection -----------------------------------------------------------------

CREATE FUNCTION oauth.introspect_endpoint(params jsonb, authorization text, issuer text,
                                          OUT status integer, OUT body jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t uuid := tenancy.current_tenant_id();
  c record;
  k record;
  authed boolean;
BEGIN
  SELECT * INTO status, body FROM oauth._form_precheck(params);
  IF status IS NOT NULL THEN RETURN; END IF;
  -- Fast path (resource servers introspect all the time): HTTP Basic of a
  -- client_secret_basic client checked and the token looked up in one
  -- statement; anything else, or a failed check, takes the general path.
  IF lower(left(introspect_endpoint.authorization, 6)) = 'basic ' AND params->>'client_secret' IS NULL
     AND params->>'token' IS NOT NULL THEN
    BEGIN
      SELECT true AS authed, x.kind, x.client_id, x.user_id, x.scope, x.created_at, x.expires_at, u.email, n.slug
        INTO k
        FROM oauth.basic_credentials(introspect_endpoint.authorization) b
        JOIN oauth.clients cl ON cl.tenant_id = t AND cl.client_id = b.client_id
        LEFT JOIN (oauth.tokens x
                   JOIN tenancy.tenants n ON n.id = x.tenant_id AND n.status = 'active'
                   LEFT JOIN tenancy.users u ON u.tenant_id = x.tenant_id AND u.id = x.user_id)
               ON x.tenant_id = t AND x.token_hash = oauth.token_digest(params->>'token')
              AND x.revoked_at IS NULL AND x.rotated_at IS NULL AND x.expires_at > now()
              AND (x.user_id IS NULL OR u.status = 'active')
       WHERE cl.token_endpoint_auth_method = 'client_secret_basic'
         AND oauth.ct_equal(oauth.token_digest(b.client_secret), cl.secret_hash)
         AND coalesce(params->>'client_id', b.client_id) = b.client_id;
      authed := k.authed;
    EXCEPTION WHEN invalid_authorization_specification THEN
      authed := NULL;
    END;
  END IF;
  IF authed IS NULL THEN
    SELECT * INTO c FROM oauth._client_auth(t, params, introspect_endpoint.authorization);
    IF c.err IS NOT NULL THEN
      SELECT * INTO status, body FROM oauth._error(CASE WHEN c.err = 'invalid_client' THEN 401 ELSE 400 END, c.err, c.err_description);
      RETURN;
    END IF;
    IF c.auth_method = 'none' THEN
      SELECT * INTO status, body FROM oauth._error(401, 'invalid_client',
        'introspection needs an authenticated (confidential) client');
      RETURN;
    END IF;
    IF params->>'token' IS NULL THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_request', 'token is missing');
      RETURN;
    END IF;
    SELECT x.kind, x.client_id, x.user_id, x.scope, x.created_at, x.expires_at, u.email, n.slug
      INTO k
      FROM oauth.tokens x
      JOIN tenancy.tenants n ON n.id = x.tenant_id AND n.status = 'active'
      LEFT JOIN tenancy.users u ON u.tenant_id = x.tenant_id AND u.id = x.user_id
     WHERE x.tenant_id = t AND x.token_hash = oauth.token_digest(params->>'token')
       AND x.revoked_at IS NULL AND x.rotated_at IS NULL AND x.expires_at > now()
       AND (x.user_id IS NULL OR u.status = 'active');
  END IF;
  status := 200;
  IF k.kind IS NULL THEN
    body := '{"active": false}';
    RETURN;
  END IF;
  body := jsonb_strip_nulls(jsonb_build_object(
    'active', true,
    'scope', k.scope,
    'client_id', k.client_id,
    'username', k.email,
    'sub', k.user_id,
    'token_type', CASE k.kind WHEN 'access' THEN 'Bearer' ELSE 'refresh_token' END,
    'exp', floor(extract(epoch FROM k.expires_at))::bigint,
    'iat', floor(extract(epoch FROM k.created_at))::bigint,
    'iss', issuer,
    'tenant', k.slug,
    'tenant_id', t));
END $$;
COMMENT ON FUNCTION oauth.introspect_endpoint(jsonb, text, text) IS 'POST /oauth/introspect of the current tenant (RFC 7662), for authenticated confidential clients: {"active": false} for unknown, expired, revoked, rotated or other tenants'' tokens and disabled users; else active, scope, client_id, username (email), sub (user id), token_type (Bearer, or refresh_token), exp, iat, iss (= issuer), tenant (slug), tenant_id.';
REVOKE ALL ON FUNCTION oauth.introspect_endpoint(jsonb, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth.introspect_endpoint(jsonb, text, text) TO backend_gateway, backend_admin;

-- Dynamic client registration -------------------------------------------------------

-- Non-secret columns of a client of a tenant, as jsonb (definer: no RLS).
CREATE FUNCTION oauth._client_row_of(p_tenant uuid, p_client_id text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT to_jsonb(x) FROM (
    SELECT c.client_id, c.client_name, c.token_endpoint_auth_method, c.redirect_uris, c.grant_types, c.response_types,
           c.scope, c.extra, c.access_token_ttl, c.refresh_token_ttl, c.builtin, c.registered_via, c.created_at, c.updated_at
      FROM oauth.clients c
     WHERE c.tenant_id = p_tenant AND c.client_id = p_client_id) x
$$;
COMMENT ON FUNCTION oauth._client_row_of(uuid, text) IS 'Internal: non-secret columns of a client of the given tenant as jsonb.';
REVOKE ALL ON FUNCTION oauth._client_row_of(uuid, text) FROM PUBLIC;

-- RFC 9700 section 4.x (client impersonation): a dynamically registered
-- client may not take the name of another client of the tenant.
CREATE FUNCTION oauth._client_name_taken(p_tenant uuid, p_name text, p_except text) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT p_name IS NOT NULL AND EXISTS (
    SELECT 1 FROM oauth.clients c
     WHERE c.tenant_id = p_tenant AND lower(btrim(c.client_name)) = lower(btrim(p_name))
       AND c.client_id IS DISTINCT FROM p_except)
$$;
COMMENT ON FUNCTION oauth._client_name_taken(uuid, text, text) IS 'Internal: true when another client of the tenant has this name (case-insensitive).';
REVOKE ALL ON FUNCTION oauth._client_name_taken(uuid, text, text) FROM PUBLIC;

CREATE FUNCTION oauth.register_endpoint(method text, client_id text, metadata jsonb, bearer text, base_url text,
                                        OUT status integer, OUT body jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t uuid := tenancy.current_tenant_id();
  m text := upper(method);
  settings jsonb;
  k record;
  c record;
  mode text;
  v jsonb;
  cid text;
  secret text;
  reg text;
  uri text;
BEGIN
  IF t IS NULL THEN
    SELECT * INTO status, body FROM oauth._error(404, 'invalid_request', 'unknown tenant');
    RETURN;
  END IF;
  SELECT n.settings INTO settings FROM tenancy.tenants n WHERE n.id = t;

  -- RFC 7591: POST /oauth/register.
  IF client_id IS NULL THEN
    IF m IS DISTINCT FROM 'POST' THEN
      SELECT * INTO status, body FROM oauth._error(405, 'invalid_request', 'register a client with POST');
      RETURN;
    END IF;
    IF bearer IS NOT NULL THEN
      SELECT x.scope, x.user_id, u.role INTO k
        FROM oauth.tokens x LEFT JOIN tenancy.users u ON u.tenant_id = x.tenant_id AND u.id = x.user_id
       WHERE x.tenant_id = t AND x.token_hash = oauth.token_digest(bearer) AND x.kind = 'access'
         AND x.revoked_at IS NULL AND x.expires_at > now() AND (x.user_id IS NULL OR u.status = 'active');
      IF NOT FOUND THEN
        SELECT * INTO status, body FROM oauth._error(401, 'invalid_token', 'the access token is invalid, expired or revoked');
        RETURN;
      END IF;
      IF NOT 'admin' = ANY (oauth._scopes(k.scope)) OR (k.user_id IS NOT NULL AND k.role NOT IN ('admin', 'owner')) THEN
        SELECT * INTO status, body FROM oauth._error(403, 'insufficient_scope',
          'registering clients needs an access token of an admin with the admin scope');
        RETURN;
      END IF;
      mode := 'dynamic';
    ELSIF coalesce((settings->>'open_registration')::boolean, false) THEN
      mode := 'open';
    ELSE
      SELECT * INTO status, body FROM oauth._error(401, 'invalid_token',
        'registering clients needs an access token with the admin scope');
      RETURN;
    END IF;
    v := oauth._client_metadata(metadata, mode);
    IF v ? 'error' THEN
      status := 400; body := v;
      RETURN;
    END IF;
    IF oauth._client_name_taken(t, v->>'client_name', NULL) THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_client_metadata',
        'another client of this tenant already has this client_name; choose another name');
      RETURN;
    END IF;
    cid := oauth.random_token('client_id');
    reg := oauth.random_token('registration');
    IF v->>'token_endpoint_auth_method' <> 'none' THEN secret := oauth.random_token('client_secret'); END IF;
    INSERT INTO oauth.clients (tenant_id, client_id, client_name, secret_hash, registration_token_hash,
                               token_endpoint_auth_method, redirect_uris, grant_types, response_types, scope, extra,
                               registered_via)
    VALUES (t, cid, coalesce(v->>'client_name', cid), oauth.token_digest(secret), oauth.token_digest(reg),
            v->>'token_endpoint_auth_method',
            ARRAY(SELECT jsonb_array_elements_text(v->'redirect_uris')),
            ARRAY(SELECT jsonb_array_elements_text(v->'grant_types')),
            ARRAY(SELECT jsonb_array_elements_text(v->'response_types')),
            v->>'scope', v->'extra', mode);
    status := 201;
    body := oauth._client_json(oauth._client_row_of(t, cid))
            || jsonb_strip_nulls(jsonb_build_object('client_secret', secret, 'registration_access_token', reg,
                 'registration_client_uri', coalesce(base_url, '') || '/oauth/register/' || cid));
    RETURN;
  END IF;

  -- RFC 7592: GET/PUT/DELETE /oauth/register/{client_id} with the registration access token.
  SELECT x.registration_token_hash, x.secret_hash, x.token_endpoint_auth_method, x.registered_via, x.builtin,
         x.grant_types, x.scope
    INTO c FROM oauth.clients x WHERE x.tenant_id = t AND x.client_id = register_endpoint.client_id;
  IF NOT FOUND OR bearer IS NULL OR c.registration_token_hash IS NULL
     OR NOT oauth.ct_equal(oauth.token_digest(bearer), c.registration_token_hash) THEN
    SELECT * INTO status, body FROM oauth._error(401, 'invalid_token', 'invalid registration access token');
    RETURN;
  END IF;
  uri := coalesce(base_url, '') || '/oauth/register/' || register_endpoint.client_id;
  IF m = 'GET' THEN
    status := 200;
    body := oauth._client_json(oauth._client_row_of(t, register_endpoint.client_id))
            || jsonb_build_object('registration_access_token', bearer, 'registration_client_uri', uri);
  ELSIF m = 'PUT' THEN
    IF metadata IS NULL OR jsonb_typeof(metadata) <> 'object' THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_client_metadata', 'client metadata must be a JSON object');
      RETURN;
    END IF;
    IF metadata ? 'client_id' AND metadata->>'client_id' IS DISTINCT FROM register_endpoint.client_id THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_client_metadata', 'client_id does not match');
      RETURN;
    END IF;
    IF metadata ? 'client_secret' AND (c.secret_hash IS NULL
       OR NOT oauth.ct_equal(oauth.token_digest(metadata->>'client_secret'), c.secret_hash)) THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_client_metadata', 'client_secret does not match the current secret');
      RETURN;
    END IF;
    -- The whole metadata is replaced (RFC 7592 section 2.2: omitted fields
    -- are removed, i.e. take the server's default). A client may narrow but
    -- never widen its own grant types and scope (that takes an admin), so
    -- the defaults for those two are its current values.
    v := oauth._client_metadata(
           jsonb_build_object('grant_types', to_jsonb(c.grant_types), 'scope', c.scope)
           || (metadata - 'client_id' - 'client_secret' - 'registration_access_token'
                        - 'registration_client_uri' - 'client_secret_expires_at' - 'client_id_issued_at'),
           CASE WHEN c.registered_via = 'open' THEN 'open' ELSE 'dynamic' END);
    IF v ? 'error' THEN
      status := 400; body := v;
      RETURN;
    END IF;
    IF NOT ARRAY(SELECT jsonb_array_elements_text(v->'grant_types')) <@ c.grant_types
       OR NOT oauth._scopes(v->>'scope') <@ oauth._scopes(c.scope) THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_client_metadata',
        'a client cannot widen its own grant types or scope; an admin of the tenant can');
      RETURN;
    END IF;
    IF oauth._client_name_taken(t, v->>'client_name', register_endpoint.client_id) THEN
      SELECT * INTO status, body FROM oauth._error(400, 'invalid_client_metadata',
        'another client of this tenant already has this client_name; choose another name');
      RETURN;
    END IF;
    IF v->>'token_endpoint_auth_method' <> 'none' AND c.token_endpoint_auth_method = 'none' THEN
      secret := oauth.random_token('client_secret');
    END IF;
    UPDATE oauth.clients x SET
      client_name = coalesce(v->>'client_name', x.client_id),
      token_endpoint_auth_method = v->>'token_endpoint_auth_method',
      secret_hash = CASE WHEN v->>'token_endpoint_auth_method' = 'none' THEN NULL
                         WHEN secret IS NOT NULL THEN oauth.token_digest(secret) ELSE x.secret_hash END,
      redirect_uris = ARRAY(SELECT jsonb_array_elements_text(v->'redirect_uris')),
      grant_types = ARRAY(SELECT jsonb_array_elements_text(v->'grant_types')),
      response_types = ARRAY(SELECT jsonb_array_elements_text(v->'response_types')),
      scope = v->>'scope', extra = v->'extra'
    WHERE x.tenant_id = t AND x.client_id = register_endpoint.client_id;
    status := 200;
    body := oauth._client_json(oauth._client_row_of(t, register_endpoint.client_id))
            || jsonb_strip_nulls(jsonb_build_object('client_secret', secret, 'registration_access_token', bearer,
                                                    'registration_client_uri', uri));
  ELSIF m = 'DELETE' THEN
    -- Its tokens, codes and consents go with it (foreign keys, cascade).
    DELETE FROM oauth.clients x WHERE x.tenant_id = t AND x.client_id = register_endpoint.client_id;
    status := 204;
    body := NULL;
  ELSE
    SELECT * INTO status, body FROM oauth._error(405, 'invalid_request', 'use GET, PUT or DELETE');
  END IF;
END $$;
COMMENT ON FUNCTION oauth.register_endpoint(text, text, jsonb, text, text) IS 'Dynamic client registration of the current tenant. POST with client_id NULL (RFC 7591): bearer = an access token of an admin with scope admin, or none when the tenant setting open_registration is true (then only authorization_code/refresh_token, no admin scope); 201 with client_id, client_secret (confidential), client_id_issued_at, client_secret_expires_at 0, registration_access_token, registration_client_uri (base_url || /oauth/register/{id}) and the metadata. GET/PUT/DELETE with client_id (RFC 7592): bearer = the registration access token, else 401 invalid_token; PUT replaces the metadata; DELETE 204 (tokens revoked). Errors: 400 invalid_redirect_uri / invalid_client_metadata (also for a client_name another client has), 401 invalid_token, 403 insufficient_scope, 405.';
REVOKE ALL ON FUNCTION oauth.register_endpoint(text, text, jsonb, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth.register_endpoint(text, text, jsonb, text, text) TO backend_gateway, backend_admin;

-- Userinfo and metadata -----------------------------------------------------------

CREATE FUNCTION oauth.userinfo() RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  r jsonb;
BEGIN
  IF tenancy.current_tenant_id() IS NULL OR (tenancy.current_user_id() IS NULL AND tenancy.current_client_id() IS NULL) THEN
    RAISE EXCEPTION 'authentication required' USING ERRCODE = '28000',
      DETAIL = 'Send an access token (Authorization: Bearer ...).';
  END IF;
  IF NOT tenancy.has_scope('profile') THEN
    RAISE EXCEPTION 'insufficient_scope: the access token lacks the profile scope' USING ERRCODE = '42501';
  END IF;
  IF tenancy.current_user_id() IS NULL THEN
    RAISE EXCEPTION 'insufficient_scope: the access token was issued to a client, not to a user' USING ERRCODE = '42501';
  END IF;
  SELECT jsonb_strip_nulls(jsonb_build_object('sub', u.id, 'email', u.email, 'name', u.display_name,
           'tenant', n.slug, 'tenant_id', n.id, 'role', u.role))
    INTO r
    FROM tenancy.users u JOIN tenancy.tenants n ON n.id = u.tenant_id
   WHERE u.tenant_id = tenancy.current_tenant_id() AND u.id = tenancy.current_user_id();
  IF r IS NULL THEN
    RAISE EXCEPTION 'the user of this access token no longer exists' USING ERRCODE = '28000';
  END IF;
  RETURN r;
END $$;
COMMENT ON FUNCTION oauth.userinfo() IS 'Claims of the signed-in user of the current context: sub, email, name (when set), tenant (slug), tenant_id, role. 28000 without an authenticated context; 42501 (insufficient_scope) without scope profile or without a user (client credentials).';

CREATE FUNCTION oauth.metadata_document(issuer text) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT jsonb_build_object(
    'issuer', issuer,
    'authorization_endpoint', issuer || '/oauth/authorize',
    'token_endpoint', issuer || '/oauth/token',
    'revocation_endpoint', issuer || '/oauth/revoke',
    'introspection_endpoint', issuer || '/oauth/introspect',
    'registration_endpoint', issuer || '/oauth/register',
    'userinfo_endpoint', issuer || '/oauth/userinfo',
    'response_types_supported', '["code"]'::jsonb,
    'response_modes_supported', '["query"]'::jsonb,
    'grant_types_supported', '["authorization_code", "refresh_token", "client_credentials", "password"]'::jsonb,
    'token_endpoint_auth_methods_supported', '["client_secret_basic", "client_secret_post", "none"]'::jsonb,
    'revocation_endpoint_auth_methods_supported', '["client_secret_basic", "client_secret_post", "none"]'::jsonb,
    'introspection_endpoint_auth_methods_supported', '["client_secret_basic", "client_secret_post"]'::jsonb,
    'scopes_supported', '["read", "write", "profile", "admin"]'::jsonb,
    'code_challenge_methods_supported',
      CASE WHEN coalesce((SELECT (t.settings->>'allow_plain_pkce')::boolean FROM tenancy.tenants t
                           WHERE t.id = tenancy.current_tenant_id()), false)
           THEN '["S256", "plain"]'::jsonb ELSE '["S256"]'::jsonb END,
    'authorization_response_iss_parameter_supported', true,
    'service_documentation', issuer || '/api/v1/openapi.json')
$$;
COMMENT ON FUNCTION oauth.metadata_document(text) IS 'RFC 8414 authorization server metadata of the current tenant for its issuer URL (every endpoint is issuer || path; code_challenge_methods_supported adds plain only when the tenant setting allow_plain_pkce is true).';
-- 35_oauth_authenticate.sql — bearer authentication: tenancy.authenticate
-- sets the request context from an access token (SQL clients, and the HTTP
-- layer for Authorization: Bearer), and the first token of a newly
-- registered tenant's owner.

CREATE FUNCTION tenancy.authenticate(access_token text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  ctx uuid := tenancy.current_tenant_id();
  h bytea;
  k record;
BEGIN
  IF access_token IS NULL OR access_token !~ '^bfat_[A-Za-z0-9_-]{43}$' THEN
    RAISE EXCEPTION 'invalid access token' USING ERRCODE = '28000',
      DETAIL = 'An access token looks like bfat_ followed by 43 characters; get one from the token endpoint.';
  END IF;
  h := oauth.token_digest(access_token);
  IF ctx IS NOT NULL THEN
    -- A tenant is already chosen (e.g. by the request's host): the token must be one of its own.
    SELECT x.tenant_id, x.client_id, x.user_id, x.scope, x.expires_at, x.revoked_at, u.role, u.status AS user_status,
           n.status AS tenant_status
      INTO k
      FROM oauth.tokens x
      JOIN tenancy.tenants n ON n.id = x.tenant_id
      LEFT JOIN tenancy.users u ON u.tenant_id = x.tenant_id AND u.id = x.user_id
     WHERE x.tenant_id = ctx AND x.token_hash = h AND x.kind = 'access';
    IF NOT FOUND THEN
      IF EXISTS (SELECT 1 FROM oauth.tokens x WHERE x.token_hash = h AND x.kind = 'access') THEN
        RAISE EXCEPTION 'access token belongs to another tenant' USING ERRCODE = '28000',
          DETAIL = 'Use a token issued by this tenant''s authorization server.';
      END IF;
      RAISE EXCEPTION 'invalid access token' USING ERRCODE = '28000', DETAIL = 'The token is unknown.';
    END IF;
  ELSE
    SELECT x.tenant_id, x.client_id, x.user_id, x.scope, x.expires_at, x.revoked_at, u.role, u.status AS user_status,
           n.status AS tenant_status
      INTO k
      FROM oauth.tokens x
      JOIN tenancy.tenants n ON n.id = x.tenant_id
      LEFT JOIN tenancy.users u ON u.tenant_id = x.tenant_id AND u.id = x.user_id
     WHERE x.token_hash = h AND x.kind = 'access';
    IF NOT FOUND THEN
      RAISE EXCEPTION 'invalid access token' USING ERRCODE = '28000', DETAIL = 'The token is unknown.';
    END IF;
  END IF;
  IF k.revoked_at IS NOT NULL THEN
    RAISE EXCEPTION 'access token revoked' USING ERRCODE = '28000', DETAIL = 'Sign in again to get a new one.';
  END IF;
  IF k.expires_at <= now() THEN
    RAISE EXCEPTION 'access token expired' USING ERRCODE = '28000', DETAIL = 'Use the refresh token, or sign in again.';
  END IF;
  IF k.tenant_status <> 'active' THEN
    RAISE EXCEPTION 'tenant suspended' USING ERRCODE = 'BF003',
      DETAIL = 'This tenant is suspended; contact the platform operator.';
  END IF;
  IF k.user_id IS NOT NULL AND k.user_status IS DISTINCT FROM 'active' THEN
    RAISE EXCEPTION 'the user of this access token is disabled' USING ERRCODE = '28000';
  END IF;
  -- Scopes as granted, within what the user's role allows now (a demoted
  -- admin loses admin at once). Client credentials tokens: no user, no role.
  PERFORM tenancy._set_context(k.tenant_id, k.user_id, k.role,
    CASE WHEN k.user_id IS NULL OR k.role IN ('admin', 'owner') THEN k.scope
         ELSE array_to_string(array_remove(string_to_array(k.scope, ' '), 'admin'), ' ') END,
    k.client_id);
END $$;
COMMENT ON FUNCTION tenancy.authenticate(text) IS 'Checks an access token and sets the context (tenant, user, role, scopes, client) for the rest of the transaction. When a tenant context is already set, the token must belong to that tenant. 28000 for an invalid, unknown, expired, revoked or other tenant''s token or a disabled user; BF003 when the tenant is suspended.';
REVOKE ALL ON FUNCTION tenancy.authenticate(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.authenticate(text) TO backend_gateway, backend_app, backend_admin;

-- The first access token of a user created in this same transaction — the
-- owner that tenancy.register_tenant just created — issued to the tenant's
-- console client, so a script registering a tenant can go on at once
-- (POST /api/v1/tenants). For any other user it refuses: it never extends
-- or copies an existing sign-in. Applications can neither insert nor update
-- users.created_at, so created_at = now() means "inserted by a transaction
-- that started at this very instant".
CREATE FUNCTION oauth.issue_first_token() RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t uuid := tenancy.current_tenant_id();
  uid uuid := tenancy.current_user_id();
  u record;
  c record;
  scopes text[];
BEGIN
  SELECT x.role INTO u FROM tenancy.users x
   -- created_at defaults to now(), the transaction's start: true for rows this
   -- transaction made, also inside subtransactions (where xmin is another xid).
   WHERE x.tenant_id = t AND x.id = uid AND x.status = 'active' AND x.created_at = now();
  IF NOT FOUND THEN
    RAISE EXCEPTION 'a first token is issued only for a user created in this transaction' USING ERRCODE = '42501',
      HINT = 'Call it right after tenancy.register_tenant; otherwise use the token endpoint.';
  END IF;
  SELECT k.client_id, k.scope, k.access_token_ttl, n.settings INTO c
    FROM oauth.clients k JOIN tenancy.tenants n ON n.id = k.tenant_id WHERE k.tenant_id = t AND k.builtin;
  scopes := oauth._scope_and(oauth._scope_and(oauth._scopes(c.scope), oauth._role_scopes(u.role)),
                             coalesce(oauth._scopes(current_setting('backend_framework.scopes', true)), '{}'));
  IF cardinality(scopes) = 0 THEN
    RAISE EXCEPTION 'no scope can be granted' USING ERRCODE = '42501';
  END IF;
  RETURN oauth._issue(t, c.client_id, uid, oauth._scope_text(scopes), gen_random_uuid(),
                      oauth._ttl('access_token', c.access_token_ttl, c.settings), NULL);
END $$;
COMMENT ON FUNCTION oauth.issue_first_token() IS 'Access token (RFC 6749 section 5.1 body, no refresh token) for the context''s user when that user was created in this same transaction (the owner of a tenant just registered), issued to the console client with the context''s scopes; 42501 otherwise.';
REVOKE ALL ON FUNCTION oauth.issue_first_token() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth.issue_first_token() TO backend_gateway, backend_app, backend_admin;
-- 36_oauth_purge.sql — removal of expired OAuth rows in bounded batches.

CREATE FUNCTION oauth.purge_expired(batch integer DEFAULT 10000) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  b integer := greatest(1, least(coalesce(batch, 10000), 1000000));
  n bigint;
  total bigint := 0;
BEGIN
  -- Tokens past their expiry (revoked and rotated ones too: expired is expired).
  WITH d AS (DELETE FROM oauth.tokens WHERE ctid = ANY (ARRAY(
               SELECT ctid FROM oauth.tokens WHERE expires_at < now() ORDER BY expires_at LIMIT b)) RETURNING 1)
  SELECT count(*) INTO n FROM d;
  total := total + n;
  -- Codes a day after expiry: until then a replay is still recognised and
  -- revokes what the code issued.
  WITH d AS (DELETE FROM oauth.authorization_codes WHERE ctid = ANY (ARRAY(
               SELECT ctid FROM oauth.authorization_codes WHERE expires_at < now() - interval '1 day'
                ORDER BY expires_at LIMIT b)) RETURNING 1)
  SELECT count(*) INTO n FROM d;
  total := total + n;
  WITH d AS (DELETE FROM oauth.login_sessions WHERE ctid = ANY (ARRAY(
               SELECT ctid FROM oauth.login_sessions WHERE expires_at < now() ORDER BY expires_at LIMIT b)) RETURNING 1)
  SELECT count(*) INTO n FROM d;
  total := total + n;
  -- Failure counters are forgotten a day after the last failure.
  WITH d AS (DELETE FROM oauth.login_attempts WHERE ctid = ANY (ARRAY(
               SELECT ctid FROM oauth.login_attempts WHERE last_failure_at < now() - interval '1 day'
                ORDER BY last_failure_at LIMIT b)) RETURNING 1)
  SELECT count(*) INTO n FROM d;
  RETURN total + n;
END $$;
COMMENT ON FUNCTION oauth.purge_expired(integer) IS 'Deletes expired OAuth rows, at most batch rows per table per call (each lookup uses the expiry index): tokens past expires_at, authorization codes a day after expiry (replays are still detected until then), login sessions past expiry, failed-login counters a day after the last failure. Returns the number of rows deleted; call again while it returns a lot. Schedule it with pg_cron, as a superuser or a member of backend_admin: SELECT cron.schedule(''oauth-purge'', ''*/5 * * * *'', ''SELECT oauth.purge_expired()''); — or from any scheduler with psql -c ''SELECT oauth.purge_expired()''.';
REVOKE ALL ON FUNCTION oauth.purge_expired(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth.purge_expired(integer) TO backend_admin;
-- 50_api_core.sql — the HTTP layer's building blocks: request and response
-- types, JSON answers, the one SQLSTATE → HTTP status mapping, security and
-- CORS headers, body parsing and bearer authentication.

CREATE TYPE api.request AS (
  method      text,    -- HTTP method, upper case
  path        text,    -- path after the tenant prefix (/t/{slug}) is removed
  query       jsonb,   -- decoded query string
  headers     jsonb,   -- lower-cased header names
  body        bytea,
  client_addr text,
  tenant_id   uuid,    -- resolved tenant, or NULL
  slug        text,
  base_url    text,    -- scheme://host as the client addressed us
  issuer      text,    -- the tenant's issuer URL: base_url plus /t/{slug} unless a host names the tenant
  id          text     -- the {id} path parameter, if the route has one
);
COMMENT ON TYPE api.request IS 'An HTTP request as the route handlers see it.';

CREATE TYPE api.response AS (status integer, headers jsonb, body text);
COMMENT ON TYPE api.response IS 'An HTTP answer: status, headers (name → value or array of values), body.';

-- Hot-path helpers are PL/pgSQL: their plans are cached per session, where
-- a SQL function that is not inlined is planned again on every call.
CREATE FUNCTION api.json(p_status integer, p_body jsonb, p_headers jsonb DEFAULT '{}')
RETURNS api.response LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN ROW(p_status, '{"Content-Type": "application/json"}'::jsonb || coalesce(p_headers, '{}'), p_body::text);
END $$;
COMMENT ON FUNCTION api.json(integer, jsonb, jsonb) IS 'A JSON answer.';

CREATE FUNCTION api.error(p_status integer, p_error text, p_description text, p_headers jsonb DEFAULT '{}')
RETURNS api.response LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN api.json(p_status, jsonb_build_object('error', p_error, 'error_description', p_description), p_headers);
END $$;
COMMENT ON FUNCTION api.error(integer, text, text, jsonb) IS 'A JSON error answer {"error", "error_description"}.';

-- The one place where SQLSTATEs become HTTP answers.
CREATE FUNCTION api.error_from_sqlstate(p_state text, p_message text, p_detail text DEFAULT NULL, p_hint text DEFAULT NULL)
RETURNS api.response LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  d text := p_message || coalesce('. ' || nullif(p_detail, ''), '') || coalesce(' ' || nullif(p_hint, ''), '');
BEGIN
  RETURN CASE
    WHEN p_state = '28000' OR p_state = '28P01' THEN
      api.error(401, 'invalid_token', d, jsonb_build_object('WWW-Authenticate',
        format('Bearer realm="backend_framework", error="invalid_token", error_description="%s"', replace(p_message, '"', ''''))))
    WHEN p_state = 'BF401' THEN
      -- RFC 6750 §3.1: no credentials at all → a challenge without an error code.
      api.error(401, 'unauthorized', d, '{"WWW-Authenticate": "Bearer realm=\"backend_framework\""}')
    WHEN p_state = '42501' THEN api.error(403, 'forbidden', d)
    WHEN p_state = 'BF004' THEN
      api.error(403, 'insufficient_scope', d, jsonb_build_object('WWW-Authenticate',
        format('Bearer realm="backend_framework", error="insufficient_scope", scope="%s"', coalesce(p_hint, ''))))
    WHEN p_state = 'BF001' THEN api.error(403, 'limit_exceeded', d)
    WHEN p_state = 'BF002' THEN
      api.error(429, 'quota_exceeded', d, jsonb_build_object('Retry-After',
        greatest(1, extract(epoch FROM date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month' - (now() AT TIME ZONE 'UTC'))::bigint)::text))
    WHEN p_state = 'BF003' THEN api.error(403, 'tenant_suspended', d)
    WHEN p_state = 'BF415' THEN api.error(415, 'unsupported_media_type', d)
    WHEN p_state = 'P0002' THEN api.error(404, 'not_found', d)
    WHEN p_state = '23505' THEN api.error(409, 'conflict', d)
    WHEN p_state IN ('40001', '40P01', '55P03', '57014', '53300') THEN
      api.error(503, 'temporarily_unavailable', 'The server is busy; try again.', '{"Retry-After": "1"}')
    WHEN left(p_state, 2) IN ('22', '23') OR p_state IN ('54000', '42804') THEN api.error(400, 'invalid_request', d)
    ELSE api.error(500, 'server_error', 'Internal error (' || p_state || ').')
  END;
END $$;
COMMENT ON FUNCTION api.error_from_sqlstate(text, text, text, text) IS 'Maps an SQLSTATE to an HTTP error answer: 22xxx/23xxx → 400, 28000 → 401 invalid_token, BF401 → 401 without error code, 42501/BF001/BF003 → 403, BF004 → 403 insufficient_scope, P0002 → 404, BF415 → 415, 23505 → 409, BF002 → 429, 40001/57014 → 503, else 500.';

-- JSON request bodies: UTF-8, a JSON object, Content-Type application/json.
CREATE FUNCTION api.json_body(r api.request) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  ct text := lower(split_part(coalesce(r.headers->>'content-type', ''), ';', 1));
  doc jsonb;
BEGIN
  IF r.body IS NULL OR length(r.body) = 0 THEN
    RAISE EXCEPTION 'a JSON body is required' USING ERRCODE = '22023';
  END IF;
  IF btrim(ct) <> 'application/json' THEN
    RAISE EXCEPTION 'unsupported content type' USING ERRCODE = 'BF415', DETAIL = 'Send Content-Type: application/json.';
  END IF;
  BEGIN
    doc := convert_from(r.body, 'UTF8')::jsonb;
  EXCEPTION WHEN character_not_in_repertoire OR untranslatable_character THEN
    RAISE EXCEPTION 'the body is not valid UTF-8' USING ERRCODE = '22021';
  WHEN invalid_text_representation OR invalid_parameter_value OR program_limit_exceeded THEN
    RAISE EXCEPTION 'malformed JSON' USING ERRCODE = '22P02', DETAIL = SQLERRM;
  END;
  IF jsonb_typeof(doc) <> 'object' THEN
    RAISE EXCEPTION 'the body must be a JSON object' USING ERRCODE = '22023';
  END IF;
  RETURN doc;
END $$;
COMMENT ON FUNCTION api.json_body(api.request) IS 'The request body as a JSON object; 400 when malformed, 415 when not application/json.';

-- Form bodies of the OAuth endpoints (application/x-www-form-urlencoded).
CREATE FUNCTION api.form_body(r api.request) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE ct text := btrim(lower(split_part(coalesce(r.headers->>'content-type', ''), ';', 1)));
BEGIN
  IF ct <> 'application/x-www-form-urlencoded' THEN
    RAISE EXCEPTION 'unsupported content type' USING ERRCODE = '22023',
      DETAIL = 'Send Content-Type: application/x-www-form-urlencoded.';
  END IF;
  RETURN oauth.form_decode(coalesce(r.body, ''::bytea));
END $$;
COMMENT ON FUNCTION api.form_body(api.request) IS 'The request body decoded as application/x-www-form-urlencoded (strict).';

-- A string field of a JSON body: NULL when absent, 400 when of another type.
CREATE FUNCTION api.text_field(doc jsonb, field text, required boolean DEFAULT false) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF NOT doc ? field OR jsonb_typeof(doc->field) = 'null' THEN
    IF required THEN RAISE EXCEPTION '"%" is required', field USING ERRCODE = '22023'; END IF;
    RETURN NULL;
  END IF;
  IF jsonb_typeof(doc->field) <> 'string' THEN
    RAISE EXCEPTION '"%" must be a string', field USING ERRCODE = '22023';
  END IF;
  RETURN doc->>field;
END $$;
COMMENT ON FUNCTION api.text_field(jsonb, text, boolean) IS 'A string field of a JSON body (NULL when absent); 22023 when required and missing or not a string.';

-- Fields a body may carry: anything else is refused, so typos are seen.
CREATE FUNCTION api.only_fields(doc jsonb, allowed text[]) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE k text;
BEGIN
  SELECT key INTO k FROM jsonb_object_keys(doc) key WHERE key <> ALL (allowed) LIMIT 1;
  IF k IS NOT NULL THEN
    RAISE EXCEPTION 'unknown field "%"', k USING ERRCODE = '22023', DETAIL = 'Allowed: ' || array_to_string(allowed, ', ') || '.';
  END IF;
END $$;
COMMENT ON FUNCTION api.only_fields(jsonb, text[]) IS 'Raises 22023 when a JSON body has a field outside the allowed list.';

-- The token of an Authorization: Bearer header (RFC 6750 §2.1 b64token
-- grammar, scheme case-insensitive), or NULL. The one parser of that header.
CREATE FUNCTION api.bearer_token(r api.request) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT (regexp_match(coalesce(r.headers->>'authorization', ''), '^[Bb][Ee][Aa][Rr][Ee][Rr] +([A-Za-z0-9._~+/-]+=*) *$'))[1]
$$;
COMMENT ON FUNCTION api.bearer_token(api.request) IS 'The token of an Authorization: Bearer header, or NULL.';

-- Bearer authentication of a request (RFC 6750 §2.1: header only — a token
-- in the query string is refused). Sets the context via tenancy.authenticate.
CREATE FUNCTION api.authenticate(r api.request, p_required boolean) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  h text := r.headers->>'authorization';
  token text := api.bearer_token(r);
BEGIN
  IF r.query ? 'access_token' THEN
    RAISE EXCEPTION 'access tokens are not accepted in the query string' USING ERRCODE = '22023',
      DETAIL = 'Send Authorization: Bearer <token>.';
  END IF;
  IF h IS NULL THEN
    IF p_required THEN
      RAISE EXCEPTION 'authentication required' USING ERRCODE = 'BF401', DETAIL = 'Send Authorization: Bearer <token>.';
    END IF;
    RETURN false;
  END IF;
  IF token IS NULL THEN
    RAISE EXCEPTION 'malformed Authorization header' USING ERRCODE = '28000', DETAIL = 'Send Authorization: Bearer <token>.';
  END IF;
  PERFORM tenancy.authenticate(token);
  RETURN true;
END $$;
COMMENT ON FUNCTION api.authenticate(api.request, boolean) IS 'Checks the Bearer token of a request and sets the context; refuses tokens in the query string.';

CREATE FUNCTION api.require_scope(p_scope text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF NOT tenancy.has_scope(p_scope) THEN
    RAISE EXCEPTION 'the token lacks the "%" scope', p_scope USING ERRCODE = 'BF004', HINT = p_scope;
  END IF;
END $$;
COMMENT ON FUNCTION api.require_scope(text) IS 'Raises BF004 (HTTP 403 insufficient_scope) unless the context was granted the scope.';

CREATE FUNCTION api.require_user() RETURNS uuid
LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF tenancy.current_user_id() IS NULL THEN
    RAISE EXCEPTION 'this needs a user''s token' USING ERRCODE = '42501',
      DETAIL = 'Client credentials tokens act for no user.';
  END IF;
  RETURN tenancy.current_user_id();
END $$;
COMMENT ON FUNCTION api.require_user() IS 'The current user id; 42501 for tokens that act for no user.';

CREATE FUNCTION api.require_admin() RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
  PERFORM api.require_scope('admin');
  IF NOT tenancy.is_tenant_admin() THEN
    RAISE EXCEPTION 'only admins and owners may do this' USING ERRCODE = '42501';
  END IF;
END $$;
COMMENT ON FUNCTION api.require_admin() IS 'Raises unless the context has scope admin and is an admin or owner.';

-- CORS: the tenant's allowed_origins plus the platform's backend_framework.cors_origins.
CREATE FUNCTION api.cors_allowed(p_origin text, p_tenant uuid) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF p_origin IS NULL THEN RETURN false; END IF;
  RETURN p_origin = ANY (string_to_array(replace(current_setting('backend_framework.cors_origins'), ' ', ''), ','))
    OR EXISTS (SELECT 1 FROM tenancy.tenants t, jsonb_array_elements_text(t.settings->'allowed_origins') o
                WHERE t.id = p_tenant AND o = p_origin);
END $$;
COMMENT ON FUNCTION api.cors_allowed(text, uuid) IS 'True when an Origin may call the API cross-origin: the tenant''s allowed_origins or backend_framework.cors_origins.';
REVOKE ALL ON FUNCTION api.cors_allowed(text, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.cors_allowed(text, uuid) TO backend_gateway, backend_admin;

CREATE FUNCTION api.user_json(u tenancy.user_info) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN jsonb_build_object('id', u.id, 'email', u.email, 'display_name', u.display_name, 'role', u.role,
                            'status', u.status, 'created_at', u.created_at, 'updated_at', u.updated_at);
END $$;
COMMENT ON FUNCTION api.user_json(tenancy.user_info) IS 'A user as the API shows it.';

CREATE FUNCTION api.tenant_json(t tenancy.tenants) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('id', t.id, 'slug', t.slug, 'name', t.name, 'custom_domain', t.custom_domain,
    'plan', t.plan, 'status', t.status, 'settings', t.settings,
    'limits', (SELECT to_jsonb(l) FROM tenancy.tenant_limits(t.id) l),
    'created_at', t.created_at, 'updated_at', t.updated_at)
$$;
COMMENT ON FUNCTION api.tenant_json(tenancy.tenants) IS 'A tenant as the API shows it.';

-- Opaque paging cursors (base64url of the last key of a page).
CREATE FUNCTION api.cursor_encode(k text) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT oauth.base64url_encode(convert_to(k, 'UTF8')) $$;
COMMENT ON FUNCTION api.cursor_encode(text) IS 'Encodes a paging key as an opaque cursor.';
CREATE FUNCTION api.cursor_decode(c text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF c IS NULL OR c = '' THEN RETURN NULL; END IF;
  RETURN convert_from(oauth.base64url_decode(c), 'UTF8');
EXCEPTION WHEN OTHERS THEN
  RAISE EXCEPTION 'invalid cursor' USING ERRCODE = '22023';
END $$;
COMMENT ON FUNCTION api.cursor_decode(text) IS 'Decodes a paging cursor; 22023 when it is not one.';

-- A page of a keyset-paged list: items and their keys fetched with limit + 1
-- rows, in order; answers {name: first `lim` items, "next_cursor"}.
CREATE FUNCTION api.page(p_name text, p_items jsonb[], p_keys text[], p_lim integer) RETURNS api.response
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN api.json(200, jsonb_build_object(p_name, coalesce(to_jsonb(p_items[1:p_lim]), '[]'),
    'next_cursor', CASE WHEN cardinality(p_items) > p_lim THEN api.cursor_encode(p_keys[p_lim]) END));
END $$;
COMMENT ON FUNCTION api.page(text, jsonb[], text[], integer) IS 'A page answer {name: items, next_cursor} from limit + 1 fetched items and their keys.';

CREATE FUNCTION api.page_limit(r api.request) RETURNS integer
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE v text := r.query->>'limit';
BEGIN
  IF v IS NULL THEN RETURN 50; END IF;
  IF v !~ '^[0-9]{1,4}$' OR v::int NOT BETWEEN 1 AND 200 THEN
    RAISE EXCEPTION 'limit must be a number from 1 to 200' USING ERRCODE = '22023';
  END IF;
  RETURN v::int;
END $$;
COMMENT ON FUNCTION api.page_limit(api.request) IS 'The limit query parameter (1-200, default 50).';
-- 51_api_routes.sql — the route table: the single source of truth for
-- routing, the Allow header of 405 answers, /api/v1/openapi.json and the
-- route-by-route tests. Paths use {id} for their one parameter.

CREATE TABLE api.routes (
  method   text NOT NULL CHECK (method IN ('GET', 'POST', 'PUT', 'PATCH', 'DELETE')),
  pattern  text NOT NULL,
  handler  text NOT NULL,               -- name of the case in api.dispatch
  tenant   boolean NOT NULL,            -- needs a tenant (header, path, subdomain or domain)
  auth     text NOT NULL CHECK (auth IN ('none', 'bearer', 'optional', 'client')),
  scope    text,                        -- scope the bearer token needs
  tag      text NOT NULL,
  summary  text NOT NULL,
  request  text,                        -- schema name of the request body in openapi.json
  response text,                        -- schema name of the success answer
  success  integer NOT NULL DEFAULT 200,
  PRIMARY KEY (pattern, method)
);
COMMENT ON TABLE api.routes IS 'HTTP routes: pattern, method, handler, tenant and auth needs, documentation. Read by api.handle_request and api.openapi().';
GRANT SELECT ON api.routes TO backend_gateway, backend_app, backend_admin;

INSERT INTO api.routes (method, pattern, handler, tenant, auth, scope, tag, summary, request, response, success) VALUES
 ('GET',    '/health',                         'health',         false, 'none',     NULL,    'meta',    'Health of the service and its database', NULL, 'Health', 200),
 ('GET',    '/api/v1/ping',                    'ping',           false, 'none',     NULL,    'meta',    'Liveness check', NULL, 'Pong', 200),
 ('GET',    '/api/v1/status',                  'status',         false, 'optional', NULL,    'meta',    'Version, database uptime; the tenant count for admins', NULL, 'Status', 200),
 ('GET',    '/api/v1/openapi.json',            'openapi',        false, 'none',     NULL,    'meta',    'This OpenAPI document', NULL, NULL, 200),
 ('POST',   '/api/v1/tenants',                 'tenant_create',  false, 'none',     NULL,    'tenants', 'Register a tenant and its first owner; answers the owner''s first token', 'TenantRegistration', 'TenantRegistered', 201),
 ('GET',    '/api/v1/tenants/{id}',            'tenant_get',     true,  'bearer',   'read',  'tenants', 'Read a tenant', NULL, 'Tenant', 200),
 ('PATCH',  '/api/v1/tenants/{id}',            'tenant_update',  true,  'bearer',   'admin', 'tenants', 'Update name, custom domain or plan (plan: owners)', 'TenantUpdate', 'Tenant', 200),
 ('DELETE', '/api/v1/tenants/{id}',            'tenant_delete',  true,  'bearer',   'admin', 'tenants', 'Delete a tenant and all its data (owners)', NULL, NULL, 204),
 ('GET',    '/api/v1/tenants/{id}/stats',      'tenant_stats',   true,  'bearer',   'admin', 'tenants', 'Users, API calls this month and storage against the plan''s limits', NULL, 'TenantStats', 200),
 ('GET',    '/api/v1/tenants/{id}/settings',   'settings_get',   true,  'bearer',   'admin', 'tenants', 'Read the tenant''s settings', NULL, 'Settings', 200),
 ('PUT',    '/api/v1/tenants/{id}/settings',   'settings_put',   true,  'bearer',   'admin', 'tenants', 'Replace the tenant''s settings', 'Settings', 'Settings', 200),
 ('GET',    '/api/v1/users',                   'users_list',     true,  'bearer',   'read',  'users',   'List users (admins: all; users: themselves), with limit and cursor', NULL, 'UserPage', 200),
 ('POST',   '/api/v1/users',                   'user_create',    true,  'bearer',   'admin', 'users',   'Create a user (admins; owner role: owners)', 'UserCreate', 'User', 201),
 ('GET',    '/api/v1/users/{id}',              'user_get',       true,  'bearer',   'read',  'users',   'Read a user', NULL, 'User', 200),
 ('PATCH',  '/api/v1/users/{id}',              'user_update',    true,  'bearer',   'write', 'users',   'Update display name, password, role or status', 'UserUpdate', 'User', 200),
 ('DELETE', '/api/v1/users/{id}',              'user_delete',    true,  'bearer',   'admin', 'users',   'Delete a user', NULL, NULL, 204),
 ('GET',    '/api/v1/me',                      'me',             true,  'bearer',   NULL,    'users',   'The signed-in user, tenant and granted scopes', NULL, 'Me', 200),
 ('GET',    '/api/v1/clients',                 'clients_list',   true,  'bearer',   'admin', 'clients', 'List OAuth clients (never their secrets)', NULL, 'ClientList', 200),
 ('POST',   '/api/v1/clients',                 'client_create',  true,  'bearer',   'admin', 'clients', 'Register an OAuth client; the secret is shown once', 'ClientMetadata', 'ClientWithSecret', 201),
 ('GET',    '/api/v1/clients/{id}',            'client_get',     true,  'bearer',   'admin', 'clients', 'Read an OAuth client', NULL, 'Client', 200),
 ('POST',   '/api/v1/clients/{id}/rotate-secret', 'client_rotate', true, 'bearer',   'admin', 'clients', 'Issue a new client secret (shown once); the old one stops working', NULL, 'ClientWithSecret', 200),
 ('DELETE', '/api/v1/clients/{id}',            'client_delete',  true,  'bearer',   'admin', 'clients', 'Delete an OAuth client and revoke its tokens', NULL, NULL, 204),
 ('GET',    '/api/v1/notes',                   'notes_list',     true,  'bearer',   'read',  'notes',   'List notes (yours; admins: all), with limit and cursor', NULL, 'NotePage', 200),
 ('POST',   '/api/v1/notes',                   'note_create',    true,  'bearer',   'write', 'notes',   'Create a note', 'NoteInput', 'Note', 201),
 ('GET',    '/api/v1/notes/{id}',              'note_get',       true,  'bearer',   'read',  'notes',   'Read a note', NULL, 'Note', 200),
 ('PATCH',  '/api/v1/notes/{id}',              'note_update',    true,  'bearer',   'write', 'notes',   'Update a note', 'NoteInput', 'Note', 200),
 ('DELETE', '/api/v1/notes/{id}',              'note_delete',    true,  'bearer',   'write', 'notes',   'Delete a note', NULL, NULL, 204),
 ('GET',    '/oauth/authorize',                'authorize',      true,  'none',     NULL,    'oauth',   'Authorization endpoint: HTML sign-in and consent (RFC 6749 §4.1, PKCE, RFC 9207)', NULL, NULL, 200),
 ('POST',   '/oauth/authorize',                'authorize',      true,  'none',     NULL,    'oauth',   'Sign-in and consent form submission; answers 303 to the redirect URI', 'AuthorizeForm', NULL, 303),
 ('POST',   '/oauth/token',                    'token',          true,  'client',   NULL,    'oauth',   'Token endpoint: authorization_code, refresh_token, client_credentials, password', 'TokenRequest', 'TokenResponse', 200),
 ('POST',   '/oauth/revoke',                   'revoke',         true,  'client',   NULL,    'oauth',   'Token revocation (RFC 7009)', 'RevocationRequest', NULL, 200),
 ('POST',   '/oauth/introspect',               'introspect',     true,  'client',   NULL,    'oauth',   'Token introspection (RFC 7662)', 'IntrospectionRequest', 'Introspection', 200),
 ('POST',   '/oauth/register',                 'register',       true,  'optional', NULL,    'oauth',   'Dynamic client registration (RFC 7591): admin token, or open when the tenant allows', 'ClientMetadata', 'ClientRegistration', 201),
 ('GET',    '/oauth/register/{id}',            'register',       true,  'none',     NULL,    'oauth',   'Read a client''s registration (RFC 7592, registration access token)', NULL, 'ClientRegistration', 200),
 ('PUT',    '/oauth/register/{id}',            'register',       true,  'none',     NULL,    'oauth',   'Replace a client''s registration (RFC 7592)', 'ClientMetadata', 'ClientRegistration', 200),
 ('DELETE', '/oauth/register/{id}',            'register',       true,  'none',     NULL,    'oauth',   'Delete a client registration (RFC 7592)', NULL, NULL, 204),
 ('GET',    '/oauth/userinfo',                 'userinfo',       true,  'bearer',   'profile', 'oauth', 'Claims of the token''s user', NULL, 'UserInfo', 200),
 ('POST',   '/oauth/userinfo',                 'userinfo',       true,  'bearer',   'profile', 'oauth', 'Claims of the token''s user', NULL, 'UserInfo', 200),
 ('GET',    '/.well-known/oauth-authorization-server', 'metadata', true, 'none',  NULL,    'oauth',   'Authorization server metadata (RFC 8414)', NULL, 'ServerMetadata', 200);
-- 52_api_handle.sql — api.handle_request: the one function the gateway
-- calls per request. Resolves the tenant, finds the route, meters the call,
-- authenticates, dispatches to the handler, and adds the security and CORS
-- headers. Never raises: every failure becomes a JSON answer; the handler
-- runs in a subtransaction, so a failed call changes nothing (the metering
-- of the call itself stays).

-- The route table as one JSON map {pattern: {method: route}}. IMMUTABLE on
-- purpose: the planner folds it into each cached plan, so a lookup costs a
-- couple of jsonb probes instead of queries. The table only changes with the
-- extension's install and upgrade scripts, which replace this function too
-- (and so invalidate those plans); api.routes_changed() does it by hand.
CREATE FUNCTION api.route_map() RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_object_agg(pattern, methods) FROM (
    SELECT pattern, jsonb_object_agg(method, to_jsonb(r)) AS methods FROM api.routes r GROUP BY pattern) p
$$;
COMMENT ON FUNCTION api.route_map() IS 'api.routes as {pattern: {method: route}}, folded into cached plans (see api.routes_changed).';

CREATE FUNCTION api.routes_changed() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  -- Re-creating the function invalidates every plan that folded the old map.
  EXECUTE pg_get_functiondef('api.route_map()'::regprocedure);
END $$;
COMMENT ON FUNCTION api.routes_changed() IS 'Call after changing api.routes by hand, so cached plans see the new routes.';
REVOKE ALL ON FUNCTION api.routes_changed() FROM PUBLIC;

CREATE FUNCTION api.find_route(p_method text, p_path text, OUT route api.routes, OUT id text, OUT allow text[])
LANGUAGE plpgsql STABLE AS $$
DECLARE
  segs text[] := string_to_array(p_path, '/');
  n integer := cardinality(segs);
  m jsonb;
  k text;
BEGIN
  -- The path itself, or with its last or second-to-last segment as {id}
  -- (the only shapes the route table uses); exact paths win.
  m := api.route_map() -> p_path;
  IF m IS NULL AND n >= 3 AND segs[n] <> '' THEN
    k := array_to_string(segs[1:n-1] || '{id}'::text, '/');
    m := api.route_map() -> k;
    id := segs[n];
  END IF;
  IF m IS NULL AND n >= 4 AND segs[n-1] <> '' THEN
    k := array_to_string(segs[1:n-2] || '{id}'::text || segs[n], '/');
    m := api.route_map() -> k;
    id := segs[n-1];
  END IF;
  IF m IS NULL THEN id := NULL; RETURN; END IF;
  allow := ARRAY(SELECT jsonb_object_keys(m) ORDER BY 1);
  IF m ? p_method THEN
    route := jsonb_populate_record(NULL::api.routes, m -> p_method);
  END IF;
END $$;
COMMENT ON FUNCTION api.find_route(text, text) IS 'The route for a method and path, its {id} value, and the methods the path allows.';

-- Scheme and host the client used; behind a proxy the gateway passes
-- X-Forwarded-Proto/Host only when started with --trust-proxy.
CREATE FUNCTION api.base_url(h jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  proto text := lower(split_part(coalesce(h->>'x-forwarded-proto', 'http'), ',', 1));
  host text := lower(btrim(split_part(coalesce(h->>'x-forwarded-host', h->>'host', 'localhost'), ',', 1)));
BEGIN
  IF proto NOT IN ('http', 'https') THEN proto := 'http'; END IF;
  IF host !~ '^([a-z0-9]([a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\])(:[0-9]{1,5})?$' THEN
    RAISE EXCEPTION 'invalid Host header' USING ERRCODE = '22023';
  END IF;
  RETURN proto || '://' || host;
END $$;
COMMENT ON FUNCTION api.base_url(jsonb) IS 'scheme://host of the request (X-Forwarded-* when the gateway trusts its proxy); 22023 for a malformed Host.';

CREATE FUNCTION api.handle_request(p_method text, p_path text, p_query text, p_headers jsonb, p_body bytea, p_client_addr text)
RETURNS TABLE(status integer, headers jsonb, body text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  r api.request;
  resp api.response;
  rt api.routes;
  res tenancy.resolved_tenant;
  fr record;
  allow text[];
  origin text := p_headers->>'origin';
  m text := upper(coalesce(p_method, ''));
  st text; msg text; det text; hint text;
  cors boolean := false;
BEGIN
  r.method := CASE WHEN m = 'HEAD' THEN 'GET' ELSE m END;
  r.headers := coalesce(p_headers, '{}');
  r.body := p_body;
  r.client_addr := p_client_addr;
  r.path := coalesce(p_path, '/');
  -- Reads need no synchronous commit: their only write is the call counter.
  IF r.method IN ('GET', 'OPTIONS') THEN SET LOCAL synchronous_commit = off; END IF;

  -- 1. Identify the tenant, parse, route and meter.
  BEGIN
    r.query := CASE WHEN coalesce(p_query, '') = '' THEN '{}'::jsonb ELSE oauth.form_decode(p_query) END;
    r.base_url := api.base_url(r.headers);
    res := tenancy.resolve_tenant(split_part(r.base_url, '://', 2), r.path, r.headers);
    r.tenant_id := res.tenant_id; r.slug := res.slug; r.path := res.path;
    r.issuer := r.base_url || CASE WHEN res.strategy IN ('subdomain', 'domain') THEN '' ELSE '/t/' || res.slug END;
    SELECT * INTO fr FROM api.find_route(r.method, r.path);
    rt := fr.route; r.id := fr.id; allow := fr.allow;
    IF origin IS NOT NULL AND allow IS NOT NULL AND r.path <> '/oauth/authorize' THEN
      cors := api.cors_allowed(origin, r.tenant_id);
    END IF;
    IF allow IS NULL THEN
      resp := api.error(404, 'not_found', 'No such route: ' || r.path || '.');
    ELSIF m = 'OPTIONS' THEN
      resp := ROW(204, jsonb_build_object('Allow', array_to_string(allow || '{OPTIONS}'::text[], ', ')), NULL);
      IF cors THEN
        resp.headers := resp.headers || jsonb_build_object(
          'Access-Control-Allow-Methods', array_to_string(allow, ', '),
          'Access-Control-Allow-Headers', 'Authorization, Content-Type, X-Tenant, X-Request-Id',
          'Access-Control-Max-Age', '600');
      END IF;
    ELSIF rt IS NULL THEN
      resp := api.error(405, 'method_not_allowed', m || ' is not allowed on ' || r.path || '.',
                        jsonb_build_object('Allow', array_to_string(allow || '{OPTIONS}'::text[], ', ')));
    ELSIF rt.tenant AND r.tenant_id IS NULL THEN
      resp := api.error(404, 'not_found', 'No tenant named in this request: use the X-Tenant header, a /t/{slug}/ path prefix or a {slug}.'
                        || current_setting('backend_framework.base_domain') || ' host.');
    ELSE
      PERFORM tenancy.count_api_call(r.tenant_id);
    END IF;
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    resp := api.error_from_sqlstate(st, msg, det, hint);
  END;

  -- 2. Authenticate and run the handler; a failure undoes all it wrote.
  IF resp IS NULL THEN
    BEGIN
      IF rt.auth = 'bearer' THEN
        PERFORM api.authenticate(r, true);
        IF rt.scope IS NOT NULL THEN PERFORM api.require_scope(rt.scope); END IF;
      ELSIF rt.auth = 'optional' THEN
        PERFORM api.authenticate(r, false);
      END IF;
      resp := api.dispatch(rt.handler, r);
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
      resp := api.error_from_sqlstate(st, msg, det, hint);
      IF resp.status = 500 THEN RAISE WARNING 'api: % % failed: % %', m, p_path, st, msg; END IF;
    END;
  END IF;

  -- 3. Headers every answer carries.
  resp.headers := jsonb_build_object(
      'X-Content-Type-Options', 'nosniff',
      'Referrer-Policy', 'no-referrer',
      'X-Frame-Options', 'DENY',
      'Cache-Control', 'no-store',
      'Content-Security-Policy', CASE WHEN coalesce(resp.headers->>'Content-Type', '') LIKE 'text/html%'
        THEN api.html_csp(r.query->>'redirect_uri') ELSE 'default-src ''none''; frame-ancestors ''none''' END)
    || coalesce(resp.headers, '{}');
  IF cors THEN
    resp.headers := resp.headers || jsonb_build_object('Access-Control-Allow-Origin', origin, 'Vary', 'Origin',
      'Access-Control-Expose-Headers', 'WWW-Authenticate, Retry-After, Location, X-Request-Id');
  END IF;
  RETURN QUERY SELECT resp.status, resp.headers, resp.body;
END $$;
COMMENT ON FUNCTION api.handle_request(text, text, text, jsonb, bytea, text) IS 'The gateway''s one call per request: (method, path, query string, headers with lower-case names, body, client address) → (status, headers, body). Never raises.';
REVOKE ALL ON FUNCTION api.handle_request(text, text, text, jsonb, bytea, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.handle_request(text, text, text, jsonb, bytea, text) TO backend_gateway, backend_admin;

-- HTML pages (the authorize endpoint) may post their form to us and be
-- redirected to the client's registered redirect URI: Chromium applies
-- form-action to that redirect, so its origin is allowed too.
CREATE FUNCTION api.html_csp(p_redirect_uri text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT 'default-src ''none''; style-src ''unsafe-inline''; img-src ''self'' data:; base-uri ''none''; frame-ancestors ''none''; form-action ''self'''
         || coalesce(' ' || (regexp_match(coalesce(p_redirect_uri, ''), '^(https?://[^/?#\s;'']+)'))[1], '')
$$;
COMMENT ON FUNCTION api.html_csp(text) IS 'Content-Security-Policy of HTML pages: no scripts, inline styles, form-action self plus the redirect URI''s origin.';
-- 53_api_handlers.sql — route handlers of /health and /api/v1 (meta,
-- tenants, users, me) and api.dispatch, which maps a route's handler name to
-- its function. Handlers run as the gateway's role with the request's
-- context, so row-level security decides what they see.

CREATE FUNCTION api.uuid_param(r api.request, what text) RETURNS uuid
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF r.id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
    RETURN r.id::uuid;
  END IF;
  RAISE EXCEPTION '% not found', what USING ERRCODE = 'P0002';
END $$;
COMMENT ON FUNCTION api.uuid_param(api.request, text) IS 'The {id} path parameter as a uuid; 404 when it is not one.';

-- The {id} of /api/v1/tenants/{id}/... must be the request's own tenant.
CREATE FUNCTION api.own_tenant(r api.request) RETURNS uuid
LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF api.uuid_param(r, 'tenant') IS DISTINCT FROM tenancy.current_tenant_id() THEN
    RAISE EXCEPTION 'tenant not found' USING ERRCODE = 'P0002';
  END IF;
  RETURN r.id::uuid;
END $$;
COMMENT ON FUNCTION api.own_tenant(api.request) IS 'The {id} of a tenant route when it is the current tenant; 404 otherwise.';

CREATE FUNCTION api.extension_version() RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'backend_framework');
END $$;
COMMENT ON FUNCTION api.extension_version() IS 'Installed version of backend_framework.';

CREATE FUNCTION api.tenant_count() RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT count(*) FROM tenancy.tenants
$$;
COMMENT ON FUNCTION api.tenant_count() IS 'Number of tenants on the platform (shown to admins by /api/v1/status).';
REVOKE ALL ON FUNCTION api.tenant_count() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.tenant_count() TO backend_gateway, backend_admin;

CREATE FUNCTION api.h_health(r api.request) RETURNS api.response
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN api.json(200, jsonb_build_object('status', 'ok', 'database', 'up', 'version', api.extension_version(),
                                         'time', now()));
END $$;
COMMENT ON FUNCTION api.h_health(api.request) IS 'GET /health.';

CREATE FUNCTION api.h_ping(r api.request) RETURNS api.response
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN api.json(200, jsonb_build_object('pong', true, 'time', now()));
END $$;
COMMENT ON FUNCTION api.h_ping(api.request) IS 'GET /api/v1/ping.';

CREATE FUNCTION api.h_status(r api.request) RETURNS api.response
LANGUAGE sql STABLE AS $$
  SELECT api.json(200, jsonb_build_object(
    'status', 'ok',
    'version', api.extension_version(),
    'database', jsonb_build_object('server_version', current_setting('server_version'),
                                   'uptime_seconds', floor(extract(epoch FROM now() - pg_postmaster_start_time()))))
    || CASE WHEN tenancy.has_scope('admin') AND tenancy.is_tenant_admin()
            THEN jsonb_build_object('tenant_count', api.tenant_count()) ELSE '{}' END)
$$;
COMMENT ON FUNCTION api.h_status(api.request) IS 'GET /api/v1/status.';

CREATE FUNCTION api.h_tenant_get(r api.request) RETURNS api.response
LANGUAGE sql STABLE AS $$
  SELECT api.json(200, api.tenant_json(t)) FROM tenancy.tenants t WHERE t.id = api.own_tenant(r)
$$;
COMMENT ON FUNCTION api.h_tenant_get(api.request) IS 'GET /api/v1/tenants/{id}.';

CREATE FUNCTION api.h_tenant_update(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  doc jsonb := api.json_body(r);
  t tenancy.tenants;
BEGIN
  PERFORM api.only_fields(doc, '{name,custom_domain,plan}');
  PERFORM api.require_admin();
  SELECT * INTO t FROM tenancy.update_tenant(api.own_tenant(r), api.text_field(doc, 'name'),
    CASE WHEN doc ? 'custom_domain' THEN coalesce(api.text_field(doc, 'custom_domain'), '') END,
    api.text_field(doc, 'plan'));
  RETURN api.json(200, api.tenant_json(t));
END $$;
COMMENT ON FUNCTION api.h_tenant_update(api.request) IS 'PATCH /api/v1/tenants/{id}: name, custom_domain (null clears), plan (owners).';

CREATE FUNCTION api.h_tenant_delete(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM api.own_tenant(r);
  IF tenancy.current_user_role() IS DISTINCT FROM 'owner' THEN
    RAISE EXCEPTION 'only owners delete a tenant' USING ERRCODE = '42501';
  END IF;
  PERFORM tenancy.delete_tenant(r.id::uuid);
  RETURN ROW(204, '{}'::jsonb, NULL)::api.response;
END $$;
COMMENT ON FUNCTION api.h_tenant_delete(api.request) IS 'DELETE /api/v1/tenants/{id} (owners).';

CREATE FUNCTION api.h_tenant_stats(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM api.require_admin();
  RETURN api.json(200, tenancy.tenant_stats(api.own_tenant(r)));
END $$;
COMMENT ON FUNCTION api.h_tenant_stats(api.request) IS 'GET /api/v1/tenants/{id}/stats (admins).';

CREATE FUNCTION api.h_settings_get(r api.request) RETURNS api.response
LANGUAGE plpgsql STABLE AS $$
BEGIN
  PERFORM api.own_tenant(r);
  PERFORM api.require_admin();
  RETURN api.json(200, tenancy.get_settings());
END $$;
COMMENT ON FUNCTION api.h_settings_get(api.request) IS 'GET /api/v1/tenants/{id}/settings (admins).';

-- PUT replaces: keys not in the body are removed.
CREATE FUNCTION api.h_settings_put(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  doc jsonb := api.json_body(r);
  cleared jsonb;
BEGIN
  PERFORM api.own_tenant(r);
  PERFORM api.require_admin();
  SELECT coalesce(jsonb_object_agg(k, 'null'::jsonb), '{}') INTO cleared
    FROM jsonb_object_keys(tenancy.get_settings()) k WHERE NOT doc ? k;
  RETURN api.json(200, tenancy.set_settings(cleared || doc));
END $$;
COMMENT ON FUNCTION api.h_settings_put(api.request) IS 'PUT /api/v1/tenants/{id}/settings: replaces the settings (admins).';

CREATE FUNCTION api.h_users_list(r api.request) RETURNS api.response
LANGUAGE plpgsql STABLE AS $$
DECLARE
  lim integer := api.page_limit(r);
  items jsonb[];
  keys text[];
BEGIN
  SELECT array_agg(api.user_json(u) ORDER BY lower(u.email)), array_agg(u.email ORDER BY lower(u.email))
    INTO items, keys FROM tenancy.list_users(lim + 1, api.cursor_decode(r.query->>'cursor')) u;
  RETURN api.page('users', items, keys, lim);
END $$;
COMMENT ON FUNCTION api.h_users_list(api.request) IS 'GET /api/v1/users?limit=&cursor= (admins: every user; users: themselves).';

CREATE FUNCTION api.h_user_create(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  doc jsonb := api.json_body(r);
  u tenancy.user_info;
BEGIN
  PERFORM api.only_fields(doc, '{email,password,role,display_name}');
  SELECT * INTO u FROM tenancy.create_user(api.text_field(doc, 'email', true), api.text_field(doc, 'password', true),
                                           coalesce(api.text_field(doc, 'role'), 'user'), api.text_field(doc, 'display_name'));
  RETURN api.json(201, api.user_json(u), jsonb_build_object('Location', r.issuer || '/api/v1/users/' || u.id));
END $$;
COMMENT ON FUNCTION api.h_user_create(api.request) IS 'POST /api/v1/users (admins).';

CREATE FUNCTION api.h_user_get(r api.request) RETURNS api.response
LANGUAGE plpgsql STABLE AS $$
DECLARE u tenancy.user_info;
BEGIN
  SELECT * INTO u FROM tenancy.user_info WHERE tenant_id = tenancy.current_tenant_id() AND id = api.uuid_param(r, 'user');
  IF NOT FOUND THEN RAISE EXCEPTION 'user not found' USING ERRCODE = 'P0002'; END IF;
  RETURN api.json(200, api.user_json(u));
END $$;
COMMENT ON FUNCTION api.h_user_get(api.request) IS 'GET /api/v1/users/{id} (yourself, or admins).';

CREATE FUNCTION api.h_user_update(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  doc jsonb := api.json_body(r);
  u tenancy.user_info;
BEGIN
  PERFORM api.only_fields(doc, '{display_name,password,role,status}');
  SELECT * INTO u FROM tenancy.update_user(api.uuid_param(r, 'user'),
    CASE WHEN doc ? 'display_name' THEN coalesce(api.text_field(doc, 'display_name'), '') END,
    api.text_field(doc, 'password'), api.text_field(doc, 'role'), api.text_field(doc, 'status'));
  RETURN api.json(200, api.user_json(u));
END $$;
COMMENT ON FUNCTION api.h_user_update(api.request) IS 'PATCH /api/v1/users/{id}: display_name, password (yourself or admins), role and status (admins).';

CREATE FUNCTION api.h_user_delete(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM tenancy.delete_user(api.uuid_param(r, 'user'));
  RETURN ROW(204, '{}'::jsonb, NULL)::api.response;
END $$;
COMMENT ON FUNCTION api.h_user_delete(api.request) IS 'DELETE /api/v1/users/{id} (admins).';

CREATE FUNCTION api.h_me(r api.request) RETURNS api.response
LANGUAGE plpgsql STABLE AS $$
DECLARE
  t uuid := tenancy.current_tenant_id();
  u jsonb;
  tj jsonb;
BEGIN
  SELECT jsonb_build_object('id', n.id, 'slug', n.slug, 'name', n.name, 'plan', n.plan) INTO tj
    FROM tenancy.tenants n WHERE n.id = t;
  SELECT api.user_json(x) INTO u FROM tenancy.user_info x WHERE x.tenant_id = t AND x.id = tenancy.current_user_id();
  RETURN api.json(200, jsonb_build_object('user', u, 'tenant', tj, 'role', tenancy.current_user_role(),
    'scope', current_setting('backend_framework.scopes'), 'client_id', tenancy.current_client_id()));
END $$;
COMMENT ON FUNCTION api.h_me(api.request) IS 'GET /api/v1/me: the token''s user (null for client credentials), tenant, role, scope and client.';

-- Registration is public (the sign-up page): a tenant, its first owner, and
-- the owner's first access token, so a script can go on at once.
CREATE FUNCTION api.h_tenant_create(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  doc jsonb := api.json_body(r);
  reg record;
  t tenancy.tenants;
  u tenancy.user_info;
  tok jsonb;
BEGIN
  PERFORM api.only_fields(doc, '{slug,name,owner_email,owner_password,plan}');
  SELECT * INTO reg FROM tenancy.register_tenant(api.text_field(doc, 'slug', true), api.text_field(doc, 'name', true),
    api.text_field(doc, 'owner_email', true), api.text_field(doc, 'owner_password', true),
    coalesce(api.text_field(doc, 'plan'), 'free'));
  SELECT * INTO t FROM tenancy.tenants WHERE id = reg.tenant_id;
  SELECT * INTO u FROM tenancy.user_info WHERE tenant_id = reg.tenant_id AND id = reg.owner_id;
  tok := oauth.issue_first_token();
  RETURN api.json(201, jsonb_build_object('tenant', api.tenant_json(t), 'owner', api.user_json(u)) || tok,
                  jsonb_build_object('Location', r.base_url || '/t/' || t.slug || '/api/v1/tenants/' || t.id,
                                     'Cache-Control', 'no-store'));
END $$;
COMMENT ON FUNCTION api.h_tenant_create(api.request) IS 'POST /api/v1/tenants: registers a tenant and its owner; answers both and the owner''s first access token.';
-- 54_api_oauth.sql — HTTP adapters of the OAuth endpoints and the client
-- management routes: they decode the request, call the oauth schema's
-- endpoint functions, and add the headers RFC 6749/6750 ask for.

CREATE FUNCTION api.oauth_answer(p_status integer, p_body jsonb, r api.request) RETURNS api.response
LANGUAGE plpgsql STABLE AS $$
DECLARE h jsonb := '{"Cache-Control": "no-store", "Pragma": "no-cache"}';
BEGIN
  IF p_status = 401 THEN
    h := h || jsonb_build_object('WWW-Authenticate',
      CASE WHEN r.headers->>'authorization' ~* '^basic ' OR r.headers->>'authorization' IS NULL
           THEN 'Basic realm="' || coalesce(r.issuer, 'backend_framework') || '"'
           ELSE 'Bearer realm="' || coalesce(r.issuer, 'backend_framework') || '", error="invalid_token"' END);
  END IF;
  RETURN api.json(p_status, CASE WHEN p_status = 204 THEN NULL ELSE p_body END, h);
END $$;
COMMENT ON FUNCTION api.oauth_answer(integer, jsonb, api.request) IS 'An OAuth endpoint answer: no-store, and WWW-Authenticate on 401.';

CREATE FUNCTION api.h_token(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
DECLARE s integer; b jsonb;
BEGIN
  SELECT e.status, e.body INTO s, b FROM oauth.token_endpoint(api.form_body(r), r.headers->>'authorization', r.client_addr) e;
  RETURN api.oauth_answer(s, b, r);
END $$;
COMMENT ON FUNCTION api.h_token(api.request) IS 'POST /oauth/token.';

CREATE FUNCTION api.h_revoke(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
DECLARE s integer; b jsonb;
BEGIN
  SELECT e.status, e.body INTO s, b FROM oauth.revoke_endpoint(api.form_body(r), r.headers->>'authorization') e;
  RETURN api.oauth_answer(s, b, r);
END $$;
COMMENT ON FUNCTION api.h_revoke(api.request) IS 'POST /oauth/revoke (RFC 7009).';

CREATE FUNCTION api.h_introspect(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
DECLARE s integer; b jsonb;
BEGIN
  SELECT e.status, e.body INTO s, b FROM oauth.introspect_endpoint(api.form_body(r), r.headers->>'authorization', r.issuer) e;
  RETURN api.oauth_answer(s, b, r);
END $$;
COMMENT ON FUNCTION api.h_introspect(api.request) IS 'POST /oauth/introspect (RFC 7662).';

CREATE FUNCTION api.h_register(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
DECLARE s integer; b jsonb; resp api.response;
BEGIN
  SELECT e.status, e.body INTO s, b
    FROM oauth.register_endpoint(r.method, r.id, CASE WHEN r.method IN ('POST', 'PUT') THEN api.json_body(r) END,
                                 api.bearer_token(r), r.issuer) e;
  resp := api.oauth_answer(s, b, r);
  IF s = 201 THEN resp.headers := resp.headers || jsonb_build_object('Location', b->>'registration_client_uri'); END IF;
  RETURN resp;
END $$;
COMMENT ON FUNCTION api.h_register(api.request) IS 'POST /oauth/register (RFC 7591) and GET/PUT/DELETE /oauth/register/{id} (RFC 7592).';

CREATE FUNCTION api.h_userinfo(r api.request) RETURNS api.response
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN api.json(200, oauth.userinfo(), '{"Cache-Control": "no-store", "Pragma": "no-cache"}');
END $$;
COMMENT ON FUNCTION api.h_userinfo(api.request) IS 'GET/POST /oauth/userinfo (scope profile).';

CREATE FUNCTION api.h_metadata(r api.request) RETURNS api.response
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN api.json(200, oauth.metadata_document(r.issuer),
                  '{"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"}');
END $$;
COMMENT ON FUNCTION api.h_metadata(api.request) IS 'GET /.well-known/oauth-authorization-server (RFC 8414).';

CREATE FUNCTION api.parse_cookies(h text) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(jsonb_object_agg(btrim(split_part(c, '=', 1)), btrim(substr(c, strpos(c, '=') + 1))), '{}')
    FROM unnest(string_to_array(coalesce(h, ''), ';')) c WHERE strpos(c, '=') > 1
$$;
COMMENT ON FUNCTION api.parse_cookies(text) IS 'A Cookie header as a JSON object (name → value; a repeated name keeps one).';

CREATE FUNCTION api.h_authorize(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  params jsonb := CASE WHEN r.method = 'POST' THEN api.form_body(r) ELSE r.query END;
  a record;
BEGIN
  SELECT * INTO a FROM oauth.authorize_endpoint(r.method, params, api.parse_cookies(r.headers->>'cookie'),
                                                r.issuer, r.client_addr, r.base_url LIKE 'https:%');
  RETURN ROW(a.status, jsonb_build_object('Content-Security-Policy', api.html_csp(params->>'redirect_uri'))
                       || coalesce(a.headers, '{}'), a.body)::api.response;
END $$;
COMMENT ON FUNCTION api.h_authorize(api.request) IS 'GET/POST /oauth/authorize: HTML sign-in and consent, 303 to the redirect URI.';

-- Client management (admins), the REST face of oauth.*_client.
CREATE FUNCTION api.h_clients_list(r api.request) RETURNS api.response
LANGUAGE plpgsql STABLE AS $$
BEGIN
  PERFORM api.require_admin();
  RETURN api.json(200, jsonb_build_object('clients', (SELECT coalesce(jsonb_agg(c), '[]') FROM oauth.list_clients() c)));
END $$;
COMMENT ON FUNCTION api.h_clients_list(api.request) IS 'GET /api/v1/clients (admins).';

CREATE FUNCTION api.h_client_create(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
DECLARE c jsonb;
BEGIN
  PERFORM api.require_admin();
  c := oauth.create_client(api.json_body(r));
  RETURN api.json(201, c, jsonb_build_object('Location', r.issuer || '/api/v1/clients/' || (c->>'client_id'), 'Cache-Control', 'no-store'));
END $$;
COMMENT ON FUNCTION api.h_client_create(api.request) IS 'POST /api/v1/clients (admins): the secret is in this answer only.';

CREATE FUNCTION api.h_client_get(r api.request) RETURNS api.response
LANGUAGE plpgsql STABLE AS $$
BEGIN
  PERFORM api.require_admin();
  RETURN api.json(200, oauth.get_client(r.id));
END $$;
COMMENT ON FUNCTION api.h_client_get(api.request) IS 'GET /api/v1/clients/{id} (admins).';

CREATE FUNCTION api.h_client_rotate(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM api.require_admin();
  RETURN api.json(200, oauth.rotate_client_secret(r.id), '{"Cache-Control": "no-store"}');
END $$;
COMMENT ON FUNCTION api.h_client_rotate(api.request) IS 'POST /api/v1/clients/{id}/rotate-secret (admins).';

CREATE FUNCTION api.h_client_delete(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM api.require_admin();
  PERFORM oauth.delete_client(r.id);
  RETURN ROW(204, '{}'::jsonb, NULL)::api.response;
END $$;
COMMENT ON FUNCTION api.h_client_delete(api.request) IS 'DELETE /api/v1/clients/{id} (admins; not the console client).';
-- 55_app_notes.sql — the example application resource, built exactly as an
-- application on Backend Framework builds its own tables: a plain table
-- whose keys lead with tenant_id, tenancy.enable_tenant_table() for
-- isolation, one extra policy for who sees what inside a tenant, grants to
-- the application roles, and route handlers that rely on all of that.

CREATE SCHEMA app;
COMMENT ON SCHEMA app IS 'backend_framework: the example application (notes); copy its pattern for your own tables.';
GRANT USAGE ON SCHEMA app TO backend_gateway, backend_app, backend_admin;

CREATE TABLE app.notes (
  tenant_id  uuid NOT NULL,
  id         uuid NOT NULL DEFAULT gen_random_uuid(),
  author_id  uuid NOT NULL DEFAULT tenancy.current_user_id(),
  title      text NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 200),
  body       text NOT NULL DEFAULT '' CHECK (length(body) <= 100000),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, author_id) REFERENCES tenancy.users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX notes_author_idx ON app.notes (tenant_id, author_id, created_at);
COMMENT ON TABLE app.notes IS 'Example application table: notes of a tenant''s users (authors see theirs, admins all).';
SELECT tenancy.enable_tenant_table('app.notes');
SELECT pg_catalog.pg_extension_config_dump('app.notes', '');
-- Made by the extension itself: CREATE EXTENSION registers it again on restore.
UPDATE tenancy.tenant_tables SET builtin = true WHERE table_name = 'app.notes'::regclass;
-- Inside the tenant: your own notes, or all of them for admins and owners.
CREATE POLICY notes_visibility ON app.notes AS RESTRICTIVE FOR ALL
  USING (author_id = (SELECT tenancy.current_user_id()) OR (SELECT tenancy.is_tenant_admin()))
  WITH CHECK (author_id = (SELECT tenancy.current_user_id()) OR (SELECT tenancy.is_tenant_admin()));
GRANT SELECT, INSERT, DELETE ON app.notes TO backend_gateway, backend_app, backend_admin;
GRANT UPDATE (title, body) ON app.notes TO backend_gateway, backend_app, backend_admin;
CREATE TRIGGER notes_touch BEFORE UPDATE ON app.notes FOR EACH ROW EXECUTE FUNCTION tenancy._touch_updated_at();

CREATE FUNCTION app.note_json(n app.notes) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object('id', n.id, 'author_id', n.author_id, 'title', n.title, 'body', n.body,
                            'created_at', n.created_at, 'updated_at', n.updated_at)
$$;
COMMENT ON FUNCTION app.note_json(app.notes) IS 'A note as the API shows it.';

CREATE FUNCTION api.h_notes_list(r api.request) RETURNS api.response
LANGUAGE plpgsql STABLE AS $$
DECLARE
  lim integer := api.page_limit(r);
  after uuid;
  items jsonb[];
  keys text[];
BEGIN
  PERFORM api.require_user();
  after := CASE WHEN r.query ? 'cursor' THEN api.cursor_decode(r.query->>'cursor')::uuid END;
  SELECT array_agg(app.note_json(n) ORDER BY n.id), array_agg(n.id::text ORDER BY n.id) INTO items, keys
    FROM (SELECT * FROM app.notes x WHERE x.tenant_id = tenancy.current_tenant_id() AND (after IS NULL OR x.id > after)
           ORDER BY x.id LIMIT lim + 1) n;
  RETURN api.page('notes', items, keys, lim);
EXCEPTION WHEN invalid_text_representation THEN
  RAISE EXCEPTION 'invalid cursor' USING ERRCODE = '22023';
END $$;
COMMENT ON FUNCTION api.h_notes_list(api.request) IS 'GET /api/v1/notes?limit=&cursor=.';

CREATE FUNCTION api.note_fields(r api.request, p_required boolean, OUT title text, OUT body text)
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE doc jsonb := api.json_body(r);
BEGIN
  PERFORM api.only_fields(doc, '{title,body}');
  title := api.text_field(doc, 'title', p_required);
  body := api.text_field(doc, 'body');
  IF title IS NOT NULL AND length(btrim(title)) NOT BETWEEN 1 AND 200 THEN
    RAISE EXCEPTION 'a title has 1 to 200 characters' USING ERRCODE = '22023';
  END IF;
  IF length(body) > 100000 THEN
    RAISE EXCEPTION 'a body has at most 100000 characters' USING ERRCODE = '22023';
  END IF;
END $$;
COMMENT ON FUNCTION api.note_fields(api.request, boolean) IS 'title and body of a note request, validated.';

CREATE FUNCTION api.h_note_create(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
DECLARE f record; n app.notes;
BEGIN
  PERFORM api.require_user();
  f := api.note_fields(r, true);
  INSERT INTO app.notes (title, body) VALUES (btrim(f.title), coalesce(f.body, '')) RETURNING * INTO n;
  RETURN api.json(201, app.note_json(n), jsonb_build_object('Location', r.issuer || '/api/v1/notes/' || n.id));
END $$;
COMMENT ON FUNCTION api.h_note_create(api.request) IS 'POST /api/v1/notes.';

CREATE FUNCTION api.h_note_get(r api.request) RETURNS api.response
LANGUAGE plpgsql STABLE AS $$
DECLARE n app.notes;
BEGIN
  SELECT * INTO n FROM app.notes WHERE tenant_id = tenancy.current_tenant_id() AND id = api.uuid_param(r, 'note');
  IF NOT FOUND THEN RAISE EXCEPTION 'note not found' USING ERRCODE = 'P0002'; END IF;
  RETURN api.json(200, app.note_json(n));
END $$;
COMMENT ON FUNCTION api.h_note_get(api.request) IS 'GET /api/v1/notes/{id}.';

CREATE FUNCTION api.h_note_update(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
DECLARE f record; n app.notes;
BEGIN
  f := api.note_fields(r, false);
  UPDATE app.notes SET title = coalesce(btrim(f.title), title), body = coalesce(f.body, body)
   WHERE tenant_id = tenancy.current_tenant_id() AND id = api.uuid_param(r, 'note') RETURNING * INTO n;
  IF NOT FOUND THEN RAISE EXCEPTION 'note not found' USING ERRCODE = 'P0002'; END IF;
  RETURN api.json(200, app.note_json(n));
END $$;
COMMENT ON FUNCTION api.h_note_update(api.request) IS 'PATCH /api/v1/notes/{id}.';

CREATE FUNCTION api.h_note_delete(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  DELETE FROM app.notes WHERE tenant_id = tenancy.current_tenant_id() AND id = api.uuid_param(r, 'note');
  IF NOT FOUND THEN RAISE EXCEPTION 'note not found' USING ERRCODE = 'P0002'; END IF;
  RETURN ROW(204, '{}'::jsonb, NULL)::api.response;
END $$;
COMMENT ON FUNCTION api.h_note_delete(api.request) IS 'DELETE /api/v1/notes/{id}.';
-- 56_api_openapi.sql — /api/v1/openapi.json: OpenAPI 3.1, generated from
-- api.routes (so no route goes undocumented) plus the schemas below.

CREATE FUNCTION api.openapi_schemas() RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
SELECT $json${
  "Error": {"type": "object", "required": ["error", "error_description"],
            "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}}},
  "Health": {"type": "object", "required": ["status", "database"],
             "properties": {"status": {"type": "string"}, "database": {"type": "string"}, "version": {"type": "string"}, "time": {"type": "string", "format": "date-time"}}},
  "Pong": {"type": "object", "required": ["pong"], "properties": {"pong": {"type": "boolean"}, "time": {"type": "string", "format": "date-time"}}},
  "Status": {"type": "object", "required": ["status", "version", "database"],
             "properties": {"status": {"type": "string"}, "version": {"type": "string"},
                            "database": {"type": "object", "properties": {"server_version": {"type": "string"}, "uptime_seconds": {"type": "number"}}},
                            "tenant_count": {"type": "integer", "description": "Only for admins."}}},
  "Limits": {"type": "object", "properties": {"max_users": {"type": ["integer", "null"]}, "max_api_calls_per_month": {"type": ["integer", "null"]}, "max_storage_bytes": {"type": ["integer", "null"]}}},
  "Tenant": {"type": "object", "required": ["id", "slug", "name", "plan", "status"],
             "properties": {"id": {"type": "string", "format": "uuid"}, "slug": {"type": "string"}, "name": {"type": "string"},
                            "custom_domain": {"type": ["string", "null"]}, "plan": {"type": "string", "enum": ["free", "basic", "premium", "enterprise"]},
                            "status": {"type": "string", "enum": ["active", "suspended"]}, "settings": {"$ref": "#/components/schemas/Settings"},
                            "limits": {"$ref": "#/components/schemas/Limits"},
                            "created_at": {"type": "string", "format": "date-time"}, "updated_at": {"type": "string", "format": "date-time"}}},
  "TenantRegistration": {"type": "object", "required": ["slug", "name", "owner_email", "owner_password"], "additionalProperties": false,
             "properties": {"slug": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$"}, "name": {"type": "string", "minLength": 1, "maxLength": 200},
                            "owner_email": {"type": "string", "format": "email"}, "owner_password": {"type": "string", "minLength": 8},
                            "plan": {"type": "string", "enum": ["free", "basic", "premium", "enterprise"]}}},
  "TenantRegistered": {"type": "object", "required": ["tenant", "owner", "access_token", "token_type", "expires_in", "scope"],
             "properties": {"tenant": {"$ref": "#/components/schemas/Tenant"}, "owner": {"$ref": "#/components/schemas/User"},
                            "access_token": {"type": "string"}, "token_type": {"type": "string", "const": "Bearer"},
                            "expires_in": {"type": "integer"}, "scope": {"type": "string"}}},
  "TenantUpdate": {"type": "object", "additionalProperties": false,
             "properties": {"name": {"type": "string"}, "custom_domain": {"type": ["string", "null"]}, "plan": {"type": "string"}}},
  "TenantStats": {"type": "object", "required": ["users", "api_calls", "storage_bytes"],
             "properties": {"tenant_id": {"type": "string", "format": "uuid"}, "plan": {"type": "string"}, "month": {"type": "string"},
                            "users": {"$ref": "#/components/schemas/Usage"}, "api_calls": {"$ref": "#/components/schemas/Usage"},
                            "storage_bytes": {"$ref": "#/components/schemas/Usage"}}},
  "Usage": {"type": "object", "required": ["used", "limit"], "properties": {"used": {"type": "integer"}, "limit": {"type": ["integer", "null"], "description": "null: unlimited"}}},
  "Settings": {"type": "object", "additionalProperties": false,
             "properties": {"allowed_origins": {"type": "array", "items": {"type": "string"}}, "brand_color": {"type": "string", "pattern": "^#[0-9a-fA-F]{6}$"},
                            "open_registration": {"type": "boolean"}, "allow_plain_pkce": {"type": "boolean"},
                            "access_token_ttl": {"type": "integer"}, "refresh_token_ttl": {"type": "integer"}, "code_ttl": {"type": "integer"}}},
  "User": {"type": "object", "required": ["id", "email", "role", "status"],
           "properties": {"id": {"type": "string", "format": "uuid"}, "email": {"type": "string"}, "display_name": {"type": ["string", "null"]},
                          "role": {"type": "string", "enum": ["user", "admin", "owner"]}, "status": {"type": "string", "enum": ["active", "disabled"]},
                          "created_at": {"type": "string", "format": "date-time"}, "updated_at": {"type": "string", "format": "date-time"}}},
  "UserPage": {"type": "object", "required": ["users", "next_cursor"],
               "properties": {"users": {"type": "array", "items": {"$ref": "#/components/schemas/User"}}, "next_cursor": {"type": ["string", "null"]}}},
  "UserCreate": {"type": "object", "required": ["email", "password"], "additionalProperties": false,
                 "properties": {"email": {"type": "string"}, "password": {"type": "string"}, "role": {"type": "string", "enum": ["user", "admin", "owner"]}, "display_name": {"type": "string"}}},
  "UserUpdate": {"type": "object", "additionalProperties": false,
                 "properties": {"display_name": {"type": ["string", "null"]}, "password": {"type": "string"}, "role": {"type": "string", "enum": ["user", "admin", "owner"]}, "status": {"type": "string", "enum": ["active", "disabled"]}}},
  "Me": {"type": "object", "required": ["user", "tenant", "scope"],
         "properties": {"user": {"oneOf": [{"$ref": "#/components/schemas/User"}, {"type": "null"}]}, "tenant": {"type": "object"},
                        "role": {"type": ["string", "null"]}, "scope": {"type": "string"}, "client_id": {"type": ["string", "null"]}}},
  "ClientMetadata": {"type": "object",
        "properties": {"client_name": {"type": "string"}, "redirect_uris": {"type": "array", "items": {"type": "string", "format": "uri"}},
                       "grant_types": {"type": "array", "items": {"type": "string", "enum": ["authorization_code", "refresh_token", "client_credentials", "password"]}},
                       "response_types": {"type": "array", "items": {"type": "string", "enum": ["code"]}}, "scope": {"type": "string"},
                       "token_endpoint_auth_method": {"type": "string", "enum": ["client_secret_basic", "client_secret_post", "none"]}}},
  "Client": {"allOf": [{"$ref": "#/components/schemas/ClientMetadata"}, {"type": "object", "required": ["client_id"], "properties": {"client_id": {"type": "string"}}}]},
  "ClientWithSecret": {"allOf": [{"$ref": "#/components/schemas/Client"}, {"type": "object", "properties": {"client_secret": {"type": "string", "description": "Shown once."}}}]},
  "ClientList": {"type": "object", "required": ["clients"], "properties": {"clients": {"type": "array", "items": {"$ref": "#/components/schemas/Client"}}}},
  "ClientRegistration": {"allOf": [{"$ref": "#/components/schemas/ClientWithSecret"}, {"type": "object",
        "properties": {"registration_access_token": {"type": "string"}, "registration_client_uri": {"type": "string"},
                       "client_id_issued_at": {"type": "integer"}, "client_secret_expires_at": {"type": "integer"}}}]},
  "Note": {"type": "object", "required": ["id", "title", "body"],
           "properties": {"id": {"type": "string", "format": "uuid"}, "author_id": {"type": "string", "format": "uuid"}, "title": {"type": "string"},
                          "body": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"}, "updated_at": {"type": "string", "format": "date-time"}}},
  "NoteInput": {"type": "object", "additionalProperties": false, "properties": {"title": {"type": "string", "minLength": 1, "maxLength": 200}, "body": {"type": "string"}}},
  "NotePage": {"type": "object", "required": ["notes", "next_cursor"],
               "properties": {"notes": {"type": "array", "items": {"$ref": "#/components/schemas/Note"}}, "next_cursor": {"type": ["string", "null"]}}},
  "AuthorizeForm": {"type": "object", "description": "The sign-in/consent form: the authorization request's parameters plus csrf_token, email, password, action.",
                    "properties": {"csrf_token": {"type": "string"}, "email": {"type": "string"}, "password": {"type": "string"}, "action": {"type": "string", "enum": ["allow", "deny"]}}},
  "TokenRequest": {"type": "object", "required": ["grant_type"],
        "properties": {"grant_type": {"type": "string", "enum": ["authorization_code", "refresh_token", "client_credentials", "password"]},
                       "code": {"type": "string"}, "redirect_uri": {"type": "string"}, "code_verifier": {"type": "string"},
                       "refresh_token": {"type": "string"}, "username": {"type": "string"}, "password": {"type": "string"},
                       "scope": {"type": "string"}, "client_id": {"type": "string"}, "client_secret": {"type": "string"}}},
  "TokenResponse": {"type": "object", "required": ["access_token", "token_type", "expires_in"],
        "properties": {"access_token": {"type": "string"}, "token_type": {"type": "string"}, "expires_in": {"type": "integer"},
                       "refresh_token": {"type": "string"}, "scope": {"type": "string"}}},
  "RevocationRequest": {"type": "object", "required": ["token"], "properties": {"token": {"type": "string"}, "token_type_hint": {"type": "string"}}},
  "IntrospectionRequest": {"type": "object", "required": ["token"], "properties": {"token": {"type": "string"}, "token_type_hint": {"type": "string"}}},
  "Introspection": {"type": "object", "required": ["active"],
        "properties": {"active": {"type": "boolean"}, "scope": {"type": "string"}, "client_id": {"type": "string"}, "username": {"type": "string"},
                       "sub": {"type": "string"}, "token_type": {"type": "string"}, "exp": {"type": "integer"}, "iat": {"type": "integer"},
                       "iss": {"type": "string"}, "tenant": {"type": "string"}, "tenant_id": {"type": "string"}}},
  "UserInfo": {"type": "object", "required": ["sub"],
        "properties": {"sub": {"type": "string"}, "email": {"type": "string"}, "name": {"type": ["string", "null"]}, "tenant": {"type": "string"}, "tenant_id": {"type": "string"}, "role": {"type": "string"}}},
  "ServerMetadata": {"type": "object", "required": ["issuer", "token_endpoint"], "additionalProperties": true,
        "properties": {"issuer": {"type": "string"}, "authorization_endpoint": {"type": "string"}, "token_endpoint": {"type": "string"}}}
}$json$::jsonb
$$;
COMMENT ON FUNCTION api.openapi_schemas() IS 'Component schemas of the OpenAPI document.';

CREATE FUNCTION api.openapi(p_base_url text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
WITH ops AS (
  SELECT r.pattern, lower(r.method) AS m, jsonb_strip_nulls(jsonb_build_object(
    'operationId', r.handler || '_' || lower(r.method),
    'summary', r.summary,
    'tags', jsonb_build_array(r.tag),
    'parameters', CASE WHEN r.pattern LIKE '%{id}%' THEN jsonb_build_array(jsonb_build_object(
        'name', 'id', 'in', 'path', 'required', true, 'schema', jsonb_build_object('type', 'string'))) END,
    'security', CASE r.auth
        WHEN 'bearer' THEN jsonb_build_array(jsonb_build_object('bearerAuth', CASE WHEN r.scope IS NULL THEN '[]'::jsonb ELSE jsonb_build_array(r.scope) END))
        WHEN 'optional' THEN jsonb_build_array('{}'::jsonb, jsonb_build_object('bearerAuth', '[]'::jsonb))
        WHEN 'client' THEN jsonb_build_array(jsonb_build_object('clientBasic', '[]'::jsonb), '{}'::jsonb)
        ELSE '[]'::jsonb END,
    'requestBody', CASE WHEN r.request IS NOT NULL THEN jsonb_build_object('required', true, 'content',
        jsonb_build_object(CASE WHEN r.pattern LIKE '/oauth/%' AND r.pattern NOT LIKE '/oauth/register%'
                                THEN 'application/x-www-form-urlencoded' ELSE 'application/json' END,
                           jsonb_build_object('schema', jsonb_build_object('$ref', '#/components/schemas/' || r.request)))) END,
    'responses', jsonb_build_object(r.success::text, jsonb_strip_nulls(jsonb_build_object(
        'description', CASE r.success WHEN 204 THEN 'No content' WHEN 303 THEN 'Redirect to the client' ELSE 'Success' END,
        'content', CASE WHEN r.response IS NOT NULL THEN jsonb_build_object('application/json',
                          jsonb_build_object('schema', jsonb_build_object('$ref', '#/components/schemas/' || r.response)))
                        WHEN r.handler = 'authorize' AND r.success = 200 THEN '{"text/html": {"schema": {"type": "string"}}}'::jsonb
                        WHEN r.handler = 'openapi' THEN '{"application/json": {"schema": {"type": "object"}}}'::jsonb END)))
      || jsonb_build_object('default', jsonb_build_object('description', 'Error',
           'content', jsonb_build_object('application/json', jsonb_build_object('schema', jsonb_build_object('$ref', '#/components/schemas/Error'))))))) AS op
  FROM api.routes r
)
SELECT jsonb_build_object(
  'openapi', '3.1.0',
  'info', jsonb_build_object('title', 'Backend Framework API', 'version', api.extension_version(),
    'description', 'Multi-tenant REST API and OAuth 2.0 authorization server. Name the tenant of a request with the X-Tenant header, a /t/{tenant} path prefix, a {tenant}.' || current_setting('backend_framework.base_domain') || ' host, or a custom domain.'),
  'servers', jsonb_build_array(jsonb_build_object('url', p_base_url, 'description', 'Tenant chosen by X-Tenant, subdomain or custom domain'),
                               jsonb_build_object('url', p_base_url || '/t/{tenant}', 'description', 'Tenant chosen by path',
                                                  'variables', jsonb_build_object('tenant', jsonb_build_object('default', 'demo')))),
  'paths', (SELECT jsonb_object_agg(pattern, ops) FROM (SELECT pattern, jsonb_object_agg(m, op) AS ops FROM ops GROUP BY pattern) p),
  'components', jsonb_build_object('schemas', api.openapi_schemas(),
    'securitySchemes', jsonb_build_object(
      'bearerAuth', jsonb_build_object('type', 'http', 'scheme', 'bearer', 'description', 'An access token from /oauth/token (RFC 6750).'),
      'clientBasic', jsonb_build_object('type', 'http', 'scheme', 'basic', 'description', 'OAuth client credentials (client_secret_basic); client_secret_post and none also work.'))))
$$;
COMMENT ON FUNCTION api.openapi(text) IS 'The OpenAPI 3.1 document of every route in api.routes.';

CREATE FUNCTION api.h_openapi(r api.request) RETURNS api.response
LANGUAGE sql STABLE AS $$
  SELECT api.json(200, api.openapi(r.base_url), '{"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"}')
$$;
COMMENT ON FUNCTION api.h_openapi(api.request) IS 'GET /api/v1/openapi.json.';
-- 57_api_dispatch.sql — api.dispatch: a route's handler name → its function.
-- A static CASE (not dynamic SQL) keeps every call a cached plan.

CREATE FUNCTION api.dispatch(p_handler text, r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  RETURN CASE p_handler
    WHEN 'me'             THEN api.h_me(r)
    WHEN 'token'          THEN api.h_token(r)
    WHEN 'introspect'     THEN api.h_introspect(r)
    WHEN 'health'         THEN api.h_health(r)
    WHEN 'ping'           THEN api.h_ping(r)
    WHEN 'status'         THEN api.h_status(r)
    WHEN 'openapi'        THEN api.h_openapi(r)
    WHEN 'tenant_create'  THEN api.h_tenant_create(r)
    WHEN 'tenant_get'     THEN api.h_tenant_get(r)
    WHEN 'tenant_update'  THEN api.h_tenant_update(r)
    WHEN 'tenant_delete'  THEN api.h_tenant_delete(r)
    WHEN 'tenant_stats'   THEN api.h_tenant_stats(r)
    WHEN 'settings_get'   THEN api.h_settings_get(r)
    WHEN 'settings_put'   THEN api.h_settings_put(r)
    WHEN 'users_list'     THEN api.h_users_list(r)
    WHEN 'user_create'    THEN api.h_user_create(r)
    WHEN 'user_get'       THEN api.h_user_get(r)
    WHEN 'user_update'    THEN api.h_user_update(r)
    WHEN 'user_delete'    THEN api.h_user_delete(r)
    WHEN 'clients_list'   THEN api.h_clients_list(r)
    WHEN 'client_create'  THEN api.h_client_create(r)
    WHEN 'client_get'     THEN api.h_client_get(r)
    WHEN 'client_rotate'  THEN api.h_client_rotate(r)
    WHEN 'client_delete'  THEN api.h_client_delete(r)
    WHEN 'notes_list'     THEN api.h_notes_list(r)
    WHEN 'note_create'    THEN api.h_note_create(r)
    WHEN 'note_get'       THEN api.h_note_get(r)
    WHEN 'note_update'    THEN api.h_note_update(r)
    WHEN 'note_delete'    THEN api.h_note_delete(r)
    WHEN 'revoke'         THEN api.h_revoke(r)
    WHEN 'register'       THEN api.h_register(r)
    WHEN 'userinfo'       THEN api.h_userinfo(r)
    WHEN 'metadata'       THEN api.h_metadata(r)
    WHEN 'authorize'      THEN api.h_authorize(r)
    ELSE api.error(500, 'server_error', 'No handler for ' || p_handler || '.')
  END;
END $$;
COMMENT ON FUNCTION api.dispatch(text, api.request) IS 'Calls the handler of a route (the handler column of api.routes).';
