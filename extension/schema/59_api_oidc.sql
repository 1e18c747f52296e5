-- 59_api_oidc.sql — HTTP adapters of OpenID Connect and of the user's own
-- sessions and consents: JWKS, RFC 9728 protected resource metadata,
-- RP-initiated logout, GET/DELETE /api/v1/me/sessions and /api/v1/me/consents.
-- Each is a route row (51_api_routes.sql) plus a handler (api.request) →
-- api.response; the discovery document itself is api.h_metadata.

CREATE FUNCTION api.h_jwks(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  -- Short cache: a key published at a rotation reaches relying parties
  -- before it signs (they refetch on an unknown kid anyway).
  RETURN ROW(200, api.public_headers() || '{"Content-Type": "application/jwk-set+json"}',
             oauth.jwks_document(r.tenant_id)::text)::api.response;
END $$;
COMMENT ON FUNCTION api.h_jwks(api.request) IS 'GET /oauth/jwks: the tenant''s public signing keys (RFC 7517).';

CREATE FUNCTION api.h_protected_resource(r api.request) RETURNS api.response
LANGUAGE sql STABLE AS $$
  SELECT api.json(200, oauth.protected_resource_document(r.issuer), api.public_headers())
$$;
COMMENT ON FUNCTION api.h_protected_resource(api.request) IS 'GET /.well-known/oauth-protected-resource (RFC 9728).';

CREATE FUNCTION api.h_logout(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  params jsonb := CASE WHEN r.method = 'POST' THEN api.form_body(r) ELSE r.query END;
BEGIN
  RETURN api.logout_answer(oauth.end_session_endpoint(r.method, params, api.parse_cookies(r.headers->>'cookie'), r.issuer),
                           r.issuer, r.base_url LIKE 'https:%');
END $$;
COMMENT ON FUNCTION api.h_logout(api.request) IS 'GET/POST /oauth/logout: OpenID Connect RP-initiated logout (end_session_endpoint).';

-- The user's own sessions and consents: a list (GET) and one item's end
-- (DELETE, 204); the rules are oauth.my_* and oauth.revoke_my_*.
CREATE FUNCTION api.h_my_sessions(r api.request) RETURNS api.response
LANGUAGE sql STABLE AS $$
  SELECT api.json(200, jsonb_build_object('sessions', oauth.my_sessions()))
$$;
COMMENT ON FUNCTION api.h_my_sessions(api.request) IS 'GET /api/v1/me/sessions: your browser sign-in sessions.';

CREATE FUNCTION api.h_my_consents(r api.request) RETURNS api.response
LANGUAGE sql STABLE AS $$
  SELECT api.json(200, jsonb_build_object('consents', oauth.my_consents()))
$$;
COMMENT ON FUNCTION api.h_my_consents(api.request) IS 'GET /api/v1/me/consents: the applications you allowed.';

CREATE FUNCTION api.h_my_session_delete(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM oauth.revoke_my_session(api.uuid_param(r, 'session'));
  RETURN api.no_content();
END $$;
COMMENT ON FUNCTION api.h_my_session_delete(api.request) IS 'DELETE /api/v1/me/sessions/{id}: sign one of your browser sessions out (404 unless it is one).';

CREATE FUNCTION api.h_my_consent_delete(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM oauth.revoke_my_consent(r.id);
  RETURN api.no_content();
END $$;
COMMENT ON FUNCTION api.h_my_consent_delete(api.request) IS 'DELETE /api/v1/me/consents/{client_id}: withdraw consent; the client''s tokens for you are revoked.';
