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

-- A client_id: what oauth.random_token('client_id') makes, or what an admin
-- chooses within tenancy.bounds().
CREATE FUNCTION oauth._client_id_ok(id text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT id ~ '^[A-Za-z0-9._~-]+$' AND length(id) BETWEEN (tenancy.bounds()).client_id_min AND (tenancy.bounds()).client_id_max
$$;
COMMENT ON FUNCTION oauth._client_id_ok(text) IS 'Internal: whether a text is a valid client_id (letters, digits, . _ ~ -; tenancy.bounds().client_id_min to client_id_max characters).';

CREATE TABLE oauth.clients (
  tenant_id                  uuid NOT NULL REFERENCES tenancy.tenants(id) ON DELETE CASCADE,
  client_id                  text NOT NULL CHECK (oauth._client_id_ok(client_id)),
  client_name                text NOT NULL CHECK (length(client_name) BETWEEN 1 AND (tenancy.bounds()).name_max),
  secret_hash                bytea CHECK (octet_length(secret_hash) = 32),
  registration_token_hash    bytea CHECK (octet_length(registration_token_hash) = 32),
  token_endpoint_auth_method text NOT NULL DEFAULT 'client_secret_basic'
                             CHECK (token_endpoint_auth_method IN ('client_secret_basic', 'client_secret_post', 'none')),
  redirect_uris              text[] NOT NULL DEFAULT '{}',
  grant_types                text[] NOT NULL DEFAULT '{authorization_code}'
                             CHECK (grant_types <@ '{authorization_code,refresh_token,client_credentials,password}'
                                    AND cardinality(grant_types) > 0),
  response_types             text[] NOT NULL DEFAULT '{code}' CHECK (response_types <@ '{code}'),
  scope                      text NOT NULL CHECK (scope <> '' AND string_to_array(scope, ' ') <@ oauth.scopes_supported()),
  extra                      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(extra) = 'object'),
  access_token_ttl           integer CHECK (access_token_ttl BETWEEN (oauth.lifetimes()).ttl_min AND (oauth.lifetimes()).ttl_max),
  refresh_token_ttl          integer CHECK (refresh_token_ttl BETWEEN (oauth.lifetimes()).ttl_min AND (oauth.lifetimes()).ttl_max),
  builtin                    boolean NOT NULL DEFAULT false,
  registered_via             text NOT NULL DEFAULT 'admin' CHECK (registered_via IN ('admin', 'dynamic', 'open')),
  created_at                 timestamptz NOT NULL DEFAULT now(),
  updated_at                 timestamptz NOT NULL DEFAULT now(),
  resource_server            boolean NOT NULL DEFAULT false,
  access_token_format        text NOT NULL DEFAULT 'opaque' CHECK (access_token_format IN ('opaque', 'jwt')),
  id_token_signed_response_alg text NOT NULL DEFAULT (oauth.signing_algs())[1]
                             CHECK (id_token_signed_response_alg = ANY (oauth.signing_algs())),
  post_logout_redirect_uris  text[] NOT NULL DEFAULT '{}',
  application_type           text NOT NULL DEFAULT 'web' CHECK (application_type IN ('web', 'native')),
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
COMMENT ON COLUMN oauth.clients.access_token_ttl IS 'Access token lifetime in seconds for this client (NULL: the tenant''s access_token_ttl setting, else oauth.lifetimes().access_token).';
COMMENT ON COLUMN oauth.clients.refresh_token_ttl IS 'Refresh token lifetime in seconds for this client (NULL: the tenant''s refresh_token_ttl setting, else oauth.lifetimes().refresh_token).';
COMMENT ON COLUMN oauth.clients.builtin IS 'True for the tenant''s console client (public, created with the tenant, cannot be deleted).';
COMMENT ON COLUMN oauth.clients.resource_server IS 'True for a resource server (API): it may introspect every token of its tenant. Other clients introspect only their own tokens. Set only by admins (create_client, update_client), never by dynamic registration.';
COMMENT ON COLUMN oauth.clients.access_token_format IS 'opaque (bfat_..., default) or jwt (RFC 9068, signed with the tenant''s keys); both are stored as digests and revocable.';
COMMENT ON COLUMN oauth.clients.id_token_signed_response_alg IS 'Algorithm of this client''s id_tokens: one of oauth.signing_algs(), the first by default (RS256).';
COMMENT ON COLUMN oauth.clients.post_logout_redirect_uris IS 'Where RP-initiated logout may return to (exact match).';
COMMENT ON COLUMN oauth.clients.application_type IS 'web or native (OpenID Connect Registration); native public clients may use private-use URI scheme redirects (RFC 8252).';
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
  nonce                 text,
  auth_time             timestamptz,
  session_id            uuid,
  resource              text,
  PRIMARY KEY (tenant_id, code_hash),
  FOREIGN KEY (tenant_id, user_id) REFERENCES tenancy.users (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, client_id) REFERENCES oauth.clients (tenant_id, client_id) ON DELETE CASCADE,
  CHECK ((code_challenge IS NULL) = (code_challenge_method IS NULL))
);
CREATE INDEX authorization_codes_expires_idx ON oauth.authorization_codes (expires_at);
COMMENT ON TABLE oauth.authorization_codes IS 'Authorization codes (SHA-256 digests), bound to client, user, redirect URI, scope and PKCE challenge; single use (used_at), kept after use until purged so replays revoke the tokens of family_id.';
COMMENT ON COLUMN oauth.authorization_codes.redirect_uri_given IS 'Whether the authorization request named redirect_uri (then the token request must repeat it, RFC 6749 section 4.1.3).';
COMMENT ON COLUMN oauth.authorization_codes.nonce IS 'OpenID Connect nonce of the request, repeated in the id_token.';
COMMENT ON COLUMN oauth.authorization_codes.auth_time IS 'When the user authenticated (the sign-in session''s start): the id_token''s auth_time.';
COMMENT ON COLUMN oauth.authorization_codes.session_id IS 'The sign-in session (oauth.login_sessions.id): the id_token''s sid.';
COMMENT ON COLUMN oauth.authorization_codes.resource IS 'Resource indicator (RFC 8707) of the request, NULL for the tenant''s own API.';
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
  auth_time  timestamptz,
  audience   text,
  family_expires_at timestamptz,
  kid        text,
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
COMMENT ON COLUMN oauth.tokens.auth_time IS 'When the user authenticated for this grant (id_tokens of refreshes repeat it).';
COMMENT ON COLUMN oauth.tokens.audience IS 'Resource indicator (RFC 8707) the token is for; NULL: the tenant''s own API. tenancy.authenticate refuses tokens for other resources.';
COMMENT ON COLUMN oauth.tokens.family_expires_at IS 'Refresh tokens: absolute end of the grant (tenant setting refresh_token_max_lifetime); rotation never goes beyond it.';
COMMENT ON COLUMN oauth.tokens.kid IS 'JWT access tokens: the signing key (its kid); NULL for opaque tokens.';
COMMENT ON COLUMN oauth.tokens.rotated_at IS 'Refresh tokens: when exchanged for a new one; presenting it again revokes the family.';

-- Login sessions of the authorize page (cookie bf_session).
CREATE TABLE oauth.login_sessions (
  tenant_id    uuid NOT NULL REFERENCES tenancy.tenants(id) ON DELETE CASCADE,
  session_hash bytea NOT NULL CHECK (octet_length(session_hash) = 32),
  user_id      uuid NOT NULL,
  client_addr  text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  id           uuid NOT NULL DEFAULT gen_random_uuid(),
  PRIMARY KEY (tenant_id, session_hash),
  FOREIGN KEY (tenant_id, user_id) REFERENCES tenancy.users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX login_sessions_expires_idx ON oauth.login_sessions (expires_at);
CREATE UNIQUE INDEX login_sessions_id_key ON oauth.login_sessions (tenant_id, id);
COMMENT ON TABLE oauth.login_sessions IS 'Signed-in browser sessions of the authorize page (cookie bf_session, stored as a SHA-256 digest). Delete a user''s rows to sign them out.';
COMMENT ON COLUMN oauth.login_sessions.id IS 'Public id of the session (the id_token''s sid; what a user lists and revokes); not a secret.';

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
              resource_server, created_at, updated_at, access_token_format, id_token_signed_response_alg,
              post_logout_redirect_uris, application_type)
  ON oauth.clients TO backend_gateway, backend_app, backend_admin;
GRANT INSERT (tenant_id, client_id, client_name, secret_hash, registration_token_hash, token_endpoint_auth_method,
              redirect_uris, grant_types, response_types, scope, extra, access_token_ttl, refresh_token_ttl,
              resource_server, access_token_format, id_token_signed_response_alg, post_logout_redirect_uris,
              application_type)
  ON oauth.clients TO backend_gateway, backend_app, backend_admin;
GRANT UPDATE (client_name, secret_hash, registration_token_hash, token_endpoint_auth_method, redirect_uris,
              grant_types, response_types, scope, extra, access_token_ttl, refresh_token_ttl, resource_server, updated_at,
              access_token_format, id_token_signed_response_alg, post_logout_redirect_uris, application_type)
  ON oauth.clients TO backend_gateway, backend_app, backend_admin;
GRANT DELETE ON oauth.clients TO backend_gateway, backend_app, backend_admin;
GRANT SELECT, DELETE ON oauth.consents TO backend_gateway, backend_app, backend_admin;
GRANT SELECT (tenant_id, kind, client_id, user_id, scope, family_id, created_at, expires_at, rotated_at, revoked_at,
              auth_time, audience, family_expires_at, kid)
  ON oauth.tokens TO backend_gateway, backend_app, backend_admin;
GRANT SELECT (tenant_id, user_id, client_addr, created_at, expires_at, id), DELETE
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
