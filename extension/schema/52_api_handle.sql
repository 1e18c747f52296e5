-- 52_api_handle.sql — api.handle_request: the one function the gateway
-- calls per request. Resolves the tenant, finds the route, authenticates,
-- meters authenticated API calls, dispatches to the handler, and adds the
-- security and CORS headers. Never raises: every failure becomes a JSON
-- answer; authentication, metering and the handler run in a subtransaction,
-- so a failed call changes nothing.

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

-- The Host of a request: one field (the gateway joins repeated fields with
-- ", ", so a comma means two), well-formed; lower case, without its port.
-- X-Forwarded-Host is never read: the deployment names its own hosts.
CREATE FUNCTION api.request_host(h jsonb, OUT host text, OUT port integer)
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

-- scheme://host[:port] of a request, from backend_framework.public_urls
-- only. A host of a public URL gets that URL (the one with the port the
-- client used, else the first). A host that named the tenant (a subdomain
-- of base_domain or an approved custom domain) gets the scheme and port of
-- the public URL of base_domain (else of the first). No Host: the first.
-- Any other host is misdirected (BF421 → 421), unless p_any_host.
CREATE FUNCTION api.public_base_url(p_host text, p_port integer, p_tenant_host boolean, p_any_host boolean DEFAULT false)
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
   ORDER BY pu.port IS DISTINCT FROM coalesce(p_port, CASE pu.scheme WHEN 'https' THEN 443 ELSE 80 END), pu.ord LIMIT 1;
  IF FOUND THEN RETURN u.url; END IF;
  IF p_tenant_host THEN
    SELECT pu.scheme, pu.port INTO u FROM tenancy.public_urls() pu
     ORDER BY pu.host IS DISTINCT FROM base,
              pu.port IS DISTINCT FROM coalesce(p_port, CASE pu.scheme WHEN 'https' THEN 443 ELSE 80 END), pu.ord LIMIT 1;
    RETURN u.scheme || '://' || p_host
           || CASE WHEN u.port = CASE u.scheme WHEN 'https' THEN 443 ELSE 80 END THEN '' ELSE ':' || u.port END;
  END IF;
  IF p_any_host THEN RETURN NULL; END IF;
  RAISE EXCEPTION 'this server does not serve the host named in the request' USING ERRCODE = 'BF421',
    DETAIL = 'The host is not one of the deployment''s public URLs, a tenant''s subdomain or an approved custom domain.';
END $$;
COMMENT ON FUNCTION api.public_base_url(text, integer, boolean, boolean) IS 'Base URL of a request on host/port from backend_framework.public_urls, never from a header: a public URL''s host, or a tenant host (subdomain or approved custom domain) with the scheme and port of base_domain''s URL. BF421 (HTTP 421) for any other host; NULL instead when p_any_host.';
REVOKE ALL ON FUNCTION api.public_base_url(text, integer, boolean, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.public_base_url(text, integer, boolean, boolean) TO backend_gateway, backend_admin;

CREATE FUNCTION api.handle_request(p_method text, p_path text, p_query text, p_headers jsonb, p_body bytea, p_client_addr text)
RETURNS TABLE(status integer, headers jsonb, body text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  r api.request;
  resp api.response;
  rt api.routes;
  res tenancy.resolved_tenant;
  fr record;
  hp record;
  allow text[];
  origin text := p_headers->>'origin';
  m text := upper(coalesce(p_method, ''));
  st text; msg text; det text; hint text;
  cors boolean := false;
  authed boolean := false;
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
    hp := api.request_host(r.headers);
    res := tenancy.resolve_tenant(coalesce(hp.host, ''), r.path, r.headers);
    -- /health answers on any host (container health checks use 127.0.0.1); it builds no URL.
    r.base_url := api.public_base_url(hp.host, hp.port, res.by_host, r.path = '/health');
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
    ELSIF rt.handler = 'tenant_create' THEN
      -- Sign-up is anonymous: limited per client address, counted here so
      -- that failed attempts count too (the handler's work is undone).
      PERFORM tenancy.signup_throttle(r.client_addr);
    END IF;
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    resp := api.error_from_sqlstate(st, msg, det, hint);
  END;

  -- 2. Authenticate and run the handler; a failure undoes all it wrote.
  IF resp IS NULL THEN
    BEGIN
      IF rt.auth = 'bearer' THEN
        authed := api.authenticate(r, true);
        IF rt.scope IS NOT NULL THEN PERFORM api.require_scope(rt.scope); END IF;
      ELSIF rt.auth = 'optional' THEN
        authed := api.authenticate(r, false);
      END IF;
      -- Only calls that passed authentication count against the monthly
      -- quota, and never the OAuth endpoints or the sign-in pages: anonymous
      -- requests cannot burn a tenant's month (they are limited per client
      -- address instead). A call whose handler fails is not charged either.
      IF authed AND rt.pattern LIKE '/api/%' THEN
        PERFORM tenancy.count_api_call(r.tenant_id);
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
    resp.headers := resp.headers || jsonb_build_object('Access-Control-Allow-Origin', origin,
      'Vary', coalesce(resp.headers->>'Vary' || ', ', '') || 'Origin',
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
