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
  base_url    text,    -- scheme://host[:port] of the request, from backend_framework.public_urls (never a header)
  issuer      text,    -- the tenant's issuer URL: base_url plus /t/{slug} unless a host names the tenant
  id          text     -- the {id} path parameter, if the route has one
);
COMMENT ON TYPE api.request IS 'An HTTP request as the route handlers see it.';

CREATE TYPE api.response AS (status integer, headers jsonb, body text);
COMMENT ON TYPE api.response IS 'An HTTP answer: status, headers (name → value or array of values), body.';

-- Hot-path helpers are C or PL/pgSQL: PL/pgSQL plans are cached per
-- session, where a SQL function that is not inlined is planned again on
-- every call. api.json is C (extension/src/handlers.c): every JSON answer.
CREATE FUNCTION api.json(p_status integer, p_body jsonb, p_headers jsonb DEFAULT '{}')
RETURNS api.response LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'bf_api_json';
COMMENT ON FUNCTION api.json(integer, jsonb, jsonb) IS 'A JSON answer.';

-- 204 No Content (a DELETE, or a POST that answers nothing).
CREATE FUNCTION api.no_content(p_headers jsonb DEFAULT '{}') RETURNS api.response
LANGUAGE sql IMMUTABLE AS $$
  SELECT ROW(204, coalesce(p_headers, '{}'), NULL)::api.response
$$;
COMMENT ON FUNCTION api.no_content(jsonb) IS 'A 204 answer without body.';

-- Headers of the public documents (discovery, JWKS, OpenAPI): shared
-- caches may keep them a few minutes, keyed on what names the tenant
-- (p_vary), and any origin may read them.
CREATE FUNCTION api.public_headers(p_vary text DEFAULT 'Host, X-Tenant') RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object('Cache-Control', 'public, max-age=300', 'Access-Control-Allow-Origin', '*', 'Vary', p_vary)
$$;
COMMENT ON FUNCTION api.public_headers(text) IS 'Cache-Control (public, a few minutes), Access-Control-Allow-Origin * and Vary of the public documents.';

CREATE FUNCTION api.error(p_status integer, p_error text, p_description text, p_headers jsonb DEFAULT '{}')
RETURNS api.response LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN api.json(p_status, jsonb_build_object('error', p_error, 'error_description', p_description), p_headers);
END $$;
COMMENT ON FUNCTION api.error(integer, text, text, jsonb) IS 'A JSON error answer {"error", "error_description"}.';

-- Errors ------------------------------------------------------------------------
-- One table gives every error code its HTTP status: the API's (from
-- SQLSTATEs, api.error_from_sqlstate), the OAuth endpoints' (RFC 6749
-- section 5.2, RFC 6750 section 3.1, RFC 7591 section 3.2.2; their decisions
-- become answers in api.oauth_answer) and the router's (404, 405).
CREATE FUNCTION api.error_status(p_error text) RETURNS integer
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

-- The one builder of WWW-Authenticate challenges: Bearer for resource
-- requests (RFC 6750 section 3: error, error_description, scope) and Basic
-- for client authentication (RFC 6749 section 5.2, RFC 7617). One fixed
-- realm for the whole deployment, "backend_framework": a realm names a
-- protection space, and every tenant's API and endpoints are checked by the
-- same server whatever the issuer; it is also known where no request is,
-- as in api.error_from_sqlstate. Quoted values keep only the characters
-- RFC 6750 allows there (a " becomes ').
CREATE FUNCTION api.www_authenticate(p_scheme text, p_error text DEFAULT NULL, p_description text DEFAULT NULL,
                                     p_scope text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN jsonb_build_object('WWW-Authenticate', p_scheme || ' realm="backend_framework"'
    || coalesce(', error="' || p_error || '"', '')
    || coalesce(', error_description="' || regexp_replace(replace(p_description, '"', ''''), '[^\x20-\x21\x23-\x5b\x5d-\x7e]', '', 'g') || '"', '')
    || coalesce(', scope="' || regexp_replace(p_scope, '[^\x20-\x21\x23-\x5b\x5d-\x7e]', '', 'g') || '"', ''));
END $$;
COMMENT ON FUNCTION api.www_authenticate(text, text, text, text) IS 'The WWW-Authenticate header of a challenge, as {"WWW-Authenticate": ...}: scheme Bearer (RFC 6750 section 3; error, error_description and scope when given) or Basic (RFC 6749 section 5.2); realm "backend_framework" everywhere.';

-- An error answer whose status comes from the one table.
CREATE FUNCTION api.error_answer(p_error text, p_description text, p_headers jsonb DEFAULT '{}')
RETURNS api.response LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN api.error(api.error_status(p_error), p_error, p_description, p_headers);
END $$;
COMMENT ON FUNCTION api.error_answer(text, text, jsonb) IS 'A JSON error answer {"error", "error_description"} with the status api.error_status gives its error code.';

-- The one place where SQLSTATEs become HTTP answers: SQLSTATE → error code
-- here, error code → status in api.error_status.
CREATE FUNCTION api.error_from_sqlstate(p_state text, p_message text, p_detail text DEFAULT NULL, p_hint text DEFAULT NULL)
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

-- Form bodies of the OAuth endpoints (application/x-www-form-urlencoded).
-- In C (extension/src/handlers.c), shared with the introspection handler.
CREATE FUNCTION api.form_body(r api.request) RETURNS jsonb
LANGUAGE c IMMUTABLE AS 'MODULE_PATHNAME', 'bf_api_form_body';
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
-- grammar, scheme case-insensitive), or NULL. The one parser of that header
-- (extension/src/token.c).
CREATE FUNCTION api.bearer_token(r api.request) RETURNS text
LANGUAGE c IMMUTABLE AS 'MODULE_PATHNAME', 'bf_api_bearer_token';
COMMENT ON FUNCTION api.bearer_token(api.request) IS 'The token of an Authorization: Bearer header, or NULL.';

-- Bearer authentication of a request (RFC 6750 §2.1: header only — a token
-- in the query string is refused), in C with the one token check
-- (tenancy.authenticate's code): false when no Authorization header is sent
-- and none is required.
CREATE FUNCTION api.authenticate(r api.request, p_required boolean) RETURNS boolean
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'bf_api_authenticate';
COMMENT ON FUNCTION api.authenticate(api.request, boolean) IS 'Checks the Bearer token of a request and sets the context; refuses tokens in the query string.';

CREATE FUNCTION api.require_scope(p_scope text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF NOT tenancy.has_scope(p_scope) THEN
    RAISE EXCEPTION 'the token lacks the "%" scope', p_scope USING ERRCODE = 'TB004', HINT = p_scope;
  END IF;
END $$;
COMMENT ON FUNCTION api.require_scope(text) IS 'Raises TB004 (HTTP 403 insufficient_scope) unless the context was granted the scope.';

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

-- tenancy.acts_as_admin is the rule; this says what is missing: the
-- scope (403 insufficient_scope, the client may ask for it) or the role.
CREATE FUNCTION api.require_admin() RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF NOT tenancy.acts_as_admin() THEN
    PERFORM api.require_scope('admin');
    RAISE EXCEPTION 'only admins and owners may do this' USING ERRCODE = '42501';
  END IF;
END $$;
COMMENT ON FUNCTION api.require_admin() IS 'Raises unless the context acts as an admin (tenancy.acts_as_admin): TB004 without the admin scope, else 42501.';

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

-- In C (extension/src/handlers.c), shared with GET /api/v1/me.
CREATE FUNCTION api.user_json(u tenancy.user_info) RETURNS jsonb
LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'bf_user_json';
COMMENT ON FUNCTION api.user_json(tenancy.user_info) IS 'A user as the API shows it.';

CREATE FUNCTION api.tenant_json(t tenancy.tenants) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('id', t.id, 'slug', t.slug, 'name', t.name, 'custom_domain', t.custom_domain,
    'custom_domain_status', t.custom_domain_status,
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
