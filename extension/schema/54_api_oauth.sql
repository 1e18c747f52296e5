-- 54_api_oauth.sql — HTTP adapters of the OAuth endpoints and the client
-- management routes: they decode the request, call the oauth schema's
-- endpoint functions, and add the headers RFC 6749/6750 ask for.

CREATE FUNCTION api.oauth_answer(p_status integer, p_body jsonb, r api.request) RETURNS api.response
LANGUAGE plpgsql STABLE AS $$
DECLARE
  h jsonb := '{"Cache-Control": "no-store", "Pragma": "no-cache"}';
  realm text := 'realm="' || coalesce(r.issuer, 'backend_framework') || '"';
BEGIN
  -- A challenge names the scheme the client used (RFC 6749 section 5.2):
  -- Basic only after HTTP Basic; none after client_secret_post or none
  -- (the JSON error says it). Registration is Bearer (RFC 6750 section
  -- 3.1): without a token, a challenge without an error code.
  IF p_status = 401 THEN
    IF r.headers->>'authorization' ~* '^basic ' THEN
      h := h || jsonb_build_object('WWW-Authenticate', 'Basic ' || realm);
    ELSIF r.path LIKE '/oauth/register%' THEN
      h := h || jsonb_build_object('WWW-Authenticate', 'Bearer ' || realm
                 || CASE WHEN r.headers->>'authorization' IS NOT NULL THEN ', error="invalid_token"' ELSE '' END);
    ELSIF r.headers->>'authorization' IS NOT NULL THEN
      h := h || jsonb_build_object('WWW-Authenticate', 'Bearer ' || realm || ', error="invalid_token"');
    END IF;
  ELSIF p_status = 403 AND p_body->>'error' = 'insufficient_scope' THEN
    h := h || jsonb_build_object('WWW-Authenticate', 'Bearer ' || realm || ', error="insufficient_scope", scope="admin"');
  END IF;
  RETURN api.json(p_status, CASE WHEN p_status = 204 THEN NULL ELSE p_body END, h);
END $$;
COMMENT ON FUNCTION api.oauth_answer(integer, jsonb, api.request) IS 'An OAuth endpoint answer: no-store; on 401 a WWW-Authenticate challenge of the scheme the client used (Basic after HTTP Basic, none after client_secret_post/none; Bearer at registration, without error code when no token was sent); 403 insufficient_scope with its Bearer challenge.';

CREATE FUNCTION api.h_token(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
DECLARE s integer; b jsonb;
BEGIN
  SELECT e.status, e.body INTO s, b FROM oauth.token_endpoint(api.form_body(r), r.headers->>'authorization', r.client_addr, r.issuer) e;
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
COMMENT ON FUNCTION api.h_userinfo(api.request) IS 'GET/POST /oauth/userinfo (scope openid or profile).';

-- The issuer depends on the Host and on X-Tenant: shared caches key on both.
CREATE FUNCTION api.h_metadata(r api.request) RETURNS api.response
LANGUAGE sql STABLE AS $$
  SELECT api.json(200, oauth.metadata_document(r.issuer), api.public_headers())
$$;
COMMENT ON FUNCTION api.h_metadata(api.request) IS 'GET /.well-known/oauth-authorization-server (RFC 8414) and /.well-known/openid-configuration (OpenID Connect Discovery): one document.';

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

-- PATCH: the fields given replace the stored ones (resource_server among
-- them: only admins mark a resource server, which may introspect all tokens).
CREATE FUNCTION api.h_client_update(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM api.require_admin();
  RETURN api.json(200, oauth.update_client(r.id, api.json_body(r)), '{"Cache-Control": "no-store"}');
END $$;
COMMENT ON FUNCTION api.h_client_update(api.request) IS 'PATCH /api/v1/clients/{id} (admins): fields present replace the stored ones, e.g. resource_server.';

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
  RETURN api.no_content();
END $$;
COMMENT ON FUNCTION api.h_client_delete(api.request) IS 'DELETE /api/v1/clients/{id} (admins; not the console client).';
