-- 56_api_openapi.sql — /api/v1/openapi.json: OpenAPI 3.1, generated from
-- api.routes (so no route goes undocumented) plus the schemas below.

-- The numbers in it come from their one place: %1$s the setting
-- backend_framework.password_min_length, %2$s..%8$s tenancy.bounds() and
-- oauth.lifetimes(), %9$s the scopes (oauth.scopes_supported()), %10$s the
-- slug rule (tenancy.patterns()).
CREATE FUNCTION api.openapi_schemas() RETURNS jsonb
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

CREATE FUNCTION api.openapi(p_base_url text) RETURNS jsonb
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

CREATE FUNCTION api.h_openapi(r api.request) RETURNS api.response
LANGUAGE sql STABLE AS $$
  SELECT api.json(200, api.openapi(r.base_url), api.public_headers('Host'))
$$;
COMMENT ON FUNCTION api.h_openapi(api.request) IS 'GET /api/v1/openapi.json.';
