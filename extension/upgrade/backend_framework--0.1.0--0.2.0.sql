-- backend_framework 0.1.0 → 0.2.0 (ALTER EXTENSION backend_framework UPDATE).
-- Brings a 0.1.0 database to what a fresh 0.2.0 install makes: test/sh/upgrade.sh
-- compares the two schemas (pg_dump --schema-only) and the route table.
-- What changed: SECURITY DEFINER functions move to the NOLOGIN role
-- backend_definer and every function pins its search_path and is closed to
-- PUBLIC; tenant tables register only through enable_tenant_table; only
-- authenticated /api calls are metered; sign-up modes, invitations and a
-- per-address limit; plans for platform operators only; the console client's
-- redirect URIs come from the deployment setting alone; users change their
-- own credentials, admins reset; introspection by resource servers; the
-- public URLs and hosts are configuration, custom domains need approval;
-- api.handle_request and the router are C, routes name their handler
-- function and applications add their own (api.add_route); the notes
-- example left the extension (examples/notes/).
-- every tenant is an OpenID Provider (signing keys sealed with a KEK, id_token,
-- discovery, JWKS, logout, sessions and consents, JWT access tokens, resource
-- indicators) and the interop fixes of issue 12 (public clients registered
-- with the password grant before keep it registered but are refused it).

\echo Use "ALTER EXTENSION backend_framework UPDATE" to load this file. \quit

-- Roles -----------------------------------------------------------------------
DO $roles$
DECLARE m text;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'backend_definer') THEN
    CREATE ROLE backend_definer NOLOGIN BYPASSRLS;
  END IF;
  ALTER ROLE backend_definer NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION BYPASSRLS
    NOINHERIT PASSWORD NULL;
  FOR m IN SELECT r.rolname FROM pg_catalog.pg_auth_members a JOIN pg_catalog.pg_roles r ON r.oid = a.member
            WHERE a.roleid = 'backend_definer'::regrole LOOP
    EXECUTE format('REVOKE backend_definer FROM %I CASCADE', m);
  END LOOP;
  FOR m IN SELECT r.rolname FROM pg_catalog.pg_auth_members a JOIN pg_catalog.pg_roles r ON r.oid = a.roleid
            WHERE a.member = 'backend_definer'::regrole LOOP
    EXECUTE format('REVOKE %I FROM backend_definer CASCADE', m);
  END LOOP;
END
$roles$;
COMMENT ON ROLE backend_definer IS 'backend_framework: NOLOGIN owner of the SECURITY DEFINER functions; never a superuser, no members, only the privileges those functions need.';
GRANT USAGE ON SCHEMA tenancy, oauth, api, app TO backend_definer;

-- Table privileges --------------------------------------------------------------
REVOKE INSERT, DELETE ON tenancy.tenant_tables FROM backend_admin;
REVOKE UPDATE (plan) ON tenancy.tenants FROM backend_gateway, backend_app;

-- Constants (02_constants.sql, issue 14) ---------------------------------------
-- One place per number and fixed set; tables and functions below read them.
CREATE OR REPLACE FUNCTION oauth.scopes_supported() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT '{openid,email,profile,read,write,admin}'::text[]
$$;
COMMENT ON FUNCTION oauth.scopes_supported() IS 'Every OAuth scope, in the order the metadata documents (scopes_supported) and the consent page list them: openid, email, profile, read, write, admin.';

CREATE OR REPLACE FUNCTION oauth.api_scopes() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT '{admin,profile,read,write}'::text[]
$$;
COMMENT ON FUNCTION oauth.api_scopes() IS 'The scopes of the tenant''s API (admin, profile, read, write): what routes may require, the console client''s scope and an owner''s context without a token.';

CREATE OR REPLACE FUNCTION oauth.signing_algs() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT '{RS256,ES256}'::text[]
$$;
COMMENT ON FUNCTION oauth.signing_algs() IS 'The JWS algorithms of the signing keys (RS256, ES256): every tenant has keys of each; the first is the default of id_tokens and signs JWT access tokens.';

CREATE OR REPLACE FUNCTION tenancy._words(items text[], conjunction text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN cardinality(items) > 1
              THEN array_to_string(items[1:cardinality(items) - 1], ', ') || ' ' || conjunction || ' ' || items[cardinality(items)]
              ELSE items[1] END
$$;
COMMENT ON FUNCTION tenancy._words(text[], text) IS 'Internal: a list in words for a message ("a, b and c" with conjunction and).';

CREATE TYPE oauth.lifetimes AS (
  access_token integer, refresh_token integer, code integer, refresh_family integer,
  id_token integer, session integer, password_reset integer, invitation_max integer,
  code_kept integer, ttl_min integer, ttl_max integer, family_min integer, family_max integer);
COMMENT ON TYPE oauth.lifetimes IS 'What oauth.lifetimes() returns.';
CREATE OR REPLACE FUNCTION oauth.lifetimes() RETURNS oauth.lifetimes
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE l oauth.lifetimes;
BEGIN
  l.access_token := 3600;           -- an hour
  l.refresh_token := 2592000;       -- 30 days
  l.code := 60;                     -- a minute
  l.refresh_family := 7776000;      -- 90 days: how long one sign-in may be refreshed, however often
  l.id_token := 3600;
  l.session := 28800;               -- 8 hours: a sign-in on the authorize page (cookie bf_session)
  l.password_reset := 86400;        -- a day: a reset secret from the time the mail sender took it
  l.invitation_max := 7776000;      -- 90 days: the longest a sign-up invitation may be valid
  l.code_kept := 86400;             -- a day: an expired code stays so long, so that its replay is still recognised
  l.ttl_min := 10;
  l.ttl_max := 31536000;            -- a year
  l.family_min := 60;
  l.family_max := 315360000;        -- ten years
  RETURN l;
END $$;
COMMENT ON FUNCTION oauth.lifetimes() IS 'Lifetimes in seconds: the defaults of the tenant settings access_token_ttl (access_token), refresh_token_ttl (refresh_token), code_ttl (code) and refresh_token_max_lifetime (refresh_family); id_token; session (sign-in on the authorize page); password_reset (reset secret); invitation_max (longest sign-up invitation); code_kept (how long after expiry a code is kept, so that its replay is recognised); the bounds of the *_ttl settings (ttl_min, ttl_max) and of refresh_token_max_lifetime (family_min, family_max).';

CREATE TYPE tenancy.bounds AS (
  name_max integer, email_max integer, password_max_bytes integer, page_size integer,
  page_max integer, uri_max integer, uris_max integer, contacts_max integer, resources_max integer,
  client_id_min integer, client_id_max integer, nonce_max integer, purge_batch integer,
  purge_batch_max integer, mail_batch integer, mail_batch_max integer);
COMMENT ON TYPE tenancy.bounds IS 'What tenancy.bounds() returns.';
CREATE OR REPLACE FUNCTION tenancy.bounds() RETURNS tenancy.bounds
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE b tenancy.bounds;
BEGIN
  b.name_max := 200;                -- tenant names, display names, client names, invitation notes
  b.email_max := 254;               -- RFC 5321's longest path
  b.password_max_bytes := 72;       -- all bcrypt reads: longer is refused, never truncated
  b.page_size := 50;                -- a page of a list when the caller names no limit
  b.page_max := 200;
  b.uri_max := 2000;                -- redirect URIs, metadata URLs, resource indicators
  b.uris_max := 20;                 -- redirect_uris and post_logout_redirect_uris of a client
  b.contacts_max := 10;
  b.resources_max := 50;            -- the tenant setting resource_indicators
  b.client_id_min := 3;             -- a client_id an admin chooses
  b.client_id_max := 100;
  b.nonce_max := 512;               -- OpenID Connect nonce of an authorization request
  b.purge_batch := 10000;           -- rows per table one oauth.purge_expired() call deletes by default
  b.purge_batch_max := 1000000;
  b.mail_batch := 100;              -- resets one tenancy.take_password_reset_mail() call takes by default
  b.mail_batch_max := 1000;
  RETURN b;
END $$;
COMMENT ON FUNCTION tenancy.bounds() IS 'Lengths and counts inputs are held to: names (tenant, display, client, invitation note), e-mail addresses, passwords (bytes), list pages (default and largest), URIs and how many a client registers, contacts, resource indicators, chosen client_ids, nonces; rows per call of oauth.purge_expired and tenancy.take_password_reset_mail (default and largest).';

CREATE TYPE tenancy.patterns AS (
  slug text, domain text, uuid text);
COMMENT ON TYPE tenancy.patterns IS 'What tenancy.patterns() returns.';
CREATE OR REPLACE FUNCTION tenancy.patterns() RETURNS tenancy.patterns
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE p tenancy.patterns;
BEGIN
  p.slug := '^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$';
  p.domain := '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$';
  p.uuid := '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
  RETURN p;
END $$;
COMMENT ON FUNCTION tenancy.patterns() IS 'Regular expressions: slug (a tenant slug: 3 to 63 lower-case letters, digits and hyphens, a letter or digit at both ends), domain (a custom domain: lower-case DNS labels and a top-level domain), uuid (a uuid as text; match it with ~*).';

CREATE TYPE tenancy.throttling AS (
  login_per_address integer, login_per_email integer, login_max_wait integer, login_memory integer,
  signup_window integer);
COMMENT ON TYPE tenancy.throttling IS 'What tenancy.throttling() returns.';
CREATE OR REPLACE FUNCTION tenancy.throttling() RETURNS tenancy.throttling
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE t tenancy.throttling;
BEGIN
  t.login_per_address := 5;
  t.login_per_email := 20;
  t.login_max_wait := 900;          -- 15 minutes; never a lock-out
  t.login_memory := 86400;          -- a day
  t.signup_window := 3600;          -- an hour
  RETURN t;
END $$;
COMMENT ON FUNCTION tenancy.throttling() IS 'Throttling in failures and seconds: password checks back off 2^(n - threshold) s from login_per_address failures per client address and login_per_email per e-mail address, at most login_max_wait, counters forgotten login_memory after the last failure; sign-ups per client address are counted over signup_window (limit: backend_framework.signup_per_hour).';

CREATE OR REPLACE FUNCTION oauth._all_scopes() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT ARRAY(SELECT s FROM unnest(oauth.scopes_supported()) s ORDER BY s COLLATE "C")
$$;
COMMENT ON FUNCTION oauth._all_scopes() IS 'Internal: every scope as a sorted array.';

CREATE OR REPLACE FUNCTION oauth._unknown_scope() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT 'unknown scope: the scopes are ' || tenancy._words(oauth.scopes_supported(), 'and')
$$;
COMMENT ON FUNCTION oauth._unknown_scope() IS 'Internal: the error description of an unknown scope, naming the scopes.';

CREATE OR REPLACE FUNCTION oauth._client_id_ok(id text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT id ~ '^[A-Za-z0-9._~-]+$' AND length(id) BETWEEN (tenancy.bounds()).client_id_min AND (tenancy.bounds()).client_id_max
$$;
COMMENT ON FUNCTION oauth._client_id_ok(text) IS 'Internal: whether a text is a valid client_id (letters, digits, . _ ~ -; tenancy.bounds().client_id_min to client_id_max characters).';

-- HTTP answers the handlers below share.
CREATE OR REPLACE FUNCTION api.no_content(p_headers jsonb DEFAULT '{}') RETURNS api.response
LANGUAGE sql IMMUTABLE AS $$
  SELECT ROW(204, coalesce(p_headers, '{}'), NULL)::api.response
$$;
COMMENT ON FUNCTION api.no_content(jsonb) IS 'A 204 answer without body.';

CREATE OR REPLACE FUNCTION api.public_headers(p_vary text DEFAULT 'Host, X-Tenant') RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object('Cache-Control', 'public, max-age=300', 'Access-Control-Allow-Origin', '*', 'Vary', p_vary)
$$;
COMMENT ON FUNCTION api.public_headers(text) IS 'Cache-Control (public, a few minutes), Access-Control-Allow-Origin * and Vary of the public documents.';

-- New tables --------------------------------------------------------------------
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
SELECT pg_catalog.pg_extension_config_dump('tenancy.invitations', '');

CREATE TABLE tenancy.signup_attempts (
  client_addr  text PRIMARY KEY,
  window_start timestamptz NOT NULL DEFAULT now(),
  attempts     integer NOT NULL DEFAULT 0
);
COMMENT ON TABLE tenancy.signup_attempts IS 'Sign-up attempts per client address in the current hour-long window. Platform table written only by tenancy.signup_throttle.';
ALTER TABLE tenancy.signup_attempts ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenancy.signup_attempts FORCE ROW LEVEL SECURITY;
SELECT pg_catalog.pg_extension_config_dump('tenancy.signup_attempts', '');

-- Custom domains wait for a platform operator's approval: 0.1.0's too
-- (approve them with tenancy.approve_custom_domain after the update).
ALTER TABLE tenancy.tenants ADD COLUMN custom_domain_status text CHECK (custom_domain_status IN ('pending', 'approved'));
UPDATE tenancy.tenants SET custom_domain_status = 'pending' WHERE custom_domain IS NOT NULL;
ALTER TABLE tenancy.tenants ADD CHECK ((custom_domain IS NULL) = (custom_domain_status IS NULL));
DROP INDEX tenancy.tenants_custom_domain_key;
-- Only an approved domain is unique: a pending claim blocks nobody, so a
-- tenant cannot squat on another's domain by asking first.
CREATE UNIQUE INDEX tenants_custom_domain_key ON tenancy.tenants (custom_domain) WHERE custom_domain_status = 'approved';
COMMENT ON COLUMN tenancy.tenants.custom_domain IS 'Optional host name that identifies the tenant once a platform operator approved it (lower case; unique among approved ones; never a host of the platform).';
COMMENT ON COLUMN tenancy.tenants.custom_domain_status IS 'pending (set by the tenant, identifies nothing yet) or approved (tenancy.approve_custom_domain); NULL without a custom domain. Any change of the domain makes it pending again.';
ALTER TYPE tenancy.resolved_tenant ADD ATTRIBUTE by_host boolean;

-- Introspection only by resource servers (or a token's own client).
ALTER TABLE oauth.clients ADD COLUMN resource_server boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN oauth.clients.resource_server IS 'True for a resource server (API): it may introspect every token of its tenant. Other clients introspect only their own tokens. Set only by admins (create_client, update_client), never by dynamic registration.';
GRANT SELECT (resource_server), INSERT (resource_server), UPDATE (resource_server)
  ON oauth.clients TO backend_gateway, backend_app, backend_admin;

-- Users change their own e-mail and password only (tenancy.change_credentials);
-- admins reset (tenancy.password_resets).
REVOKE UPDATE (email, password_hash) ON tenancy.users FROM backend_gateway, backend_app, backend_admin;
CREATE TABLE tenancy.password_resets (
  tenant_id    uuid NOT NULL REFERENCES tenancy.tenants(id) ON DELETE CASCADE,
  id           uuid NOT NULL DEFAULT gen_random_uuid(),
  user_id      uuid NOT NULL,
  requested_by uuid,
  requested_at timestamptz NOT NULL DEFAULT now(),
  token_hash   bytea CHECK (octet_length(token_hash) = 32),
  delivered_at timestamptz,
  expires_at   timestamptz,
  closed_at    timestamptz,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES tenancy.users (tenant_id, id) ON DELETE CASCADE,
  CHECK ((token_hash IS NULL) = (delivered_at IS NULL) AND (delivered_at IS NULL) = (expires_at IS NULL))
);
CREATE UNIQUE INDEX password_resets_token_key ON tenancy.password_resets (tenant_id, token_hash);
CREATE INDEX password_resets_user_idx ON tenancy.password_resets (tenant_id, user_id) WHERE closed_at IS NULL;
CREATE INDEX password_resets_pending_idx ON tenancy.password_resets (requested_at)
  WHERE delivered_at IS NULL AND closed_at IS NULL;
COMMENT ON TABLE tenancy.password_resets IS 'Password resets triggered by admins: pending until the platform''s mail sender takes the one-time secret (tenancy.take_password_reset_mail; only its SHA-256 digest is stored), valid one day from then, closed when redeemed or superseded. No application role may read it.';
COMMENT ON COLUMN tenancy.password_resets.requested_by IS 'The admin or owner who triggered the reset (NULL: a platform operator).';
COMMENT ON COLUMN tenancy.password_resets.token_hash IS 'SHA-256 of the reset secret (bfpr_...), set when the mail sender takes it; NULL while pending.';
COMMENT ON COLUMN tenancy.password_resets.closed_at IS 'When the secret was redeemed, or the request superseded by another password change or reset.';
ALTER TABLE tenancy.password_resets ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenancy.password_resets FORCE ROW LEVEL SECURITY;
-- No policy and no privileges: only the definer functions below touch it.
INSERT INTO tenancy.tenant_tables (table_name, builtin) VALUES ('tenancy.password_resets', true);
SELECT pg_catalog.pg_extension_config_dump('tenancy.password_resets', '');

-- A user's tokens by user: revocation of all of them is one index scan.
CREATE INDEX tokens_user_idx ON oauth.tokens (tenant_id, user_id) WHERE user_id IS NOT NULL;

-- Routes name their handler function; application routes (api.add_route)
-- are the database's own rows and are dumped. The built-in rows are loaded
-- again below.
DELETE FROM api.routes;
ALTER TABLE api.routes ALTER COLUMN handler TYPE regprocedure USING handler::regprocedure;
ALTER TABLE api.routes ADD COLUMN builtin boolean NOT NULL DEFAULT false;
COMMENT ON TABLE api.routes IS 'HTTP routes: pattern, method, handler function, tenant and auth needs, documentation. Built-in rows come with the extension; application rows are added with api.add_route and survive pg_dump. Read by api.handle_request (cached per backend) and api.openapi().';
SELECT pg_catalog.pg_extension_config_dump('api.routes', 'WHERE NOT builtin');

-- OpenID Connect (issue 12) -----------------------------------------------------------
-- Scopes openid and email (oauth.scopes_supported(), see the constraints
-- below); OpenID Connect and RFC 9068 client metadata.
ALTER TABLE oauth.clients
  ADD COLUMN access_token_format text NOT NULL DEFAULT 'opaque' CHECK (access_token_format IN ('opaque', 'jwt')),
  ADD COLUMN id_token_signed_response_alg text NOT NULL DEFAULT (oauth.signing_algs())[1]
    CHECK (id_token_signed_response_alg = ANY (oauth.signing_algs())),
  ADD COLUMN post_logout_redirect_uris text[] NOT NULL DEFAULT '{}',
  ADD COLUMN application_type text NOT NULL DEFAULT 'web' CHECK (application_type IN ('web', 'native'));
COMMENT ON COLUMN oauth.clients.access_token_format IS 'opaque (bfat_..., default) or jwt (RFC 9068, signed with the tenant''s keys); both are stored as digests and revocable.';
COMMENT ON COLUMN oauth.clients.id_token_signed_response_alg IS 'Algorithm of this client''s id_tokens: one of oauth.signing_algs(), the first by default (RS256).';
COMMENT ON COLUMN oauth.clients.post_logout_redirect_uris IS 'Where RP-initiated logout may return to (exact match).';
COMMENT ON COLUMN oauth.clients.application_type IS 'web or native (OpenID Connect Registration); native public clients may use private-use URI scheme redirects (RFC 8252).';
GRANT SELECT (access_token_format, id_token_signed_response_alg, post_logout_redirect_uris, application_type),
      INSERT (access_token_format, id_token_signed_response_alg, post_logout_redirect_uris, application_type),
      UPDATE (access_token_format, id_token_signed_response_alg, post_logout_redirect_uris, application_type)
  ON oauth.clients TO backend_gateway, backend_app, backend_admin;
ALTER TABLE oauth.authorization_codes
  ADD COLUMN nonce text, ADD COLUMN auth_time timestamptz, ADD COLUMN session_id uuid, ADD COLUMN resource text;
COMMENT ON COLUMN oauth.authorization_codes.nonce IS 'OpenID Connect nonce of the request, repeated in the id_token.';
COMMENT ON COLUMN oauth.authorization_codes.auth_time IS 'When the user authenticated (the sign-in session''s start): the id_token''s auth_time.';
COMMENT ON COLUMN oauth.authorization_codes.session_id IS 'The sign-in session (oauth.login_sessions.id): the id_token''s sid.';
COMMENT ON COLUMN oauth.authorization_codes.resource IS 'Resource indicator (RFC 8707) of the request, NULL for the tenant''s own API.';
ALTER TABLE oauth.tokens
  ADD COLUMN auth_time timestamptz, ADD COLUMN audience text, ADD COLUMN family_expires_at timestamptz, ADD COLUMN kid text;
COMMENT ON COLUMN oauth.tokens.auth_time IS 'When the user authenticated for this grant (id_tokens of refreshes repeat it).';
COMMENT ON COLUMN oauth.tokens.audience IS 'Resource indicator (RFC 8707) the token is for; NULL: the tenant''s own API. tenancy.authenticate refuses tokens for other resources.';
COMMENT ON COLUMN oauth.tokens.family_expires_at IS 'Refresh tokens: absolute end of the grant (tenant setting refresh_token_max_lifetime); rotation never goes beyond it.';
COMMENT ON COLUMN oauth.tokens.kid IS 'JWT access tokens: the signing key (its kid); NULL for opaque tokens.';
GRANT SELECT (auth_time, audience, family_expires_at, kid) ON oauth.tokens TO backend_gateway, backend_app, backend_admin;
ALTER TABLE oauth.login_sessions ADD COLUMN id uuid NOT NULL DEFAULT gen_random_uuid();
CREATE UNIQUE INDEX login_sessions_id_key ON oauth.login_sessions (tenant_id, id);
COMMENT ON COLUMN oauth.login_sessions.id IS 'Public id of the session (the id_token''s sid; what a user lists and revokes); not a secret.';
GRANT SELECT (id) ON oauth.login_sessions TO backend_gateway, backend_app, backend_admin;

-- The tenants' signing keys (private keys sealed with the key-encryption key).
CREATE TABLE oauth.signing_keys (
  tenant_id       uuid NOT NULL REFERENCES tenancy.tenants(id) ON DELETE CASCADE,
  kid             text NOT NULL CHECK (kid ~ '^[A-Za-z0-9_-]{43}$'),
  alg             text NOT NULL CHECK (alg = ANY (oauth.signing_algs())),
  state           text NOT NULL CHECK (state IN ('next', 'active', 'retired')),
  public_jwk      jsonb NOT NULL,
  public_der      bytea NOT NULL,
  private_key     bytea NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  activated_at    timestamptz,
  retired_at      timestamptz,
  published_until timestamptz,
  PRIMARY KEY (tenant_id, kid),
  CHECK ((state = 'retired') = (published_until IS NOT NULL))
);
CREATE UNIQUE INDEX signing_keys_active_key ON oauth.signing_keys (tenant_id, alg) WHERE state = 'active';
CREATE UNIQUE INDEX signing_keys_next_key ON oauth.signing_keys (tenant_id, alg) WHERE state = 'next';
COMMENT ON TABLE oauth.signing_keys IS 'Signing keys of each tenant (RS256, ES256): next (published, not yet signing), active (signing), retired (published until published_until). private_key is AES-256-GCM sealed with the key-encryption key (never in clear at rest, nor in a dump); kid is the RFC 7638 thumbprint.';
COMMENT ON COLUMN oauth.signing_keys.private_key IS 'The private key (DER), AES-256-GCM encrypted with the key-encryption key and the kid as associated data: "BFK1" | nonce | ciphertext | tag. Only extension/src/keys.c decrypts it.';
COMMENT ON COLUMN oauth.signing_keys.published_until IS 'Retired keys: they stay in JWKS until then (the expiry of the last token they signed).';
ALTER TABLE oauth.signing_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE oauth.signing_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY signing_keys_admin ON oauth.signing_keys FOR SELECT
  USING (tenant_id = (SELECT tenancy.current_tenant_id()) AND (SELECT tenancy.is_tenant_admin()));
INSERT INTO tenancy.tenant_tables (table_name, builtin) VALUES ('oauth.signing_keys', true);
SELECT pg_catalog.pg_extension_config_dump('oauth.signing_keys', '');

-- The decision of the one client authentication (oauth.authenticate_client).
CREATE TYPE oauth.client_authentication AS (
  error               text,      -- NULL when authenticated, else invalid_client or invalid_request (RFC 6749 section 5.2)
  error_description   text,
  client_id           text,
  auth_method         text,      -- the registered method: client_secret_basic, client_secret_post or none
  grant_types         text[],
  scope               text,      -- the client's registered scope (canonical)
  access_token_ttl    integer,   -- the client's own token lifetimes (NULL: the tenant's; oauth._ttl)
  refresh_token_ttl   integer,
  resource_server     boolean,   -- may introspect every token of the tenant
  access_token_format text,      -- opaque or jwt
  tenant_settings     jsonb      -- the tenant's settings (lifetimes: oauth._ttl)
);
COMMENT ON TYPE oauth.client_authentication IS 'The decision of oauth.authenticate_client: error and error_description (RFC 6749 section 5.2) when refused, else the authenticated client''s id, method, grant types, scope, own token lifetimes, resource_server, access_token_format, and its tenant''s settings.';

-- Constraints read their numbers, patterns and scopes from one place (issue 14).
ALTER TABLE tenancy.tenants
  DROP CONSTRAINT tenants_slug_check, ADD CONSTRAINT tenants_slug_check CHECK (slug ~ (tenancy.patterns()).slug),
  DROP CONSTRAINT tenants_name_check,
  ADD CONSTRAINT tenants_name_check CHECK (length(btrim(name)) BETWEEN 1 AND (tenancy.bounds()).name_max),
  DROP CONSTRAINT tenants_custom_domain_check,
  ADD CONSTRAINT tenants_custom_domain_check CHECK (custom_domain ~ (tenancy.patterns()).domain);
ALTER TABLE tenancy.users
  DROP CONSTRAINT users_email_check,
  ADD CONSTRAINT users_email_check
    CHECK (length(email) <= (tenancy.bounds()).email_max AND email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
  DROP CONSTRAINT users_display_name_check,
  ADD CONSTRAINT users_display_name_check CHECK (length(display_name) <= (tenancy.bounds()).name_max);
ALTER TABLE oauth.clients
  DROP CONSTRAINT clients_client_id_check, ADD CONSTRAINT clients_client_id_check CHECK (oauth._client_id_ok(client_id)),
  DROP CONSTRAINT clients_client_name_check,
  ADD CONSTRAINT clients_client_name_check CHECK (length(client_name) BETWEEN 1 AND (tenancy.bounds()).name_max),
  DROP CONSTRAINT clients_scope_check,
  ADD CONSTRAINT clients_scope_check CHECK (scope <> '' AND string_to_array(scope, ' ') <@ oauth.scopes_supported()),
  DROP CONSTRAINT clients_access_token_ttl_check,
  ADD CONSTRAINT clients_access_token_ttl_check
    CHECK (access_token_ttl BETWEEN (oauth.lifetimes()).ttl_min AND (oauth.lifetimes()).ttl_max),
  DROP CONSTRAINT clients_refresh_token_ttl_check,
  ADD CONSTRAINT clients_refresh_token_ttl_check
    CHECK (refresh_token_ttl BETWEEN (oauth.lifetimes()).ttl_min AND (oauth.lifetimes()).ttl_max);
COMMENT ON COLUMN oauth.clients.access_token_ttl IS 'Access token lifetime in seconds for this client (NULL: the tenant''s access_token_ttl setting, else oauth.lifetimes().access_token).';
COMMENT ON COLUMN oauth.clients.refresh_token_ttl IS 'Refresh token lifetime in seconds for this client (NULL: the tenant''s refresh_token_ttl setting, else oauth.lifetimes().refresh_token).';

-- Data ----------------------------------------------------------------------------
-- Console clients kept 0.1.0's hard-coded localhost callbacks as their own
-- redirect URIs: from now on only backend_framework.console_redirect_uris.
UPDATE oauth.clients SET redirect_uris = '{}'
 WHERE builtin AND redirect_uris = ARRAY['http://localhost:8080/console/callback.html',
                                         'http://127.0.0.1:8080/console/callback.html'];
-- Application tables enabled before: the storage measurement now reads them
-- as backend_definer.
DO $tables$
DECLARE t record;
BEGIN
  FOR t IN SELECT c.oid::regclass AS rel, n.nspname FROM tenancy.tenant_tables x
             JOIN pg_catalog.pg_class c ON c.oid = x.table_name JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE NOT x.builtin LOOP
    EXECUTE format('GRANT SELECT ON %s TO backend_definer', t.rel);
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO backend_definer', t.nspname);
  END LOOP;
END
$tables$;

-- Functions -------------------------------------------------------------------------
-- Issue 11: the router and handle_request are C; routes name their handler
-- function; the notes example left the extension (examples/notes/).
DROP FUNCTION api.dispatch(text, api.request);
DROP FUNCTION api.find_route(text, text);
DROP FUNCTION api.route_map();
DROP FUNCTION api.routes_changed();
DROP FUNCTION api.h_notes_list(api.request);
DROP FUNCTION api.h_note_create(api.request);
DROP FUNCTION api.h_note_get(api.request);
DROP FUNCTION api.h_note_update(api.request);
DROP FUNCTION api.h_note_delete(api.request);
DROP FUNCTION api.note_fields(api.request, boolean);
DROP FUNCTION app.note_json(app.notes);
-- Issue 11, item 3: API calls are counted in shared memory and written by the
-- extension's worker (C); tenant_stats reads written + counted calls.
DROP FUNCTION tenancy.count_api_call(uuid);
-- Counts one API call of a tenant, refusing it (TB002, HTTP 429) once the
-- month's limit is reached. In C (meter.c): the count goes to a counter in
-- shared memory, and the database's background worker (worker.c) adds the
-- committed counts to tenancy.api_usage every second and when the server
-- stops, so a call writes nothing itself. The limit check reads the table
-- plus the counters, and a running transaction's count is seen by the others
-- (concurrent calls cannot pass the limit together); a rolled-back call is
-- not counted. A crash loses at most the last second's counts and never
-- counts one twice. Until the worker runs (the first calls of a database)
-- the count is written at once, on the backend's shard (its pid picks one
-- of BF_USAGE_SHARDS, meter.c).
-- The lookups run as backend_definer; EXECUTE is the caller's privilege.
CREATE FUNCTION tenancy.count_api_call(p_tenant uuid) RETURNS bigint
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'bf_count_api_call';
COMMENT ON FUNCTION tenancy.count_api_call(uuid) IS 'Counts one API call of a tenant this month (in shared memory, written to tenancy.api_usage every second by the extension''s worker); returns the month''s calls including it; TB002 (HTTP 429) when the plan''s monthly limit is reached.';
REVOKE ALL ON FUNCTION tenancy.count_api_call(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.count_api_call(uuid) TO backend_gateway, backend_admin;

-- This month's calls of a tenant: those written to tenancy.api_usage plus
-- the committed ones the worker has not written yet.
CREATE FUNCTION tenancy.api_calls_this_month(p_tenant uuid) RETURNS bigint
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'bf_api_calls_this_month';
COMMENT ON FUNCTION tenancy.api_calls_this_month(uuid) IS 'API calls of a tenant this month (UTC): written to tenancy.api_usage plus counted in shared memory and not written yet (platform operators; tenant_stats for the tenant''s admins).';
REVOKE ALL ON FUNCTION tenancy.api_calls_this_month(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.api_calls_this_month(uuid) TO backend_admin;

-- Users, API calls this month and storage, each against its limit.
CREATE OR REPLACE FUNCTION tenancy.tenant_stats(p_id uuid DEFAULT NULL) RETURNS jsonb
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
    'api_calls', jsonb_build_object('used', tenancy.api_calls_this_month(t), 'limit', l.max_api_calls_per_month),
    'storage_bytes', jsonb_build_object('used', tenancy.measure_storage(t), 'limit', l.max_storage_bytes));
END $$;
REVOKE ALL ON FUNCTION tenancy.tenant_stats(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.tenant_stats(uuid) TO backend_gateway, backend_app, backend_admin;
COMMENT ON FUNCTION tenancy.tenant_stats(uuid) IS 'Usage of a tenant against its limits: users, API calls this month, storage bytes (admins and owners of the tenant, or backend_admin). Limit null = unlimited.';
-- The extension's worker runs the purge (backend_framework.purge_interval).
COMMENT ON FUNCTION oauth.purge_expired(integer) IS 'Deletes expired OAuth rows, at most batch rows per table per call (default and largest: tenancy.bounds().purge_batch, purge_batch_max) (each lookup uses the expiry index): tokens past expires_at, authorization codes oauth.lifetimes().code_kept after expiry (replays are still detected until then), login sessions past expiry, failed-login counters when forgotten (tenancy.throttling().login_memory after the last failure). Returns the number of rows deleted; call again while it returns a lot. The extension''s background worker runs it every backend_framework.purge_interval seconds (0 = never); it can also be called by hand, as a superuser or a member of backend_admin.';
-- The tenant cache of the C request path (tenant.c) and its invalidation.
CREATE FUNCTION tenancy._tenants_changed() RETURNS trigger
  LANGUAGE c AS 'MODULE_PATHNAME', 'bf_tenants_changed';
COMMENT ON FUNCTION tenancy._tenants_changed() IS 'Trigger: invalidates the tenant cache of every backend when tenancy.tenants changes.';
REVOKE ALL ON FUNCTION tenancy._tenants_changed() FROM PUBLIC;
-- Notes written with 0.1.0 stay, as the application's own table (load
-- examples/notes/notes.sql to serve them again); an empty example goes.
DO $notes$
BEGIN
  IF EXISTS (SELECT 1 FROM app.notes) THEN
    ALTER EXTENSION backend_framework DROP TABLE app.notes;
    ALTER EXTENSION backend_framework DROP SCHEMA app;
    UPDATE tenancy.tenant_tables SET builtin = false WHERE table_name = 'app.notes'::regclass;
    RAISE NOTICE 'app.notes is kept as an application table: load examples/notes/notes.sql to serve it again';
  ELSE
    DELETE FROM tenancy.tenant_tables WHERE table_name = 'app.notes'::regclass;
    DROP TABLE app.notes;
    DROP SCHEMA app;
  END IF;
END
$notes$;
DROP FUNCTION api.tenant_count();
DROP FUNCTION api.base_url(jsonb);
DROP FUNCTION tenancy.register_tenant(text, text, text, text, text);
DROP FUNCTION tenancy.update_user(uuid, text, text, text, text);
-- OpenID Connect: new signatures (issuer of the token endpoint, issue options, request fields).
DROP FUNCTION oauth.token_endpoint(jsonb, text, text);
DROP FUNCTION oauth._issue(uuid, text, uuid, text, uuid, integer, integer, text);
DROP FUNCTION oauth._authorize_request(uuid, jsonb);
-- Issue 11 (one copy of each rule): one client authentication
-- (oauth.authenticate_client); the OAuth endpoints return decisions that
-- api.* turns into HTTP (status, headers, pages), so their result types
-- change and the page, cookie and redirect helpers are api.* now.
DROP FUNCTION oauth._client_auth(uuid, jsonb, text);
DROP FUNCTION oauth._error(integer, text, text);
DROP FUNCTION oauth._form_precheck(jsonb);
DROP FUNCTION oauth.revoke_endpoint(jsonb, text);
DROP FUNCTION oauth.introspect_endpoint(jsonb, text, text);
DROP FUNCTION oauth.register_endpoint(text, text, jsonb, text, text);
DROP FUNCTION oauth.authorize_endpoint(text, jsonb, jsonb, text, text, boolean);
DROP FUNCTION api.oauth_answer(integer, jsonb, api.request);
DROP FUNCTION oauth._page(text, text, text, text);
DROP FUNCTION oauth._cookie(text, text, text, boolean, integer);
DROP FUNCTION oauth._set_cookie_header(text[]);
DROP FUNCTION oauth._redirect_to(text, text[], text[]);
DROP FUNCTION oauth._scope_words(text, text);
DROP FUNCTION oauth._on_color(text);
DROP FUNCTION oauth._hidden_fields(jsonb);
DROP FUNCTION oauth._scope_list(text[], text);
DROP FUNCTION oauth._issuer_path(text);

CREATE OR REPLACE FUNCTION tenancy.is_platform_admin() RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT pg_catalog.pg_has_role(session_user, 'backend_admin', 'MEMBER')
     AND (pg_catalog.current_setting('role') = 'none'
          OR pg_catalog.pg_has_role(pg_catalog.current_setting('role')::name, 'backend_admin', 'MEMBER'))
$$;
COMMENT ON FUNCTION tenancy.is_platform_admin() IS 'True when the login and the role it set (SET ROLE), if any, are superusers or members of backend_admin.';

CREATE OR REPLACE FUNCTION tenancy.tenant_limits(p_tenant uuid,
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

CREATE OR REPLACE FUNCTION tenancy.create_invitation(note text DEFAULT NULL, valid_for interval DEFAULT '7 days') RETURNS text
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

CREATE OR REPLACE FUNCTION tenancy.signup_throttle(p_addr text) RETURNS void
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

CREATE OR REPLACE FUNCTION tenancy.register_tenant(slug text, name text, owner_email text, owner_password text,
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

CREATE OR REPLACE FUNCTION tenancy.signup_policy() RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT jsonb_build_object('signup', current_setting('backend_framework.signup'),
                            'plan', current_setting('backend_framework.default_plan'))
$$;
COMMENT ON FUNCTION tenancy.signup_policy() IS 'Sign-up mode (open, invite, closed) and the plan new organizations get.';

CREATE OR REPLACE FUNCTION tenancy._tenants_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF (NEW.status IS DISTINCT FROM OLD.status OR NEW.limit_overrides IS DISTINCT FROM OLD.limit_overrides
      OR NEW.slug IS DISTINCT FROM OLD.slug OR NEW.plan IS DISTINCT FROM OLD.plan) AND NOT tenancy.is_platform_admin() THEN
    RAISE EXCEPTION 'only a platform operator may change plan, status, slug or limits' USING ERRCODE = '42501';
  END IF;
  RETURN NEW;
END $$;
COMMENT ON FUNCTION tenancy._tenants_guard() IS 'Trigger: plan, status, slug and limit changes need a platform operator (backend_admin).';

CREATE OR REPLACE FUNCTION tenancy.update_tenant(p_id uuid, p_name text DEFAULT NULL, p_custom_domain text DEFAULT NULL,
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

CREATE OR REPLACE FUNCTION tenancy.validate_settings(p jsonb) RETURNS void
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

CREATE OR REPLACE FUNCTION tenancy._default_port(scheme text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE scheme WHEN 'https' THEN 443 ELSE 80 END
$$;
COMMENT ON FUNCTION tenancy._default_port(text) IS 'Internal: 443 for https, else 80.';

CREATE OR REPLACE FUNCTION tenancy._origin(scheme text, host text, port integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT scheme || '://' || host || CASE WHEN port IS NULL OR port = tenancy._default_port(scheme) THEN '' ELSE ':' || port END
$$;
COMMENT ON FUNCTION tenancy._origin(text, text, integer) IS 'Internal: scheme://host[:port] without the scheme''s default port.';

CREATE OR REPLACE FUNCTION tenancy.public_urls(OUT ord integer, OUT url text, OUT scheme text, OUT host text, OUT port integer)
RETURNS SETOF record
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT e.ord::integer, tenancy._origin(m[1], m[2], p.port), m[1], m[2], p.port
    FROM unnest(string_to_array(current_setting('backend_framework.public_urls'), ',')) WITH ORDINALITY e(v, ord),
         LATERAL regexp_match(lower(btrim(e.v)), '^(https?)://([a-z0-9.-]+|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?/?$') m,
         LATERAL (SELECT coalesce(m[3]::integer, tenancy._default_port(m[1])) AS port) p
   WHERE m IS NOT NULL
   ORDER BY e.ord
$$;
COMMENT ON FUNCTION tenancy.public_urls() IS 'backend_framework.public_urls parsed: position, normalised URL (lower case, no default port, no trailing slash), scheme, host, port (default port filled in).';

CREATE OR REPLACE FUNCTION tenancy.is_platform_host(p_host text) RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  base text := lower(current_setting('backend_framework.base_domain'));
  h text := lower(btrim(p_host, ' .'));
BEGIN
  RETURN (base <> '' AND (h = base OR right(h, length(base) + 1) = '.' || base))
      OR EXISTS (SELECT 1 FROM tenancy.public_urls() u WHERE u.host = h);
END $$;
COMMENT ON FUNCTION tenancy.is_platform_host(text) IS 'True for the platform''s own hosts: base_domain, its subdomains, and the hosts of backend_framework.public_urls. They never identify a tenant by custom domain.';

CREATE OR REPLACE FUNCTION tenancy._custom_domain_pending() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF TG_OP = 'INSERT' OR NEW.custom_domain IS DISTINCT FROM OLD.custom_domain THEN
    IF NEW.custom_domain IS NOT NULL AND tenancy.is_platform_host(NEW.custom_domain) THEN
      RAISE EXCEPTION 'custom domain "%" is a host of the platform', NEW.custom_domain USING ERRCODE = '22023',
        DETAIL = 'The base domain, its subdomains and the public URLs of the deployment cannot be a tenant''s custom domain.';
    END IF;
    NEW.custom_domain_status := CASE WHEN NEW.custom_domain IS NOT NULL THEN 'pending' END;
  END IF;
  RETURN NEW;
END $$;
COMMENT ON FUNCTION tenancy._custom_domain_pending() IS 'Trigger: a new or changed custom domain is pending until approved; the platform''s own hosts are refused (22023).';
REVOKE ALL ON FUNCTION tenancy._custom_domain_pending() FROM PUBLIC;

CREATE OR REPLACE FUNCTION tenancy._tenant_for_domain_change(p_tenant text, p_domain text) RETURNS tenancy.tenants
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t tenancy.tenants;
  dom text := lower(btrim(p_domain));
BEGIN
  IF p_tenant ~* (tenancy.patterns()).uuid THEN
    SELECT * INTO t FROM tenancy.tenants WHERE id = p_tenant::uuid FOR UPDATE;
  ELSE
    SELECT * INTO t FROM tenancy.tenants WHERE slug = lower(p_tenant) FOR UPDATE;
  END IF;
  IF t.id IS NULL THEN
    RAISE EXCEPTION 'tenant not found' USING ERRCODE = 'P0002';
  END IF;
  IF t.custom_domain IS DISTINCT FROM dom THEN
    RAISE EXCEPTION 'tenant "%" does not ask for custom domain "%"', t.slug, dom USING ERRCODE = '22023',
      DETAIL = coalesce('It asks for "' || t.custom_domain || '".', 'It has no custom domain.');
  END IF;
  RETURN t;
END $$;
COMMENT ON FUNCTION tenancy._tenant_for_domain_change(text, text) IS 'Internal: the tenant (slug or id) locked for an operator''s custom-domain decision; P0002 when unknown, 22023 when it asks for another domain than the one reviewed.';
REVOKE ALL ON FUNCTION tenancy._tenant_for_domain_change(text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION tenancy.approve_custom_domain(p_tenant text, p_domain text) RETURNS tenancy.tenants
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE t tenancy.tenants := tenancy._tenant_for_domain_change(p_tenant, p_domain);
BEGIN
  IF tenancy.is_platform_host(t.custom_domain) THEN
    RAISE EXCEPTION 'custom domain "%" is a host of the platform', t.custom_domain USING ERRCODE = '22023';
  END IF;
  UPDATE tenancy.tenants SET custom_domain_status = 'approved' WHERE id = t.id RETURNING * INTO t;
  RETURN t;
EXCEPTION WHEN unique_violation THEN
  RAISE EXCEPTION 'custom domain "%" is already approved for another tenant', lower(btrim(p_domain)) USING ERRCODE = '23505';
END $$;
COMMENT ON FUNCTION tenancy.approve_custom_domain(text, text) IS 'backend_admin only: approves the custom domain a tenant (slug or id) asks for, which from then on identifies it. 22023 when the tenant asks for another domain or the domain is a platform host, 23505 when another tenant has it approved.';
REVOKE ALL ON FUNCTION tenancy.approve_custom_domain(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.approve_custom_domain(text, text) TO backend_admin;

CREATE OR REPLACE FUNCTION tenancy.reject_custom_domain(p_tenant text, p_domain text) RETURNS tenancy.tenants
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE t tenancy.tenants := tenancy._tenant_for_domain_change(p_tenant, p_domain);
BEGIN
  UPDATE tenancy.tenants SET custom_domain = NULL WHERE id = t.id RETURNING * INTO t;
  RETURN t;
END $$;
COMMENT ON FUNCTION tenancy.reject_custom_domain(text, text) IS 'backend_admin only: refuses a pending custom domain or withdraws an approved one (the tenant''s custom domain is cleared). 22023 when the tenant has another domain.';
REVOKE ALL ON FUNCTION tenancy.reject_custom_domain(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.reject_custom_domain(text, text) TO backend_admin;

CREATE OR REPLACE FUNCTION tenancy._users_guard() RETURNS trigger
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

CREATE OR REPLACE FUNCTION tenancy._users_lock() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('backend_framework.owners'),
                                hashtext(coalesce(tenancy.current_tenant_id()::text, '')));
  RETURN NULL;
END $$;
COMMENT ON FUNCTION tenancy._users_lock() IS 'Trigger (per statement): serialises changes of a tenant''s users (advisory lock on the context''s tenant) before rows are locked, so concurrent owner changes fail cleanly instead of deadlocking.';
REVOKE ALL ON FUNCTION tenancy._users_lock() FROM PUBLIC;

CREATE OR REPLACE FUNCTION tenancy.update_user(p_id uuid, p_display_name text DEFAULT NULL,
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

CREATE OR REPLACE FUNCTION tenancy.resolve_tenant(host text, path text, headers jsonb DEFAULT '{}')
RETURNS tenancy.resolved_tenant
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  r tenancy.resolved_tenant := ROW(NULL, NULL, NULL, '', coalesce(path, '/'), false);
  base text := lower(current_setting('backend_framework.base_domain'));
  h text := lower(coalesce(host, headers->>'host', ''));
  strategy text;
  key text;
  by_id boolean;
  m text[];
  found_id uuid;
  found_slug text;
  platform boolean;
BEGIN
  -- Host without port; bracketed IPv6 literals name no tenant.
  h := CASE WHEN h LIKE '[%' THEN '' ELSE regexp_replace(h, ':[0-9]*$', '') END;
  -- The hosts of the public URLs name no tenant (api.example.com is not tenant "api").
  platform := h = '' OR EXISTS (SELECT 1 FROM tenancy.public_urls() u WHERE u.host = h);
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
        -- (and likewise OpenID Provider configuration and RFC 9728 protected resource metadata).
        m := regexp_match(coalesce(path, ''), '^(/\.well-known/(oauth-authorization-server|openid-configuration|oauth-protected-resource))/t/([^/]+)$');
        IF m IS NOT NULL THEN key := m[3]; r.prefix := '/t/' || m[3]; r.path := m[1]; END IF;
      END IF;
    WHEN 'subdomain' THEN
      IF NOT platform AND base <> '' AND right(h, length(base) + 1) = '.' || base THEN
        key := left(h, length(h) - length(base) - 1);
        IF key LIKE '%.%' OR key = '' THEN key := NULL; END IF;
      END IF;
    WHEN 'domain' THEN
      -- Only an approved domain names a tenant, and never a platform host.
      IF NOT platform AND h <> base AND right(h, length(base) + 1) <> '.' || base THEN
        SELECT t.slug INTO key FROM tenancy.tenants t WHERE t.custom_domain = h AND t.custom_domain_status = 'approved';
      END IF;
    ELSE
      RAISE EXCEPTION 'unknown tenant strategy "%"', strategy USING ERRCODE = '22023',
        HINT = 'backend_framework.tenant_strategies lists header, path, subdomain and domain.';
    END CASE;
    CONTINUE WHEN key IS NULL;
    SELECT f.id, f.slug INTO found_id, found_slug FROM tenancy._find_tenant(key, by_id) f;
    IF r.tenant_id IS NULL THEN
      r.tenant_id := found_id; r.slug := found_slug; r.strategy := strategy;
    END IF;
    IF r.tenant_id = found_id THEN
      r.by_host := r.by_host OR strategy IN ('subdomain', 'domain');
    ELSIF r.tenant_id <> found_id THEN
      RAISE EXCEPTION 'conflicting tenant identification' USING ERRCODE = '22023',
        DETAIL = format('The %s and the %s name different tenants.', r.strategy, strategy);
    END IF;
  END LOOP;
  PERFORM tenancy._set_context(r.tenant_id, NULL, NULL, NULL, NULL);
  RETURN r;
END $$;
COMMENT ON FUNCTION tenancy.resolve_tenant(text, text, jsonb) IS 'Tenant of a request by X-Tenant header (slug or id), /t/{slug}/ path, subdomain of backend_framework.base_domain or approved custom domain (hosts of backend_framework.public_urls name none), as backend_framework.tenant_strategies lists; sets the tenant context (no user). P0002 unknown, TB003 suspended, 22023 conflicting.';

CREATE OR REPLACE FUNCTION tenancy.measure_storage(p_tenant uuid) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  tbl regclass;
  part bigint;
  total bigint := 0;
  m date := tenancy._month_start();
BEGIN
  -- Entries whose table is gone (dropped since) are skipped and removed.
  DELETE FROM tenancy.tenant_tables t
   WHERE NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.table_name AND c.relkind IN ('r', 'p'));
  FOR tbl IN SELECT table_name FROM tenancy.tenant_tables ORDER BY table_name::text LOOP
    EXECUTE format('SELECT coalesce(sum(pg_column_size(x.*)), 0) FROM %s x WHERE x.tenant_id = $1', tbl)
      INTO part USING p_tenant;
    total := total + part;
  END LOOP;
  INSERT INTO tenancy.storage_usage AS s (tenant_id, month, bytes, measured_at) VALUES (p_tenant, m, total, now())
  ON CONFLICT (tenant_id, month) DO UPDATE SET bytes = excluded.bytes, measured_at = excluded.measured_at;
  RETURN total;
END $$;

CREATE OR REPLACE FUNCTION tenancy._register_tenant_table(p_table regclass) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE c record;
BEGIN
  SELECT relkind, relpersistence, relowner, relrowsecurity, relforcerowsecurity INTO c
    FROM pg_class WHERE oid = p_table;
  IF NOT FOUND OR c.relkind NOT IN ('r', 'p') OR c.relpersistence = 't' THEN
    RAISE EXCEPTION '% is not a permanent table', p_table USING ERRCODE = '42809';
  END IF;
  IF NOT pg_has_role(session_user, c.relowner, 'USAGE') THEN
    RAISE EXCEPTION 'must be owner of table %', p_table USING ERRCODE = '42501';
  END IF;
  IF NOT (c.relrowsecurity AND c.relforcerowsecurity) OR NOT EXISTS (
      SELECT 1 FROM pg_attribute WHERE attrelid = p_table AND attname = 'tenant_id'
         AND atttypid = 'uuid'::regtype AND NOT attisdropped) THEN
    RAISE EXCEPTION '% is not set up as a tenant table', p_table USING ERRCODE = '55000',
      HINT = 'Use tenancy.enable_tenant_table.';
  END IF;
  INSERT INTO tenancy.tenant_tables (table_name) VALUES (p_table) ON CONFLICT DO NOTHING;
END $$;
COMMENT ON FUNCTION tenancy._register_tenant_table(regclass) IS 'Internal: records a table set up by enable_tenant_table (permanent, owned by the login, RLS forced, uuid tenant_id).';
REVOKE ALL ON FUNCTION tenancy._register_tenant_table(regclass) FROM PUBLIC;

CREATE OR REPLACE FUNCTION tenancy.enable_tenant_table(p_table regclass) RETURNS void
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
  -- The storage measurement reads the table's rows as backend_definer.
  EXECUTE format('GRANT SELECT ON %s TO backend_definer', rel);
  IF NOT has_schema_privilege('backend_definer', (SELECT relnamespace FROM pg_class WHERE oid = p_table), 'USAGE') THEN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO backend_definer',
                   (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = p_table));
  END IF;
  PERFORM tenancy._register_tenant_table(p_table);
END $$;

COMMENT ON FUNCTION oauth.random_token(text) IS
'New secret from pg_strong_random: 256 bits as unpadded base64url (43 characters) after a prefix naming its kind, so secret scanners can find leaked ones: access bfat_, refresh bfrt_, code bfac_, client_secret bfcs_, registration bfrg_, session bfss_, csrf bfcf_, sign-up invitation bfiv_, password reset bfpr_; client_id bfci_ with 128 bits (22 characters). Unknown kind: ERROR 22023. Store only oauth.token_digest() of it.';

CREATE OR REPLACE FUNCTION oauth._scopes(s text) RETURNS text[]
LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bf_scopes_sql';
COMMENT ON FUNCTION oauth._scopes(text) IS 'Internal: scope string (RFC 6749 section 3.3) as a sorted distinct array of known scopes (oauth.scopes_supported()); NULL when any value is unknown or malformed.';

CREATE OR REPLACE FUNCTION oauth._role_scopes(role text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN tenancy.is_admin_role(role) THEN oauth._all_scopes()
              WHEN role = 'user' THEN array_remove(oauth._all_scopes(), 'admin')
              ELSE '{}'::text[] END
$$;

CREATE OR REPLACE FUNCTION oauth._private_use_redirect_ok(u text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT u IS NOT NULL AND length(u) <= (tenancy.bounds()).uri_max AND u !~ '[[:space:][:cntrl:]#]'
     AND u ~* '^[a-z][a-z0-9-]*(\.[a-z0-9-]+)+:/*[^/].*$'
     AND lower(split_part(u, ':', 1)) NOT IN ('http', 'https', 'javascript', 'data', 'file', 'vbscript', 'blob', 'about')
$$;
COMMENT ON FUNCTION oauth._private_use_redirect_ok(text) IS 'Internal: whether a redirect URI uses a private-use URI scheme of reverse-domain form (RFC 8252 section 7.1), accepted for native and public clients.';

CREATE OR REPLACE FUNCTION oauth._client_metadata(m jsonb, mode text) RETURNS jsonb
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
  words text[];
  private_ok boolean;
  b record := tenancy.bounds();
  l record := oauth.lifetimes();
BEGIN
  IF m IS NULL OR jsonb_typeof(m) <> 'object' THEN
    RETURN oauth._metadata_error('client metadata must be a JSON object');
  END IF;
  -- client_name
  IF m ? 'client_name' AND jsonb_typeof(m->'client_name') <> 'null' THEN
    name := btrim(m->>'client_name');
    IF jsonb_typeof(m->'client_name') <> 'string' OR length(name) NOT BETWEEN 1 AND b.name_max OR name ~ '[[:cntrl:]]' THEN
      RETURN oauth._metadata_error(
        format('client_name must be a text of 1 to %s characters without control characters', b.name_max));
    END IF;
  END IF;
  -- token_endpoint_auth_method
  method := coalesce(m->>'token_endpoint_auth_method', 'client_secret_basic');
  IF jsonb_typeof(m->'token_endpoint_auth_method') NOT IN ('string', 'null')
     OR method NOT IN ('client_secret_basic', 'client_secret_post', 'none') THEN
    RETURN oauth._metadata_error('token_endpoint_auth_method must be client_secret_basic, client_secret_post or none');
  END IF;
  -- grant_types
  IF m ? 'grant_types' AND jsonb_typeof(m->'grant_types') <> 'null' THEN
    IF NOT oauth._string_array(m->'grant_types') THEN
      RETURN oauth._metadata_error('grant_types must be an array of strings');
    END IF;
    SELECT array_agg(DISTINCT g ORDER BY g) INTO grants FROM jsonb_array_elements_text(m->'grant_types') g;
    SELECT g INTO u FROM unnest(grants) g
     WHERE g NOT IN ('authorization_code', 'refresh_token', 'client_credentials', 'password') LIMIT 1;
    IF u IS NOT NULL THEN
      RETURN oauth._metadata_error(
        format('unsupported grant type "%s" (supported: authorization_code, refresh_token, client_credentials, password)', u));
    END IF;
    IF grants IS NULL THEN
      RETURN oauth._metadata_error('grant_types must not be empty');
    END IF;
  ELSE
    grants := '{authorization_code}';
  END IF;
  IF method = 'none' AND 'client_credentials' = ANY (grants) THEN
    RETURN oauth._metadata_error('a public client (token_endpoint_auth_method none) cannot use the client_credentials grant');
  END IF;
  -- The password grant hands a user's password to the client: only to one
  -- that authenticates (RFC 9700 section 2.4 deprecates it altogether).
  IF method = 'none' AND 'password' = ANY (grants) THEN
    RETURN oauth._metadata_error('a public client (token_endpoint_auth_method none) cannot use the password grant');
  END IF;
  IF mode = 'open' AND NOT grants <@ '{authorization_code,refresh_token}' THEN
    RETURN oauth._metadata_error(
      'clients registered without an access token may only use the authorization_code and refresh_token grants');
  END IF;
  -- response_types: code exactly when the authorization_code grant is registered.
  IF m ? 'response_types' AND jsonb_typeof(m->'response_types') <> 'null' THEN
    IF NOT oauth._string_array(m->'response_types') THEN
      RETURN oauth._metadata_error('response_types must be an array of strings');
    END IF;
    SELECT coalesce(array_agg(DISTINCT g ORDER BY g), '{}') INTO rtypes FROM jsonb_array_elements_text(m->'response_types') g;
    IF NOT rtypes <@ '{code}' THEN
      RETURN oauth._metadata_error('the only supported response type is "code"');
    END IF;
    IF ('code' = ANY (rtypes)) <> ('authorization_code' = ANY (grants)) THEN
      RETURN oauth._metadata_error('response type "code" goes with the authorization_code grant type, and only with it');
    END IF;
  ELSE
    rtypes := CASE WHEN 'authorization_code' = ANY (grants) THEN '{code}' ELSE '{}' END;
  END IF;
  -- redirect_uris (and post_logout_redirect_uris below): native apps and
  -- public clients may use private-use schemes.
  private_ok := coalesce(method = 'none' OR m->>'application_type' = 'native', false);
  IF m ? 'redirect_uris' AND jsonb_typeof(m->'redirect_uris') <> 'null' THEN
    IF NOT oauth._string_array(m->'redirect_uris') THEN
      RETURN oauth._metadata_error('redirect_uris must be an array of strings', 'invalid_redirect_uri');
    END IF;
    IF jsonb_array_length(m->'redirect_uris') > b.uris_max THEN
      RETURN oauth._metadata_error(format('at most %s redirect URIs', b.uris_max), 'invalid_redirect_uri');
    END IF;
    p := oauth._uris_problem(m->'redirect_uris', private_ok);
    IF p IS NOT NULL THEN
      RETURN oauth._metadata_error(p, 'invalid_redirect_uri');
    END IF;
    -- In the order given, each once.
    uris := ARRAY(SELECT x.u FROM jsonb_array_elements_text(m->'redirect_uris') WITH ORDINALITY x(u, i)
                   GROUP BY x.u ORDER BY min(x.i));
  END IF;
  -- OpenID Connect: application_type, id_token_signed_response_alg (and
  -- post_logout_redirect_uris below); RFC 9068: access_token_format. Each
  -- is one of a few words, kept when given.
  FOR k, words IN VALUES ('application_type', '{web,native}'::text[]), ('id_token_signed_response_alg', oauth.signing_algs()),
                         ('access_token_format', '{opaque,jwt}') LOOP
    CONTINUE WHEN NOT m ? k OR jsonb_typeof(m->k) = 'null';
    IF jsonb_typeof(m->k) <> 'string' OR NOT m->>k = ANY (words) THEN
      RETURN oauth._metadata_error(format('%s must be %s', k, tenancy._words(words, 'or')));
    END IF;
    r := r || jsonb_build_object(k, m->k);
  END LOOP;
  IF m ? 'post_logout_redirect_uris' AND jsonb_typeof(m->'post_logout_redirect_uris') <> 'null' THEN
    IF NOT oauth._string_array(m->'post_logout_redirect_uris') OR jsonb_array_length(m->'post_logout_redirect_uris') > b.uris_max THEN
      RETURN oauth._metadata_error(format('post_logout_redirect_uris must be an array of at most %s URIs', b.uris_max));
    END IF;
    p := oauth._uris_problem(m->'post_logout_redirect_uris', private_ok);
    IF p IS NOT NULL THEN
      RETURN oauth._metadata_error('post_logout_redirect_uris: ' || p);
    END IF;
    r := r || jsonb_build_object('post_logout_redirect_uris',
                                 (SELECT coalesce(jsonb_agg(DISTINCT x), '[]') FROM jsonb_array_elements_text(m->'post_logout_redirect_uris') x));
  END IF;
  IF 'authorization_code' = ANY (grants) AND cardinality(uris) = 0 THEN
    RETURN oauth._metadata_error('the authorization_code grant needs at least one redirect URI in redirect_uris',
                                 'invalid_redirect_uri');
  END IF;
  -- scope
  IF m ? 'scope' AND jsonb_typeof(m->'scope') <> 'null' THEN
    scopes := CASE WHEN jsonb_typeof(m->'scope') = 'string' THEN oauth._scopes(m->>'scope') END;
    IF scopes IS NULL OR cardinality(scopes) = 0 THEN
      RETURN oauth._metadata_error(
        'scope must list one or more of ' || array_to_string(oauth.scopes_supported(), ', ') || ', separated by spaces');
    END IF;
  ELSE
    scopes := array_remove(oauth._all_scopes(), 'admin');  -- every scope a plain user may have
  END IF;
  IF mode = 'open' AND 'admin' = ANY (scopes) THEN
    RETURN oauth._metadata_error('clients registered without an access token cannot have the admin scope');
  END IF;
  -- Informational metadata, kept as given.
  FOR k, v IN SELECT * FROM jsonb_each(m) WHERE key IN ('client_uri', 'logo_uri', 'tos_uri', 'policy_uri',
                                                         'software_id', 'software_version', 'contacts') LOOP
    CONTINUE WHEN jsonb_typeof(v) = 'null';
    IF k = 'contacts' THEN
      IF NOT oauth._string_array(v) OR jsonb_array_length(v) > b.contacts_max
         OR EXISTS (SELECT 1 FROM jsonb_array_elements_text(v) c WHERE length(c) > b.email_max) THEN
        RETURN oauth._metadata_error(format('contacts must be an array of at most %s e-mail addresses', b.contacts_max));
      END IF;
    ELSIF jsonb_typeof(v) <> 'string' OR length(v #>> '{}') > b.uri_max OR (v #>> '{}') ~ '[[:cntrl:]]' THEN
      RETURN oauth._metadata_error(format('%s must be a text', k));
    ELSIF k LIKE '%\_uri' AND (v #>> '{}') !~* '^https?://[^[:space:]]+$' THEN
      RETURN oauth._metadata_error(format('%s must be an http or https URL', k));
    END IF;
    extra := extra || jsonb_build_object(k, v);
  END LOOP;
  r := r || jsonb_build_object('client_name', name, 'redirect_uris', to_jsonb(uris), 'grant_types', to_jsonb(grants),
                          'response_types', to_jsonb(rtypes), 'scope', oauth._scope_text(scopes),
                          'token_endpoint_auth_method', method, 'extra', extra);
  -- Administrators may also choose the client_id and token lifetimes, and
  -- mark a resource server (which may introspect other clients' tokens).
  IF mode = 'admin' THEN
    IF m ? 'resource_server' AND jsonb_typeof(m->'resource_server') <> 'null' THEN
      IF jsonb_typeof(m->'resource_server') <> 'boolean' THEN
        RETURN oauth._metadata_error('resource_server must be true or false');
      END IF;
      r := r || jsonb_build_object('resource_server', m->'resource_server');
    END IF;
    IF m ? 'client_id' AND jsonb_typeof(m->'client_id') <> 'null' THEN
      IF jsonb_typeof(m->'client_id') <> 'string' OR NOT oauth._client_id_ok(m->>'client_id') THEN
        RETURN oauth._metadata_error(format('client_id must have %s to %s letters, digits or . _ ~ -',
                                            b.client_id_min, b.client_id_max));
      END IF;
      r := r || jsonb_build_object('client_id', m->'client_id');
    END IF;
    FOREACH ttl IN ARRAY ARRAY['access_token_ttl', 'refresh_token_ttl'] LOOP
      IF m ? ttl AND jsonb_typeof(m->ttl) <> 'null' THEN
        p := tenancy._seconds_problem(ttl, m->ttl, l.ttl_min, l.ttl_max);
        IF p IS NOT NULL THEN
          RETURN oauth._metadata_error(p);
        END IF;
        r := r || jsonb_build_object(ttl, m->ttl);
      END IF;
    END LOOP;
  ELSIF m ? 'client_id' THEN
    RETURN oauth._metadata_error('client_id is assigned by the server and cannot be chosen');
  ELSIF coalesce(m->'resource_server', 'false') NOT IN ('false', 'null') THEN
    RETURN oauth._metadata_error('only an admin can make a client a resource server (POST or PATCH /api/v1/clients)');
  END IF;
  RETURN r;
END $$;

CREATE OR REPLACE FUNCTION oauth._client_json(c jsonb, with_admin_fields boolean DEFAULT false) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
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
           'refresh_token_ttl', c->'refresh_token_ttl',
           -- OpenID Connect and RFC 9068 metadata, when not the default.
           'application_type', CASE WHEN c->>'application_type' = 'native' THEN c->'application_type' END,
           'id_token_signed_response_alg', CASE WHEN c->>'id_token_signed_response_alg' <> (oauth.signing_algs())[1]
                                                THEN c->'id_token_signed_response_alg' END,
           'access_token_format', CASE WHEN c->>'access_token_format' = 'jwt' THEN c->'access_token_format' END,
           'post_logout_redirect_uris', CASE WHEN jsonb_array_length(coalesce(c->'post_logout_redirect_uris', '[]')) > 0
                                             THEN c->'post_logout_redirect_uris' END))
         || coalesce(c->'extra', '{}')
         || CASE WHEN with_admin_fields THEN jsonb_build_object('builtin', c->'builtin', 'registered_via', c->'registered_via',
                   'resource_server', coalesce(c->'resource_server', 'false'),
                   'created_at', c->'created_at', 'updated_at', c->'updated_at') ELSE '{}' END
$$;

CREATE OR REPLACE FUNCTION oauth._client_row(p_client_id text) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT to_jsonb(x) FROM (
    SELECT c.client_id, c.client_name, c.token_endpoint_auth_method, c.redirect_uris, c.grant_types, c.response_types,
           c.scope, c.extra, c.access_token_ttl, c.refresh_token_ttl, c.builtin, c.registered_via, c.resource_server,
           c.created_at, c.updated_at, c.access_token_format, c.id_token_signed_response_alg, c.post_logout_redirect_uris,
           c.application_type
      FROM oauth.clients c
     WHERE c.tenant_id = tenancy.current_tenant_id() AND c.client_id = p_client_id) x
$$;

CREATE OR REPLACE FUNCTION oauth.create_client(metadata jsonb) RETURNS jsonb
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
                             access_token_ttl, refresh_token_ttl, resource_server, access_token_format,
                             id_token_signed_response_alg, post_logout_redirect_uris, application_type)
  VALUES (t, cid, coalesce(v->>'client_name', cid), oauth.token_digest(secret), oauth.token_digest(reg),
          v->>'token_endpoint_auth_method',
          ARRAY(SELECT jsonb_array_elements_text(v->'redirect_uris')),
          ARRAY(SELECT jsonb_array_elements_text(v->'grant_types')),
          ARRAY(SELECT jsonb_array_elements_text(v->'response_types')),
          v->>'scope', v->'extra', (v->>'access_token_ttl')::integer, (v->>'refresh_token_ttl')::integer,
          coalesce((v->>'resource_server')::boolean, false), coalesce(v->>'access_token_format', 'opaque'),
          coalesce(v->>'id_token_signed_response_alg', (oauth.signing_algs())[1]),
          ARRAY(SELECT jsonb_array_elements_text(coalesce(v->'post_logout_redirect_uris', '[]'))),
          coalesce(v->>'application_type', 'web'));
  RETURN oauth._client_json(oauth._client_row(cid))
         || CASE WHEN (v->>'resource_server')::boolean THEN '{"resource_server": true}'::jsonb ELSE '{}' END
         || jsonb_strip_nulls(jsonb_build_object('client_secret', secret, 'registration_access_token', reg));
EXCEPTION WHEN unique_violation THEN
  RAISE EXCEPTION 'a client with client_id "%" already exists', cid USING ERRCODE = '23505';
END $$;
COMMENT ON FUNCTION oauth.create_client(jsonb) IS 'Registers a client in the current tenant (admins and owners with scope admin) from RFC 7591 metadata (plus client_id, access_token_ttl, refresh_token_ttl, resource_server). Returns the RFC 7591 client information with client_secret (confidential clients) and registration_access_token, both shown only here. 22023 invalid metadata, 23505 client_id taken.';

CREATE OR REPLACE FUNCTION oauth.list_clients() RETURNS SETOF jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM oauth._require_client_admin();
  RETURN QUERY
  SELECT oauth._client_json(to_jsonb(x), true) FROM (
    SELECT c.client_id, c.client_name, c.token_endpoint_auth_method, c.redirect_uris, c.grant_types, c.response_types,
           c.scope, c.extra, c.access_token_ttl, c.refresh_token_ttl, c.builtin, c.registered_via, c.resource_server,
           c.created_at, c.updated_at, c.access_token_format, c.id_token_signed_response_alg, c.post_logout_redirect_uris,
           c.application_type
      FROM oauth.clients c
     WHERE c.tenant_id = tenancy.current_tenant_id()
     ORDER BY c.builtin DESC, c.created_at, c.client_id) x;
END $$;

CREATE OR REPLACE FUNCTION oauth.update_client(client_id text, metadata jsonb) RETURNS jsonb
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
  IF (cur->>'builtin')::boolean
     AND EXISTS (SELECT 1 FROM jsonb_object_keys(metadata) k WHERE k NOT IN ('client_id', 'client_name', 'redirect_uris')) THEN
    RAISE EXCEPTION 'the console client''s grants, scope and authentication cannot be changed' USING ERRCODE = '42501',
      HINT = 'Only its name and redirect URIs can change.';
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
    access_token_ttl = (v->>'access_token_ttl')::integer, refresh_token_ttl = (v->>'refresh_token_ttl')::integer,
    resource_server = coalesce((v->>'resource_server')::boolean, false),
    access_token_format = coalesce(v->>'access_token_format', 'opaque'),
    id_token_signed_response_alg = coalesce(v->>'id_token_signed_response_alg', (oauth.signing_algs())[1]),
    post_logout_redirect_uris = ARRAY(SELECT jsonb_array_elements_text(coalesce(v->'post_logout_redirect_uris', '[]'))),
    application_type = coalesce(v->>'application_type', 'web')
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

CREATE OR REPLACE FUNCTION oauth._console_client(p_tenant uuid, p_redirect_uris jsonb) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v jsonb := CASE WHEN jsonb_array_length(p_redirect_uris) > 0 THEN oauth._client_metadata(jsonb_build_object(
               'client_name', 'Console', 'redirect_uris', p_redirect_uris, 'token_endpoint_auth_method', 'none',
               'grant_types', '["authorization_code", "refresh_token"]'::jsonb, 'scope', oauth._scope_text(oauth.api_scopes())),
               'admin') END;
  cid text;
BEGIN
  IF v IS NOT NULL THEN PERFORM oauth._raise_metadata(v); END IF;
  INSERT INTO oauth.clients AS c (tenant_id, client_id, client_name, token_endpoint_auth_method, redirect_uris,
                                  grant_types, response_types, scope, builtin)
  VALUES (p_tenant, 'console', 'Console', 'none', ARRAY(SELECT jsonb_array_elements_text(coalesce(v->'redirect_uris', '[]'))),
          '{authorization_code,refresh_token}', '{code}', oauth._scope_text(oauth.api_scopes()), true)
  ON CONFLICT (tenant_id) WHERE builtin DO UPDATE SET redirect_uris = excluded.redirect_uris
  RETURNING c.client_id INTO cid;
  RETURN cid;
END $$;
COMMENT ON FUNCTION oauth._console_client(uuid, jsonb) IS 'Internal: creates or updates the console client (client_id console, public, code + refresh, the API scopes) of a tenant with its own redirect URIs (may be none).';

CREATE OR REPLACE FUNCTION oauth.ensure_console_client(redirect_uris jsonb) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE t uuid := tenancy.current_tenant_id();
BEGIN
  IF t IS NULL THEN
    RAISE EXCEPTION 'no tenant in the current context' USING ERRCODE = 'P0002';
  END IF;
  IF NOT (tenancy.is_tenant_admin() OR tenancy.is_platform_admin()) THEN
    RAISE EXCEPTION 'only an admin of the tenant changes its console client' USING ERRCODE = '42501';
  END IF;
  RETURN oauth._console_client(t, coalesce(redirect_uris, '[]'));
END $$;
COMMENT ON FUNCTION oauth.ensure_console_client(jsonb) IS 'Admins and owners of the current tenant (or backend_admin): sets the console client''s own redirect URIs (besides the deployment''s backend_framework.console_redirect_uris, which every tenant accepts and which alone skip consent); idempotent; returns its client_id. 42501 without an admin context, 22023 for an invalid redirect URI.';
REVOKE ALL ON FUNCTION oauth.ensure_console_client(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth.ensure_console_client(jsonb) TO backend_app, backend_admin;

CREATE OR REPLACE FUNCTION oauth._tenant_console_client() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM oauth._console_client(NEW.id, '[]');
  RETURN NULL;
END $$;
COMMENT ON FUNCTION oauth._tenant_console_client() IS 'Trigger: creates the console client of a new tenant (redirect URIs: the deployment''s console URLs only).';

CREATE OR REPLACE FUNCTION oauth._grant_scope(requested text, ceiling text[], OUT scopes text[], OUT err text)
LANGUAGE c IMMUTABLE AS 'MODULE_PATHNAME', 'bf_grant_scope_sql';

CREATE OR REPLACE FUNCTION oauth._issue(p_tenant uuid, p_client text, p_user uuid, p_scope text, p_family uuid,
                             access_ttl integer, refresh_ttl integer, refresh_scope text DEFAULT NULL,
                             p_issuer text DEFAULT NULL, p_audience text DEFAULT NULL,
                             p_auth_time timestamptz DEFAULT NULL, p_family_expires timestamptz DEFAULT NULL,
                             p_format text DEFAULT NULL)
RETURNS jsonb
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'bf_issue';
COMMENT ON FUNCTION oauth._issue(uuid, text, uuid, text, uuid, integer, integer, text, text, text, timestamptz, timestamptz, text) IS 'Internal: stores the digests of a new access token (opaque, or an RFC 9068 JWT when the client''s access_token_format is jwt) and of a refresh token when refresh_ttl is given (its scope is refresh_scope, default the same; it never outlives p_family_expires), and returns the RFC 6749 section 5.1 body.';
REVOKE ALL ON FUNCTION oauth._issue(uuid, text, uuid, text, uuid, integer, integer, text, text, text, timestamptz, timestamptz, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION oauth._family_expires(p_tenant uuid) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
  SELECT now() + make_interval(secs => coalesce((SELECT (n.settings->>'refresh_token_max_lifetime')::integer
                                                   FROM tenancy.tenants n WHERE n.id = p_tenant),
                                                (oauth.lifetimes()).refresh_family))
$$;
COMMENT ON FUNCTION oauth._family_expires(uuid) IS 'Internal: when a grant started now ends at the latest (tenant setting refresh_token_max_lifetime, default oauth.lifetimes().refresh_family); refresh rotation never goes beyond.';
REVOKE ALL ON FUNCTION oauth._family_expires(uuid) FROM PUBLIC;

CREATE OR REPLACE FUNCTION oauth._audience(p_issuer text, p_resource text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  RETURN CASE WHEN p_resource IS NULL OR p_resource IN (p_issuer, p_issuer || '/') THEN NULL ELSE p_resource END;
END $$;
COMMENT ON FUNCTION oauth._audience(text, text) IS 'Internal: NULL when a resource indicator is absent or names the tenant''s own API (its issuer), else the resource URI.';

CREATE OR REPLACE FUNCTION oauth.token_endpoint(params jsonb, authorization text, client_addr text, issuer text DEFAULT NULL)
RETURNS jsonb
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'bf_token_endpoint_sql';
COMMENT ON FUNCTION oauth.token_endpoint(jsonb, text, text, text) IS 'POST /oauth/token of the current tenant (RFC 6749), as a decision: params = the decoded form body, authorization = the Authorization header (or NULL), client_addr for throttling, issuer = the tenant''s issuer URL (default: by configuration). Authenticates the client (oauth.authenticate_client), checks the grant type and resource (RFC 8707: unknown is invalid_target), then decides with the grant''s function: oauth._token_authorization_code (PKCE, RFC 7636; id_token with openid), _token_refresh_token (rotation, reuse revokes the family, which ends after the tenant''s refresh_token_max_lifetime), _token_client_credentials, _token_password (throttled). Returns the RFC 6749 section 5.1 body, or the section 5.2 error {"error", "error_description"}; never raises for a client error (so a failed password count or a revoked family is committed). api.oauth_answer makes the HTTP answer (status from api.error_status, no-store, the Basic challenge).';
REVOKE ALL ON FUNCTION oauth.token_endpoint(jsonb, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth.token_endpoint(jsonb, text, text, text) TO backend_gateway, backend_admin;

CREATE OR REPLACE FUNCTION oauth._match_redirect_uri(registered text[], given text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT given WHERE given = ANY (registered)
      OR (given ~ '^http://(127\.0\.0\.1|\[::1\])(:[0-9]{1,5})?([/?].*)?$'
          AND regexp_replace(given, '^(http://(127\.0\.0\.1|\[::1\]))(:[0-9]{1,5})?', '\1')
              = ANY (SELECT regexp_replace(u, '^(http://(127\.0\.0\.1|\[::1\]))(:[0-9]{1,5})?', '\1') FROM unnest(registered) u
                      WHERE u ~ '^http://(127\.0\.0\.1|\[::1\])'))
$$;
COMMENT ON FUNCTION oauth._match_redirect_uri(text[], text) IS 'Internal: the requested redirect URI when it is registered (exact match; for http://127.0.0.1 and http://[::1] the port may differ, RFC 8252 section 7.3), else NULL.';

CREATE OR REPLACE FUNCTION oauth._authorize_request(p_tenant uuid, params jsonb, p_issuer text,
  OUT fatal text, OUT err text, OUT err_description text,
  OUT client_id text, OUT client_name text, OUT builtin boolean, OUT redirect_uri text, OUT redirect_uri_given boolean,
  OUT scopes text[], OUT code_challenge text, OUT code_challenge_method text, OUT state text,
  OUT prompt_none boolean, OUT prompt_login boolean, OUT prompt_consent boolean, OUT max_age integer,
  OUT nonce text, OUT hint_sub text, OUT resource text, OUT registered_via text, OUT code_ttl integer)
LANGUAGE plpgsql STABLE AS $$
DECLARE
  c record;
  req text[];
  uris text[];
  prompts text[];
  hint jsonb;
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
         k.registered_via, t.settings
    INTO c
    FROM oauth.clients k JOIN tenancy.tenants t ON t.id = k.tenant_id
   WHERE k.tenant_id = p_tenant AND k.client_id = params->>'client_id';
  IF NOT FOUND THEN
    fatal := 'The application that sent you here is not registered (unknown client_id).';
    RETURN;
  END IF;
  client_id := c.client_id; client_name := c.client_name; builtin := c.builtin; registered_via := c.registered_via;
  uris := c.redirect_uris;
  IF c.builtin THEN
    uris := uris || oauth.console_redirect_uris();
  END IF;
  redirect_uri_given := params ? 'redirect_uri';
  IF cardinality(uris) = 0 THEN
    fatal := 'This application is not set up for signing in here (it has no registered redirect URI).';
    RETURN;
  ELSIF redirect_uri_given THEN
    redirect_uri := oauth._match_redirect_uri(uris, params->>'redirect_uri');
    IF redirect_uri IS NULL THEN
      fatal := 'The address to return to (redirect_uri) is not registered for this application.';
      RETURN;
    END IF;
  ELSIF cardinality(uris) = 1 THEN
    redirect_uri := uris[1];
  ELSE
    fatal := 'The request does not say where to return to (redirect_uri is missing).';
    RETURN;
  END IF;
  -- From here on errors go back to the client.
  state := params->>'state';
  code_ttl := oauth._ttl('code', NULL, c.settings);
  prompts := array_remove(string_to_array(coalesce(params->>'prompt', ''), ' '), '');
  prompt_none := 'none' = ANY (prompts);
  prompt_login := 'login' = ANY (prompts) OR 'select_account' = ANY (prompts);
  prompt_consent := 'consent' = ANY (prompts);
  IF params->>'response_type' IS NULL THEN
    err := 'invalid_request'; err_description := 'response_type is missing';
  ELSIF params->>'response_type' <> 'code' THEN
    err := 'unsupported_response_type'; err_description := 'the only supported response_type is code';
  ELSIF params->>'response_mode' IS NOT NULL AND params->>'response_mode' <> 'query' THEN
    err := 'invalid_request'; err_description := 'the only supported response_mode is query';
  ELSIF NOT 'authorization_code' = ANY (c.grant_types) THEN
    err := 'unauthorized_client'; err_description := 'this client is not allowed to use the authorization code grant';
  ELSIF NOT prompts <@ '{none,login,consent,select_account}'::text[] THEN
    err := 'invalid_request'; err_description := 'prompt must be none, login, consent or select_account';
  ELSIF prompt_none AND cardinality(prompts) > 1 THEN
    err := 'invalid_request'; err_description := 'prompt=none cannot be combined with other values';
  ELSIF params->>'max_age' IS NOT NULL AND params->>'max_age' !~ '^[0-9]{1,9}$' THEN
    err := 'invalid_request'; err_description := 'max_age must be a number of seconds';
  ELSIF length(params->>'nonce') > (tenancy.bounds()).nonce_max THEN
    err := 'invalid_request'; err_description := format('nonce is too long (at most %s characters)', (tenancy.bounds()).nonce_max);
  ELSIF params->>'request' IS NOT NULL THEN
    err := 'request_not_supported'; err_description := 'request objects are not supported';
  ELSIF params->>'request_uri' IS NOT NULL THEN
    err := 'request_uri_not_supported'; err_description := 'request_uri is not supported';
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
  -- OAuth 2.1: PKCE for every client, unless the tenant relaxes it for confidential clients.
  ELSIF NOT params ? 'code_challenge' AND NOT coalesce((c.settings->>'pkce_optional_for_confidential_clients')::boolean, false) THEN
    err := 'invalid_request'; err_description := 'PKCE is required: send code_challenge and code_challenge_method S256';
  ELSIF NOT oauth._resource_known(p_tenant, p_issuer, params->>'resource') THEN
    err := 'invalid_target'; err_description := 'the resource is not known to this authorization server';
  END IF;
  IF err IS NOT NULL THEN RETURN; END IF;
  IF params ? 'code_challenge' THEN
    code_challenge := params->>'code_challenge';
    code_challenge_method := coalesce(params->>'code_challenge_method', 'plain');
  END IF;
  max_age := (params->>'max_age')::integer;
  nonce := params->>'nonce';
  resource := params->>'resource';
  IF params->>'id_token_hint' IS NOT NULL THEN
    -- Ours, for this client (it may have expired: it is only a hint).
    hint := oauth._verify_jwt(p_tenant, params->>'id_token_hint');
    IF hint IS NULL OR hint->>'iss' IS DISTINCT FROM p_issuer OR hint->>'sub' IS NULL THEN
      err := 'invalid_request'; err_description := 'id_token_hint is not an ID token of this issuer';
      RETURN;
    END IF;
    hint_sub := hint->>'sub';
  END IF;
  IF nullif(btrim(params->>'scope'), '') IS NULL THEN
    scopes := oauth._scopes(c.scope);
  ELSE
    req := oauth._scopes(params->>'scope');
    IF req IS NULL THEN
      err := 'invalid_scope'; err_description := oauth._unknown_scope();
      RETURN;
    END IF;
    scopes := oauth._scope_and(req, oauth._scopes(c.scope));
    IF cardinality(scopes) = 0 THEN
      err := 'invalid_scope'; err_description := 'none of the requested scopes is allowed for this client';
    END IF;
  END IF;
END $$;
COMMENT ON FUNCTION oauth._authorize_request(uuid, jsonb, text) IS 'Internal: validates an authorization request (client, redirect URI exact or loopback with any port, response_type, response_mode, PKCE, prompt, max_age, nonce, id_token_hint, resource, scope ∩ client''s).';
REVOKE ALL ON FUNCTION oauth._authorize_request(uuid, jsonb, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION oauth.authorize_endpoint(method text, params jsonb, cookies jsonb, issuer text, client_addr text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t uuid := tenancy.current_tenant_id();
  ten jsonb;
  r record;
  b record;
  set_cookies jsonb := '[]';
  csrf text;
  sess text;
  uid uuid;
  urole text;
  uemail text;
  wait integer;
  granted text[];
  prior text;
  code text;
  notice text;
  is_request boolean;
  auth_time timestamptz;
  sid uuid;
  sess_started timestamptz;
  request jsonb;
BEGIN
  SELECT jsonb_build_object('name', x.name, 'brand', x.settings->>'brand_color') INTO ten FROM tenancy.tenants x WHERE x.id = t;
  IF t IS NULL OR NOT FOUND THEN
    RETURN '{"error": "not_found"}';
  END IF;
  IF upper(method) NOT IN ('GET', 'POST') THEN
    RETURN jsonb_build_object('error', 'method_not_allowed', 'tenant', ten);
  END IF;

  SELECT * INTO r FROM oauth._authorize_request(t, params, issuer);
  -- An authorization request comes by GET or, from a relying party, by
  -- POST (OpenID Connect Core 3.1.2.1); our own forms carry csrf and action.
  is_request := upper(method) = 'GET'
                OR NOT (params ? 'csrf' OR params ? 'action' OR params ? 'email' OR params ? 'password');
  IF r.fatal IS NOT NULL THEN
    RETURN jsonb_build_object('error', 'invalid_request', 'tenant', ten, 'message', r.fatal);
  END IF;
  request := (SELECT coalesce(jsonb_object_agg(key, value), '{}') FROM jsonb_each(params)
               WHERE key = ANY (ARRAY['response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'code_challenge',
                                      'code_challenge_method', 'nonce', 'max_age', 'response_mode', 'resource', 'login_hint']));

  -- Cookies of another shape are ignored (a form page makes a new CSRF cookie).
  SELECT * INTO b FROM oauth._browser_cookies(cookies);
  csrf := b.csrf;
  sess := b.session;
  IF NOT is_request AND NOT oauth._csrf_ok(csrf, params->>'csrf') THEN
    RETURN jsonb_build_object('error', 'forbidden', 'tenant', ten, 'request', request);
  END IF;

  IF r.err IS NULL AND NOT is_request AND params->>'action' = 'deny' THEN
    r.err := 'access_denied'; r.err_description := 'the user denied the request';
  ELSIF r.err IS NULL AND NOT is_request AND params->>'action' IS DISTINCT FROM 'allow' THEN
    r.err := 'invalid_request'; r.err_description := 'the form was sent without a valid action';
  END IF;
  IF r.err IS NOT NULL THEN
    RETURN jsonb_build_object('redirect', r.redirect_uri, 'params', jsonb_build_object('error', r.err,
      'error_description', r.err_description, 'state', r.state, 'iss', issuer));
  END IF;

  -- Who is signing in: a password just sent, else the session cookie.
  IF NOT is_request AND params ? 'email' THEN
    IF coalesce(btrim(params->>'email'), '') = '' OR coalesce(params->>'password', '') = '' THEN
      notice := 'Enter your email address and your password.';
    ELSE
      SELECT * INTO uid, wait FROM oauth._check_password(t, params->>'email', params->>'password', client_addr);
      IF wait > 0 THEN
        notice := format('Too many attempts, try again in %s.', oauth._seconds(wait));
      ELSIF uid IS NULL THEN
        notice := 'The email address or password is incorrect.';
      ELSE
        -- A new session id at every sign-in (no fixation); the old one ends.
        IF sess IS NOT NULL THEN
          DELETE FROM oauth.login_sessions WHERE tenant_id = t AND session_hash = oauth.token_digest(sess);
        END IF;
        sess := oauth.random_token('session');
        INSERT INTO oauth.login_sessions (tenant_id, session_hash, user_id, client_addr, expires_at)
        VALUES (t, oauth.token_digest(sess), uid, client_addr, now() + make_interval(secs => (oauth.lifetimes()).session))
        RETURNING id INTO sid;
        auth_time := now();
        set_cookies := set_cookies || jsonb_build_array(jsonb_build_object('name', 'bf_session', 'value', sess, 'max_age', (oauth.lifetimes()).session));
      END IF;
    END IF;
  ELSIF sess IS NOT NULL AND NOT (is_request AND r.prompt_login) THEN
    SELECT l.user_id, l.id, l.created_at INTO uid, sid, sess_started FROM oauth.login_sessions l
     WHERE l.tenant_id = t AND l.session_hash = oauth.token_digest(sess) AND l.expires_at > now();
    auth_time := sess_started;
    -- max_age: a sign-in older than that does not count (OpenID Connect Core 3.1.2.1).
    IF uid IS NOT NULL AND r.max_age IS NOT NULL AND sess_started < now() - make_interval(secs => r.max_age) THEN
      uid := NULL;
      IF NOT is_request THEN notice := 'Please sign in again.'; END IF;
    -- id_token_hint names another user than the one signed in here.
    ELSIF uid IS NOT NULL AND is_request AND r.hint_sub IS NOT NULL AND uid::text <> r.hint_sub THEN
      uid := NULL;
    ELSIF uid IS NULL AND NOT is_request THEN
      notice := 'Your session has ended. Sign in again.';
    END IF;
  ELSIF NOT is_request THEN
    notice := 'Your session has ended. Sign in again.';
  END IF;
  IF uid IS NOT NULL THEN
    SELECT x.role, x.email INTO urole, uemail FROM tenancy.users x WHERE x.tenant_id = t AND x.id = uid AND x.status = 'active';
    IF urole IS NULL THEN uid := NULL; END IF;
  END IF;

  IF uid IS NULL AND is_request AND r.prompt_none THEN
    RETURN jsonb_build_object('redirect', r.redirect_uri, 'params', jsonb_build_object('error', 'login_required',
      'error_description', 'the user is not signed in', 'state', r.state, 'iss', issuer), 'cookies', set_cookies);
  END IF;

  -- Not signed in: the sign-in page (with the scopes asked for).
  IF uid IS NULL THEN
    IF csrf IS NULL THEN
      csrf := oauth.random_token('csrf');
      set_cookies := set_cookies || jsonb_build_array(jsonb_build_object('name', 'bf_csrf', 'value', csrf));
    END IF;
    RETURN jsonb_build_object('show', 'login', 'tenant', ten, 'client_name', r.client_name, 'scopes', to_jsonb(r.scopes),
      'notice', notice, 'csrf', oauth._csrf_field(csrf), 'request', request,
      'email', coalesce(params->>'email', params->>'login_hint', ''),
      'retry_after', CASE WHEN wait > 0 THEN wait END, 'cookies', set_cookies);
  END IF;

  -- Signed in: what this user may be granted.
  granted := oauth._scope_and(r.scopes, oauth._role_scopes(urole));
  IF cardinality(granted) = 0 THEN
    RETURN jsonb_build_object('redirect', r.redirect_uri, 'params', jsonb_build_object('error', 'invalid_scope',
      'error_description', 'none of the requested scopes can be granted to this user', 'state', r.state, 'iss', issuer),
      'cookies', set_cookies);
  END IF;
  SELECT x.scope INTO prior FROM oauth.consents x WHERE x.tenant_id = t AND x.user_id = uid AND x.client_id = r.client_id;

  -- GET: ask for consent unless given before for these scopes (the
  -- console at the deployment's own console URLs needs none) or
  -- prompt=consent.
  IF is_request
     AND (r.prompt_consent
          OR NOT ((r.builtin AND r.redirect_uri = ANY (oauth.console_redirect_uris()))
                  OR coalesce(granted <@ oauth._scopes(prior), false))) THEN
    IF r.prompt_none THEN
      RETURN jsonb_build_object('redirect', r.redirect_uri, 'params', jsonb_build_object('error', 'consent_required',
        'error_description', 'the user has not allowed this application yet', 'state', r.state, 'iss', issuer),
        'cookies', set_cookies);
    END IF;
    IF csrf IS NULL THEN
      csrf := oauth.random_token('csrf');
      set_cookies := set_cookies || jsonb_build_array(jsonb_build_object('name', 'bf_csrf', 'value', csrf));
    END IF;
    -- A self-registered client: the page says where it returns to.
    RETURN jsonb_build_object('show', 'consent', 'tenant', ten, 'client_name', r.client_name, 'scopes', to_jsonb(granted),
      'returns_to', CASE WHEN r.registered_via <> 'admin' THEN r.redirect_uri END,
      'csrf', oauth._csrf_field(csrf), 'request', request, 'user', uemail, 'cookies', set_cookies);
  END IF;

  -- Allowed (form) or allowed before: remember, issue the code, go back.
  IF NOT is_request THEN
    INSERT INTO oauth.consents AS x (tenant_id, user_id, client_id, scope)
    VALUES (t, uid, r.client_id, oauth._scope_text(granted))
    ON CONFLICT (tenant_id, user_id, client_id) DO UPDATE
      SET scope = oauth._scope_text(oauth._scopes(x.scope || ' ' || excluded.scope)), granted_at = now();
  END IF;
  code := oauth.random_token('code');
  INSERT INTO oauth.authorization_codes (tenant_id, code_hash, client_id, user_id, redirect_uri, redirect_uri_given, scope,
                                         code_challenge, code_challenge_method, expires_at, nonce, auth_time, session_id, resource)
  VALUES (t, oauth.token_digest(code), r.client_id, uid, r.redirect_uri, r.redirect_uri_given, oauth._scope_text(granted),
          r.code_challenge, r.code_challenge_method, now() + make_interval(secs => r.code_ttl), r.nonce,
          coalesce(auth_time, now()), sid, r.resource);
  RETURN jsonb_build_object('redirect', r.redirect_uri, 'params', jsonb_build_object('code', code, 'state', r.state, 'iss', issuer),
                            'cookies', set_cookies);
END $$;
COMMENT ON FUNCTION oauth.authorize_endpoint(text, jsonb, jsonb, text, text) IS 'GET/POST /oauth/authorize of the current tenant, as a decision (jsonb; api.authorize_answer renders it). params: the query (GET) or the form (POST: the request parameters, csrf, email, password, action=allow|deny); cookies: name → value. Decisions: the sign-in page (a wrong password: with a notice; throttled: with retry_after), the consent page, a redirect to the redirect URI with code, state and iss (RFC 9207) or with error; unknown client or unregistered redirect URI: invalid_request, never a redirect; failed CSRF check: forbidden. prompt=none|login|consent, max_age, login_hint, id_token_hint, nonce, response_mode=query and resource honoured; an authorization request may also come by POST (no csrf/action fields); the console client needs no consent.';
REVOKE ALL ON FUNCTION oauth.authorize_endpoint(text, jsonb, jsonb, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth.authorize_endpoint(text, jsonb, jsonb, text, text) TO backend_gateway, backend_admin;

CREATE OR REPLACE FUNCTION oauth.introspect_endpoint(params jsonb, authorization text, issuer text) RETURNS jsonb
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'bf_introspect_endpoint';
COMMENT ON FUNCTION oauth.introspect_endpoint(jsonb, text, text) IS 'POST /oauth/introspect of the current tenant (RFC 7662), as a decision, for confidential clients (oauth.authenticate_client): a resource server (oauth.clients.resource_server) learns about every token of the tenant, any other client only about its own. {"active": false} for unknown, expired, revoked, rotated or other tenants'' tokens, disabled users, and tokens of other clients when the caller is no resource server; else active, scope, client_id, username (email), sub (user id), token_type (Bearer, or refresh_token), exp, iat, iss (= issuer), tenant (slug), tenant_id.';
REVOKE ALL ON FUNCTION oauth.introspect_endpoint(jsonb, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth.introspect_endpoint(jsonb, text, text) TO backend_gateway, backend_admin;

CREATE OR REPLACE FUNCTION oauth._client_row_of(p_tenant uuid, p_client_id text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT to_jsonb(x) FROM (
    SELECT c.client_id, c.client_name, c.token_endpoint_auth_method, c.redirect_uris, c.grant_types, c.response_types,
           c.scope, c.extra, c.access_token_ttl, c.refresh_token_ttl, c.builtin, c.registered_via, c.created_at, c.updated_at,
           c.access_token_format, c.id_token_signed_response_alg, c.post_logout_redirect_uris, c.application_type
      FROM oauth.clients c
     WHERE c.tenant_id = p_tenant AND c.client_id = p_client_id) x
$$;

CREATE OR REPLACE FUNCTION oauth.register_endpoint(method text, client_id text, metadata jsonb, bearer text, base_url text)
RETURNS jsonb
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
    RAISE EXCEPTION 'unknown tenant' USING ERRCODE = 'P0002',
      DETAIL = 'The OAuth endpoints answer for the tenant of the context (tenancy.resolve_tenant).';
  END IF;
  SELECT n.settings INTO settings FROM tenancy.tenants n WHERE n.id = t;

  -- RFC 7591: POST /oauth/register.
  IF client_id IS NULL THEN
    IF m IS DISTINCT FROM 'POST' THEN
      RETURN oauth._error('method_not_allowed', 'register a client with POST');
    END IF;
    IF bearer IS NOT NULL THEN
      SELECT x.scope, x.user_id, u.role INTO k
        FROM oauth.tokens x LEFT JOIN tenancy.users u ON u.tenant_id = x.tenant_id AND u.id = x.user_id
       WHERE x.tenant_id = t AND x.token_hash = oauth.token_digest(bearer) AND x.kind = 'access'
         AND x.revoked_at IS NULL AND x.expires_at > now() AND (x.user_id IS NULL OR u.status = 'active');
      IF NOT FOUND THEN
        RETURN oauth._error('invalid_token', 'the access token is invalid, expired or revoked');
      END IF;
      IF NOT 'admin' = ANY (oauth._scopes(k.scope)) OR (k.user_id IS NOT NULL AND NOT tenancy.is_admin_role(k.role)) THEN
        RETURN oauth._error('insufficient_scope', 'registering clients needs an access token of an admin with the admin scope');
      END IF;
      mode := 'dynamic';
    ELSIF coalesce((settings->>'open_registration')::boolean, false) THEN
      mode := 'open';
    ELSE
      RETURN oauth._error('invalid_token', 'registering clients needs an access token with the admin scope');
    END IF;
    v := oauth._client_metadata(metadata, mode);
    IF v ? 'error' THEN
      RETURN v;
    END IF;
    cid := oauth.random_token('client_id');
    reg := oauth.random_token('registration');
    IF v->>'token_endpoint_auth_method' <> 'none' THEN secret := oauth.random_token('client_secret'); END IF;
    INSERT INTO oauth.clients (tenant_id, client_id, client_name, secret_hash, registration_token_hash,
                               token_endpoint_auth_method, redirect_uris, grant_types, response_types, scope, extra,
                               registered_via, access_token_format, id_token_signed_response_alg,
                               post_logout_redirect_uris, application_type)
    VALUES (t, cid, coalesce(v->>'client_name', cid), oauth.token_digest(secret), oauth.token_digest(reg),
            v->>'token_endpoint_auth_method',
            ARRAY(SELECT jsonb_array_elements_text(v->'redirect_uris')),
            ARRAY(SELECT jsonb_array_elements_text(v->'grant_types')),
            ARRAY(SELECT jsonb_array_elements_text(v->'response_types')),
            v->>'scope', v->'extra', mode, coalesce(v->>'access_token_format', 'opaque'),
            coalesce(v->>'id_token_signed_response_alg', (oauth.signing_algs())[1]),
            ARRAY(SELECT jsonb_array_elements_text(coalesce(v->'post_logout_redirect_uris', '[]'))),
            coalesce(v->>'application_type', 'web'));
    RETURN oauth._client_json(oauth._client_row_of(t, cid))
           || jsonb_strip_nulls(jsonb_build_object('client_secret', secret, 'registration_access_token', reg,
                'registration_client_uri', coalesce(base_url, '') || '/oauth/register/' || cid));
  END IF;

  -- RFC 7592: GET/PUT/DELETE /oauth/register/{client_id} with the registration access token.
  SELECT x.registration_token_hash, x.token_endpoint_auth_method, x.registered_via, x.builtin, x.grant_types, x.scope
    INTO c FROM oauth.clients x WHERE x.tenant_id = t AND x.client_id = register_endpoint.client_id;
  IF NOT FOUND OR bearer IS NULL OR c.registration_token_hash IS NULL
     OR NOT oauth.ct_equal(oauth.token_digest(bearer), c.registration_token_hash) THEN
    RETURN oauth._error('invalid_token', 'invalid registration access token');
  END IF;
  uri := coalesce(base_url, '') || '/oauth/register/' || register_endpoint.client_id;
  IF m = 'GET' THEN
    RETURN oauth._client_json(oauth._client_row_of(t, register_endpoint.client_id))
           || jsonb_build_object('registration_access_token', bearer, 'registration_client_uri', uri);
  ELSIF m = 'PUT' THEN
    IF metadata IS NULL OR jsonb_typeof(metadata) <> 'object' THEN
      RETURN oauth._error('invalid_client_metadata', 'client metadata must be a JSON object');
    END IF;
    IF metadata ? 'client_id' AND metadata->>'client_id' IS DISTINCT FROM register_endpoint.client_id THEN
      RETURN oauth._error('invalid_client_metadata', 'client_id does not match');
    END IF;
    -- RFC 7592 section 2.2: a client_secret sent along must be the current
    -- one; checked by the one client authentication, with the method the
    -- client registered.
    IF metadata ? 'client_secret' AND (oauth.authenticate_client(t,
         CASE WHEN c.token_endpoint_auth_method = 'client_secret_basic' THEN '{}'::jsonb
              ELSE jsonb_build_object('client_id', register_endpoint.client_id, 'client_secret', metadata->>'client_secret') END,
         CASE WHEN c.token_endpoint_auth_method = 'client_secret_basic' THEN oauth._basic_authorization(
              register_endpoint.client_id, metadata->>'client_secret') END)).error IS NOT NULL THEN
      RETURN oauth._error('invalid_client_metadata', 'client_secret does not match the current secret');
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
      RETURN v;
    END IF;
    IF NOT ARRAY(SELECT jsonb_array_elements_text(v->'grant_types')) <@ c.grant_types
       OR NOT oauth._scopes(v->>'scope') <@ oauth._scopes(c.scope) THEN
      RETURN oauth._error('invalid_client_metadata', 'a client cannot widen its own grant types or scope; an admin of the tenant can');
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
      scope = v->>'scope', extra = v->'extra',
      access_token_format = coalesce(v->>'access_token_format', 'opaque'),
      id_token_signed_response_alg = coalesce(v->>'id_token_signed_response_alg', (oauth.signing_algs())[1]),
      post_logout_redirect_uris = ARRAY(SELECT jsonb_array_elements_text(coalesce(v->'post_logout_redirect_uris', '[]'))),
      application_type = coalesce(v->>'application_type', 'web')
    WHERE x.tenant_id = t AND x.client_id = register_endpoint.client_id;
    RETURN oauth._client_json(oauth._client_row_of(t, register_endpoint.client_id))
           || jsonb_strip_nulls(jsonb_build_object('client_secret', secret, 'registration_access_token', bearer,
                                                   'registration_client_uri', uri));
  ELSIF m = 'DELETE' THEN
    -- Its tokens, codes and consents go with it (foreign keys, cascade).
    DELETE FROM oauth.clients x WHERE x.tenant_id = t AND x.client_id = register_endpoint.client_id;
    RETURN '{}';
  END IF;
  RETURN oauth._error('method_not_allowed', 'use GET, PUT or DELETE');
END $$;
COMMENT ON FUNCTION oauth.register_endpoint(text, text, jsonb, text, text) IS 'Dynamic client registration of the current tenant, as a decision (api.register_answer makes the HTTP answer: 201 for a registration, 204 for a deletion, else 200). POST with client_id NULL (RFC 7591): bearer = an access token of an admin with scope admin, or none when the tenant setting open_registration is true (then only authorization_code/refresh_token, no admin scope); client_id, client_secret (confidential), client_id_issued_at, client_secret_expires_at 0, registration_access_token, registration_client_uri (base_url || /oauth/register/{id}) and the metadata. GET/PUT/DELETE with client_id (RFC 7592): bearer = the registration access token, else invalid_token; PUT replaces the metadata (a client_secret sent along must be the current one); DELETE {} (tokens revoked). Errors: invalid_redirect_uri / invalid_client_metadata (also for a client_name another client has), invalid_token, insufficient_scope, method_not_allowed.';
REVOKE ALL ON FUNCTION oauth.register_endpoint(text, text, jsonb, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth.register_endpoint(text, text, jsonb, text, text) TO backend_gateway, backend_admin;

CREATE OR REPLACE FUNCTION oauth.userinfo() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t uuid := tenancy.current_tenant_id();
  uid uuid := tenancy.current_user_id();
  sc text[] := coalesce(oauth._scopes(current_setting('backend_framework.scopes', true)), '{}');
  r jsonb;
BEGIN
  IF t IS NULL OR (uid IS NULL AND tenancy.current_client_id() IS NULL) THEN
    RAISE EXCEPTION 'authentication required' USING ERRCODE = '28000',
      DETAIL = 'Send an access token (Authorization: Bearer ...).';
  END IF;
  -- A client credentials token has no user to describe: it is not a token for this endpoint.
  IF uid IS NULL THEN
    RAISE EXCEPTION 'the access token was issued to a client, not to a user' USING ERRCODE = '28000';
  END IF;
  IF NOT (sc && '{openid,profile}'::text[]) THEN
    RAISE EXCEPTION 'the access token lacks the openid scope' USING ERRCODE = 'TB004', HINT = 'openid';
  END IF;
  -- OpenID Connect claims by scope; profile also keeps the fields this
  -- endpoint always had (email, tenant, tenant_id, role).
  SELECT oauth._user_claims(t, uid, sc)
         || CASE WHEN 'profile' = ANY (sc) THEN jsonb_strip_nulls(jsonb_build_object('email', u.email,
                   'tenant', n.slug, 'tenant_id', n.id, 'role', u.role)) ELSE '{}' END
    INTO r
    FROM tenancy.users u JOIN tenancy.tenants n ON n.id = u.tenant_id
   WHERE u.tenant_id = t AND u.id = uid;
  IF r IS NULL THEN
    RAISE EXCEPTION 'the user of this access token no longer exists' USING ERRCODE = '28000';
  END IF;
  RETURN r;
END $$;
COMMENT ON FUNCTION oauth.userinfo() IS 'OpenID Connect userinfo of the signed-in user of the current context: sub (the id_token''s), and as the scopes allow: profile → name, updated_at, email, tenant (slug), tenant_id, role; email → email, email_verified. 28000 (401 invalid_token) without an authenticated context or for a token without a user (client credentials); TB004 (403 insufficient_scope) without scope openid or profile.';
REVOKE ALL ON FUNCTION oauth.userinfo() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth.userinfo() TO backend_gateway, backend_app, backend_admin;

CREATE OR REPLACE FUNCTION oauth.metadata_document(issuer text) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT jsonb_build_object(
    'issuer', issuer,
    'authorization_endpoint', issuer || '/oauth/authorize',
    'token_endpoint', issuer || '/oauth/token',
    'revocation_endpoint', issuer || '/oauth/revoke',
    'introspection_endpoint', issuer || '/oauth/introspect',
    'registration_endpoint', issuer || '/oauth/register',
    'userinfo_endpoint', issuer || '/oauth/userinfo',
    'jwks_uri', issuer || '/oauth/jwks',
    'end_session_endpoint', issuer || '/oauth/logout',
    'response_types_supported', '["code"]'::jsonb,
    'response_modes_supported', '["query"]'::jsonb,
    'grant_types_supported', '["authorization_code", "refresh_token", "client_credentials"]'::jsonb
      || CASE WHEN coalesce((s.settings->>'password_grant')::boolean, false) THEN '["password"]'::jsonb ELSE '[]' END,
    'token_endpoint_auth_methods_supported', '["client_secret_basic", "client_secret_post", "none"]'::jsonb,
    'revocation_endpoint_auth_methods_supported', '["client_secret_basic", "client_secret_post", "none"]'::jsonb,
    'introspection_endpoint_auth_methods_supported', '["client_secret_basic", "client_secret_post"]'::jsonb,
    'scopes_supported', to_jsonb(oauth.scopes_supported()),
    'subject_types_supported', '["public"]'::jsonb,
    'id_token_signing_alg_values_supported', to_jsonb(oauth.signing_algs()),
    'claims_supported', '["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp", "sid", "name", "updated_at", "email", "email_verified"]'::jsonb,
    'prompt_values_supported', '["none", "login", "consent", "select_account"]'::jsonb,
    'claims_parameter_supported', false,
    'request_parameter_supported', false,
    'request_uri_parameter_supported', false,
    'code_challenge_methods_supported',
      CASE WHEN coalesce((s.settings->>'allow_plain_pkce')::boolean, false)
           THEN '["S256", "plain"]'::jsonb ELSE '["S256"]'::jsonb END,
    'authorization_response_iss_parameter_supported', true,
    'service_documentation', issuer || '/api/v1/openapi.json')
    FROM (SELECT coalesce((SELECT t.settings FROM tenancy.tenants t WHERE t.id = tenancy.current_tenant_id()), '{}') AS settings) s
$$;
COMMENT ON FUNCTION oauth.metadata_document(text) IS 'Authorization server metadata (RFC 8414) and OpenID Provider configuration (OpenID Connect Discovery 1.0) of the current tenant for its issuer URL: every endpoint is issuer || path, jwks_uri and end_session_endpoint included; password appears in grant_types_supported only when the tenant setting password_grant is true; code_challenge_methods_supported adds plain only when allow_plain_pkce is true.';

CREATE OR REPLACE FUNCTION oauth.protected_resource_document(issuer text) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT jsonb_build_object(
    'resource', issuer,
    'authorization_servers', jsonb_build_array(issuer),
    'jwks_uri', issuer || '/oauth/jwks',
    'scopes_supported', to_jsonb(oauth.scopes_supported()),
    'bearer_methods_supported', '["header"]'::jsonb,
    'resource_documentation', issuer || '/api/v1/openapi.json')
$$;
COMMENT ON FUNCTION oauth.protected_resource_document(text) IS 'RFC 9728 protected resource metadata of the tenant''s API: resource (= the issuer URL), authorization_servers, jwks_uri, scopes_supported, bearer_methods_supported (header).';

CREATE OR REPLACE FUNCTION tenancy.authenticate(access_token text) RETURNS void
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'bf_authenticate';
COMMENT ON FUNCTION tenancy.authenticate(text) IS 'Checks an access token (opaque bfat_..., or an RFC 9068 JWT this server issued; revocation applies to both) and sets the context (tenant, user, role, scopes, client) for the rest of the transaction. When a tenant context is already set, the token must belong to that tenant. 28000 for an invalid, unknown, expired, revoked or other tenant''s token, a token for another resource (RFC 8707) or a disabled user; TB003 when the tenant is suspended.';

CREATE OR REPLACE FUNCTION tenancy._revoke_sign_ins(p_tenant uuid, p_user uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  UPDATE oauth.tokens SET revoked_at = now()
   WHERE tenant_id = p_tenant AND user_id = p_user AND revoked_at IS NULL;
  DELETE FROM oauth.login_sessions WHERE tenant_id = p_tenant AND user_id = p_user;
  DELETE FROM oauth.authorization_codes WHERE tenant_id = p_tenant AND user_id = p_user AND used_at IS NULL;
END $$;
COMMENT ON FUNCTION tenancy._revoke_sign_ins(uuid, uuid) IS 'Internal: revokes all access and refresh tokens of a user and deletes their login sessions and unredeemed authorization codes.';
REVOKE ALL ON FUNCTION tenancy._revoke_sign_ins(uuid, uuid) FROM PUBLIC;

CREATE OR REPLACE FUNCTION tenancy._users_revoke() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM tenancy._revoke_sign_ins(NEW.tenant_id, NEW.id);
  IF NEW.password_hash IS DISTINCT FROM OLD.password_hash THEN
    -- Open resets are superseded by the new password.
    UPDATE tenancy.password_resets SET closed_at = now()
     WHERE tenant_id = NEW.tenant_id AND user_id = NEW.id AND closed_at IS NULL;
  END IF;
  RETURN NULL;
END $$;
COMMENT ON FUNCTION tenancy._users_revoke() IS 'Trigger: when a user''s password changes or the user is disabled, ends all their sign-ins (tenancy._revoke_sign_ins); a new password also closes open resets.';
REVOKE ALL ON FUNCTION tenancy._users_revoke() FROM PUBLIC;

CREATE OR REPLACE FUNCTION tenancy.change_credentials(current_password text, new_password text DEFAULT NULL,
                                           new_email text DEFAULT NULL, client_addr text DEFAULT NULL,
                                           OUT changed boolean, OUT retry_after integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t uuid := tenancy.current_tenant_id();
  uid uuid := tenancy.current_user_id();
  e text;
  old_email text;
  ok uuid;
BEGIN
  IF t IS NULL OR uid IS NULL THEN
    RAISE EXCEPTION 'this needs a user''s token' USING ERRCODE = '42501',
      DETAIL = 'Users change their own password and e-mail address; admins may only reset a password (tenancy.reset_password).';
  END IF;
  IF new_password IS NULL AND new_email IS NULL THEN
    RAISE EXCEPTION 'nothing to change' USING ERRCODE = '22023', DETAIL = 'Give a new password, a new e-mail address, or both.';
  END IF;
  IF current_password IS NULL THEN
    RAISE EXCEPTION 'the current password is required' USING ERRCODE = '22023';
  END IF;
  IF new_email IS NOT NULL THEN e := tenancy._check_email(new_email); END IF;
  IF new_password IS NOT NULL THEN PERFORM tenancy.check_password_policy(new_password); END IF;
  SELECT u.email INTO old_email FROM tenancy.users u WHERE u.tenant_id = t AND u.id = uid AND u.status = 'active';
  IF NOT FOUND THEN
    RAISE EXCEPTION 'user not found' USING ERRCODE = 'P0002';
  END IF;
  SELECT c.user_id, c.wait_seconds INTO ok, retry_after
    FROM oauth._check_password(t, old_email, current_password, change_credentials.client_addr) c;
  changed := false;
  IF retry_after > 0 THEN RETURN; END IF;
  retry_after := 0;
  IF ok IS DISTINCT FROM uid THEN RETURN; END IF;
  IF e IS NOT NULL AND e IS DISTINCT FROM old_email THEN
    BEGIN
      UPDATE tenancy.users SET email = e WHERE tenant_id = t AND id = uid;
    EXCEPTION WHEN unique_violation THEN
      RAISE EXCEPTION 'a user with email "%" already exists', e USING ERRCODE = '23505';
    END;
  END IF;
  IF new_password IS NOT NULL THEN
    UPDATE tenancy.users SET password_hash = tenancy.hash_password(new_password) WHERE tenant_id = t AND id = uid;
  END IF;
  changed := true;
END $$;
COMMENT ON FUNCTION tenancy.change_credentials(text, text, text, text) IS 'The context''s user changes their own password and/or e-mail address, giving the current password (throttled per e-mail and client_addr like sign-ins). changed false: wrong current password (retry_after 0, the failure counts) or throttled (retry_after seconds, nothing checked). A new password revokes all the user''s tokens, sessions and codes. 42501 without a user context, 22023 invalid input, 23505 e-mail taken.';
REVOKE ALL ON FUNCTION tenancy.change_credentials(text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.change_credentials(text, text, text, text) TO backend_gateway, backend_app, backend_admin;

CREATE OR REPLACE FUNCTION tenancy.reset_password(p_user uuid) RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t uuid := tenancy.current_tenant_id();
  target_role text;
  rid uuid;
BEGIN
  IF NOT tenancy.acts_as_admin() THEN
    RAISE EXCEPTION 'only admins and owners reset passwords' USING ERRCODE = '42501';
  END IF;
  SELECT u.role INTO target_role FROM tenancy.users u WHERE u.tenant_id = t AND u.id = p_user FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'user not found' USING ERRCODE = 'P0002';
  END IF;
  IF target_role = 'owner' AND tenancy.current_user_role() IS DISTINCT FROM 'owner' THEN
    RAISE EXCEPTION 'only an owner may reset an owner''s password' USING ERRCODE = '42501';
  END IF;
  UPDATE tenancy.users SET password_hash = tenancy.hash_password(oauth.random_token('reset'))
   WHERE tenant_id = t AND id = p_user;
  INSERT INTO tenancy.password_resets (tenant_id, user_id, requested_by)
  VALUES (t, p_user, tenancy.current_user_id()) RETURNING id INTO rid;
  RETURN rid;
END $$;
COMMENT ON FUNCTION tenancy.reset_password(uuid) IS 'Admins and owners (scope admin) of the current tenant: makes a user''s password unusable, revokes all their tokens, sessions and codes, and queues a reset for the mail sender (tenancy.take_password_reset_mail); returns the request id, never a secret. An owner''s password: owners only (42501). P0002 unknown user.';
REVOKE ALL ON FUNCTION tenancy.reset_password(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.reset_password(uuid) TO backend_gateway, backend_app, backend_admin;

CREATE OR REPLACE FUNCTION tenancy.take_password_reset_mail(p_limit integer DEFAULT NULL)
RETURNS TABLE (tenant_id uuid, tenant_slug text, user_id uuid, email text, reset_token text, expires_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
  r record;
  tok text;
BEGIN
  FOR r IN SELECT p.tenant_id AS tid, p.id AS rid, p.user_id AS uid, u.email AS mail, n.slug AS slug
             FROM tenancy.password_resets p
             JOIN tenancy.users u ON u.tenant_id = p.tenant_id AND u.id = p.user_id
             JOIN tenancy.tenants n ON n.id = p.tenant_id
            WHERE p.delivered_at IS NULL AND p.closed_at IS NULL AND u.status = 'active'
            ORDER BY p.requested_at
            LIMIT greatest(1, least(coalesce(p_limit, (tenancy.bounds()).mail_batch), (tenancy.bounds()).mail_batch_max))
              FOR UPDATE OF p SKIP LOCKED
  LOOP
    tok := oauth.random_token('reset');
    UPDATE tenancy.password_resets x
       SET token_hash = oauth.token_digest(tok), delivered_at = now(),
           expires_at = now() + make_interval(secs => (oauth.lifetimes()).password_reset)
     WHERE x.tenant_id = r.tid AND x.id = r.rid
    RETURNING x.expires_at INTO expires_at;
    tenant_id := r.tid; tenant_slug := r.slug; user_id := r.uid; email := r.mail;
    reset_token := tok;
    RETURN NEXT;
  END LOOP;
END $$;
COMMENT ON FUNCTION tenancy.take_password_reset_mail(integer) IS 'backend_admin only (the platform''s mail sender): takes up to p_limit (default and largest: tenancy.bounds().mail_batch, mail_batch_max) pending password resets of all tenants and returns, once, each user''s e-mail and a new one-time secret (valid for oauth.lifetimes().password_reset seconds) to send them; only its digest is kept. The user redeems it with POST /api/v1/password-reset (tenancy.redeem_password_reset).';
REVOKE ALL ON FUNCTION tenancy.take_password_reset_mail(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.take_password_reset_mail(integer) TO backend_admin;

CREATE OR REPLACE FUNCTION tenancy.redeem_password_reset(reset_token text, new_password text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t uuid := tenancy.current_tenant_id();
  rid uuid;
  uid uuid;
BEGIN
  IF t IS NULL THEN
    RAISE EXCEPTION 'no tenant in the current context' USING ERRCODE = 'P0002';
  END IF;
  PERFORM tenancy.check_password_policy(new_password);
  IF reset_token ~ '^bfpr_[A-Za-z0-9_-]{43}$' THEN
    SELECT p.id, p.user_id INTO rid, uid
      FROM tenancy.password_resets p
      JOIN tenancy.users u ON u.tenant_id = p.tenant_id AND u.id = p.user_id AND u.status = 'active'
     WHERE p.tenant_id = t AND p.token_hash = oauth.token_digest(reset_token)
       AND p.closed_at IS NULL AND p.expires_at > now()
       FOR UPDATE OF p;
  END IF;
  IF rid IS NULL THEN
    RAISE EXCEPTION 'invalid or expired password reset' USING ERRCODE = '22023',
      DETAIL = 'Ask an administrator to reset your password again.';
  END IF;
  UPDATE tenancy.password_resets SET closed_at = now() WHERE tenant_id = t AND id = rid;
  UPDATE tenancy.users SET password_hash = tenancy.hash_password(new_password) WHERE tenant_id = t AND id = uid;
END $$;
COMMENT ON FUNCTION tenancy.redeem_password_reset(text, text) IS 'Sets a new password with a one-time reset secret (bfpr_...) of the current tenant: the secret is used up, every sign-in of the user ends. 22023 for a weak password or an unknown, used, expired or other tenant''s secret (or a disabled user).';
REVOKE ALL ON FUNCTION tenancy.redeem_password_reset(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.redeem_password_reset(text, text) TO backend_gateway, backend_app, backend_admin;

CREATE OR REPLACE FUNCTION oauth._key_generate(alg text, OUT kid text, OUT public_jwk text, OUT public_der bytea, OUT private_key bytea)
  LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'oauth_key_generate';
COMMENT ON FUNCTION oauth._key_generate(text) IS 'Internal: a new RS256 (RSA 2048) or ES256 (P-256) key pair: kid (RFC 7638 thumbprint), public JWK, public key (DER) and the private key sealed with the key-encryption key. 55000 when no key-encryption key is configured.';
REVOKE ALL ON FUNCTION oauth._key_generate(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION oauth._jws_sign(alg text, kid text, private_key bytea, typ text, payload text) RETURNS text
  LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'oauth_jws_sign';
COMMENT ON FUNCTION oauth._jws_sign(text, text, bytea, text, text) IS 'Internal: JWS compact serialization of payload (JSON text) with header {alg, kid, typ}, signed with a sealed private key.';
REVOKE ALL ON FUNCTION oauth._jws_sign(text, text, bytea, text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION oauth._jws_verify(token text, public_der bytea, alg text) RETURNS boolean
  LANGUAGE c IMMUTABLE STRICT AS 'MODULE_PATHNAME', 'oauth_jws_verify';
COMMENT ON FUNCTION oauth._jws_verify(text, bytea, text) IS 'Internal: whether a compact JWS carries a valid alg signature of this public key (DER SubjectPublicKeyInfo).';
REVOKE ALL ON FUNCTION oauth._jws_verify(text, bytea, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION oauth._new_signing_key(p_tenant uuid, p_alg text, p_state text) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE k record;
BEGIN
  SELECT * INTO k FROM oauth._key_generate(p_alg);
  INSERT INTO oauth.signing_keys (tenant_id, kid, alg, state, public_jwk, public_der, private_key, activated_at)
  VALUES (p_tenant, k.kid, p_alg, p_state, k.public_jwk::jsonb, k.public_der, k.private_key,
          CASE WHEN p_state = 'active' THEN now() END);
  RETURN k.kid;
END $$;
COMMENT ON FUNCTION oauth._new_signing_key(uuid, text, text) IS 'Internal: generates and stores a signing key of a tenant in state next or active; returns its kid.';
REVOKE ALL ON FUNCTION oauth._new_signing_key(uuid, text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION oauth._ensure_signing_keys(p_tenant uuid) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE a text;
BEGIN
  IF (SELECT count(*) FROM oauth.signing_keys k WHERE k.tenant_id = p_tenant AND k.state IN ('active', 'next'))
     = 2 * cardinality(oauth.signing_algs()) THEN
    RETURN;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtextextended('backend_framework.signing_keys:' || p_tenant::text, 0));
  FOREACH a IN ARRAY oauth.signing_algs() LOOP
    IF NOT EXISTS (SELECT 1 FROM oauth.signing_keys k WHERE k.tenant_id = p_tenant AND k.alg = a AND k.state = 'active') THEN
      PERFORM oauth._new_signing_key(p_tenant, a, 'active');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM oauth.signing_keys k WHERE k.tenant_id = p_tenant AND k.alg = a AND k.state = 'next') THEN
      PERFORM oauth._new_signing_key(p_tenant, a, 'next');
    END IF;
  END LOOP;
END $$;
COMMENT ON FUNCTION oauth._ensure_signing_keys(uuid) IS 'Internal: makes the missing active and next keys (RS256, ES256) of a tenant.';
REVOKE ALL ON FUNCTION oauth._ensure_signing_keys(uuid) FROM PUBLIC;

CREATE OR REPLACE FUNCTION oauth.jwks_document(p_tenant uuid) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF p_tenant IS NULL OR p_tenant IS DISTINCT FROM tenancy.current_tenant_id() THEN
    RAISE EXCEPTION 'no such tenant in the current context' USING ERRCODE = 'P0002';
  END IF;
  PERFORM oauth._ensure_signing_keys(p_tenant);
  RETURN jsonb_build_object('keys', (
    SELECT coalesce(jsonb_agg(k.public_jwk ORDER BY k.alg DESC, array_position('{active,next,retired}'::text[], k.state), k.created_at), '[]')
      FROM oauth.signing_keys k
     WHERE k.tenant_id = p_tenant AND (k.state <> 'retired' OR k.published_until > now())));
END $$;
COMMENT ON FUNCTION oauth.jwks_document(uuid) IS 'JWKS (RFC 7517) of the current tenant: public keys of its active, next and still-published retired signing keys (made on first use). 55000 without a key-encryption key.';
REVOKE ALL ON FUNCTION oauth.jwks_document(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth.jwks_document(uuid) TO backend_gateway, backend_app, backend_admin;

CREATE OR REPLACE FUNCTION oauth._sign_jwt(p_tenant uuid, p_alg text, p_typ text, p_claims jsonb, OUT jwt text, OUT kid text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE k record;
BEGIN
  SELECT s.kid, s.private_key INTO k FROM oauth.signing_keys s
   WHERE s.tenant_id = p_tenant AND s.alg = p_alg AND s.state = 'active';
  IF NOT FOUND THEN
    PERFORM oauth._ensure_signing_keys(p_tenant);
    SELECT s.kid, s.private_key INTO k FROM oauth.signing_keys s
     WHERE s.tenant_id = p_tenant AND s.alg = p_alg AND s.state = 'active';
  END IF;
  kid := k.kid;
  jwt := oauth._jws_sign(p_alg, k.kid, k.private_key, p_typ, p_claims::text);
END $$;
COMMENT ON FUNCTION oauth._sign_jwt(uuid, text, text, jsonb) IS 'Internal: a JWT of the claims signed with the tenant''s active key of the algorithm (RS256 or ES256), and that key''s kid.';
REVOKE ALL ON FUNCTION oauth._sign_jwt(uuid, text, text, jsonb) FROM PUBLIC;

CREATE OR REPLACE FUNCTION oauth._verify_jwt(p_tenant uuid, p_token text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
  h jsonb;
  k record;
BEGIN
  IF p_token IS NULL OR length(p_token) > 16384
     OR p_token !~ '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$' THEN
    RETURN NULL;
  END IF;
  BEGIN
    h := convert_from(oauth.base64url_decode(split_part(p_token, '.', 1)), 'UTF8')::jsonb;
  EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
  END;
  IF jsonb_typeof(h) <> 'object' OR h ? 'crit' OR NOT h->>'alg' = ANY (oauth.signing_algs()) THEN RETURN NULL; END IF;
  SELECT s.public_der, s.alg INTO k FROM oauth.signing_keys s
   WHERE s.tenant_id = p_tenant AND s.kid = h->>'kid' AND s.alg = h->>'alg'
     AND (s.state <> 'retired' OR s.published_until > now());
  IF NOT FOUND OR NOT oauth._jws_verify(p_token, k.public_der, k.alg) THEN RETURN NULL; END IF;
  BEGIN
    h := convert_from(oauth.base64url_decode(split_part(p_token, '.', 2)), 'UTF8')::jsonb;
  EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
  END;
  RETURN CASE WHEN jsonb_typeof(h) = 'object' THEN h END;
END $$;
COMMENT ON FUNCTION oauth._verify_jwt(uuid, text) IS 'Internal: claims of a JWT signed by one of the tenant''s published keys, or NULL; does not look at exp.';
REVOKE ALL ON FUNCTION oauth._verify_jwt(uuid, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION oauth._key_publish_until(p_tenant uuid, p_kid text) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
  SELECT greatest(now() + make_interval(secs => (oauth.lifetimes()).id_token),
                  (SELECT max(t.expires_at) FROM oauth.tokens t WHERE t.tenant_id = p_tenant AND t.kid = p_kid))
$$;
COMMENT ON FUNCTION oauth._key_publish_until(uuid, text) IS 'Internal: when a key retired now may leave JWKS: the expiry of the last token it signed.';
REVOKE ALL ON FUNCTION oauth._key_publish_until(uuid, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION oauth.rotate_signing_keys(p_tenant uuid, compromised boolean DEFAULT false) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  k record;
  retired text[] := '{}';
  activated text[] := '{}';
BEGIN
  IF NOT tenancy.is_platform_admin() THEN
    RAISE EXCEPTION 'only platform operators rotate signing keys' USING ERRCODE = '42501';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM tenancy.tenants n WHERE n.id = p_tenant) THEN
    RAISE EXCEPTION 'tenant not found' USING ERRCODE = 'P0002';
  END IF;
  PERFORM oauth._ensure_signing_keys(p_tenant);
  PERFORM pg_advisory_xact_lock(hashtextextended('backend_framework.signing_keys:' || p_tenant::text, 0));
  FOR k IN SELECT s.kid, s.alg FROM oauth.signing_keys s WHERE s.tenant_id = p_tenant AND s.state = 'active' ORDER BY s.alg LOOP
    UPDATE oauth.signing_keys s SET state = 'retired', retired_at = now(),
           published_until = CASE WHEN compromised THEN now() ELSE oauth._key_publish_until(p_tenant, k.kid) END
     WHERE s.tenant_id = p_tenant AND s.kid = k.kid;
    retired := retired || k.kid;
    IF compromised THEN
      UPDATE oauth.tokens t SET revoked_at = now() WHERE t.tenant_id = p_tenant AND t.kid = k.kid AND t.revoked_at IS NULL;
    END IF;
    -- The next key was published at the previous rotation (or with the first keys).
    UPDATE oauth.signing_keys s SET state = 'active', activated_at = now()
     WHERE s.tenant_id = p_tenant AND s.alg = k.alg AND s.state = 'next'
    RETURNING s.kid INTO k.kid;
    activated := activated || k.kid;
    PERFORM oauth._new_signing_key(p_tenant, k.alg, 'next');
  END LOOP;
  IF compromised THEN
    DELETE FROM oauth.signing_keys s WHERE s.tenant_id = p_tenant AND s.kid = ANY (retired);
  END IF;
  RETURN jsonb_build_object('retired', to_jsonb(retired), 'activated', to_jsonb(activated), 'compromised', compromised);
END $$;
COMMENT ON FUNCTION oauth.rotate_signing_keys(uuid, boolean) IS 'Platform operators: rotates a tenant''s signing keys — the published next key of each algorithm starts signing, the active one retires and stays in JWKS until the last token it signed expires, a new next key is published. compromised => true: the old keys leave JWKS at once and their JWT access tokens are revoked. Returns the kids retired and activated.';
REVOKE ALL ON FUNCTION oauth.rotate_signing_keys(uuid, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth.rotate_signing_keys(uuid, boolean) TO backend_admin;

CREATE OR REPLACE FUNCTION oauth.rotate_keys_if_due() RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  days integer := current_setting('backend_framework.key_rotation_days')::integer;
  t uuid;
  n integer := 0;
BEGIN
  IF NOT tenancy.is_platform_admin() THEN
    RAISE EXCEPTION 'only platform operators rotate signing keys' USING ERRCODE = '42501';
  END IF;
  DELETE FROM oauth.signing_keys s WHERE s.state = 'retired' AND s.published_until <= now();
  IF days > 0 THEN
    FOR t IN SELECT DISTINCT s.tenant_id FROM oauth.signing_keys s
              WHERE s.state = 'active' AND s.activated_at < now() - make_interval(days => days) LOOP
      PERFORM oauth.rotate_signing_keys(t);
      n := n + 1;
    END LOOP;
  END IF;
  RETURN n;
END $$;
COMMENT ON FUNCTION oauth.rotate_keys_if_due() IS 'Platform operators (a background worker or cron job): rotates the signing keys of every tenant whose active key is older than backend_framework.key_rotation_days (0: never) and deletes retired keys past their publication; returns the number of tenants rotated.';
REVOKE ALL ON FUNCTION oauth.rotate_keys_if_due() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth.rotate_keys_if_due() TO backend_admin;

CREATE OR REPLACE FUNCTION oauth._user_claims(p_tenant uuid, p_user uuid, p_scopes text[]) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object('sub', u.id::text))
         || CASE WHEN 'profile' = ANY (p_scopes)
                 THEN jsonb_strip_nulls(jsonb_build_object('name', u.display_name,
                        'updated_at', floor(extract(epoch FROM u.updated_at))::bigint)) ELSE '{}' END
         || CASE WHEN 'email' = ANY (p_scopes)
                 THEN jsonb_build_object('email', u.email, 'email_verified', false) ELSE '{}' END
    FROM tenancy.users u WHERE u.tenant_id = p_tenant AND u.id = p_user
$$;
COMMENT ON FUNCTION oauth._user_claims(uuid, uuid, text[]) IS 'Internal: OpenID Connect claims of a user as the scopes allow: sub always; profile: name, updated_at; email: email, email_verified (false: addresses are not verified).';
REVOKE ALL ON FUNCTION oauth._user_claims(uuid, uuid, text[]) FROM PUBLIC;

CREATE OR REPLACE FUNCTION oauth._at_hash(access_token text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT oauth.base64url_encode(substring(oauth.token_digest(access_token) FROM 1 FOR 16))
$$;
COMMENT ON FUNCTION oauth._at_hash(text) IS 'Internal: at_hash of an access token for RS256/ES256 id_tokens (base64url of the left 128 bits of its SHA-256).';

CREATE OR REPLACE FUNCTION oauth._id_token(p_tenant uuid, p_issuer text, p_client text, p_user uuid, p_scopes text[],
                                p_nonce text, p_auth_time timestamptz, p_access_token text, p_sid uuid) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  alg text;
  claims jsonb;
BEGIN
  SELECT c.id_token_signed_response_alg INTO alg FROM oauth.clients c WHERE c.tenant_id = p_tenant AND c.client_id = p_client;
  claims := oauth._user_claims(p_tenant, p_user, p_scopes) || jsonb_strip_nulls(jsonb_build_object(
    'iss', p_issuer,
    'aud', p_client,
    'azp', p_client,
    'iat', floor(extract(epoch FROM now()))::bigint,
    'exp', floor(extract(epoch FROM now()))::bigint + (oauth.lifetimes()).id_token,
    'auth_time', floor(extract(epoch FROM p_auth_time))::bigint,
    'nonce', p_nonce,
    'at_hash', CASE WHEN p_access_token IS NOT NULL THEN oauth._at_hash(p_access_token) END,
    'sid', p_sid));
  RETURN (oauth._sign_jwt(p_tenant, coalesce(alg, (oauth.signing_algs())[1]), 'JWT', claims)).jwt;
END $$;
COMMENT ON FUNCTION oauth._id_token(uuid, text, text, uuid, text[], text, timestamptz, text, uuid) IS 'Internal: a signed id_token (iss, sub, aud, azp, iat, exp, auth_time, nonce, at_hash, sid, and the claims the scopes allow) with the client''s id_token_signed_response_alg.';
REVOKE ALL ON FUNCTION oauth._id_token(uuid, text, text, uuid, text[], text, timestamptz, text, uuid) FROM PUBLIC;

CREATE OR REPLACE FUNCTION oauth._default_issuer(p_tenant uuid) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT (SELECT pu.url FROM tenancy.public_urls() pu ORDER BY pu.ord LIMIT 1) || '/t/' || n.slug
    FROM tenancy.tenants n WHERE n.id = p_tenant
$$;
COMMENT ON FUNCTION oauth._default_issuer(uuid) IS 'Internal: the issuer URL of a tenant by the path strategy on the first of backend_framework.public_urls (when a caller gives none).';
REVOKE ALL ON FUNCTION oauth._default_issuer(uuid) FROM PUBLIC;

CREATE OR REPLACE FUNCTION oauth._resource_known(p_tenant uuid, p_issuer text, p_resource text) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT p_resource IS NULL OR p_resource = p_issuer OR p_resource = p_issuer || '/'
      OR EXISTS (SELECT 1 FROM tenancy.tenants n, jsonb_array_elements_text(coalesce(n.settings->'resource_indicators', '[]')) r
                  WHERE n.id = p_tenant AND r = p_resource)
$$;
COMMENT ON FUNCTION oauth._resource_known(uuid, text, text) IS 'Internal: whether a resource indicator (RFC 8707) names a resource of the tenant: its own API (the issuer URL) or one of the settings'' resource_indicators.';
REVOKE ALL ON FUNCTION oauth._resource_known(uuid, text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION oauth.end_session_endpoint(method text, params jsonb, cookies jsonb, issuer text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t uuid := tenancy.current_tenant_id();
  ten jsonb;
  b record;
  hint jsonb;
  cid text;
  uris text[];
  ended jsonb;
  confirmed boolean;
BEGIN
  SELECT jsonb_build_object('name', x.name, 'brand', x.settings->>'brand_color') INTO ten FROM tenancy.tenants x WHERE x.id = t;
  IF t IS NULL OR NOT FOUND THEN
    RETURN '{"error": "not_found"}';
  END IF;
  IF params IS NULL OR jsonb_typeof(params) <> 'object'
     OR EXISTS (SELECT 1 FROM jsonb_each(params) e WHERE jsonb_typeof(e.value) <> 'string') THEN
    params := '{}';
  END IF;
  SELECT * INTO b FROM oauth._browser_cookies(cookies);

  -- Which client asks: the id_token_hint's audience (signed by us; it may
  -- have expired), else client_id; both must agree.
  IF params->>'id_token_hint' IS NOT NULL THEN
    hint := oauth._verify_jwt(t, params->>'id_token_hint');
    IF hint IS NULL OR hint->>'iss' IS DISTINCT FROM issuer THEN
      RETURN jsonb_build_object('error', 'invalid_request', 'tenant', ten,
                                'message', 'The id_token_hint is not an ID token of this issuer.');
    END IF;
    cid := CASE jsonb_typeof(hint->'aud') WHEN 'array' THEN hint->'aud'->>0 ELSE hint->>'aud' END;
  END IF;
  IF params->>'client_id' IS NOT NULL THEN
    IF cid IS NOT NULL AND cid <> params->>'client_id' THEN
      RETURN jsonb_build_object('error', 'invalid_request', 'tenant', ten,
                                'message', 'client_id does not match the id_token_hint.');
    END IF;
    cid := params->>'client_id';
  END IF;
  IF params->>'post_logout_redirect_uri' IS NOT NULL THEN
    SELECT c.post_logout_redirect_uris INTO uris FROM oauth.clients c WHERE c.tenant_id = t AND c.client_id = cid;
    IF cid IS NULL OR NOT coalesce(params->>'post_logout_redirect_uri' = ANY (uris), false) THEN
      RETURN jsonb_build_object('error', 'invalid_request', 'tenant', ten, 'message',
        'The address to return to (post_logout_redirect_uri) is not registered for this application.');
    END IF;
  END IF;

  -- Without a valid id_token_hint a third party could sign the user out:
  -- ask first (a form with the CSRF double submit).
  confirmed := hint IS NOT NULL
    OR (upper(method) = 'POST' AND params->>'action' = 'logout' AND oauth._csrf_ok(b.csrf, params->>'csrf'));
  IF NOT confirmed AND b.session IS NOT NULL THEN
    b.csrf := coalesce(b.csrf, oauth.random_token('csrf'));
    RETURN jsonb_build_object('show', 'confirm', 'tenant', ten, 'csrf', oauth._csrf_field(b.csrf),
      'request', (SELECT coalesce(jsonb_object_agg(key, value), '{}') FROM jsonb_each(params)
                   WHERE key IN ('client_id', 'post_logout_redirect_uri', 'state')),
      'cookies', jsonb_build_array(jsonb_build_object('name', 'bf_csrf', 'value', b.csrf)));
  END IF;

  -- End the browser's session (and, with a hint, the session it names).
  IF confirmed THEN
    IF b.session IS NOT NULL THEN
      DELETE FROM oauth.login_sessions l WHERE l.tenant_id = t AND l.session_hash = oauth.token_digest(b.session);
    END IF;
    IF hint ? 'sid' AND hint ? 'sub' THEN
      DELETE FROM oauth.login_sessions l WHERE l.tenant_id = t AND l.id::text = hint->>'sid' AND l.user_id::text = hint->>'sub';
    END IF;
  END IF;
  -- The session cookie goes, also from the path 0.1.0 gave it (/oauth/authorize).
  ended := '[{"name": "bf_session", "value": "", "max_age": 0}, {"name": "bf_session", "value": "", "max_age": 0, "path": "/authorize"}]';
  IF params->>'post_logout_redirect_uri' IS NOT NULL THEN
    RETURN jsonb_build_object('redirect', params->>'post_logout_redirect_uri',
                              'params', jsonb_build_object('state', params->>'state'), 'cookies', ended);
  END IF;
  RETURN jsonb_build_object('show', 'signed_out', 'tenant', ten, 'cookies', ended);
END $$;
COMMENT ON FUNCTION oauth.end_session_endpoint(text, jsonb, jsonb, text) IS 'GET/POST /oauth/logout (OpenID Connect RP-Initiated Logout), as a decision (jsonb; api.logout_answer renders it): with a valid id_token_hint (expired is fine) the sign-in session of the browser (cookie bf_session) and the one the hint names end at once; without one the user confirms on a page (CSRF-protected). post_logout_redirect_uri must be registered exactly for the client (of the hint, or client_id): a redirect there with state; else the signed-out page. The session cookie is cleared.';
REVOKE ALL ON FUNCTION oauth.end_session_endpoint(text, jsonb, jsonb, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth.end_session_endpoint(text, jsonb, jsonb, text) TO backend_gateway, backend_admin;

CREATE OR REPLACE FUNCTION oauth._require_user(OUT tenant_id uuid, OUT user_id uuid)
LANGUAGE plpgsql STABLE AS $$
BEGIN
  tenant_id := tenancy.current_tenant_id(); user_id := tenancy.current_user_id();
  IF tenant_id IS NULL OR user_id IS NULL THEN
    RAISE EXCEPTION 'a signed-in user is required' USING ERRCODE = '28000';
  END IF;
END $$;
COMMENT ON FUNCTION oauth._require_user() IS 'Internal: tenant and user of the context, or 28000.';
REVOKE ALL ON FUNCTION oauth._require_user() FROM PUBLIC;

CREATE OR REPLACE FUNCTION oauth.my_sessions() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE u record := oauth._require_user();
BEGIN
  RETURN (SELECT coalesce(jsonb_agg(jsonb_build_object('id', l.id, 'created_at', l.created_at, 'expires_at', l.expires_at,
                                                       'client_addr', l.client_addr) ORDER BY l.created_at DESC), '[]')
            FROM oauth.login_sessions l
           WHERE l.tenant_id = u.tenant_id AND l.user_id = u.user_id AND l.expires_at > now());
END $$;
COMMENT ON FUNCTION oauth.my_sessions() IS 'The signed-in user''s live browser sessions (sign-ins on the authorize page): id, created_at, expires_at, client_addr.';
REVOKE ALL ON FUNCTION oauth.my_sessions() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth.my_sessions() TO backend_gateway, backend_app, backend_admin;

CREATE OR REPLACE FUNCTION oauth.revoke_my_session(session_id uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE u record := oauth._require_user();
BEGIN
  DELETE FROM oauth.login_sessions l WHERE l.tenant_id = u.tenant_id AND l.user_id = u.user_id AND l.id = session_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'session not found' USING ERRCODE = 'P0002';
  END IF;
END $$;
COMMENT ON FUNCTION oauth.revoke_my_session(uuid) IS 'Ends one of the signed-in user''s browser sessions (the next authorization there asks for the password). P0002 unknown.';
REVOKE ALL ON FUNCTION oauth.revoke_my_session(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth.revoke_my_session(uuid) TO backend_gateway, backend_app, backend_admin;

CREATE OR REPLACE FUNCTION oauth.my_consents() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE u record := oauth._require_user();
BEGIN
  RETURN (SELECT coalesce(jsonb_agg(jsonb_build_object('client_id', x.client_id, 'client_name', c.client_name,
                                                       'scope', x.scope, 'granted_at', x.granted_at) ORDER BY x.granted_at DESC), '[]')
            FROM oauth.consents x JOIN oauth.clients c ON c.tenant_id = x.tenant_id AND c.client_id = x.client_id
           WHERE x.tenant_id = u.tenant_id AND x.user_id = u.user_id);
END $$;
COMMENT ON FUNCTION oauth.my_consents() IS 'The applications the signed-in user allowed: client_id, client_name, scope, granted_at.';
REVOKE ALL ON FUNCTION oauth.my_consents() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth.my_consents() TO backend_gateway, backend_app, backend_admin;

CREATE OR REPLACE FUNCTION oauth.revoke_my_consent(client_id text) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  u record := oauth._require_user();
  n bigint;
BEGIN
  DELETE FROM oauth.consents x WHERE x.tenant_id = u.tenant_id AND x.user_id = u.user_id AND x.client_id = revoke_my_consent.client_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'consent not found' USING ERRCODE = 'P0002';
  END IF;
  -- The application loses what it got with that consent.
  WITH r AS (UPDATE oauth.tokens t SET revoked_at = now()
              WHERE t.tenant_id = u.tenant_id AND t.user_id = u.user_id AND t.client_id = revoke_my_consent.client_id
                AND t.revoked_at IS NULL RETURNING 1)
  SELECT count(*) INTO n FROM r;
  RETURN n;
END $$;
COMMENT ON FUNCTION oauth.revoke_my_consent(text) IS 'Withdraws the signed-in user''s consent to a client and revokes every token that client holds for the user; returns how many tokens were revoked. P0002 when there was no consent.';
REVOKE ALL ON FUNCTION oauth.revoke_my_consent(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth.revoke_my_consent(text) TO backend_gateway, backend_app, backend_admin;

CREATE OR REPLACE FUNCTION api.error_from_sqlstate(p_state text, p_message text, p_detail text DEFAULT NULL, p_hint text DEFAULT NULL)
RETURNS api.response LANGUAGE plpgsql STABLE AS $$
DECLARE
  d text := p_message || coalesce('. ' || nullif(p_detail, ''), '') || coalesce(' ' || nullif(p_hint, ''), '');
BEGIN
  RETURN CASE
    WHEN p_state = '28000' OR p_state = '28P01' THEN
      api.error_answer('invalid_token', d, api.www_authenticate('Bearer', 'invalid_token', p_message))
    WHEN p_state = 'TB401' THEN
      -- RFC 6750 §3.1: no credentials at all → a challenge without an error code.
      api.error_answer('unauthorized', d, api.www_authenticate('Bearer'))
    WHEN p_state = '42501' THEN api.error_answer('forbidden', d)
    WHEN p_state = 'TB004' THEN
      api.error_answer('insufficient_scope', d, api.www_authenticate('Bearer', 'insufficient_scope', NULL, coalesce(p_hint, '')))
    WHEN p_state = 'TB001' THEN api.error_answer('limit_exceeded', d)
    WHEN p_state = 'TB002' THEN
      api.error_answer('quota_exceeded', d, jsonb_build_object('Retry-After',
        greatest(1, extract(epoch FROM date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month' - (now() AT TIME ZONE 'UTC'))::bigint)::text))
    WHEN p_state = 'TB429' THEN
      api.error_answer('too_many_requests', p_message || coalesce('. ' || nullif(p_detail, ''), ''),
                       jsonb_build_object('Retry-After', coalesce(substring(p_hint FROM '^[0-9]{1,9}$'), '60')))
    WHEN p_state = 'TB003' THEN api.error_answer('tenant_suspended', d)
    WHEN p_state = 'TB415' THEN api.error_answer('unsupported_media_type', d)
    WHEN p_state = 'TB421' THEN api.error_answer('misdirected_request', d)
    WHEN p_state = 'P0002' THEN api.error_answer('not_found', d)
    WHEN p_state = '23505' THEN api.error_answer('conflict', d)
    WHEN p_state IN ('40001', '40P01', '55P03', '57014', '53300') THEN
      api.error_answer('temporarily_unavailable', 'The server is busy; try again.', '{"Retry-After": "1"}')
    WHEN left(p_state, 2) IN ('22', '23') OR p_state IN ('54000', '42804') THEN api.error_answer('invalid_request', d)
    ELSE api.error_answer('server_error', 'Internal error (' || p_state || ').')
  END;
END $$;
COMMENT ON FUNCTION api.error_from_sqlstate(text, text, text, text) IS 'Maps an SQLSTATE to an HTTP error answer (error code here, status from api.error_status, challenges from api.www_authenticate): 22xxx/23xxx → 400 invalid_request, 28000 → 401 invalid_token, TB401 → 401 without error code, 42501/TB001/TB003 → 403, TB004 → 403 insufficient_scope, P0002 → 404, TB415 → 415, TB421 → 421 misdirected_request, 23505 → 409, TB002 → 429 (monthly quota), TB429 → 429 (rate; HINT: seconds), 40001/57014 → 503, else 500 server_error.';

CREATE OR REPLACE FUNCTION api.tenant_json(t tenancy.tenants) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('id', t.id, 'slug', t.slug, 'name', t.name, 'custom_domain', t.custom_domain,
    'custom_domain_status', t.custom_domain_status,
    'plan', t.plan, 'status', t.status, 'settings', t.settings,
    'limits', (SELECT to_jsonb(l) FROM tenancy.tenant_limits(t.id) l),
    'created_at', t.created_at, 'updated_at', t.updated_at)
$$;

CREATE OR REPLACE FUNCTION api.request_host(h jsonb, OUT host text, OUT port integer)
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v text := lower(btrim(h->>'host'));
  m text[];
BEGIN
  IF v IS NULL OR v = '' THEN RETURN; END IF;   -- HTTP/1.0 without Host: the canonical URL
  IF strpos(v, ',') > 0 THEN
    RAISE EXCEPTION 'more than one Host header' USING ERRCODE = '22023',
      DETAIL = 'A request has exactly one Host header (RFC 9112 §3.2).';
  END IF;
  m := regexp_match(v, '^([a-z0-9]([a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\])(:([0-9]{1,5}))?$');
  IF m IS NULL OR m[4]::integer > 65535 THEN
    RAISE EXCEPTION 'invalid Host header' USING ERRCODE = '22023';
  END IF;
  host := m[1]; port := m[4]::integer;
END $$;
COMMENT ON FUNCTION api.request_host(jsonb) IS 'Host header of a request: host (lower case) and port (NULL when absent); NULLs without a Host; 22023 for a malformed or repeated Host.';
REVOKE ALL ON FUNCTION api.request_host(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.request_host(jsonb) TO backend_gateway, backend_admin;

CREATE OR REPLACE FUNCTION api.public_base_url(p_host text, p_port integer, p_tenant_host boolean, p_any_host boolean DEFAULT false)
RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  u record;
  base text := lower(current_setting('backend_framework.base_domain'));
BEGIN
  IF p_host IS NULL THEN
    SELECT pu.url INTO u FROM tenancy.public_urls() pu ORDER BY pu.ord LIMIT 1;
    RETURN u.url;
  END IF;
  SELECT pu.url INTO u FROM tenancy.public_urls() pu WHERE pu.host = p_host
   ORDER BY pu.port IS DISTINCT FROM coalesce(p_port, tenancy._default_port(pu.scheme)), pu.ord LIMIT 1;
  IF FOUND THEN RETURN u.url; END IF;
  IF p_tenant_host THEN
    SELECT pu.scheme, pu.port INTO u FROM tenancy.public_urls() pu
     ORDER BY pu.host IS DISTINCT FROM base,
              pu.port IS DISTINCT FROM coalesce(p_port, tenancy._default_port(pu.scheme)), pu.ord LIMIT 1;
    RETURN tenancy._origin(u.scheme, p_host, u.port);
  END IF;
  IF p_any_host THEN RETURN NULL; END IF;
  RAISE EXCEPTION 'this server does not serve the host named in the request' USING ERRCODE = 'TB421',
    DETAIL = 'The host is not one of the deployment''s public URLs, a tenant''s subdomain or an approved custom domain.';
END $$;
COMMENT ON FUNCTION api.public_base_url(text, integer, boolean, boolean) IS 'Base URL of a request on host/port from backend_framework.public_urls, never from a header: a public URL''s host, or a tenant host (subdomain or approved custom domain) with the scheme and port of base_domain''s URL. TB421 (HTTP 421) for any other host; NULL instead when p_any_host.';
REVOKE ALL ON FUNCTION api.public_base_url(text, integer, boolean, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.public_base_url(text, integer, boolean, boolean) TO backend_gateway, backend_admin;

CREATE OR REPLACE FUNCTION api.handle_request(p_method text, p_path text, p_query text, p_headers jsonb, p_body bytea, p_client_addr text)
RETURNS TABLE(status integer, headers jsonb, body text)
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'bf_handle_request';

CREATE OR REPLACE FUNCTION tenancy.platform_status() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF NOT tenancy.is_platform_admin() THEN
    RAISE EXCEPTION 'only platform operators see the platform status' USING ERRCODE = '42501';
  END IF;
  RETURN jsonb_build_object('version', api.extension_version(), 'server_version', current_setting('server_version'),
                            'tenant_count', (SELECT count(*) FROM tenancy.tenants),
                            'uptime_seconds', floor(extract(epoch FROM now() - pg_postmaster_start_time())));
END $$;
COMMENT ON FUNCTION tenancy.platform_status() IS 'backend_admin: extension and server versions, number of tenants, uptime.';
REVOKE ALL ON FUNCTION tenancy.platform_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.platform_status() TO backend_admin;

CREATE OR REPLACE FUNCTION api.h_status(r api.request) RETURNS api.response
LANGUAGE sql STABLE AS $$
  SELECT api.json(200, jsonb_build_object('status', 'ok', 'version', api.extension_version()))
$$;
COMMENT ON FUNCTION api.h_status(api.request) IS 'GET /api/v1/status: the service answers, and its version (no server version or platform figures: tenancy.platform_status() in SQL).';

CREATE OR REPLACE FUNCTION api.h_signup_policy(r api.request) RETURNS api.response
LANGUAGE sql STABLE AS $$
  SELECT api.json(200, tenancy.signup_policy())
$$;
COMMENT ON FUNCTION api.h_signup_policy(api.request) IS 'GET /api/v1/signup: how sign-up works here (open, invite or closed) and the plan new organizations get.';

CREATE OR REPLACE FUNCTION api.h_tenant_update(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  doc jsonb := api.json_body(r);
  t tenancy.tenants;
BEGIN
  PERFORM api.only_fields(doc, '{name,custom_domain}');
  PERFORM api.require_admin();
  SELECT * INTO t FROM tenancy.update_tenant(api.own_tenant(r), api.text_field(doc, 'name'),
    CASE WHEN doc ? 'custom_domain' THEN coalesce(api.text_field(doc, 'custom_domain'), '') END);
  RETURN api.json(200, api.tenant_json(t));
END $$;
COMMENT ON FUNCTION api.h_tenant_update(api.request) IS 'PATCH /api/v1/tenants/{id}: name, custom_domain (null clears). The plan is for platform operators (SQL).';

CREATE OR REPLACE FUNCTION api.h_user_update(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  doc jsonb := api.json_body(r);
  u tenancy.user_info;
BEGIN
  IF doc ? 'password' OR doc ? 'email' THEN
    RAISE EXCEPTION 'passwords and e-mail addresses are not changed here' USING ERRCODE = '42501',
      DETAIL = 'Change your own with PATCH /api/v1/me (with current_password); admins reset a user''s password with POST /api/v1/users/{id}/reset-password.';
  END IF;
  PERFORM api.only_fields(doc, '{display_name,role,status}');
  SELECT * INTO u FROM tenancy.update_user(api.uuid_param(r, 'user'),
    CASE WHEN doc ? 'display_name' THEN coalesce(api.text_field(doc, 'display_name'), '') END,
    api.text_field(doc, 'role'), api.text_field(doc, 'status'));
  RETURN api.json(200, api.user_json(u));
END $$;
COMMENT ON FUNCTION api.h_user_update(api.request) IS 'PATCH /api/v1/users/{id}: display_name (yourself or admins), role and status (admins). Never password or email (403).';

CREATE OR REPLACE FUNCTION api.h_tenant_create(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  doc jsonb := api.json_body(r);
  reg record;
  t tenancy.tenants;
  u tenancy.user_info;
  tok jsonb;
BEGIN
  PERFORM api.only_fields(doc, '{slug,name,owner_email,owner_password,plan,invitation}');
  SELECT * INTO reg FROM tenancy.register_tenant(api.text_field(doc, 'slug', true), api.text_field(doc, 'name', true),
    api.text_field(doc, 'owner_email', true), api.text_field(doc, 'owner_password', true),
    api.text_field(doc, 'plan'), api.text_field(doc, 'invitation'));
  SELECT * INTO t FROM tenancy.tenants WHERE id = reg.tenant_id;
  SELECT * INTO u FROM tenancy.user_info WHERE tenant_id = reg.tenant_id AND id = reg.owner_id;
  tok := oauth.issue_first_token();
  RETURN api.json(201, jsonb_build_object('tenant', api.tenant_json(t), 'owner', api.user_json(u)) || tok,
                  jsonb_build_object('Location', r.base_url || '/t/' || t.slug || '/api/v1/tenants/' || t.id,
                                     'Cache-Control', 'no-store'));
END $$;
COMMENT ON FUNCTION api.h_tenant_create(api.request) IS 'POST /api/v1/tenants: sign-up (throttled per client address by api.handle_request; plan: the default; invitation when sign-up is by invitation); answers the tenant, its owner and the owner''s first access token.';

CREATE OR REPLACE FUNCTION api.oauth_answer(p_decision jsonb, p_authorization text, p_success integer DEFAULT 200,
                                 p_scope text DEFAULT NULL) RETURNS api.response
LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'bf_oauth_answer';
COMMENT ON FUNCTION api.oauth_answer(jsonb, text, integer, text) IS 'The HTTP answer of an OAuth endpoint''s decision: no-store; an error decision with the status of api.error_status and on 401 a WWW-Authenticate challenge of the scheme the client used (Basic after HTTP Basic, none after client_secret_post/none, Bearer without error code when no token was sent), on 403 insufficient_scope the Bearer challenge with p_scope; otherwise the decision as the body of a p_success answer (204: no body).';

CREATE OR REPLACE FUNCTION api.h_token(r api.request) RETURNS api.response
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'bf_h_token';

COMMENT ON FUNCTION api.h_userinfo(api.request) IS 'GET/POST /oauth/userinfo (scope openid or profile).';

CREATE OR REPLACE FUNCTION api.h_metadata(r api.request) RETURNS api.response
LANGUAGE sql STABLE AS $$
  SELECT api.json(200, oauth.metadata_document(r.issuer), api.public_headers())
$$;
COMMENT ON FUNCTION api.h_metadata(api.request) IS 'GET /.well-known/oauth-authorization-server (RFC 8414) and /.well-known/openid-configuration (OpenID Connect Discovery): one document.';

CREATE OR REPLACE FUNCTION api.h_client_update(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM api.require_admin();
  RETURN api.json(200, oauth.update_client(r.id, api.json_body(r)), '{"Cache-Control": "no-store"}');
END $$;
COMMENT ON FUNCTION api.h_client_update(api.request) IS 'PATCH /api/v1/clients/{id} (admins): fields present replace the stored ones, e.g. resource_server.';

CREATE OR REPLACE FUNCTION api.openapi_schemas() RETURNS jsonb
LANGUAGE sql STABLE AS $$
SELECT format($json${
  "Error": {"type": "object", "required": ["error", "error_description"],
            "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}}},
  "Health": {"type": "object", "required": ["status", "database"],
             "properties": {"status": {"type": "string"}, "database": {"type": "string"}, "version": {"type": "string"}, "time": {"type": "string", "format": "date-time"}}},
  "Pong": {"type": "object", "required": ["pong"], "properties": {"pong": {"type": "boolean"}, "time": {"type": "string", "format": "date-time"}}},
  "Status": {"type": "object", "required": ["status", "version"], "additionalProperties": false,
             "properties": {"status": {"type": "string"}, "version": {"type": "string"}}},
  "SignupPolicy": {"type": "object", "required": ["signup", "plan"],
             "properties": {"signup": {"type": "string", "enum": ["open", "invite", "closed"]}, "plan": {"type": "string"}}},
  "Limits": {"type": "object", "properties": {"max_users": {"type": ["integer", "null"]}, "max_api_calls_per_month": {"type": ["integer", "null"]}, "max_storage_bytes": {"type": ["integer", "null"]}}},
  "Tenant": {"type": "object", "required": ["id", "slug", "name", "plan", "status"],
             "properties": {"id": {"type": "string", "format": "uuid"}, "slug": {"type": "string"}, "name": {"type": "string"},
                            "custom_domain": {"type": ["string", "null"], "description": "Host name that identifies the tenant once a platform operator approved it."},
                            "custom_domain_status": {"type": ["string", "null"], "enum": ["pending", "approved", null], "description": "pending until a platform operator approves the custom domain; null without one."},
                            "plan": {"type": "string", "enum": ["free", "basic", "premium", "enterprise"]},
                            "status": {"type": "string", "enum": ["active", "suspended"]}, "settings": {"$ref": "#/components/schemas/Settings"},
                            "limits": {"$ref": "#/components/schemas/Limits"},
                            "created_at": {"type": "string", "format": "date-time"}, "updated_at": {"type": "string", "format": "date-time"}}},
  "TenantRegistration": {"type": "object", "required": ["slug", "name", "owner_email", "owner_password"], "additionalProperties": false,
             "properties": {"slug": {"type": "string", "pattern": %10$s}, "name": {"type": "string", "minLength": 1, "maxLength": %2$s},
                            "owner_email": {"type": "string", "format": "email"}, "owner_password": {"type": "string", "minLength": %1$s},
                            "plan": {"type": "string", "description": "Only the deployment's default plan is accepted (platform operators choose others in SQL)."},
                            "invitation": {"type": "string", "description": "A platform operator's invitation code, when sign-up is by invitation."}}},
  "TenantRegistered": {"type": "object", "required": ["tenant", "owner", "access_token", "token_type", "expires_in", "scope"],
             "properties": {"tenant": {"$ref": "#/components/schemas/Tenant"}, "owner": {"$ref": "#/components/schemas/User"},
                            "access_token": {"type": "string"}, "token_type": {"type": "string", "const": "Bearer"},
                            "expires_in": {"type": "integer"}, "scope": {"type": "string"}}},
  "TenantUpdate": {"type": "object", "additionalProperties": false,
             "properties": {"name": {"type": "string"}, "custom_domain": {"type": ["string", "null"]}}},
  "TenantStats": {"type": "object", "required": ["users", "api_calls", "storage_bytes"],
             "properties": {"tenant_id": {"type": "string", "format": "uuid"}, "plan": {"type": "string"}, "month": {"type": "string"},
                            "users": {"$ref": "#/components/schemas/Usage"}, "api_calls": {"$ref": "#/components/schemas/Usage"},
                            "storage_bytes": {"$ref": "#/components/schemas/Usage"}}},
  "Usage": {"type": "object", "required": ["used", "limit"], "properties": {"used": {"type": "integer"}, "limit": {"type": ["integer", "null"], "description": "null: unlimited"}}},
  "Settings": {"type": "object", "additionalProperties": false,
             "properties": {"allowed_origins": {"type": "array", "items": {"type": "string"}}, "brand_color": {"type": "string", "pattern": "^#[0-9a-fA-F]{6}$"},
                            "open_registration": {"type": "boolean"}, "allow_plain_pkce": {"type": "boolean"},
                            "password_grant": {"type": "boolean"}, "pkce_optional_for_confidential_clients": {"type": "boolean"},
                            "access_token_ttl": {"type": "integer", "minimum": %3$s, "maximum": %4$s},
                            "refresh_token_ttl": {"type": "integer", "minimum": %3$s, "maximum": %4$s},
                            "code_ttl": {"type": "integer", "minimum": %3$s, "maximum": %4$s},
                            "refresh_token_max_lifetime": {"type": "integer", "minimum": %5$s, "maximum": %6$s},
                            "resource_indicators": {"type": "array", "maxItems": %7$s, "items": {"type": "string", "maxLength": %8$s}}}},
  "User": {"type": "object", "required": ["id", "email", "role", "status"],
           "properties": {"id": {"type": "string", "format": "uuid"}, "email": {"type": "string"}, "display_name": {"type": ["string", "null"]},
                          "role": {"type": "string", "enum": ["user", "admin", "owner"]}, "status": {"type": "string", "enum": ["active", "disabled"]},
                          "created_at": {"type": "string", "format": "date-time"}, "updated_at": {"type": "string", "format": "date-time"}}},
  "UserPage": {"type": "object", "required": ["users", "next_cursor"],
               "properties": {"users": {"type": "array", "items": {"$ref": "#/components/schemas/User"}}, "next_cursor": {"type": ["string", "null"]}}},
  "UserCreate": {"type": "object", "required": ["email", "password"], "additionalProperties": false,
                 "properties": {"email": {"type": "string"}, "password": {"type": "string"}, "role": {"type": "string", "enum": ["user", "admin", "owner"]}, "display_name": {"type": "string"}}},
  "UserUpdate": {"type": "object", "additionalProperties": false,
                 "properties": {"display_name": {"type": ["string", "null"]}, "role": {"type": "string", "enum": ["user", "admin", "owner"]}, "status": {"type": "string", "enum": ["active", "disabled"]}}},
  "MeUpdate": {"type": "object", "additionalProperties": false,
               "description": "email and password need current_password; a wrong one answers 403 invalid_password (and counts toward throttling: 429 with Retry-After).",
               "properties": {"display_name": {"type": ["string", "null"]}, "email": {"type": "string", "format": "email"}, "password": {"type": "string", "minLength": %1$s},
                              "current_password": {"type": "string"}}},
  "PasswordResetQueued": {"type": "object", "required": ["id", "password_reset"],
               "properties": {"id": {"type": "string", "format": "uuid"}, "password_reset": {"type": "string", "const": "pending_delivery"}, "reset_id": {"type": "string", "format": "uuid"}}},
  "PasswordReset": {"type": "object", "required": ["token", "password"], "additionalProperties": false,
               "properties": {"token": {"type": "string", "description": "The one-time secret (bfpr_...) the user received."}, "password": {"type": "string", "minLength": %1$s}}},
  "Me": {"type": "object", "required": ["user", "tenant", "scope"],
         "properties": {"user": {"oneOf": [{"$ref": "#/components/schemas/User"}, {"type": "null"}]}, "tenant": {"type": "object"},
                        "role": {"type": ["string", "null"]}, "scope": {"type": "string"}, "client_id": {"type": ["string", "null"]}}},
  "ClientMetadata": {"type": "object",
        "properties": {"client_name": {"type": "string"}, "redirect_uris": {"type": "array", "items": {"type": "string", "format": "uri"}},
                       "grant_types": {"type": "array", "items": {"type": "string", "enum": ["authorization_code", "refresh_token", "client_credentials", "password"]}},
                       "response_types": {"type": "array", "items": {"type": "string", "enum": ["code"]}}, "scope": {"type": "string", "pattern": %9$s},
                       "token_endpoint_auth_method": {"type": "string", "enum": ["client_secret_basic", "client_secret_post", "none"]},
                       "resource_server": {"type": "boolean", "description": "Admins only (/api/v1/clients): the client may introspect every token of the tenant; other clients only their own. Refused in dynamic registration."}}},
  "Client": {"allOf": [{"$ref": "#/components/schemas/ClientMetadata"}, {"type": "object", "required": ["client_id"], "properties": {"client_id": {"type": "string"}}}]},
  "ClientWithSecret": {"allOf": [{"$ref": "#/components/schemas/Client"}, {"type": "object", "properties": {"client_secret": {"type": "string", "description": "Shown once."}}}]},
  "ClientList": {"type": "object", "required": ["clients"], "properties": {"clients": {"type": "array", "items": {"$ref": "#/components/schemas/Client"}}}},
  "ClientRegistration": {"allOf": [{"$ref": "#/components/schemas/ClientWithSecret"}, {"type": "object",
        "properties": {"registration_access_token": {"type": "string"}, "registration_client_uri": {"type": "string"},
                       "client_id_issued_at": {"type": "integer"}, "client_secret_expires_at": {"type": "integer"}}}]},
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
}$json$, current_setting('backend_framework.password_min_length'), b.name_max, l.ttl_min, l.ttl_max, l.family_min, l.family_max,
  b.resources_max, b.uri_max,
  to_jsonb(format('^(%1$s)( (%1$s))*$', array_to_string(oauth.scopes_supported(), '|'))), to_jsonb((tenancy.patterns()).slug))::jsonb
  FROM tenancy.bounds() b, oauth.lifetimes() l
$$;
COMMENT ON FUNCTION api.openapi_schemas() IS 'Component schemas of the OpenAPI document (with the password setting, bounds, lifetimes and scopes of the deployment).';

CREATE OR REPLACE FUNCTION api.h_openapi(r api.request) RETURNS api.response
LANGUAGE sql STABLE AS $$
  SELECT api.json(200, api.openapi(r.base_url), api.public_headers('Host'))
$$;

CREATE OR REPLACE FUNCTION api.h_me_update(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  doc jsonb := api.json_body(r);
  uid uuid;
  pw text;
  em text;
  c record;
  u tenancy.user_info;
BEGIN
  PERFORM api.only_fields(doc, '{display_name,email,password,current_password}');
  uid := api.require_user();
  pw := api.text_field(doc, 'password');
  em := api.text_field(doc, 'email');
  IF pw IS NOT NULL OR em IS NOT NULL THEN
    SELECT * INTO c FROM tenancy.change_credentials(api.text_field(doc, 'current_password', true), pw, em, r.client_addr);
    IF c.retry_after > 0 THEN
      RETURN api.error(429, 'too_many_attempts', 'Too many wrong passwords; try again later.',
                       jsonb_build_object('Retry-After', c.retry_after::text));
    END IF;
    IF NOT c.changed THEN
      -- Returned, not raised: the failure must be committed to count.
      RETURN api.error(403, 'invalid_password', 'The current password is wrong.');
    END IF;
  END IF;
  IF doc ? 'display_name' THEN
    PERFORM tenancy.update_user(uid, coalesce(api.text_field(doc, 'display_name'), ''));
  END IF;
  SELECT * INTO u FROM tenancy.user_info x WHERE x.tenant_id = tenancy.current_tenant_id() AND x.id = uid;
  RETURN api.json(200, api.user_json(u));
END $$;
COMMENT ON FUNCTION api.h_me_update(api.request) IS 'PATCH /api/v1/me: display_name; email and password need current_password (403 invalid_password when wrong, 429 when throttled). A new password signs the user out everywhere.';

CREATE OR REPLACE FUNCTION api.h_user_reset(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE rid uuid;
BEGIN
  PERFORM api.require_admin();
  rid := tenancy.reset_password(api.uuid_param(r, 'user'));
  RETURN api.json(202, jsonb_build_object('id', r.id, 'password_reset', 'pending_delivery', 'reset_id', rid));
END $$;
COMMENT ON FUNCTION api.h_user_reset(api.request) IS 'POST /api/v1/users/{id}/reset-password (admins; an owner: owners): the password stops working, the user is signed out, a one-time secret goes to the user by the platform''s mail sender. 202.';

CREATE OR REPLACE FUNCTION api.h_password_reset(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE doc jsonb := api.json_body(r);
BEGIN
  PERFORM api.only_fields(doc, '{token,password}');
  PERFORM tenancy.redeem_password_reset(api.text_field(doc, 'token', true), api.text_field(doc, 'password', true));
  RETURN api.no_content('{"Cache-Control": "no-store"}');
END $$;
COMMENT ON FUNCTION api.h_password_reset(api.request) IS 'POST /api/v1/password-reset (anonymous): {"token", "password"} sets a new password with a reset secret; 204, or 400.';

-- The router in C (issue 11): application routes, the route cache.
CREATE OR REPLACE FUNCTION api._routes_changed() RETURNS trigger
  LANGUAGE c AS 'MODULE_PATHNAME', 'bf_routes_changed';
COMMENT ON FUNCTION api._routes_changed() IS 'Trigger: invalidates the route cache of every backend when api.routes changes.';
REVOKE ALL ON FUNCTION api._routes_changed() FROM PUBLIC;

CREATE OR REPLACE FUNCTION api.find_route(p_method text, p_path text,
  OUT pattern text, OUT handler regprocedure, OUT id text, OUT allow text[])
  LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'bf_find_route';
COMMENT ON FUNCTION api.find_route(text, text) IS 'The route for a method and path: matching pattern, handler (NULL when the method is not allowed), {id} value and the allowed methods; all NULL when no pattern matches.';

CREATE OR REPLACE FUNCTION api.add_route(method text, path text, handler regprocedure, auth text DEFAULT 'bearer',
                              scope text DEFAULT NULL, summary text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  m text := upper(btrim(method));
  segs text[];
  p pg_catalog.pg_proc;
  clash text;
BEGIN
  IF m IS NULL OR m NOT IN ('GET', 'POST', 'PUT', 'PATCH', 'DELETE') THEN
    RAISE EXCEPTION 'method must be GET, POST, PUT, PATCH or DELETE' USING ERRCODE = '22023';
  END IF;
  IF auth IS NULL OR auth NOT IN ('bearer', 'optional', 'none') THEN
    RAISE EXCEPTION 'auth must be bearer, optional or none' USING ERRCODE = '22023';
  END IF;
  IF scope IS NOT NULL AND NOT scope = ANY (oauth.api_scopes()) THEN
    RAISE EXCEPTION 'scope must be %', tenancy._words(oauth.api_scopes(), 'or') USING ERRCODE = '22023';
  END IF;
  IF scope IS NOT NULL AND auth <> 'bearer' THEN
    RAISE EXCEPTION 'a scope needs auth bearer' USING ERRCODE = '22023';
  END IF;
  -- /api/{segments}, each a plain name or the one {id} parameter.
  segs := string_to_array(path, '/');
  IF path IS NULL OR path !~ '^/api/' OR length(path) > 200
     OR EXISTS (SELECT 1 FROM unnest(segs[2:]) s WHERE s <> '{id}' AND s !~ '^[A-Za-z0-9._~-]+$')
     OR (SELECT count(*) FROM unnest(segs) s WHERE s = '{id}') > 1 THEN
    RAISE EXCEPTION 'invalid route path "%"', path USING ERRCODE = '22023',
      DETAIL = 'A path starts with /api/ and has plain segments (letters, digits, . _ ~ -) and at most one {id}.';
  END IF;
  -- Application routes never shadow built-in ones (a literal segment where
  -- a built-in route has {id}, or the other way round, would).
  SELECT r.pattern INTO clash FROM api.routes r
   WHERE r.builtin AND cardinality(string_to_array(r.pattern, '/')) = cardinality(segs)
     AND NOT EXISTS (SELECT 1 FROM unnest(string_to_array(r.pattern, '/'), segs) x(a, b)
                      WHERE a <> b AND a <> '{id}' AND b <> '{id}')
   LIMIT 1;
  IF clash IS NOT NULL THEN
    RAISE EXCEPTION 'route path "%" overlaps the built-in route "%"', path, clash USING ERRCODE = '42710';
  END IF;
  SELECT * INTO p FROM pg_catalog.pg_proc WHERE oid = handler;
  IF p.pronargs <> 1 OR p.proargtypes[0] <> 'api.request'::regtype OR p.prorettype <> 'api.response'::regtype
     OR p.proretset OR p.prokind <> 'f' THEN
    RAISE EXCEPTION 'a handler is a function (api.request) RETURNS api.response' USING ERRCODE = '42P13',
      DETAIL = format('%s does not have that signature.', handler);
  END IF;
  IF p.prosecdef THEN
    RAISE EXCEPTION 'a handler may not be SECURITY DEFINER' USING ERRCODE = '42501',
      DETAIL = 'Handlers run as the gateway''s role; call narrow SECURITY DEFINER helpers from them instead.';
  END IF;
  IF NOT pg_catalog.has_function_privilege('backend_gateway', handler, 'EXECUTE') THEN
    RAISE EXCEPTION 'backend_gateway may not execute %', handler USING ERRCODE = '42501',
      HINT = format('GRANT EXECUTE ON FUNCTION %s TO backend_gateway;', handler);
  END IF;
  INSERT INTO api.routes (method, pattern, handler, tenant, auth, scope, tag, summary, builtin)
  VALUES (m, path, handler, true, auth, scope,
          coalesce(nullif(CASE WHEN segs[3] ~ '^v[0-9]+$' THEN segs[4] ELSE segs[3] END, '{id}'), 'application'),
          coalesce(summary, m || ' ' || path), false);
EXCEPTION WHEN unique_violation THEN
  RAISE EXCEPTION 'route % % exists', m, path USING ERRCODE = '42710', HINT = 'Drop it first with api.drop_route.';
END $$;
COMMENT ON FUNCTION api.add_route(text, text, regprocedure, text, text, text) IS 'Adds an application route (platform operators and the extension owner only): method, path under /api/ with at most one {id}, handler (api.request) RETURNS api.response (not SECURITY DEFINER, executable by backend_gateway), auth bearer/optional/none, scope, summary. Takes effect on the next request of every session; survives pg_dump.';
REVOKE ALL ON FUNCTION api.add_route(text, text, regprocedure, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.add_route(text, text, regprocedure, text, text, text) TO backend_admin;

CREATE OR REPLACE FUNCTION api.drop_route(method text, path text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  DELETE FROM api.routes r WHERE r.method = upper(btrim(drop_route.method)) AND r.pattern = drop_route.path AND NOT r.builtin;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no application route % %', method, path USING ERRCODE = 'P0002',
      HINT = 'Built-in routes cannot be dropped.';
  END IF;
END $$;
COMMENT ON FUNCTION api.drop_route(text, text) IS 'Drops an application route (platform operators and the extension owner only); built-in routes stay.';
REVOKE ALL ON FUNCTION api.drop_route(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.drop_route(text, text) TO backend_admin;

CREATE OR REPLACE FUNCTION api.openapi(p_base_url text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
WITH ops AS (
  SELECT r.pattern, lower(r.method) AS m, jsonb_strip_nulls(jsonb_build_object(
    'operationId', CASE WHEN r.builtin THEN regexp_replace(f.proname, '^h_', '')
                        ELSE fn.nspname || '_' || f.proname END || '_' || lower(r.method),
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
                        WHEN r.builtin AND f.proname = 'h_authorize' AND r.success = 200 THEN '{"text/html": {"schema": {"type": "string"}}}'::jsonb
                        WHEN r.builtin AND f.proname = 'h_openapi' THEN '{"application/json": {"schema": {"type": "object"}}}'::jsonb END)))
      || jsonb_build_object('default', jsonb_build_object('description', 'Error',
           'content', jsonb_build_object('application/json', jsonb_build_object('schema', jsonb_build_object('$ref', '#/components/schemas/Error'))))))) AS op
  FROM api.routes r
  JOIN pg_catalog.pg_proc f ON f.oid = r.handler
  JOIN pg_catalog.pg_namespace fn ON fn.oid = f.pronamespace
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
COMMENT ON FUNCTION api.openapi(text) IS 'The OpenAPI 3.1 document of every route in api.routes, built-in and application routes alike.';

CREATE OR REPLACE FUNCTION tenancy._raise_limit(what text, lim bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  RAISE EXCEPTION 'plan limit reached: %', what USING ERRCODE = 'TB001',
    DETAIL = format('The tenant''s plan allows %s %s.', lim, what),
    HINT = 'Upgrade the plan or remove something first.';
END $$;
COMMENT ON FUNCTION tenancy._raise_limit(text, bigint) IS 'Internal: raises TB001 (plan limit reached), mapped to HTTP 403.';

CREATE OR REPLACE FUNCTION tenancy._find_tenant(p_key text, p_by_id_too boolean, OUT id uuid, OUT slug text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE st text;
BEGIN
  IF p_by_id_too AND p_key ~* (tenancy.patterns()).uuid THEN
    SELECT t.id, t.slug, t.status INTO id, slug, st FROM tenancy.tenants t WHERE t.id = p_key::uuid;
  ELSE
    SELECT t.id, t.slug, t.status INTO id, slug, st FROM tenancy.tenants t WHERE t.slug = lower(p_key);
  END IF;
  IF id IS NULL THEN
    RAISE EXCEPTION 'tenant not found' USING ERRCODE = 'P0002';
  END IF;
  IF st = 'suspended' THEN
    RAISE EXCEPTION 'tenant suspended' USING ERRCODE = 'TB003',
      DETAIL = 'This tenant is suspended; contact the platform operator.';
  END IF;
END $$;
COMMENT ON FUNCTION tenancy._find_tenant(text, boolean) IS 'Internal: tenant by slug (or id); P0002 when unknown, TB003 when suspended.';
REVOKE ALL ON FUNCTION tenancy._find_tenant(text, boolean) FROM PUBLIC;

CREATE OR REPLACE FUNCTION tenancy.count_api_call(p_tenant uuid) RETURNS bigint
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'bf_count_api_call';
COMMENT ON FUNCTION tenancy.count_api_call(uuid) IS 'Counts one API call of a tenant this month (in shared memory, written to tenancy.api_usage every second by the extension''s worker); returns the month''s calls including it; TB002 (HTTP 429) when the plan''s monthly limit is reached.';
REVOKE ALL ON FUNCTION tenancy.count_api_call(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.count_api_call(uuid) TO backend_gateway, backend_admin;

CREATE OR REPLACE FUNCTION tenancy.authenticate(access_token text) RETURNS void
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'bf_authenticate';
COMMENT ON FUNCTION tenancy.authenticate(text) IS 'Checks an access token (opaque bfat_..., or an RFC 9068 JWT this server issued; revocation applies to both) and sets the context (tenant, user, role, scopes, client) for the rest of the transaction. When a tenant context is already set, the token must belong to that tenant. 28000 for an invalid, unknown, expired, revoked or other tenant''s token, a token for another resource (RFC 8707) or a disabled user; TB003 when the tenant is suspended.';
REVOKE ALL ON FUNCTION tenancy.authenticate(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.authenticate(text) TO backend_gateway, backend_app, backend_admin;

CREATE OR REPLACE FUNCTION api.json_body(r api.request) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  ct text := lower(split_part(coalesce(r.headers->>'content-type', ''), ';', 1));
  doc jsonb;
BEGIN
  IF r.body IS NULL OR length(r.body) = 0 THEN
    RAISE EXCEPTION 'a JSON body is required' USING ERRCODE = '22023';
  END IF;
  IF btrim(ct) <> 'application/json' THEN
    RAISE EXCEPTION 'unsupported content type' USING ERRCODE = 'TB415', DETAIL = 'Send Content-Type: application/json.';
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

CREATE OR REPLACE FUNCTION api.authenticate(r api.request, p_required boolean) RETURNS boolean
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'bf_api_authenticate';
COMMENT ON FUNCTION api.authenticate(api.request, boolean) IS 'Checks the Bearer token of a request and sets the context; refuses tokens in the query string.';

CREATE OR REPLACE FUNCTION api.require_scope(p_scope text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF NOT tenancy.has_scope(p_scope) THEN
    RAISE EXCEPTION 'the token lacks the "%" scope', p_scope USING ERRCODE = 'TB004', HINT = p_scope;
  END IF;
END $$;
COMMENT ON FUNCTION api.require_scope(text) IS 'Raises TB004 (HTTP 403 insufficient_scope) unless the context was granted the scope.';

COMMENT ON FUNCTION tenancy.create_user(text, text, text, text) IS 'Creates a user in the current tenant (admins and owners; owner role: owners), enforcing max_users (TB001).';

COMMENT ON FUNCTION tenancy._check_storage() IS 'Trigger: TB001 when a new row would take the tenant past its storage limit (measurement at most a minute old, advanced by each insert).';

CREATE OR REPLACE FUNCTION api.h_jwks(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  -- Short cache: a key published at a rotation reaches relying parties
  -- before it signs (they refetch on an unknown kid anyway).
  RETURN ROW(200, api.public_headers() || '{"Content-Type": "application/jwk-set+json"}',
             oauth.jwks_document(r.tenant_id)::text)::api.response;
END $$;
COMMENT ON FUNCTION api.h_jwks(api.request) IS 'GET /oauth/jwks: the tenant''s public signing keys (RFC 7517).';

CREATE OR REPLACE FUNCTION api.h_protected_resource(r api.request) RETURNS api.response
LANGUAGE sql STABLE AS $$
  SELECT api.json(200, oauth.protected_resource_document(r.issuer), api.public_headers())
$$;
COMMENT ON FUNCTION api.h_protected_resource(api.request) IS 'GET /.well-known/oauth-protected-resource (RFC 9728).';

CREATE OR REPLACE FUNCTION api.h_logout(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  params jsonb := CASE WHEN r.method = 'POST' THEN api.form_body(r) ELSE r.query END;
BEGIN
  RETURN api.logout_answer(oauth.end_session_endpoint(r.method, params, api.parse_cookies(r.headers->>'cookie'), r.issuer),
                           r.issuer, r.base_url LIKE 'https:%');
END $$;
COMMENT ON FUNCTION api.h_logout(api.request) IS 'GET/POST /oauth/logout: OpenID Connect RP-initiated logout (end_session_endpoint).';

CREATE OR REPLACE FUNCTION api.h_my_sessions(r api.request) RETURNS api.response
LANGUAGE sql STABLE AS $$
  SELECT api.json(200, jsonb_build_object('sessions', oauth.my_sessions()))
$$;
COMMENT ON FUNCTION api.h_my_sessions(api.request) IS 'GET /api/v1/me/sessions: your browser sign-in sessions.';

CREATE OR REPLACE FUNCTION api.h_my_session_delete(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM oauth.revoke_my_session(api.uuid_param(r, 'session'));
  RETURN api.no_content();
END $$;
COMMENT ON FUNCTION api.h_my_session_delete(api.request) IS 'DELETE /api/v1/me/sessions/{id}: sign one of your browser sessions out (404 unless it is one).';

CREATE OR REPLACE FUNCTION api.h_my_consents(r api.request) RETURNS api.response
LANGUAGE sql STABLE AS $$
  SELECT api.json(200, jsonb_build_object('consents', oauth.my_consents()))
$$;
COMMENT ON FUNCTION api.h_my_consents(api.request) IS 'GET /api/v1/me/consents: the applications you allowed.';

CREATE OR REPLACE FUNCTION api.h_my_consent_delete(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM oauth.revoke_my_consent(r.id);
  RETURN api.no_content();
END $$;
COMMENT ON FUNCTION api.h_my_consent_delete(api.request) IS 'DELETE /api/v1/me/consents/{client_id}: withdraw consent; the client''s tokens for you are revoked.';

CREATE OR REPLACE FUNCTION oauth._seconds(n integer) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT n || CASE WHEN n = 1 THEN ' second' ELSE ' seconds' END
$$;
COMMENT ON FUNCTION oauth._seconds(integer) IS 'Internal: a number of seconds in words ("1 second", "2 seconds").';

CREATE OR REPLACE FUNCTION tenancy.is_admin_role(p_role text) RETURNS boolean
LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bf_is_admin_role';
COMMENT ON FUNCTION tenancy.is_admin_role(text) IS 'True for the roles that administer a tenant: admin and owner (false for user and NULL).';

CREATE OR REPLACE FUNCTION tenancy.is_tenant_admin() RETURNS boolean
LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bf_is_tenant_admin';
COMMENT ON FUNCTION tenancy.is_tenant_admin() IS 'True when the current context is an admin or owner of its tenant.';

CREATE OR REPLACE FUNCTION tenancy.acts_as_admin() RETURNS boolean
LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bf_acts_as_admin';
COMMENT ON FUNCTION tenancy.acts_as_admin() IS 'True when the current context administers its tenant: an admin or owner (tenancy.is_tenant_admin) granted the admin scope.';

CREATE OR REPLACE FUNCTION oauth._require_client_admin() RETURNS uuid
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE t uuid := tenancy.current_tenant_id();
BEGIN
  IF NOT tenancy.acts_as_admin() THEN
    RAISE EXCEPTION 'only admins and owners of the tenant manage OAuth clients' USING ERRCODE = '42501',
      DETAIL = 'Sign in as an admin or owner with the admin scope.';
  END IF;
  RETURN t;
END $$;
COMMENT ON FUNCTION oauth._require_client_admin() IS 'Internal: the current tenant, or 42501 unless the context is an admin or owner with scope admin.';

CREATE OR REPLACE FUNCTION oauth._error(error text, description text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  RETURN jsonb_build_object('error', error, 'error_description', description);
END $$;
COMMENT ON FUNCTION oauth._error(text, text) IS 'Internal: an OAuth error decision {"error", "error_description"} (RFC 6749 section 5.2); api.error_status gives its HTTP status.';

CREATE OR REPLACE FUNCTION oauth._token_client_credentials(p_tenant uuid, c oauth.client_authentication, params jsonb,
                                                p_issuer text, p_audience text) RETURNS jsonb
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'bf_token_client_credentials';
COMMENT ON FUNCTION oauth._token_client_credentials(uuid, oauth.client_authentication, jsonb, text, text) IS 'Internal: the client_credentials grant (RFC 6749 section 4.4) for an authenticated confidential client: an access token of the requested scope (default: the client''s), no refresh token; commits without waiting for the WAL flush.';
REVOKE ALL ON FUNCTION oauth._token_client_credentials(uuid, oauth.client_authentication, jsonb, text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION oauth._token_password(p_tenant uuid, c oauth.client_authentication, params jsonb, p_client_addr text,
                                      p_issuer text, p_audience text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  g record;
  uid uuid;
  wait integer;
  urole text;
BEGIN
  -- Never for a public client (clients registered so before 0.2.0 included).
  IF c.auth_method = 'none' THEN
    RETURN oauth._error('unauthorized_client', 'public clients cannot use the password grant');
  END IF;
  IF params->>'username' IS NULL OR params->>'password' IS NULL THEN
    RETURN oauth._error('invalid_request', 'username and password are required');
  END IF;
  IF params->>'scope' IS NOT NULL AND oauth._scopes(params->>'scope') IS NULL THEN
    RETURN oauth._error('invalid_scope', oauth._unknown_scope());
  END IF;
  SELECT * INTO uid, wait FROM oauth._check_password(p_tenant, params->>'username', params->>'password', p_client_addr);
  IF wait > 0 THEN
    RETURN oauth._error('invalid_grant', format('Too many attempts, try again in %s', oauth._seconds(wait)));
  END IF;
  IF uid IS NULL THEN
    RETURN oauth._error('invalid_grant', 'invalid username or password');
  END IF;
  SELECT x.role INTO urole FROM tenancy.users x WHERE x.tenant_id = p_tenant AND x.id = uid;
  SELECT * INTO g FROM oauth._grant_scope(params->>'scope', oauth._scope_and(oauth._scopes(c.scope), oauth._role_scopes(urole)));
  IF g.err IS NOT NULL THEN
    RETURN oauth._error('invalid_scope', g.err);
  END IF;
  RETURN oauth._issue(p_tenant, c.client_id, uid, oauth._scope_text(g.scopes), gen_random_uuid(),
                      oauth._ttl('access_token', c.access_token_ttl, c.tenant_settings),
                      CASE WHEN 'refresh_token' = ANY (c.grant_types) THEN oauth._ttl('refresh_token', c.refresh_token_ttl, c.tenant_settings) END, NULL,
                      p_issuer, p_audience, now(), oauth._family_expires(p_tenant), c.access_token_format);
END $$;
COMMENT ON FUNCTION oauth._token_password(uuid, oauth.client_authentication, jsonb, text, text, text) IS 'Internal: the password grant (RFC 6749 section 4.3) for an authenticated confidential client: a throttled password check (per e-mail and client address), scope within the client''s and the user''s role; a refresh token when the client has that grant.';
REVOKE ALL ON FUNCTION oauth._token_password(uuid, oauth.client_authentication, jsonb, text, text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION oauth._token_authorization_code(p_tenant uuid, c oauth.client_authentication, params jsonb,
                                                p_issuer text, p_audience text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  k record;
  g record;
  aud text := p_audience;
  body jsonb;
BEGIN
  IF params->>'code' IS NULL THEN
    RETURN oauth._error('invalid_request', 'code is missing');
  END IF;
  SELECT a.client_id, a.user_id, a.redirect_uri, a.redirect_uri_given, a.scope, a.code_challenge,
         a.code_challenge_method, a.family_id, a.expires_at, a.used_at, x.role, x.status AS user_status,
         a.nonce, a.auth_time, a.session_id, a.resource
    INTO k
    FROM oauth.authorization_codes a JOIN tenancy.users x ON x.tenant_id = a.tenant_id AND x.id = a.user_id
   WHERE a.tenant_id = p_tenant AND a.code_hash = oauth.token_digest(params->>'code');
  IF NOT FOUND OR k.client_id <> c.client_id THEN
    RETURN oauth._error('invalid_grant', 'invalid authorization code');
  END IF;
  -- Mark it used first: of two concurrent redemptions exactly one wins.
  UPDATE oauth.authorization_codes SET used_at = now()
   WHERE tenant_id = p_tenant AND code_hash = oauth.token_digest(params->>'code') AND used_at IS NULL;
  IF NOT FOUND THEN
    PERFORM oauth._revoke_family(p_tenant, k.family_id);
    RETURN oauth._error('invalid_grant', 'authorization code already used; the tokens issued for it have been revoked');
  END IF;
  IF k.expires_at <= now() THEN
    RETURN oauth._error('invalid_grant', 'authorization code expired');
  END IF;
  IF k.redirect_uri_given AND params->>'redirect_uri' IS NULL THEN
    RETURN oauth._error('invalid_grant', 'redirect_uri is required: it was part of the authorization request');
  END IF;
  IF params->>'redirect_uri' IS DISTINCT FROM k.redirect_uri AND params->>'redirect_uri' IS NOT NULL THEN
    RETURN oauth._error('invalid_grant', 'redirect_uri does not match the one of the authorization request');
  END IF;
  IF k.code_challenge IS NOT NULL AND params->>'code_verifier' IS NULL THEN
    RETURN oauth._error('invalid_grant', 'code_verifier is required (PKCE)');
  END IF;
  IF k.code_challenge IS NULL AND params->>'code_verifier' IS NOT NULL THEN
    RETURN oauth._error('invalid_grant', 'code_verifier sent, but the authorization request had no code_challenge');
  END IF;
  IF k.code_challenge IS NOT NULL AND NOT oauth.pkce_verify(params->>'code_verifier', k.code_challenge, k.code_challenge_method) THEN
    RETURN oauth._error('invalid_grant', 'code_verifier does not match the code_challenge');
  END IF;
  IF k.user_status <> 'active' THEN
    RETURN oauth._error('invalid_grant', 'the user is disabled');
  END IF;
  -- The user's role may have changed since: intersect again.
  SELECT * INTO g FROM oauth._grant_scope(NULL, oauth._scope_and(oauth._scopes(k.scope), oauth._role_scopes(k.role)));
  IF g.err IS NOT NULL THEN
    RETURN oauth._error('invalid_grant', 'the user may no longer be granted these scopes');
  END IF;
  -- RFC 8707 section 2.2: the token request may only narrow to the authorized resource.
  IF params->>'resource' IS NOT NULL AND k.resource IS NOT NULL AND params->>'resource' <> k.resource THEN
    RETURN oauth._error('invalid_target', 'the resource differs from the one authorized');
  END IF;
  aud := coalesce(aud, oauth._audience(p_issuer, k.resource));
  body := oauth._issue(p_tenant, c.client_id, k.user_id, oauth._scope_text(g.scopes), k.family_id,
                       oauth._ttl('access_token', c.access_token_ttl, c.tenant_settings),
                       CASE WHEN 'refresh_token' = ANY (c.grant_types) THEN oauth._ttl('refresh_token', c.refresh_token_ttl, c.tenant_settings) END, NULL,
                       p_issuer, aud, k.auth_time, oauth._family_expires(p_tenant), c.access_token_format);
  -- OpenID Connect: the id_token of this sign-in.
  IF 'openid' = ANY (g.scopes) THEN
    body := body || jsonb_build_object('id_token', oauth._id_token(p_tenant, p_issuer, c.client_id, k.user_id, g.scopes, k.nonce,
                                                                   coalesce(k.auth_time, now()), body->>'access_token', k.session_id));
  END IF;
  RETURN body;
END $$;
COMMENT ON FUNCTION oauth._token_authorization_code(uuid, oauth.client_authentication, jsonb, text, text) IS 'Internal: the authorization_code grant (RFC 6749 section 4.1.3, RFC 7636 section 4.6): the code is single use (a replay revokes what it gave), bound to its client, redirect URI, PKCE challenge and resource; scope within the user''s role now; an id_token with openid.';
REVOKE ALL ON FUNCTION oauth._token_authorization_code(uuid, oauth.client_authentication, jsonb, text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION oauth._token_refresh_token(p_tenant uuid, c oauth.client_authentication, params jsonb,
                                           p_issuer text, p_audience text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  tok record;
  g record;
  ceiling text[];
  body jsonb;
BEGIN
  IF params->>'refresh_token' IS NULL THEN
    RETURN oauth._error('invalid_request', 'refresh_token is missing');
  END IF;
  SELECT r.client_id, r.user_id, r.scope, r.family_id, r.expires_at, r.rotated_at, r.revoked_at, x.role,
         x.status AS user_status, r.auth_time, r.audience, r.family_expires_at
    INTO tok
    FROM oauth.tokens r LEFT JOIN tenancy.users x ON x.tenant_id = r.tenant_id AND x.id = r.user_id
   WHERE r.tenant_id = p_tenant AND r.token_hash = oauth.token_digest(params->>'refresh_token') AND r.kind = 'refresh';
  IF NOT FOUND OR tok.client_id <> c.client_id THEN
    RETURN oauth._error('invalid_grant', 'invalid refresh token');
  END IF;
  IF tok.revoked_at IS NOT NULL THEN
    RETURN oauth._error('invalid_grant', 'refresh token revoked');
  END IF;
  -- A rotated token used again has leaked (or its client lost track):
  -- the whole grant ends (RFC 9700 section 4.14.2).
  IF tok.rotated_at IS NOT NULL THEN
    PERFORM oauth._revoke_family(p_tenant, tok.family_id);
    RETURN oauth._error('invalid_grant', 'refresh token already used; all tokens of this grant have been revoked');
  END IF;
  IF tok.expires_at <= now() THEN
    RETURN oauth._error('invalid_grant', 'refresh token expired');
  END IF;
  IF tok.user_id IS NOT NULL AND tok.user_status IS DISTINCT FROM 'active' THEN
    RETURN oauth._error('invalid_grant', 'the user is disabled');
  END IF;
  -- May only narrow (RFC 6749 section 6), within what client and role allow now.
  ceiling := oauth._scope_and(oauth._scope_and(oauth._scopes(tok.scope), oauth._scopes(c.scope)),
                              CASE WHEN tok.user_id IS NULL THEN oauth._all_scopes() ELSE oauth._role_scopes(tok.role) END);
  IF params->>'scope' IS NOT NULL AND btrim(params->>'scope') <> ''
     AND NOT coalesce(oauth._scopes(params->>'scope') <@ oauth._scopes(tok.scope), false) THEN
    RETURN oauth._error('invalid_scope', 'the requested scope exceeds the scope originally granted');
  END IF;
  SELECT * INTO g FROM oauth._grant_scope(params->>'scope', ceiling);
  IF g.err IS NOT NULL THEN
    RETURN oauth._error('invalid_scope', g.err);
  END IF;
  -- Rotate: of two concurrent uses exactly one wins; the other is a reuse.
  UPDATE oauth.tokens SET rotated_at = now()
   WHERE tenant_id = p_tenant AND token_hash = oauth.token_digest(params->>'refresh_token') AND rotated_at IS NULL
     AND revoked_at IS NULL;
  IF NOT FOUND THEN
    PERFORM oauth._revoke_family(p_tenant, tok.family_id);
    RETURN oauth._error('invalid_grant', 'refresh token already used; all tokens of this grant have been revoked');
  END IF;
  IF params->>'resource' IS NOT NULL AND p_audience IS DISTINCT FROM tok.audience THEN
    RETURN oauth._error('invalid_target', 'the resource differs from the one of this grant');
  END IF;
  -- The new refresh token ends with the grant (family_expires_at), however often it rotates.
  body := oauth._issue(p_tenant, c.client_id, tok.user_id, oauth._scope_text(g.scopes), tok.family_id,
                       oauth._ttl('access_token', c.access_token_ttl, c.tenant_settings),
                       oauth._ttl('refresh_token', c.refresh_token_ttl, c.tenant_settings), oauth._scope_text(ceiling), p_issuer, tok.audience, tok.auth_time,
                       coalesce(tok.family_expires_at, oauth._family_expires(p_tenant)), c.access_token_format);
  IF 'openid' = ANY (g.scopes) AND tok.user_id IS NOT NULL THEN
    body := body || jsonb_build_object('id_token', oauth._id_token(p_tenant, p_issuer, c.client_id, tok.user_id, g.scopes, NULL,
                                                                   tok.auth_time, body->>'access_token', NULL));
  END IF;
  RETURN body;
END $$;
COMMENT ON FUNCTION oauth._token_refresh_token(uuid, oauth.client_authentication, jsonb, text, text) IS 'Internal: the refresh_token grant (RFC 6749 section 6): rotation on every use, reuse of a rotated token revokes the family (RFC 9700 section 4.14.2); scope may only narrow, within client and role now; the family never outlives its absolute lifetime; an id_token with openid.';
REVOKE ALL ON FUNCTION oauth._token_refresh_token(uuid, oauth.client_authentication, jsonb, text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION oauth._browser_cookies(cookies jsonb, OUT csrf text, OUT session text)
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN c->>'bf_csrf' ~ '^bfcf_[A-Za-z0-9_-]{43}$' THEN c->>'bf_csrf' END,
         CASE WHEN c->>'bf_session' ~ '^bfss_[A-Za-z0-9_-]{43}$' THEN c->>'bf_session' END
    FROM (SELECT CASE WHEN jsonb_typeof(cookies) = 'object' THEN cookies END AS c) x
$$;
COMMENT ON FUNCTION oauth._browser_cookies(jsonb) IS 'Internal: the bf_csrf and bf_session cookies of a request (name → value), each NULL unless of its shape.';

CREATE OR REPLACE FUNCTION oauth._csrf_field(csrf text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT oauth.base64url_encode(oauth.token_digest(csrf))
$$;
COMMENT ON FUNCTION oauth._csrf_field(text) IS 'Internal: the csrf form field of a CSRF cookie (base64url of its SHA-256).';

CREATE OR REPLACE FUNCTION oauth._csrf_ok(csrf text, field text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
  SELECT csrf IS NOT NULL AND field IS NOT NULL
         AND oauth.ct_equal(convert_to(oauth._csrf_field(csrf), 'UTF8'), convert_to(field, 'UTF8'))
$$;
COMMENT ON FUNCTION oauth._csrf_ok(text, text) IS 'Internal: whether a form''s csrf field belongs to the CSRF cookie (constant-time comparison); false when either is missing.';

CREATE OR REPLACE FUNCTION oauth.revoke_endpoint(params jsonb, authorization text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t uuid := tenancy.current_tenant_id();
  c oauth.client_authentication := oauth._form_client(params, revoke_endpoint.authorization);
  k record;
  h bytea;
BEGIN
  IF c.error IS NOT NULL THEN
    RETURN oauth._error(c.error, c.error_description);
  END IF;
  IF params->>'token' IS NULL THEN
    RETURN oauth._error('invalid_request', 'token is missing');
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
  RETURN '{}';
END $$;
COMMENT ON FUNCTION oauth.revoke_endpoint(jsonb, text) IS 'POST /oauth/revoke of the current tenant (RFC 7009), as a decision: the client (oauth.authenticate_client) revokes one of its own tokens; a refresh token takes its whole family (all access and refresh tokens of the grant) with it. {} also for unknown tokens and tokens of other clients (then nothing happens); errors as at the token endpoint.';
REVOKE ALL ON FUNCTION oauth.revoke_endpoint(jsonb, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth.revoke_endpoint(jsonb, text) TO backend_gateway, backend_admin;

CREATE OR REPLACE FUNCTION api.error_status(p_error text) RETURNS integer
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN CASE p_error
    WHEN 'invalid_request' THEN 400
    WHEN 'invalid_grant' THEN 400
    WHEN 'invalid_scope' THEN 400
    WHEN 'invalid_target' THEN 400
    WHEN 'unauthorized_client' THEN 400
    WHEN 'unsupported_grant_type' THEN 400
    WHEN 'invalid_client_metadata' THEN 400
    WHEN 'invalid_redirect_uri' THEN 400
    WHEN 'invalid_client' THEN 401
    WHEN 'invalid_token' THEN 401
    WHEN 'unauthorized' THEN 401
    WHEN 'forbidden' THEN 403
    WHEN 'insufficient_scope' THEN 403
    WHEN 'limit_exceeded' THEN 403
    WHEN 'tenant_suspended' THEN 403
    WHEN 'not_found' THEN 404
    WHEN 'method_not_allowed' THEN 405
    WHEN 'conflict' THEN 409
    WHEN 'unsupported_media_type' THEN 415
    WHEN 'misdirected_request' THEN 421
    WHEN 'quota_exceeded' THEN 429
    WHEN 'too_many_requests' THEN 429
    WHEN 'temporarily_unavailable' THEN 503
    ELSE 500   -- server_error, and any code this table does not know (a bug)
  END;
END $$;
COMMENT ON FUNCTION api.error_status(text) IS 'The one table of error codes and HTTP statuses: invalid_request, invalid_grant, invalid_scope, invalid_target, unauthorized_client, unsupported_grant_type, invalid_client_metadata, invalid_redirect_uri → 400; invalid_client, invalid_token, unauthorized → 401; forbidden, insufficient_scope, limit_exceeded, tenant_suspended → 403; not_found → 404; method_not_allowed → 405; conflict → 409; unsupported_media_type → 415; misdirected_request → 421; quota_exceeded, too_many_requests → 429; temporarily_unavailable → 503; anything else → 500.';

CREATE OR REPLACE FUNCTION api.www_authenticate(p_scheme text, p_error text DEFAULT NULL, p_description text DEFAULT NULL,
                                     p_scope text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN jsonb_build_object('WWW-Authenticate', p_scheme || ' realm="backend_framework"'
    || coalesce(', error="' || p_error || '"', '')
    || coalesce(', error_description="' || regexp_replace(replace(p_description, '"', ''''), '[^\x20-\x21\x23-\x5b\x5d-\x7e]', '', 'g') || '"', '')
    || coalesce(', scope="' || regexp_replace(p_scope, '[^\x20-\x21\x23-\x5b\x5d-\x7e]', '', 'g') || '"', ''));
END $$;
COMMENT ON FUNCTION api.www_authenticate(text, text, text, text) IS 'The WWW-Authenticate header of a challenge, as {"WWW-Authenticate": ...}: scheme Bearer (RFC 6750 section 3; error, error_description and scope when given) or Basic (RFC 6749 section 5.2); realm "backend_framework" everywhere.';

CREATE OR REPLACE FUNCTION api.error_answer(p_error text, p_description text, p_headers jsonb DEFAULT '{}')
RETURNS api.response LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN api.error(api.error_status(p_error), p_error, p_description, p_headers);
END $$;
COMMENT ON FUNCTION api.error_answer(text, text, jsonb) IS 'A JSON error answer {"error", "error_description"} with the status api.error_status gives its error code.';

CREATE OR REPLACE FUNCTION api.require_admin() RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF NOT tenancy.acts_as_admin() THEN
    PERFORM api.require_scope('admin');
    RAISE EXCEPTION 'only admins and owners may do this' USING ERRCODE = '42501';
  END IF;
END $$;
COMMENT ON FUNCTION api.require_admin() IS 'Raises unless the context acts as an admin (tenancy.acts_as_admin): TB004 without the admin scope, else 42501.';

CREATE OR REPLACE FUNCTION api.issuer_path(issuer text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN p ~ '^(/[A-Za-z0-9._~-]+)*$' THEN p ELSE '' END
    FROM (SELECT rtrim(regexp_replace(coalesce(issuer, ''), '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*', ''), '/') AS p) x
$$;
COMMENT ON FUNCTION api.issuer_path(text) IS 'The path part of an issuer URL without trailing slash (/t/acme), or '''' — the prefix of the authorize endpoint''s path.';

CREATE OR REPLACE FUNCTION api.cookie(name text, value text, path text, secure boolean, max_age integer DEFAULT NULL) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT name || '=' || value || '; Path=' || path
         || CASE WHEN max_age IS NOT NULL THEN '; Max-Age=' || max_age ELSE '' END
         || '; HttpOnly; SameSite=Lax' || CASE WHEN secure THEN '; Secure' ELSE '' END
$$;
COMMENT ON FUNCTION api.cookie(text, text, text, boolean, integer) IS 'A Set-Cookie value (HttpOnly, SameSite=Lax, Secure when secure).';

CREATE OR REPLACE FUNCTION api.set_cookie_header(cookies text[]) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN cardinality(cookies) = 1 THEN jsonb_build_object('Set-Cookie', cookies[1])
              WHEN cardinality(cookies) > 1 THEN jsonb_build_object('Set-Cookie', to_jsonb(cookies))
              ELSE '{}' END
$$;
COMMENT ON FUNCTION api.set_cookie_header(text[]) IS '{"Set-Cookie": value} for one cookie, {"Set-Cookie": [values]} for several, {} for none.';

CREATE OR REPLACE FUNCTION api.redirect_with(uri text, params jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT uri || coalesce(CASE WHEN strpos(uri, '?') > 0 THEN CASE WHEN uri ~ '[?&]$' THEN '' ELSE '&' END ELSE '?' END
                         || string_agg(n || '=' || oauth.url_encode(params->>n), '&' ORDER BY i), '')
    FROM unnest(ARRAY['code', 'error', 'error_description', 'state', 'iss']) WITH ORDINALITY AS x(n, i)
   WHERE params->>n IS NOT NULL
$$;
COMMENT ON FUNCTION api.redirect_with(text, jsonb) IS 'The redirect URI with the decision''s code, error, error_description, state and iss (in that order, percent-encoded, NULLs left out) appended to its query.';

CREATE OR REPLACE FUNCTION api.console_home() RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT regexp_replace(u, '[^/]*$', '') FROM unnest(oauth.console_redirect_uris()) u LIMIT 1
$$;
COMMENT ON FUNCTION api.console_home() IS 'The console''s address (first backend_framework.console_redirect_uris entry, without its file name), or NULL.';

CREATE OR REPLACE FUNCTION api.scope_words(scope text, tenant_name text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE scope
    WHEN 'read' THEN 'Read your data'
    WHEN 'write' THEN 'Create, change and delete your data'
    WHEN 'profile' THEN 'See your name and email address'
    WHEN 'email' THEN 'See your email address'
    WHEN 'openid' THEN 'Sign you in with your ' || tenant_name || ' account'
    -- Shown before anyone signed in too: only admins are ever granted it.
    WHEN 'admin' THEN 'If you are an admin of ' || tenant_name || ': manage its users, applications and settings'
    ELSE scope END
$$;
COMMENT ON FUNCTION api.scope_words(text, text) IS 'What a scope allows, in words for the consent page.';

CREATE OR REPLACE FUNCTION api.on_color(brand text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN 0.299 * ('x' || substr(brand, 2, 2))::bit(8)::int + 0.587 * ('x' || substr(brand, 4, 2))::bit(8)::int
                 + 0.114 * ('x' || substr(brand, 6, 2))::bit(8)::int > 160 THEN '#111827' ELSE '#ffffff' END
$$;
COMMENT ON FUNCTION api.on_color(text) IS 'Black or white text, whichever reads better on a #rrggbb background.';

CREATE OR REPLACE FUNCTION api.html_page(title text, tenant_name text, brand text, content text) RETURNS text
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
:root{--brand:' || oauth.html_escape(b) || ';--on-brand:' || api.on_color(b) || ';--bg:#f3f4f6;--card:#fff;--text:#111827;--muted:#4b5563;--line:#d1d5db;--danger:#b42318;--danger-bg:#fef3f2;--radius:14px;color-scheme:light dark}
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
COMMENT ON FUNCTION api.html_page(text, text, text, text) IS 'An HTML page of the sign-in and sign-out endpoints (tenant name and brand colour, centred card, responsive, light and dark; no JavaScript). content is HTML already escaped by the caller.';

CREATE OR REPLACE FUNCTION api.hidden_fields(params jsonb) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT coalesce(string_agg('<input type="hidden" name="' || n || '" value="' || oauth.html_escape(params->>n) || '">', E'\n' ORDER BY i), '')
    FROM unnest(ARRAY['response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'code_challenge',
                      'code_challenge_method', 'nonce', 'max_age', 'response_mode', 'resource']) WITH ORDINALITY AS x(n, i)
   WHERE params->>n IS NOT NULL
$$;
COMMENT ON FUNCTION api.hidden_fields(jsonb) IS 'Hidden inputs for the authorization request parameters (HTML-escaped).';

CREATE OR REPLACE FUNCTION api.scope_list(scopes text[], tenant_name text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT '<ul class="scopes">' || string_agg('<li>' || oauth.html_escape(api.scope_words(s, tenant_name)) || '</li>', ''
           ORDER BY array_position(oauth.scopes_supported(), s)) || '</ul>'
    FROM unnest(scopes) s
$$;
COMMENT ON FUNCTION api.scope_list(text[], text) IS 'The scopes asked for, in words, as an HTML list.';

CREATE OR REPLACE FUNCTION api.decision_cookies(cookies jsonb, issuer text, secure boolean) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT api.set_cookie_header(ARRAY(
    SELECT api.cookie(c->>'name', c->>'value', api.issuer_path(issuer) || '/oauth' || coalesce(c->>'path', ''), secure,
                      (c->>'max_age')::integer)
      FROM jsonb_array_elements(coalesce(cookies, '[]')) WITH ORDINALITY AS x(c, i) ORDER BY i))
$$;
COMMENT ON FUNCTION api.decision_cookies(jsonb, text, boolean) IS 'The Set-Cookie header(s) of a decision''s cookies (name, value, max_age, path below issuer path || /oauth): HttpOnly, SameSite=Lax, Secure when secure.';

CREATE OR REPLACE FUNCTION api.decision_redirect(d jsonb, issuer text, secure boolean) RETURNS api.response
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN ROW(303, jsonb_build_object('Cache-Control', 'no-store', 'Location', api.redirect_with(d->>'redirect', d->'params'))
                  || api.decision_cookies(d->'cookies', issuer, secure), '')::api.response;
END $$;
COMMENT ON FUNCTION api.decision_redirect(jsonb, text, boolean) IS 'The 303 answer of a redirect decision {"redirect": uri, "params": {...}, "cookies": [...]}: Location = api.redirect_with, Cache-Control no-store, Set-Cookie.';

CREATE OR REPLACE FUNCTION api.authorize_answer(d jsonb, issuer text, secure boolean) RETURNS api.response
LANGUAGE plpgsql STABLE AS $$
DECLARE
  action_url text := api.issuer_path(issuer) || '/oauth/authorize';
  ten jsonb := d->'tenant';
  tname text := d->'tenant'->>'name';
  cookies jsonb := api.decision_cookies(d->'cookies', issuer, secure);
  scopes text[] := ARRAY(SELECT jsonb_array_elements_text(coalesce(d->'scopes', '[]')));
  content text;
BEGIN
  IF d ? 'redirect' THEN
    RETURN api.decision_redirect(d, issuer, secure);
  END IF;
  CASE coalesce(d->>'error', d->>'show')
  WHEN 'not_found' THEN
    RETURN api.html_answer(api.error_status('not_found'), '{"name": "Sign in"}', 'Not found',
      '<h1>Not found</h1><p>There is no sign-in page at this address.</p>');
  WHEN 'method_not_allowed' THEN
    RETURN api.html_answer(api.error_status('method_not_allowed'), ten, 'Method not allowed',
      '<h1>Method not allowed</h1><p>Use GET or POST.</p>', '{"Allow": "GET, POST"}');
  WHEN 'invalid_request' THEN
    RETURN api.html_answer(api.error_status('invalid_request'), ten, 'Cannot sign in',
      '<h1>This sign-in link is not valid</h1><p class="notice" role="alert">' || oauth.html_escape(d->>'message') || '</p>'
      || '<p>Go back to the application and try again. If it keeps happening, tell its developers.</p>'
      || coalesce('<p><a class="button" href="' || oauth.html_escape(api.console_home()) || '">Open the '
                  || oauth.html_escape(tname) || ' console instead</a></p>', ''));
  WHEN 'forbidden' THEN
    RETURN api.html_answer(api.error_status('forbidden'), ten, 'Form expired',
      '<h1>This form has expired</h1><p class="notice" role="alert">The form was not sent from this page, or it is too old, so it was not accepted (CSRF check).</p>'
      || '<p><a class="button primary" href="' || oauth.html_escape(action_url || '?' || oauth.form_encode(d->'request'))
      || '">Start again</a></p>');
  WHEN 'login' THEN
    content := '<h1>Sign in</h1>
<p><strong>' || oauth.html_escape(d->>'client_name') || '</strong> wants to access your ' || oauth.html_escape(tname) || ' account.</p>
' || CASE WHEN d->>'notice' IS NOT NULL THEN '<p class="notice" role="alert">' || oauth.html_escape(d->>'notice') || '</p>
' ELSE '' END || '<h2>It will be able to</h2>
' || api.scope_list(scopes, tname) || '
<form method="post" action="' || oauth.html_escape(action_url) || '">
' || api.hidden_fields(d->'request') || '
<input type="hidden" name="csrf" value="' || oauth.html_escape(d->>'csrf') || '">
<label for="email">Email address</label>
<input id="email" name="email" type="email" autocomplete="username" inputmode="email" required'
      || CASE WHEN d->>'email' = '' THEN ' autofocus' ELSE '' END || ' value="'
      || oauth.html_escape(d->>'email') || '">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required'
      || CASE WHEN d->>'email' = '' THEN '' ELSE ' autofocus' END || '>
<div class="actions">
<button type="submit" name="action" value="allow" class="primary">Sign in and allow</button>
<button type="submit" name="action" value="deny" formnovalidate>Cancel</button>
</div>
</form>';
    -- Throttled: the page says how long to wait, with its status (429) and Retry-After.
    RETURN api.html_answer(CASE WHEN d->>'retry_after' IS NOT NULL THEN api.error_status('too_many_requests') ELSE 200 END,
                           ten, 'Sign in', content, jsonb_strip_nulls(jsonb_build_object('Retry-After', d->>'retry_after')) || cookies);
  WHEN 'consent' THEN
    content := '<h1>Allow access?</h1>
<p><strong>' || oauth.html_escape(d->>'client_name') || '</strong> wants to access your ' || oauth.html_escape(tname) || ' account.</p>
<h2>It will be able to</h2>
' || api.scope_list(scopes, tname) || '
' || CASE WHEN d->>'returns_to' IS NOT NULL THEN '<p class="small">This application registered itself; it will return you to <strong>'
             || oauth.html_escape(coalesce(substring(d->>'returns_to' FROM '^[A-Za-z][A-Za-z0-9+.-]*:/*[^/?#]*'), d->>'returns_to'))
             || '</strong>.</p>
' ELSE '' END || '<form method="post" action="' || oauth.html_escape(action_url) || '">
' || api.hidden_fields(d->'request') || '
<input type="hidden" name="csrf" value="' || oauth.html_escape(d->>'csrf') || '">
<div class="actions">
<button type="submit" name="action" value="allow" class="primary">Allow</button>
<button type="submit" name="action" value="deny">Deny</button>
</div>
</form>
<p class="small">Signed in as <strong>' || oauth.html_escape(d->>'user') || '</strong>. <a href="'
      || oauth.html_escape(action_url || '?' || oauth.form_encode((d->'request') || '{"prompt": "login"}'))
      || '">Not you? Sign in as someone else</a></p>';
    RETURN api.html_answer(200, ten, 'Allow access', content, cookies);
  END CASE;
END $$;
COMMENT ON FUNCTION api.authorize_answer(jsonb, text, boolean) IS 'Renders a decision of oauth.authorize_endpoint for the tenant''s issuer URL (form actions and cookie paths below its path; secure: cookies Secure): the sign-in page (200, or 429 with Retry-After when throttled), the consent page (200), the error pages (404 unknown tenant, 405 with Allow, 400 invalid request, 403 failed CSRF check) or a 303 redirect; Set-Cookie for the decision''s cookies; HTML pages no-store.';

CREATE OR REPLACE FUNCTION api.logout_answer(d jsonb, issuer text, secure boolean) RETURNS api.response
LANGUAGE plpgsql STABLE AS $$
DECLARE
  ten jsonb := d->'tenant';
  cookies jsonb := api.decision_cookies(d->'cookies', issuer, secure);
BEGIN
  IF d ? 'redirect' THEN
    RETURN api.decision_redirect(d, issuer, secure);
  END IF;
  CASE coalesce(d->>'error', d->>'show')
  WHEN 'not_found' THEN
    RETURN api.html_answer(api.error_status('not_found'), '{"name": "Sign out"}', 'Not found',
                           '<h1>Not found</h1><p>There is nothing here.</p>');
  WHEN 'invalid_request' THEN
    RETURN api.html_answer(api.error_status('invalid_request'), ten, 'Cannot sign out',
      '<h1>This sign-out link is not valid</h1><p class="notice" role="alert">' || oauth.html_escape(d->>'message') || '</p>');
  WHEN 'confirm' THEN
    RETURN api.html_answer(200, ten, 'Sign out', '<h1>Sign out?</h1><p>Do you want to sign out of '
        || oauth.html_escape(ten->>'name') || '?</p><form method="post" action="'
        || oauth.html_escape(api.issuer_path(issuer) || '/oauth/logout') || '">'
        || coalesce((SELECT string_agg('<input type="hidden" name="' || n || '" value="' || oauth.html_escape(d->'request'->>n) || '">', '' ORDER BY i)
                       FROM unnest(ARRAY['client_id', 'post_logout_redirect_uri', 'state']) WITH ORDINALITY AS x(n, i)
                      WHERE d->'request'->>n IS NOT NULL), '')
        || '<input type="hidden" name="csrf" value="' || oauth.html_escape(d->>'csrf') || '">'
        || '<div class="actions"><button type="submit" name="action" value="logout" class="primary">Sign out</button></div></form>',
      cookies);
  WHEN 'signed_out' THEN
    RETURN api.html_answer(200, ten, 'Signed out', '<h1>You are signed out</h1><p>You can close this window.</p>', cookies);
  END CASE;
END $$;
COMMENT ON FUNCTION api.logout_answer(jsonb, text, boolean) IS 'Renders a decision of oauth.end_session_endpoint: the confirmation page (200, with the bf_csrf cookie), the signed-out page (200), the error pages (404 unknown tenant, 400 invalid link) or a 303 to the post-logout redirect URI; Set-Cookie for the decision''s cookies (the cleared session).';

CREATE OR REPLACE FUNCTION api.h_revoke(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  RETURN api.oauth_answer(oauth.revoke_endpoint(api.form_body(r), r.headers->>'authorization'), r.headers->>'authorization');
END $$;
COMMENT ON FUNCTION api.h_revoke(api.request) IS 'POST /oauth/revoke (RFC 7009).';

CREATE OR REPLACE FUNCTION api.h_introspect(r api.request) RETURNS api.response
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'bf_h_introspect';
COMMENT ON FUNCTION api.h_introspect(api.request) IS 'POST /oauth/introspect (RFC 7662).';

CREATE OR REPLACE FUNCTION api.register_answer(p_method text, p_decision jsonb, p_authorization text) RETURNS api.response
LANGUAGE plpgsql STABLE AS $$
DECLARE resp api.response;
BEGIN
  resp := api.oauth_answer(p_decision, p_authorization,
                           CASE upper(p_method) WHEN 'POST' THEN 201 WHEN 'DELETE' THEN 204 ELSE 200 END, 'admin');
  IF resp.status = 201 THEN
    resp.headers := resp.headers || jsonb_build_object('Location', p_decision->>'registration_client_uri');
  END IF;
  RETURN resp;
END $$;
COMMENT ON FUNCTION api.register_answer(text, jsonb, text) IS 'The HTTP answer of a registration decision (oauth.register_endpoint): 201 with Location for POST, 204 for DELETE, 200 otherwise; errors as api.oauth_answer (insufficient_scope names scope admin).';

CREATE OR REPLACE FUNCTION api.h_register(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  RETURN api.register_answer(r.method,
    oauth.register_endpoint(r.method, r.id, CASE WHEN r.method IN ('POST', 'PUT') THEN api.json_body(r) END,
                            api.bearer_token(r), r.issuer),
    r.headers->>'authorization');
END $$;
COMMENT ON FUNCTION api.h_register(api.request) IS 'POST /oauth/register (RFC 7591) and GET/PUT/DELETE /oauth/register/{id} (RFC 7592).';

CREATE OR REPLACE FUNCTION api.h_authorize(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  params jsonb := CASE WHEN r.method = 'POST' THEN api.form_body(r) ELSE r.query END;
  a api.response;
BEGIN
  a := api.authorize_answer(oauth.authorize_endpoint(r.method, params, api.parse_cookies(r.headers->>'cookie'), r.issuer, r.client_addr),
                            r.issuer, r.base_url LIKE 'https:%');
  a.headers := jsonb_build_object('Content-Security-Policy', api.html_csp(params->>'redirect_uri')) || a.headers;
  RETURN a;
END $$;
COMMENT ON FUNCTION api.h_authorize(api.request) IS 'GET/POST /oauth/authorize: HTML sign-in and consent, 303 to the redirect URI.';

CREATE OR REPLACE FUNCTION oauth.authenticate_client(p_tenant uuid, params jsonb, authorization text)
RETURNS oauth.client_authentication
LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'bf_authenticate_client_sql';
COMMENT ON FUNCTION oauth.authenticate_client(uuid, jsonb, text) IS 'The one client authentication (RFC 6749 section 2.3.1) of the tenant p_tenant: params = the form (client_id, client_secret), authorization = the Authorization header or NULL. client_secret_basic, client_secret_post or none, as the client registered; the secret compared as SHA-256 digests in constant time. Returns error invalid_client (HTTP 401; with a Basic challenge when Basic was tried) or invalid_request and error_description, else the client (lifetimes as registered: the grants apply oauth._ttl when they issue). Reads only.';
REVOKE ALL ON FUNCTION oauth.authenticate_client(uuid, jsonb, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION oauth._form_client(params jsonb, authorization text) RETURNS oauth.client_authentication
LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'bf_form_client_sql';
COMMENT ON FUNCTION oauth._form_client(jsonb, text) IS 'Internal: the client of a form request to the current tenant (oauth.authenticate_client), or the error invalid_request when the parameters are no form; P0002 without a tenant in the context.';
REVOKE ALL ON FUNCTION oauth._form_client(jsonb, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION oauth._basic_authorization(p_client_id text, p_secret text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT 'Basic ' || translate(encode(convert_to(oauth.url_encode(p_client_id) || ':' || oauth.url_encode(p_secret), 'UTF8'),
                                      'base64'), E'\n', '')
$$;
COMMENT ON FUNCTION oauth._basic_authorization(text, text) IS 'Internal: the Authorization header value of HTTP Basic client credentials (RFC 6749 section 2.3.1).';

CREATE OR REPLACE FUNCTION api.html_answer(p_status integer, p_tenant jsonb, p_title text, p_content text, p_headers jsonb DEFAULT '{}')
RETURNS api.response LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN ROW(p_status, '{"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}'::jsonb || p_headers,
             api.html_page(p_title, p_tenant->>'name', p_tenant->>'brand', p_content))::api.response;
END $$;
COMMENT ON FUNCTION api.html_answer(integer, jsonb, text, text, jsonb) IS 'An HTML answer: api.html_page of the tenant ({"name", "brand"}) with Content-Type text/html, Cache-Control no-store and p_headers.';

CREATE OR REPLACE FUNCTION api.bearer_token(r api.request) RETURNS text
LANGUAGE c IMMUTABLE AS 'MODULE_PATHNAME', 'bf_api_bearer_token';
COMMENT ON FUNCTION api.bearer_token(api.request) IS 'The token of an Authorization: Bearer header, or NULL.';

CREATE OR REPLACE FUNCTION api.user_json(u tenancy.user_info) RETURNS jsonb
LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'bf_user_json';
COMMENT ON FUNCTION api.user_json(tenancy.user_info) IS 'A user as the API shows it.';

CREATE OR REPLACE FUNCTION api.extension_version() RETURNS text
LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'bf_extension_version';
COMMENT ON FUNCTION api.extension_version() IS 'Installed version of backend_framework.';

CREATE OR REPLACE FUNCTION api.h_health(r api.request) RETURNS api.response
LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'bf_h_health';
COMMENT ON FUNCTION api.h_health(api.request) IS 'GET /health.';

CREATE OR REPLACE FUNCTION api.h_me(r api.request) RETURNS api.response
LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'bf_h_me';
COMMENT ON FUNCTION api.h_me(api.request) IS 'GET /api/v1/me: the token''s user (null for client credentials), tenant, role, scope and client.';

CREATE OR REPLACE FUNCTION tenancy.check_password_policy(password text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  min_len integer := current_setting('backend_framework.password_min_length')::integer;
  max_bytes integer := (tenancy.bounds()).password_max_bytes;
BEGIN
  IF password IS NULL OR char_length(password) < min_len THEN
    RAISE EXCEPTION 'password is too short' USING ERRCODE = '22023',
      DETAIL = format('A password needs at least %s characters.', min_len);
  END IF;
  IF octet_length(password) > max_bytes THEN
    -- bcrypt reads only so many bytes; refuse rather than silently truncate.
    RAISE EXCEPTION 'password is too long' USING ERRCODE = '22023',
      DETAIL = format('A password may have at most %s bytes (bcrypt''s limit).', max_bytes);
  END IF;
  IF password ~ '[[:cntrl:]]' THEN
    RAISE EXCEPTION 'password contains control characters' USING ERRCODE = '22023';
  END IF;
END $$;
COMMENT ON FUNCTION tenancy.check_password_policy(text) IS 'Raises 22023 unless the password has backend_framework.password_min_length characters and at most tenancy.bounds().password_max_bytes bytes (bcrypt''s limit), and no control characters.';

CREATE OR REPLACE FUNCTION tenancy._password_matches(password text, hash text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF password IS NULL OR hash IS NULL OR octet_length(password) > (tenancy.bounds()).password_max_bytes THEN
    PERFORM tenancy._bcrypt('x', tenancy._bcrypt_salt(current_setting('backend_framework.bcrypt_cost')::integer));
    RETURN false;
  END IF;
  RETURN oauth.ct_equal(convert_to(tenancy._bcrypt(password, hash), 'UTF8'), convert_to(hash, 'UTF8'));
END $$;
COMMENT ON FUNCTION tenancy._password_matches(text, text) IS 'Internal: bcrypt check with a constant-time comparison; the same work when hash is NULL.';
REVOKE ALL ON FUNCTION tenancy._password_matches(text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION tenancy._check_slug(p_slug text) RETURNS text
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

CREATE OR REPLACE FUNCTION tenancy._check_name(p_name text) RETURNS text
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

CREATE OR REPLACE FUNCTION tenancy._seconds_problem(k text, v jsonb, lo integer, hi integer) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN NOT x.ok THEN format('%s must be a number of seconds between %s and %s', k, lo, hi) END
    FROM (SELECT CASE WHEN jsonb_typeof(v) = 'number' AND v::text ~ '^[0-9]{1,9}$'
                      THEN v::text::integer BETWEEN lo AND hi ELSE false END AS ok) x
$$;
COMMENT ON FUNCTION tenancy._seconds_problem(text, jsonb, integer, integer) IS 'Internal: NULL when a JSON value is a whole number of seconds from lo to hi, else the message saying what k must be.';

CREATE OR REPLACE FUNCTION tenancy._check_email(p_email text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE e text := btrim(p_email);
BEGIN
  IF e IS NULL OR length(e) > (tenancy.bounds()).email_max OR e !~ '^[^@[:space:][:cntrl:]]+@[^@[:space:][:cntrl:]]+\.[^@[:space:][:cntrl:]]+$' THEN
    RAISE EXCEPTION 'invalid email address' USING ERRCODE = '22023', DETAIL = 'Give an address such as ada@example.com.';
  END IF;
  RETURN e;
END $$;
COMMENT ON FUNCTION tenancy._check_email(text) IS 'Internal: trims an email address and raises 22023 unless it looks like one.';

CREATE OR REPLACE FUNCTION tenancy.list_users(p_limit integer DEFAULT NULL, p_after text DEFAULT NULL)
RETURNS SETOF tenancy.user_info
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT * FROM tenancy._users_after(p_after,
    greatest(1, least(coalesce(p_limit, (tenancy.bounds()).page_size), (tenancy.bounds()).page_max)))
$$;
COMMENT ON FUNCTION tenancy.list_users(integer, text) IS 'Users of the current tenant visible to the caller, in email order; p_after = last email of the previous page; p_limit per page (default and largest: tenancy.bounds().page_size, page_max).';

CREATE OR REPLACE FUNCTION tenancy.enter_tenant(slug_or_id text) RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE t uuid;
BEGIN
  IF slug_or_id ~* (tenancy.patterns()).uuid THEN
    SELECT id INTO t FROM tenancy.tenants WHERE id = slug_or_id::uuid;
  ELSE
    SELECT id INTO t FROM tenancy.tenants WHERE slug = lower(slug_or_id);
  END IF;
  IF t IS NULL THEN
    RAISE EXCEPTION 'tenant not found' USING ERRCODE = 'P0002';
  END IF;
  PERFORM tenancy._set_context(t, NULL, 'owner', oauth._scope_text(oauth.api_scopes()), NULL);
  RETURN t;
END $$;
COMMENT ON FUNCTION tenancy.enter_tenant(text) IS 'backend_admin only: act as an owner of the tenant (slug or id) for the rest of the transaction.';
REVOKE ALL ON FUNCTION tenancy.enter_tenant(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.enter_tenant(text) TO backend_admin;

CREATE OR REPLACE FUNCTION oauth._redirect_uri_problem(u text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE
    WHEN u IS NULL OR u = '' THEN 'a redirect URI is empty'
    WHEN length(u) > b.uri_max THEN format('a redirect URI is longer than %s characters', b.uri_max)
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
    FROM tenancy.bounds() b
$$;
COMMENT ON FUNCTION oauth._redirect_uri_problem(text) IS 'Internal: why a redirect URI cannot be registered (https; http only on localhost, 127.0.0.1, [::1]; no fragment), or NULL when it can.';

CREATE OR REPLACE FUNCTION oauth._uris_problem(uris jsonb, private_use_ok boolean) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT y.p FROM jsonb_array_elements_text(uris) WITH ORDINALITY x(u, i),
         LATERAL (SELECT CASE WHEN private_use_ok AND oauth._private_use_redirect_ok(x.u) THEN NULL
                              ELSE oauth._redirect_uri_problem(x.u) END AS p) y
   WHERE y.p IS NOT NULL
   ORDER BY x.i LIMIT 1
$$;
COMMENT ON FUNCTION oauth._uris_problem(jsonb, boolean) IS 'Internal: why the first URI of a list a client cannot register (oauth._redirect_uri_problem; private-use schemes too when private_use_ok), or NULL.';

CREATE OR REPLACE FUNCTION oauth._string_array(v jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN jsonb_typeof(v) = 'array'
              THEN NOT EXISTS (SELECT 1 FROM jsonb_array_elements(v) g WHERE jsonb_typeof(g) <> 'string') ELSE false END
$$;
COMMENT ON FUNCTION oauth._string_array(jsonb) IS 'Internal: true when a JSON value is an array of strings.';

CREATE OR REPLACE FUNCTION oauth._metadata_error(description text, error text DEFAULT 'invalid_client_metadata') RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT jsonb_build_object('error', error, 'error_description', description)
$$;
COMMENT ON FUNCTION oauth._metadata_error(text, text) IS 'Internal: {"error", "error_description"} of invalid client metadata (RFC 7591 section 3.2.2).';

CREATE OR REPLACE FUNCTION oauth._ttl(kind text, client_ttl integer, settings jsonb) RETURNS integer
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  RETURN coalesce(client_ttl, (settings->>(kind || '_ttl'))::integer,
                  CASE kind WHEN 'access_token' THEN (oauth.lifetimes()).access_token
                            WHEN 'refresh_token' THEN (oauth.lifetimes()).refresh_token
                            WHEN 'code' THEN (oauth.lifetimes()).code END);
END $$;
COMMENT ON FUNCTION oauth._ttl(text, integer, jsonb) IS 'Internal: lifetime in seconds of an access_token, refresh_token or code: the client''s, else the tenant setting <kind>_ttl, else the default of oauth.lifetimes().';

CREATE OR REPLACE FUNCTION oauth._throttle_wait(p_tenant uuid, p_email text, p_addr text) RETURNS integer
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  -- The exponent stops at 30: 2^30 s is past any cap, and the power stays in range.
  SELECT coalesce(max(greatest(0, ceil(extract(epoch FROM
           a.last_failure_at + make_interval(secs => least(w.login_max_wait, 2 ^ least(a.failures - th.n, 30))) - now())))),
           0)::integer
    FROM tenancy.throttling() w
    CROSS JOIN LATERAL (VALUES ('email', lower(btrim(p_email)), w.login_per_email),
                               ('addr', p_addr, w.login_per_address)) th(kind, key, n)
    JOIN oauth.login_attempts a ON a.kind = th.kind AND a.key = th.key
   WHERE a.tenant_id = p_tenant AND a.failures >= th.n
     AND a.last_failure_at > now() - make_interval(secs => w.login_memory)
$$;
COMMENT ON FUNCTION oauth._throttle_wait(uuid, text, text) IS 'Internal: seconds to wait before the next password check for this e-mail or client address (0: go ahead). Back-off 2^(n-threshold) s from the thresholds of tenancy.throttling(), at most its login_max_wait.';
REVOKE ALL ON FUNCTION oauth._throttle_wait(uuid, text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION oauth._record_login(p_tenant uuid, p_email text, p_addr text, p_success boolean) RETURNS void
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
    SET failures = CASE WHEN a.last_failure_at < now() - make_interval(secs => (tenancy.throttling()).login_memory)
                        THEN 1 ELSE a.failures + 1 END,
        first_failure_at = CASE WHEN a.last_failure_at < now() - make_interval(secs => (tenancy.throttling()).login_memory)
                                THEN now() ELSE a.first_failure_at END,
        last_failure_at = now();
END $$;
COMMENT ON FUNCTION oauth._record_login(uuid, text, text, boolean) IS 'Internal: counts a failed password check for the e-mail and the client address, or clears both counters after a success.';
REVOKE ALL ON FUNCTION oauth._record_login(uuid, text, text, boolean) FROM PUBLIC;

CREATE OR REPLACE FUNCTION oauth.purge_expired(batch integer DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  b integer := greatest(1, least(coalesce(batch, (tenancy.bounds()).purge_batch), (tenancy.bounds()).purge_batch_max));
  t record;
  n bigint;
  total bigint := 0;
BEGIN
  -- Per table, what has expired by which column: tokens past their expiry
  -- (revoked and rotated ones too: expired is expired); codes code_kept
  -- after expiry (until then a replay is still recognised and revokes what
  -- the code issued); login sessions past expiry; failure counters when
  -- forgotten (oauth._throttle_wait). Each lookup walks the column's index.
  FOR t IN SELECT * FROM (VALUES
             ('oauth.tokens'::regclass, 'expires_at', now()),
             ('oauth.authorization_codes', 'expires_at', now() - make_interval(secs => (oauth.lifetimes()).code_kept)),
             ('oauth.login_sessions', 'expires_at', now()),
             ('oauth.login_attempts', 'last_failure_at', now() - make_interval(secs => (tenancy.throttling()).login_memory))
           ) x(tbl, col, cutoff) LOOP
    EXECUTE format('WITH d AS (DELETE FROM %1$s WHERE ctid = ANY (ARRAY(SELECT ctid FROM %1$s WHERE %2$I < $1 ORDER BY %2$I LIMIT $2)) RETURNING 1)
                    SELECT count(*) FROM d', t.tbl, t.col)
      INTO n USING t.cutoff, b;
    total := total + n;
  END LOOP;
  RETURN total;
END $$;
COMMENT ON FUNCTION oauth.purge_expired(integer) IS 'Deletes expired OAuth rows, at most batch rows per table per call (default and largest: tenancy.bounds().purge_batch, purge_batch_max) (each lookup uses the expiry index): tokens past expires_at, authorization codes oauth.lifetimes().code_kept after expiry (replays are still detected until then), login sessions past expiry, failed-login counters when forgotten (tenancy.throttling().login_memory after the last failure). Returns the number of rows deleted; call again while it returns a lot. The extension''s background worker runs it every backend_framework.purge_interval seconds (0 = never); it can also be called by hand, as a superuser or a member of backend_admin.';
REVOKE ALL ON FUNCTION oauth.purge_expired(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION oauth.purge_expired(integer) TO backend_admin;

CREATE OR REPLACE FUNCTION api.page_limit(r api.request) RETURNS integer
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  v text := r.query->>'limit';
  b record := tenancy.bounds();
BEGIN
  IF v IS NULL THEN RETURN b.page_size; END IF;
  IF v !~ '^[0-9]{1,4}$' OR v::int NOT BETWEEN 1 AND b.page_max THEN
    RAISE EXCEPTION 'limit must be a number from 1 to %', b.page_max USING ERRCODE = '22023';
  END IF;
  RETURN v::int;
END $$;
COMMENT ON FUNCTION api.page_limit(api.request) IS 'The limit query parameter (1 to tenancy.bounds().page_max, default its page_size).';

CREATE OR REPLACE FUNCTION api.h_tenant_delete(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM api.own_tenant(r);
  IF tenancy.current_user_role() IS DISTINCT FROM 'owner' THEN
    RAISE EXCEPTION 'only owners delete a tenant' USING ERRCODE = '42501';
  END IF;
  PERFORM tenancy.delete_tenant(r.id::uuid);
  RETURN api.no_content();
END $$;
COMMENT ON FUNCTION api.h_tenant_delete(api.request) IS 'DELETE /api/v1/tenants/{id} (owners).';

CREATE OR REPLACE FUNCTION api.h_user_delete(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM tenancy.delete_user(api.uuid_param(r, 'user'));
  RETURN api.no_content();
END $$;
COMMENT ON FUNCTION api.h_user_delete(api.request) IS 'DELETE /api/v1/users/{id} (admins).';

CREATE OR REPLACE FUNCTION api.h_client_delete(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM api.require_admin();
  PERFORM oauth.delete_client(r.id);
  RETURN api.no_content();
END $$;
COMMENT ON FUNCTION api.h_client_delete(api.request) IS 'DELETE /api/v1/clients/{id} (admins; not the console client).';

CREATE OR REPLACE FUNCTION api.uuid_param(r api.request, what text) RETURNS uuid
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF r.id ~* (tenancy.patterns()).uuid THEN
    RETURN r.id::uuid;
  END IF;
  RAISE EXCEPTION '% not found', what USING ERRCODE = 'P0002';
END $$;
COMMENT ON FUNCTION api.uuid_param(api.request, text) IS 'The {id} path parameter as a uuid; 404 when it is not one.';

CREATE OR REPLACE FUNCTION oauth._scope_text(a text[]) RETURNS text
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bf_scope_text_sql';
COMMENT ON FUNCTION oauth._scope_text(text[]) IS 'Internal: a sorted scope array as a space-separated string.';

CREATE OR REPLACE FUNCTION api.json(p_status integer, p_body jsonb, p_headers jsonb DEFAULT '{}')
RETURNS api.response LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'bf_api_json';
COMMENT ON FUNCTION api.json(integer, jsonb, jsonb) IS 'A JSON answer.';

CREATE OR REPLACE FUNCTION api.form_body(r api.request) RETURNS jsonb
LANGUAGE c IMMUTABLE AS 'MODULE_PATHNAME', 'bf_api_form_body';
COMMENT ON FUNCTION api.form_body(api.request) IS 'The request body decoded as application/x-www-form-urlencoded (strict).';

CREATE OR REPLACE FUNCTION oauth._access_jwt(p_tenant uuid, p_client text, p_user uuid, p_scope text, access_ttl integer,
                                  p_issuer text, p_audience text, p_auth_time timestamptz,
                                  OUT jwt text, OUT kid text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  iss text := coalesce(p_issuer, oauth._default_issuer(p_tenant));
BEGIN
  SELECT j.jwt, j.kid INTO jwt, kid FROM oauth._sign_jwt(p_tenant, (oauth.signing_algs())[1], 'at+jwt', jsonb_strip_nulls(jsonb_build_object(
    'iss', iss,
    'sub', coalesce(p_user::text, p_client),
    'aud', coalesce(p_audience, iss),
    'client_id', p_client,
    'scope', p_scope,
    'iat', floor(extract(epoch FROM now()))::bigint,
    'exp', floor(extract(epoch FROM now()))::bigint + access_ttl,
    'jti', gen_random_uuid(),
    'auth_time', floor(extract(epoch FROM p_auth_time))::bigint))) j;
END $$;
COMMENT ON FUNCTION oauth._access_jwt(uuid, text, uuid, text, integer, text, text, timestamptz) IS 'Internal: an RFC 9068 access token (typ at+jwt, the first of oauth.signing_algs()) for a client (and user), with its key id; iss is p_issuer or the tenant''s default issuer, aud the resource indicator or iss.';
REVOKE ALL ON FUNCTION oauth._access_jwt(uuid, text, uuid, text, integer, text, text, timestamptz) FROM PUBLIC;

CREATE OR REPLACE FUNCTION api._oauth_error_answer(p_decision jsonb, p_authorization text, p_scope text, h jsonb)
RETURNS api.response
LANGUAGE plpgsql STABLE AS $$
DECLARE
  e text := p_decision->>'error';
BEGIN
  IF api.error_status(e) = 401 THEN
    IF p_authorization ~* '^basic ' THEN
      h := h || api.www_authenticate('Basic');
    ELSIF p_authorization IS NOT NULL THEN
      h := h || api.www_authenticate('Bearer', 'invalid_token');
    ELSIF e = 'invalid_token' THEN
      h := h || api.www_authenticate('Bearer');
    END IF;
  ELSIF e = 'insufficient_scope' THEN
    h := h || api.www_authenticate('Bearer', e, NULL, p_scope);
  END IF;
  RETURN api.error_answer(e, p_decision->>'error_description', h);
END $$;
COMMENT ON FUNCTION api._oauth_error_answer(jsonb, text, text, jsonb) IS 'Internal: the HTTP answer of an OAuth error decision (api.oauth_answer): the status of api.error_status, the headers h and on 401 the challenge of the scheme the client used, on 403 insufficient_scope the Bearer challenge with p_scope.';

CREATE OR REPLACE FUNCTION oauth._scope_and(a text[], b text[]) RETURNS text[]
LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bf_scope_and_sql';
COMMENT ON FUNCTION oauth._scope_and(text[], text[]) IS 'Internal: intersection of two scope arrays, sorted.';

CREATE OR REPLACE FUNCTION tenancy._users_after(p_after text, p_limit integer)
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

CREATE OR REPLACE FUNCTION api.h_users_list(r api.request) RETURNS api.response
LANGUAGE plpgsql STABLE AS $$
DECLARE
  lim integer := api.page_limit(r);
  items jsonb[];
  keys text[];
BEGIN
  SELECT array_agg(api.user_json(u) ORDER BY lower(u.email)), array_agg(u.email ORDER BY lower(u.email))
    INTO items, keys FROM tenancy._users_after(api.cursor_decode(r.query->>'cursor'), lim + 1) u;
  RETURN api.page('users', items, keys, lim);
END $$;
COMMENT ON FUNCTION api.h_users_list(api.request) IS 'GET /api/v1/users?limit=&cursor= (admins: every user; users: themselves).';

-- Triggers --------------------------------------------------------------------------
CREATE TRIGGER routes_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON api.routes
  FOR EACH STATEMENT EXECUTE FUNCTION api._routes_changed();
CREATE TRIGGER tenants_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tenancy.tenants
  FOR EACH STATEMENT EXECUTE FUNCTION tenancy._tenants_changed();
ALTER TABLE tenancy.tenants ENABLE ALWAYS TRIGGER tenants_changed;
CREATE TRIGGER tenants_custom_domain BEFORE INSERT OR UPDATE OF custom_domain ON tenancy.tenants
  FOR EACH ROW EXECUTE FUNCTION tenancy._custom_domain_pending();
CREATE TRIGGER users_lock BEFORE UPDATE OR DELETE ON tenancy.users
  FOR EACH STATEMENT EXECUTE FUNCTION tenancy._users_lock();
CREATE TRIGGER users_revoke AFTER UPDATE OF password_hash, status ON tenancy.users
  FOR EACH ROW WHEN (OLD.password_hash IS DISTINCT FROM NEW.password_hash
                     OR (OLD.status = 'active' AND NEW.status <> 'active'))
  EXECUTE FUNCTION tenancy._users_revoke();

-- Routes: 0.1.0 had only built-in routes; they are loaded again as a fresh
-- install has them (application routes come with api.add_route).
INSERT INTO api.routes (method, pattern, handler, tenant, auth, scope, tag, summary, request, response, success, builtin) VALUES
 ('GET',    '/health',                         'api.h_health(api.request)',         false, 'none',     NULL,    'meta',    'Health of the service and its database', NULL, 'Health', 200, true),
 ('GET',    '/api/v1/ping',                    'api.h_ping(api.request)',           false, 'none',     NULL,    'meta',    'Liveness check', NULL, 'Pong', 200, true),
 ('GET',    '/api/v1/status',                  'api.h_status(api.request)',         false, 'none',     NULL,    'meta',    'The service answers, and its version', NULL, 'Status', 200, true),
 ('GET',    '/api/v1/signup',                  'api.h_signup_policy(api.request)',  false, 'none',     NULL,    'tenants', 'How sign-up works here: open, by invitation or closed, and the plan new organizations get', NULL, 'SignupPolicy', 200, true),
 ('GET',    '/api/v1/openapi.json',            'api.h_openapi(api.request)',        false, 'none',     NULL,    'meta',    'This OpenAPI document', NULL, NULL, 200, true),
 ('POST',   '/api/v1/tenants',                 'api.h_tenant_create(api.request)',  false, 'none',     NULL,    'tenants', 'Sign-up: register a tenant and its first owner (default plan; throttled per client address); answers the owner''s first token', 'TenantRegistration', 'TenantRegistered', 201, true),
 ('GET',    '/api/v1/tenants/{id}',            'api.h_tenant_get(api.request)',     true,  'bearer',   'read',  'tenants', 'Read a tenant', NULL, 'Tenant', 200, true),
 ('PATCH',  '/api/v1/tenants/{id}',            'api.h_tenant_update(api.request)',  true,  'bearer',   'admin', 'tenants', 'Update name or custom domain (the plan: platform operators only)', 'TenantUpdate', 'Tenant', 200, true),
 ('DELETE', '/api/v1/tenants/{id}',            'api.h_tenant_delete(api.request)',  true,  'bearer',   'admin', 'tenants', 'Delete a tenant and all its data (owners)', NULL, NULL, 204, true),
 ('GET',    '/api/v1/tenants/{id}/stats',      'api.h_tenant_stats(api.request)',   true,  'bearer',   'admin', 'tenants', 'Users, API calls this month and storage against the plan''s limits', NULL, 'TenantStats', 200, true),
 ('GET',    '/api/v1/tenants/{id}/settings',   'api.h_settings_get(api.request)',   true,  'bearer',   'admin', 'tenants', 'Read the tenant''s settings', NULL, 'Settings', 200, true),
 ('PUT',    '/api/v1/tenants/{id}/settings',   'api.h_settings_put(api.request)',   true,  'bearer',   'admin', 'tenants', 'Replace the tenant''s settings', 'Settings', 'Settings', 200, true),
 ('GET',    '/api/v1/users',                   'api.h_users_list(api.request)',     true,  'bearer',   'read',  'users',   'List users (admins: all; users: themselves), with limit and cursor', NULL, 'UserPage', 200, true),
 ('POST',   '/api/v1/users',                   'api.h_user_create(api.request)',    true,  'bearer',   'admin', 'users',   'Create a user (admins; owner role: owners)', 'UserCreate', 'User', 201, true),
 ('GET',    '/api/v1/users/{id}',              'api.h_user_get(api.request)',       true,  'bearer',   'read',  'users',   'Read a user', NULL, 'User', 200, true),
 ('PATCH',  '/api/v1/users/{id}',              'api.h_user_update(api.request)',    true,  'bearer',   'write', 'users',   'Update display name (yourself or admins), role or status (admins); never a password or e-mail', 'UserUpdate', 'User', 200, true),
 ('POST',   '/api/v1/users/{id}/reset-password', 'api.h_user_reset(api.request)',   true,  'bearer',   'admin', 'users',   'Reset a user''s password (admins; an owner''s: owners): it stops working, the user is signed out and gets a one-time secret by mail', NULL, 'PasswordResetQueued', 202, true),
 ('DELETE', '/api/v1/users/{id}',              'api.h_user_delete(api.request)',    true,  'bearer',   'admin', 'users',   'Delete a user', NULL, NULL, 204, true),
 ('GET',    '/api/v1/me',                      'api.h_me(api.request)',             true,  'bearer',   NULL,    'users',   'The signed-in user, tenant and granted scopes', NULL, 'Me', 200, true),
 ('PATCH',  '/api/v1/me',                      'api.h_me_update(api.request)',      true,  'bearer',   'write', 'users',   'Change your display name, e-mail or password (e-mail and password need current_password; a new password signs you out everywhere)', 'MeUpdate', 'User', 200, true),
 ('POST',   '/api/v1/password-reset',          'api.h_password_reset(api.request)', true,  'none',     NULL,    'users',   'Set a new password with a one-time reset secret', 'PasswordReset', NULL, 204, true),
 ('GET',    '/api/v1/clients',                 'api.h_clients_list(api.request)',   true,  'bearer',   'admin', 'clients', 'List OAuth clients (never their secrets)', NULL, 'ClientList', 200, true),
 ('POST',   '/api/v1/clients',                 'api.h_client_create(api.request)',  true,  'bearer',   'admin', 'clients', 'Register an OAuth client; the secret is shown once', 'ClientMetadata', 'ClientWithSecret', 201, true),
 ('GET',    '/api/v1/clients/{id}',            'api.h_client_get(api.request)',     true,  'bearer',   'admin', 'clients', 'Read an OAuth client', NULL, 'Client', 200, true),
 ('PATCH',  '/api/v1/clients/{id}',            'api.h_client_update(api.request)',  true,  'bearer',   'admin', 'clients', 'Change an OAuth client (fields given replace the stored ones), e.g. resource_server: may introspect every token of the tenant', 'ClientMetadata', 'Client', 200, true),
 ('POST',   '/api/v1/clients/{id}/rotate-secret', 'api.h_client_rotate(api.request)', true, 'bearer',   'admin', 'clients', 'Issue a new client secret (shown once); the old one stops working', NULL, 'ClientWithSecret', 200, true),
 ('DELETE', '/api/v1/clients/{id}',            'api.h_client_delete(api.request)',  true,  'bearer',   'admin', 'clients', 'Delete an OAuth client and revoke its tokens', NULL, NULL, 204, true),
 ('GET',    '/oauth/authorize',                'api.h_authorize(api.request)',      true,  'none',     NULL,    'oauth',   'Authorization endpoint: HTML sign-in and consent (RFC 6749 §4.1, PKCE, RFC 9207)', NULL, NULL, 200, true),
 ('POST',   '/oauth/authorize',                'api.h_authorize(api.request)',      true,  'none',     NULL,    'oauth',   'Sign-in and consent form submission; answers 303 to the redirect URI', 'AuthorizeForm', NULL, 303, true),
 ('POST',   '/oauth/token',                    'api.h_token(api.request)',          true,  'client',   NULL,    'oauth',   'Token endpoint: authorization_code, refresh_token, client_credentials, password', 'TokenRequest', 'TokenResponse', 200, true),
 ('POST',   '/oauth/revoke',                   'api.h_revoke(api.request)',         true,  'client',   NULL,    'oauth',   'Token revocation (RFC 7009)', 'RevocationRequest', NULL, 200, true),
 ('POST',   '/oauth/introspect',               'api.h_introspect(api.request)',     true,  'client',   NULL,    'oauth',   'Token introspection (RFC 7662)', 'IntrospectionRequest', 'Introspection', 200, true),
 ('POST',   '/oauth/register',                 'api.h_register(api.request)',       true,  'optional', NULL,    'oauth',   'Dynamic client registration (RFC 7591): admin token, or open when the tenant allows', 'ClientMetadata', 'ClientRegistration', 201, true),
 ('GET',    '/oauth/register/{id}',            'api.h_register(api.request)',       true,  'none',     NULL,    'oauth',   'Read a client''s registration (RFC 7592, registration access token)', NULL, 'ClientRegistration', 200, true),
 ('PUT',    '/oauth/register/{id}',            'api.h_register(api.request)',       true,  'none',     NULL,    'oauth',   'Replace a client''s registration (RFC 7592)', 'ClientMetadata', 'ClientRegistration', 200, true),
 ('DELETE', '/oauth/register/{id}',            'api.h_register(api.request)',       true,  'none',     NULL,    'oauth',   'Delete a client registration (RFC 7592)', NULL, NULL, 204, true),
 ('GET',    '/oauth/userinfo',                 'api.h_userinfo(api.request)',       true,  'bearer',   NULL,    'oauth',   'OpenID Connect userinfo: claims of the token''s user (scope openid or profile)', NULL, 'UserInfo', 200, true),
 ('POST',   '/oauth/userinfo',                 'api.h_userinfo(api.request)',       true,  'bearer',   NULL,    'oauth',   'OpenID Connect userinfo: claims of the token''s user (scope openid or profile)', NULL, 'UserInfo', 200, true),
 ('GET',    '/.well-known/oauth-authorization-server', 'api.h_metadata(api.request)', true, 'none',  NULL,    'oauth',   'Authorization server metadata (RFC 8414)', NULL, 'ServerMetadata', 200, true),
 ('GET',    '/.well-known/openid-configuration', 'api.h_metadata(api.request)',   true,  'none',     NULL,    'oauth',   'OpenID Provider configuration (OpenID Connect Discovery 1.0; the RFC 8414 document)', NULL, 'ServerMetadata', 200, true),
 ('GET',    '/.well-known/oauth-protected-resource', 'api.h_protected_resource(api.request)', true, 'none', NULL, 'oauth', 'Protected resource metadata of the tenant''s API (RFC 9728)', NULL, NULL, 200, true),
 ('GET',    '/oauth/jwks',                     'api.h_jwks(api.request)',           true,  'none',     NULL,    'oauth',   'The tenant''s public signing keys (JWKS, RFC 7517)', NULL, NULL, 200, true),
 ('GET',    '/oauth/logout',                   'api.h_logout(api.request)',         true,  'none',     NULL,    'oauth',   'RP-initiated logout (end_session_endpoint): id_token_hint, post_logout_redirect_uri, state', NULL, NULL, 200, true),
 ('POST',   '/oauth/logout',                   'api.h_logout(api.request)',         true,  'none',     NULL,    'oauth',   'RP-initiated logout by POST, and the confirmation form', NULL, NULL, 200, true),
 ('GET',    '/api/v1/me/sessions',             'api.h_my_sessions(api.request)',    true,  'bearer',   NULL,    'users',   'Your browser sign-in sessions', NULL, NULL, 200, true),
 ('DELETE', '/api/v1/me/sessions/{id}',        'api.h_my_session_delete(api.request)', true, 'bearer', 'write', 'users',   'Sign one of your browser sessions out', NULL, NULL, 204, true),
 ('GET',    '/api/v1/me/consents',             'api.h_my_consents(api.request)',    true,  'bearer',   NULL,    'users',   'Applications you allowed, with their scopes', NULL, NULL, 200, true),
 ('DELETE', '/api/v1/me/consents/{id}',        'api.h_my_consent_delete(api.request)', true, 'bearer', 'write', 'users',   'Withdraw consent to an application ({id}: its client_id); its tokens for you are revoked', NULL, NULL, 204, true);

-- Privileges (as extension/schema/98_privileges.sql) ---------------------------------
DO $privileges$
DECLARE f record;
BEGIN
  FOR f IN
    SELECT p.oid::regprocedure AS sig, p.prosecdef, l.lanname,
           coalesce(EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%'), false) AS pinned,
           pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE') AS public_exec
      FROM pg_catalog.pg_proc p
      JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
      JOIN pg_catalog.pg_language l ON l.oid = p.prolang
      JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid
                                 AND d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.deptype = 'e'
      JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'backend_framework'
  LOOP
    IF f.lanname IN ('sql', 'plpgsql') AND NOT f.pinned THEN
      EXECUTE format('ALTER FUNCTION %s SET search_path = pg_catalog, pg_temp', f.sig);
    END IF;
    IF f.prosecdef THEN
      EXECUTE format('ALTER FUNCTION %s OWNER TO backend_definer', f.sig);
    END IF;
    IF f.public_exec THEN
      EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f.sig);
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO backend_gateway, backend_app, backend_admin', f.sig);
    END IF;
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO backend_definer', f.sig);
  END LOOP;
END
$privileges$;

-- What the definers read and write: the rows of the extension's tables
-- (RLS does not bind them: backend_definer has BYPASSRLS), never their
-- definition (they own no table). The context settings are superuser-only;
-- PostgreSQL 15 lets the definers set them without being superusers.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA tenancy, oauth, api TO backend_definer;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA tenancy, oauth, api TO backend_definer;
GRANT SET ON PARAMETER backend_framework.tenant_id, backend_framework.user_id, backend_framework.user_role,
  backend_framework.scopes, backend_framework.client_id TO backend_definer;
