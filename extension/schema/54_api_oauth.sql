-- 54_api_oauth.sql — HTTP adapters of the OAuth endpoints and the client
-- management routes: they decode the request, call the oauth schema's
-- endpoint functions, which decide, and turn the decision into HTTP: the
-- status (api.error_status), the headers RFC 6749/6750 ask for, the
-- challenge (api.www_authenticate).

-- A decision of a JSON OAuth endpoint as an HTTP answer. An error decision
-- ({"error", "error_description"}) gets its status from the one table; on
-- 401 a challenge of the scheme the client used (RFC 6749 section 5.2):
-- Basic after HTTP Basic, Bearer invalid_token after another Authorization
-- scheme, none after client_secret_post or none (the JSON error says it),
-- and a Bearer challenge without error code when a token was required but
-- none was sent (RFC 6750 section 3.1, registration); on 403
-- insufficient_scope the Bearer challenge naming p_scope. Any other
-- decision is the body of a p_success answer (no body for 204).
-- In C (handlers.c): a success is the decision as a JSON body; an error
-- decision is answered by api._oauth_error_answer.
CREATE FUNCTION api.oauth_answer(p_decision jsonb, p_authorization text, p_success integer DEFAULT 200,
                                 p_scope text DEFAULT NULL) RETURNS api.response
LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'bf_oauth_answer';
COMMENT ON FUNCTION api.oauth_answer(jsonb, text, integer, text) IS 'The HTTP answer of an OAuth endpoint''s decision: no-store; an error decision with the status of api.error_status and on 401 a WWW-Authenticate challenge of the scheme the client used (Basic after HTTP Basic, none after client_secret_post/none, Bearer without error code when no token was sent), on 403 insufficient_scope the Bearer challenge with p_scope; otherwise the decision as the body of a p_success answer (204: no body).';

-- The answer of an error decision for api.oauth_answer (h: its no-store
-- headers): the status of the one table, and the challenge.
CREATE FUNCTION api._oauth_error_answer(p_decision jsonb, p_authorization text, p_scope text, h jsonb)
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

-- In C (handlers.c): the form, oauth.token_endpoint, api.oauth_answer.
CREATE FUNCTION api.h_token(r api.request) RETURNS api.response
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'bf_h_token';
COMMENT ON FUNCTION api.h_token(api.request) IS 'POST /oauth/token.';

CREATE FUNCTION api.h_revoke(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  RETURN api.oauth_answer(oauth.revoke_endpoint(api.form_body(r), r.headers->>'authorization'), r.headers->>'authorization');
END $$;
COMMENT ON FUNCTION api.h_revoke(api.request) IS 'POST /oauth/revoke (RFC 7009).';

-- In C (extension/src/handlers.c): api.form_body, oauth.introspect_endpoint,
-- api.oauth_answer, as the others here, without the PL/pgSQL calls between.
CREATE FUNCTION api.h_introspect(r api.request) RETURNS api.response
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'bf_h_introspect';
COMMENT ON FUNCTION api.h_introspect(api.request) IS 'POST /oauth/introspect (RFC 7662).';

-- Registration answers: 201 with Location for a new client (RFC 7591), 204
-- for a deletion, 200 otherwise (RFC 7592); the admin scope is what an
-- insufficient token lacks.
CREATE FUNCTION api.register_answer(p_method text, p_decision jsonb, p_authorization text) RETURNS api.response
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

CREATE FUNCTION api.h_register(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  RETURN api.register_answer(r.method,
    oauth.register_endpoint(r.method, r.id, CASE WHEN r.method IN ('POST', 'PUT') THEN api.json_body(r) END,
                            api.bearer_token(r), r.issuer),
    r.headers->>'authorization');
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
  a api.response;
BEGIN
  a := api.authorize_answer(oauth.authorize_endpoint(r.method, params, api.parse_cookies(r.headers->>'cookie'), r.issuer, r.client_addr),
                            r.issuer, r.base_url LIKE 'https:%');
  a.headers := jsonb_build_object('Content-Security-Policy', api.html_csp(params->>'redirect_uri')) || a.headers;
  RETURN a;
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
