-- 52_api_handle.sql — api.handle_request: the one function the gateway
-- calls per request. Resolves the tenant, finds the route, authenticates,
-- meters authenticated API calls, dispatches to the handler, and adds the
-- security and CORS headers. Never raises: every failure becomes a JSON
-- answer; authentication, metering and the handler run in a subtransaction,
-- so a failed call changes nothing.

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
-- Any other host is misdirected (TB421 → 421), unless p_any_host.
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

-- The request path itself is C (extension/src/request.c): the steps above,
-- in order — query string, Host, tenant, route, CORS, sign-up throttle; then,
-- in a subtransaction, bearer token, scope, metering and the handler; then
-- the security headers. It calls the SQL functions of this file and of
-- tenancy.* through cached fmgr lookups, as their caller would.
CREATE FUNCTION api.handle_request(p_method text, p_path text, p_query text, p_headers jsonb, p_body bytea, p_client_addr text)
RETURNS TABLE(status integer, headers jsonb, body text)
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'bf_handle_request';
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
