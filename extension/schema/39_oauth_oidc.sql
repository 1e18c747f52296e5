-- 39_oauth_oidc.sql — OpenID Connect: every tenant is an OpenID Provider.
-- Its signing keys (generated, sealed and used by extension/src/keys.c with
-- OpenSSL's libcrypto; private keys only ever stored encrypted with the
-- key-encryption key of backend_framework.key_encryption_key[_file]),
-- rotation, the JWKS document, JWT signing and verification, the id_token,
-- user claims per scope, RP-initiated logout, and the sessions and consents
-- a user can list and revoke.
--
-- Key life cycle, per tenant and algorithm (RS256, ES256):
--   next     published in JWKS, not signing yet (so relying parties know it
--            before the first token it signs reaches them)
--   active   published and signing (one per algorithm)
--   retired  no longer signing; published until published_until, the
--            expiry of the last token it signed; then deleted
-- oauth.rotate_signing_keys() promotes next → active, active → retired and
-- makes a new next key; oauth.rotate_keys_if_due() does it for every tenant
-- whose active key is older than backend_framework.key_rotation_days and
-- drops keys past their publication (a background worker or cron calls it).

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

-- The C primitives (extension/src/keys.c). Only the extension's definers run them.
CREATE FUNCTION oauth._key_generate(alg text, OUT kid text, OUT public_jwk text, OUT public_der bytea, OUT private_key bytea)
  LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'oauth_key_generate';
COMMENT ON FUNCTION oauth._key_generate(text) IS 'Internal: a new RS256 (RSA 2048) or ES256 (P-256) key pair: kid (RFC 7638 thumbprint), public JWK, public key (DER) and the private key sealed with the key-encryption key. 55000 when no key-encryption key is configured.';
REVOKE ALL ON FUNCTION oauth._key_generate(text) FROM PUBLIC;
CREATE FUNCTION oauth._jws_sign(alg text, kid text, private_key bytea, typ text, payload text) RETURNS text
  LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'oauth_jws_sign';
COMMENT ON FUNCTION oauth._jws_sign(text, text, bytea, text, text) IS 'Internal: JWS compact serialization of payload (JSON text) with header {alg, kid, typ}, signed with a sealed private key.';
REVOKE ALL ON FUNCTION oauth._jws_sign(text, text, bytea, text, text) FROM PUBLIC;
CREATE FUNCTION oauth._jws_verify(token text, public_der bytea, alg text) RETURNS boolean
  LANGUAGE c IMMUTABLE STRICT AS 'MODULE_PATHNAME', 'oauth_jws_verify';
COMMENT ON FUNCTION oauth._jws_verify(text, bytea, text) IS 'Internal: whether a compact JWS carries a valid alg signature of this public key (DER SubjectPublicKeyInfo).';
REVOKE ALL ON FUNCTION oauth._jws_verify(text, bytea, text) FROM PUBLIC;

CREATE FUNCTION oauth._new_signing_key(p_tenant uuid, p_alg text, p_state text) RETURNS text
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

-- Every tenant gets its keys when first needed (signing or JWKS): an
-- active and a next key per algorithm. Serialised per tenant.
CREATE FUNCTION oauth._ensure_signing_keys(p_tenant uuid) RETURNS void
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

-- The JWKS document (RFC 7517) of a tenant: its next, active and
-- still-published retired public keys.
CREATE FUNCTION oauth.jwks_document(p_tenant uuid) RETURNS jsonb
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

-- Signs claims with the tenant's active key of an algorithm.
CREATE FUNCTION oauth._sign_jwt(p_tenant uuid, p_alg text, p_typ text, p_claims jsonb, OUT jwt text, OUT kid text)
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

-- The claims of a JWT this tenant signed with a key it still publishes, or
-- NULL (malformed, unknown kid, bad signature). Expiry is the caller's business.
CREATE FUNCTION oauth._verify_jwt(p_tenant uuid, p_token text) RETURNS jsonb
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

-- How long a retired key must stay published: until the last token it
-- signed expires (id_tokens live oauth.lifetimes().id_token; JWT access tokens
-- carry their kid in oauth.tokens).
CREATE FUNCTION oauth._key_publish_until(p_tenant uuid, p_kid text) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
  SELECT greatest(now() + make_interval(secs => (oauth.lifetimes()).id_token),
                  (SELECT max(t.expires_at) FROM oauth.tokens t WHERE t.tenant_id = p_tenant AND t.kid = p_kid))
$$;
COMMENT ON FUNCTION oauth._key_publish_until(uuid, text) IS 'Internal: when a key retired now may leave JWKS: the expiry of the last token it signed.';
REVOKE ALL ON FUNCTION oauth._key_publish_until(uuid, text) FROM PUBLIC;

-- Rotation of one tenant's keys (platform operators). compromised: the old
-- keys leave JWKS at once and the JWT access tokens they signed are revoked.
CREATE FUNCTION oauth.rotate_signing_keys(p_tenant uuid, compromised boolean DEFAULT false) RETURNS jsonb
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

-- The scheduled part, for a background worker or cron (platform operators):
-- rotates tenants whose active keys are older than key_rotation_days and
-- deletes retired keys that no token needs any more. Returns how many
-- tenants were rotated.
CREATE FUNCTION oauth.rotate_keys_if_due() RETURNS integer
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

-- Claims and tokens -------------------------------------------------------------

-- Claims about a user that the scopes allow (OpenID Connect Core 5.4):
-- profile → name; email → email, email_verified (addresses are not verified here).
CREATE FUNCTION oauth._user_claims(p_tenant uuid, p_user uuid, p_scopes text[]) RETURNS jsonb
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

-- at_hash (OpenID Connect Core 3.1.3.6): left half of SHA-256 of the access token.
CREATE FUNCTION oauth._at_hash(access_token text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT oauth.base64url_encode(substring(oauth.token_digest(access_token) FROM 1 FOR 16))
$$;
COMMENT ON FUNCTION oauth._at_hash(text) IS 'Internal: at_hash of an access token for RS256/ES256 id_tokens (base64url of the left 128 bits of its SHA-256).';

-- The id_token of a sign-in (code flow) or of a refresh.
CREATE FUNCTION oauth._id_token(p_tenant uuid, p_issuer text, p_client text, p_user uuid, p_scopes text[],
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

-- The issuer of a tenant as configuration names it (the first public URL
-- with the path strategy), for callers that do not pass one (SQL clients).
CREATE FUNCTION oauth._default_issuer(p_tenant uuid) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT (SELECT pu.url FROM tenancy.public_urls() pu ORDER BY pu.ord LIMIT 1) || '/t/' || n.slug
    FROM tenancy.tenants n WHERE n.id = p_tenant
$$;
COMMENT ON FUNCTION oauth._default_issuer(uuid) IS 'Internal: the issuer URL of a tenant by the path strategy on the first of backend_framework.public_urls (when a caller gives none).';
REVOKE ALL ON FUNCTION oauth._default_issuer(uuid) FROM PUBLIC;

-- Resource indicators (RFC 8707): the tenant's own API (its issuer URL) and
-- the URIs of its settings' resource_indicators list. NULL → default (the API).
CREATE FUNCTION oauth._resource_known(p_tenant uuid, p_issuer text, p_resource text) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT p_resource IS NULL OR p_resource = p_issuer OR p_resource = p_issuer || '/'
      OR EXISTS (SELECT 1 FROM tenancy.tenants n, jsonb_array_elements_text(coalesce(n.settings->'resource_indicators', '[]')) r
                  WHERE n.id = p_tenant AND r = p_resource)
$$;
COMMENT ON FUNCTION oauth._resource_known(uuid, text, text) IS 'Internal: whether a resource indicator (RFC 8707) names a resource of the tenant: its own API (the issuer URL) or one of the settings'' resource_indicators.';
REVOKE ALL ON FUNCTION oauth._resource_known(uuid, text, text) FROM PUBLIC;

-- RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) --------------------
-- Decisions (jsonb), rendered by api.logout_answer:
--   {"error": "not_found"}                             no tenant
--   {"error": "invalid_request", "tenant", "message"}  a bad hint, client or post-logout redirect URI
--   {"show": "confirm", "tenant", "csrf", "request", "cookies"}  no valid hint: the user confirms
--   {"redirect": uri, "params": {"state"}, "cookies"}  signed out, back to the client
--   {"show": "signed_out", "tenant", "cookies"}        signed out, no way back given
CREATE FUNCTION oauth.end_session_endpoint(method text, params jsonb, cookies jsonb, issuer text) RETURNS jsonb
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

-- Sessions and consents of the signed-in user ------------------------------------

CREATE FUNCTION oauth._require_user(OUT tenant_id uuid, OUT user_id uuid)
LANGUAGE plpgsql STABLE AS $$
BEGIN
  tenant_id := tenancy.current_tenant_id(); user_id := tenancy.current_user_id();
  IF tenant_id IS NULL OR user_id IS NULL THEN
    RAISE EXCEPTION 'a signed-in user is required' USING ERRCODE = '28000';
  END IF;
END $$;
COMMENT ON FUNCTION oauth._require_user() IS 'Internal: tenant and user of the context, or 28000.';
REVOKE ALL ON FUNCTION oauth._require_user() FROM PUBLIC;

CREATE FUNCTION oauth.my_sessions() RETURNS jsonb
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

CREATE FUNCTION oauth.revoke_my_session(session_id uuid) RETURNS void
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

CREATE FUNCTION oauth.my_consents() RETURNS jsonb
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

CREATE FUNCTION oauth.revoke_my_consent(client_id text) RETURNS bigint
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
