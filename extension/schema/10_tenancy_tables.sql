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
                  CHECK (slug ~ (tenancy.patterns()).slug)
                  CHECK (NOT tenancy.is_reserved_slug(slug)),
  name            text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND (tenancy.bounds()).name_max),
  custom_domain   text CHECK (custom_domain ~ (tenancy.patterns()).domain),
  plan            text NOT NULL DEFAULT 'free' REFERENCES tenancy.plans(name),
  status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
  settings        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object'),
  limit_overrides jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(limit_overrides) = 'object'),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  custom_domain_status text CHECK (custom_domain_status IN ('pending', 'approved')),
  CHECK ((custom_domain IS NULL) = (custom_domain_status IS NULL))
);
-- Only an approved domain is unique: a pending claim blocks nobody, so a
-- tenant cannot squat on another's domain by asking first.
CREATE UNIQUE INDEX tenants_custom_domain_key ON tenancy.tenants (custom_domain) WHERE custom_domain_status = 'approved';
COMMENT ON TABLE tenancy.tenants IS 'Tenants: each is an isolated organisation with its own users, clients and OAuth issuer. Reference table keyed by id (= tenant_id everywhere else).';
COMMENT ON COLUMN tenancy.tenants.slug IS 'URL name: 3-63 lower-case letters, digits, hyphens; used by subdomain, X-Tenant and /t/{slug}/.';
COMMENT ON COLUMN tenancy.tenants.custom_domain IS 'Optional host name that identifies the tenant once a platform operator approved it (lower case; unique among approved ones; never a host of the platform).';
COMMENT ON COLUMN tenancy.tenants.custom_domain_status IS 'pending (set by the tenant, identifies nothing yet) or approved (tenancy.approve_custom_domain); NULL without a custom domain. Any change of the domain makes it pending again.';
COMMENT ON COLUMN tenancy.tenants.settings IS 'Tenant settings (see tenancy.set_settings for the known keys).';
COMMENT ON COLUMN tenancy.tenants.limit_overrides IS 'Per-tenant limits replacing the plan''s: {"max_users": n, "max_api_calls_per_month": n, "max_storage_bytes": n}; null means unlimited.';

CREATE TABLE tenancy.users (
  tenant_id     uuid NOT NULL REFERENCES tenancy.tenants(id) ON DELETE CASCADE,
  id            uuid NOT NULL DEFAULT gen_random_uuid(),
  email         text NOT NULL CHECK (length(email) <= (tenancy.bounds()).email_max AND email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
  password_hash text NOT NULL CHECK (password_hash ~ '^\$2[abxy]\$[0-9]{2}\$.{53}$'),
  display_name  text CHECK (length(display_name) <= (tenancy.bounds()).name_max),
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
