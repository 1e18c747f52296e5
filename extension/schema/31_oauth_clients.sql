-- 31_oauth_clients.sql — scopes, client metadata (RFC 7591) validation,
-- client management for admins (SECURITY INVOKER, row-level security
-- decides), and the built-in console client of every tenant.

-- Scopes ----------------------------------------------------------------
-- The scopes themselves are oauth.scopes_supported() (02_constants.sql).
-- Scope arrays are always sorted and distinct, and so are the strings
-- stored (oauth.clients.scope, tokens, codes, consents).

-- Every scope, sorted (the planner folds it into a constant).
CREATE FUNCTION oauth._all_scopes() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT ARRAY(SELECT s FROM unnest(oauth.scopes_supported()) s ORDER BY s COLLATE "C")
$$;
COMMENT ON FUNCTION oauth._all_scopes() IS 'Internal: every scope as a sorted array.';

-- The scopes of a space-separated string as a sorted, distinct array; NULL
-- when a value is not a known scope (tabs, control characters and the like
-- make a value unknown). A blank string or NULL gives '{}'. The scope rules
-- here and oauth._grant_scope are C (scopes.c): every token request runs
-- them.
CREATE FUNCTION oauth._scopes(s text) RETURNS text[]
LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bf_scopes_sql';
COMMENT ON FUNCTION oauth._scopes(text) IS 'Internal: scope string (RFC 6749 section 3.3) as a sorted distinct array of known scopes (oauth.scopes_supported()); NULL when any value is unknown or malformed.';

CREATE FUNCTION oauth._scope_text(a text[]) RETURNS text
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bf_scope_text_sql';
COMMENT ON FUNCTION oauth._scope_text(text[]) IS 'Internal: a sorted scope array as a space-separated string.';

-- The message for a scope that is not one of ours.
CREATE FUNCTION oauth._unknown_scope() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT 'unknown scope: the scopes are ' || tenancy._words(oauth.scopes_supported(), 'and')
$$;
COMMENT ON FUNCTION oauth._unknown_scope() IS 'Internal: the error description of an unknown scope, naming the scopes.';

-- Scopes a user's role allows: admin only for admins and owners.
CREATE FUNCTION oauth._role_scopes(role text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN tenancy.is_admin_role(role) THEN oauth._all_scopes()
              WHEN role = 'user' THEN array_remove(oauth._all_scopes(), 'admin')
              ELSE '{}'::text[] END
$$;
COMMENT ON FUNCTION oauth._role_scopes(text) IS 'Internal: scopes a role may be granted (admin only for admin and owner).';

-- Intersection of two scope arrays, in the order of the first (sorted).
CREATE FUNCTION oauth._scope_and(a text[], b text[]) RETURNS text[]
LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bf_scope_and_sql';
COMMENT ON FUNCTION oauth._scope_and(text[], text[]) IS 'Internal: intersection of two scope arrays, sorted.';

-- Client metadata --------------------------------------------------------

-- A redirect URI as RFC 6749 section 3.1.2 and RFC 8252 allow it here:
-- absolute, https (any host) or http on a loopback host, no fragment, no
-- user info, no white space or control characters.
CREATE FUNCTION oauth._redirect_uri_problem(u text) RETURNS text
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
-- RFC 8252 section 7.1: a private-use URI scheme redirect of a native app,
-- a reverse domain name of at least two labels (com.example.app:/callback).
-- Never a scheme a browser or the system would act on by itself.
CREATE FUNCTION oauth._private_use_redirect_ok(u text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT u IS NOT NULL AND length(u) <= (tenancy.bounds()).uri_max AND u !~ '[[:space:][:cntrl:]#]'
     AND u ~* '^[a-z][a-z0-9-]*(\.[a-z0-9-]+)+:/*[^/].*$'
     AND lower(split_part(u, ':', 1)) NOT IN ('http', 'https', 'javascript', 'data', 'file', 'vbscript', 'blob', 'about')
$$;
COMMENT ON FUNCTION oauth._private_use_redirect_ok(text) IS 'Internal: whether a redirect URI uses a private-use URI scheme of reverse-domain form (RFC 8252 section 7.1), accepted for native and public clients.';

COMMENT ON FUNCTION oauth._redirect_uri_problem(text) IS 'Internal: why a redirect URI cannot be registered (https; http only on localhost, 127.0.0.1, [::1]; no fragment), or NULL when it can.';

-- The first URI of a list a client registers (redirect_uris,
-- post_logout_redirect_uris) that it cannot register, and why; NULL when
-- it can register them all. private_use_ok: native and public clients may
-- use private-use URI schemes too.
CREATE FUNCTION oauth._uris_problem(uris jsonb, private_use_ok boolean) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT y.p FROM jsonb_array_elements_text(uris) WITH ORDINALITY x(u, i),
         LATERAL (SELECT CASE WHEN private_use_ok AND oauth._private_use_redirect_ok(x.u) THEN NULL
                              ELSE oauth._redirect_uri_problem(x.u) END AS p) y
   WHERE y.p IS NOT NULL
   ORDER BY x.i LIMIT 1
$$;
COMMENT ON FUNCTION oauth._uris_problem(jsonb, boolean) IS 'Internal: why the first URI of a list a client cannot register (oauth._redirect_uri_problem; private-use schemes too when private_use_ok), or NULL.';

-- Whether a metadata value is an array of strings.
CREATE FUNCTION oauth._string_array(v jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN jsonb_typeof(v) = 'array'
              THEN NOT EXISTS (SELECT 1 FROM jsonb_array_elements(v) g WHERE jsonb_typeof(g) <> 'string') ELSE false END
$$;
COMMENT ON FUNCTION oauth._string_array(jsonb) IS 'Internal: true when a JSON value is an array of strings.';

-- An RFC 7591 error object of client metadata.
CREATE FUNCTION oauth._metadata_error(description text, error text DEFAULT 'invalid_client_metadata') RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT jsonb_build_object('error', error, 'error_description', description)
$$;
COMMENT ON FUNCTION oauth._metadata_error(text, text) IS 'Internal: {"error", "error_description"} of invalid client metadata (RFC 7591 section 3.2.2).';

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
COMMENT ON FUNCTION oauth._client_metadata(jsonb, text) IS 'Internal: validates RFC 7591 client metadata for mode admin, dynamic or open; returns the normalised metadata or an RFC 7591 error object (invalid_redirect_uri, invalid_client_metadata).';

-- The public view of a client row (given as jsonb of its non-secret
-- columns): the RFC 7591 metadata plus client_id_issued_at and, for
-- confidential clients, client_secret_expires_at 0 (secrets do not expire).
-- STABLE, not IMMUTABLE: reading created_at as a timestamptz depends on the
-- TimeZone setting (the text has its offset, but the cast is the setting's).
CREATE FUNCTION oauth._client_json(c jsonb, with_admin_fields boolean DEFAULT false) RETURNS jsonb
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
COMMENT ON FUNCTION oauth._client_json(jsonb, boolean) IS 'Internal: RFC 7591 client information (never a secret) from a row''s non-secret columns; with_admin_fields adds builtin, registered_via, created_at, updated_at.';

-- Management by admins and owners of the current tenant -------------------

CREATE FUNCTION oauth._require_client_admin() RETURNS uuid
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
           c.scope, c.extra, c.access_token_ttl, c.refresh_token_ttl, c.builtin, c.registered_via, c.resource_server,
           c.created_at, c.updated_at, c.access_token_format, c.id_token_signed_response_alg, c.post_logout_redirect_uris,
           c.application_type
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

CREATE FUNCTION oauth.list_clients() RETURNS SETOF jsonb
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
-- tenant's console client accepts them as redirect URIs, read at each
-- authorization, so a change reaches tenants that already exist. They are
-- the only ones that skip the consent page. Entries that are not valid
-- redirect URIs are ignored; an unset setting gives none.
CREATE FUNCTION oauth.console_redirect_uris() RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT coalesce(array_agg(DISTINCT u ORDER BY u), '{}')
    FROM regexp_split_to_table(coalesce(current_setting('backend_framework.console_redirect_uris', true), ''), '\s*,\s*') u
   WHERE u <> '' AND oauth._redirect_uri_problem(u) IS NULL
$$;
COMMENT ON FUNCTION oauth.console_redirect_uris() IS 'Redirect URIs every tenant''s console client accepts besides its own: the valid entries of the setting backend_framework.console_redirect_uris.';

-- Creates or updates the console client of a tenant (internal). Its own
-- redirect URIs start empty: the deployment's console URLs apply to all.
CREATE FUNCTION oauth._console_client(p_tenant uuid, p_redirect_uris jsonb) RETURNS text
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
REVOKE ALL ON FUNCTION oauth._console_client(uuid, jsonb) FROM PUBLIC;

-- A tenant may serve the console from an address of its own as well: only
-- its admins and owners (or platform operators) set it, and those URIs ask
-- for consent like any application's.
CREATE FUNCTION oauth.ensure_console_client(redirect_uris jsonb) RETURNS text
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

-- Every new tenant gets its console client, with no redirect URI of its own.
CREATE FUNCTION oauth._tenant_console_client() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM oauth._console_client(NEW.id, '[]');
  RETURN NULL;
END $$;
COMMENT ON FUNCTION oauth._tenant_console_client() IS 'Trigger: creates the console client of a new tenant (redirect URIs: the deployment''s console URLs only).';
REVOKE ALL ON FUNCTION oauth._tenant_console_client() FROM PUBLIC;
CREATE TRIGGER tenants_console_client AFTER INSERT ON tenancy.tenants
  FOR EACH ROW EXECUTE FUNCTION oauth._tenant_console_client();
