-- 51_api_routes.sql — the route table: the single source of truth for
-- routing, the Allow header of 405 answers, /api/v1/openapi.json and the
-- route-by-route tests. Paths use {id} for their one parameter.

CREATE TABLE api.routes (
  method   text NOT NULL CHECK (method IN ('GET', 'POST', 'PUT', 'PATCH', 'DELETE')),
  pattern  text NOT NULL,
  handler  text NOT NULL,               -- name of the case in api.dispatch
  tenant   boolean NOT NULL,            -- needs a tenant (header, path, subdomain or domain)
  auth     text NOT NULL CHECK (auth IN ('none', 'bearer', 'optional', 'client')),
  scope    text,                        -- scope the bearer token needs
  tag      text NOT NULL,
  summary  text NOT NULL,
  request  text,                        -- schema name of the request body in openapi.json
  response text,                        -- schema name of the success answer
  success  integer NOT NULL DEFAULT 200,
  PRIMARY KEY (pattern, method)
);
COMMENT ON TABLE api.routes IS 'HTTP routes: pattern, method, handler, tenant and auth needs, documentation. Read by api.handle_request and api.openapi().';
GRANT SELECT ON api.routes TO backend_gateway, backend_app, backend_admin;

INSERT INTO api.routes (method, pattern, handler, tenant, auth, scope, tag, summary, request, response, success) VALUES
 ('GET',    '/health',                         'health',         false, 'none',     NULL,    'meta',    'Health of the service and its database', NULL, 'Health', 200),
 ('GET',    '/api/v1/ping',                    'ping',           false, 'none',     NULL,    'meta',    'Liveness check', NULL, 'Pong', 200),
 ('GET',    '/api/v1/status',                  'status',         false, 'none',     NULL,    'meta',    'The service answers, and its version', NULL, 'Status', 200),
 ('GET',    '/api/v1/signup',                  'signup_policy',  false, 'none',     NULL,    'tenants', 'How sign-up works here: open, by invitation or closed, and the plan new organizations get', NULL, 'SignupPolicy', 200),
 ('GET',    '/api/v1/openapi.json',            'openapi',        false, 'none',     NULL,    'meta',    'This OpenAPI document', NULL, NULL, 200),
 ('POST',   '/api/v1/tenants',                 'tenant_create',  false, 'none',     NULL,    'tenants', 'Sign-up: register a tenant and its first owner (default plan; throttled per client address); answers the owner''s first token', 'TenantRegistration', 'TenantRegistered', 201),
 ('GET',    '/api/v1/tenants/{id}',            'tenant_get',     true,  'bearer',   'read',  'tenants', 'Read a tenant', NULL, 'Tenant', 200),
 ('PATCH',  '/api/v1/tenants/{id}',            'tenant_update',  true,  'bearer',   'admin', 'tenants', 'Update name or custom domain (the plan: platform operators only)', 'TenantUpdate', 'Tenant', 200),
 ('DELETE', '/api/v1/tenants/{id}',            'tenant_delete',  true,  'bearer',   'admin', 'tenants', 'Delete a tenant and all its data (owners)', NULL, NULL, 204),
 ('GET',    '/api/v1/tenants/{id}/stats',      'tenant_stats',   true,  'bearer',   'admin', 'tenants', 'Users, API calls this month and storage against the plan''s limits', NULL, 'TenantStats', 200),
 ('GET',    '/api/v1/tenants/{id}/settings',   'settings_get',   true,  'bearer',   'admin', 'tenants', 'Read the tenant''s settings', NULL, 'Settings', 200),
 ('PUT',    '/api/v1/tenants/{id}/settings',   'settings_put',   true,  'bearer',   'admin', 'tenants', 'Replace the tenant''s settings', 'Settings', 'Settings', 200),
 ('GET',    '/api/v1/users',                   'users_list',     true,  'bearer',   'read',  'users',   'List users (admins: all; users: themselves), with limit and cursor', NULL, 'UserPage', 200),
 ('POST',   '/api/v1/users',                   'user_create',    true,  'bearer',   'admin', 'users',   'Create a user (admins; owner role: owners)', 'UserCreate', 'User', 201),
 ('GET',    '/api/v1/users/{id}',              'user_get',       true,  'bearer',   'read',  'users',   'Read a user', NULL, 'User', 200),
 ('PATCH',  '/api/v1/users/{id}',              'user_update',    true,  'bearer',   'write', 'users',   'Update display name (yourself or admins), role or status (admins); never a password or e-mail', 'UserUpdate', 'User', 200),
 ('POST',   '/api/v1/users/{id}/reset-password', 'user_reset',   true,  'bearer',   'admin', 'users',   'Reset a user''s password (admins; an owner''s: owners): it stops working, the user is signed out and gets a one-time secret by mail', NULL, 'PasswordResetQueued', 202),
 ('DELETE', '/api/v1/users/{id}',              'user_delete',    true,  'bearer',   'admin', 'users',   'Delete a user', NULL, NULL, 204),
 ('GET',    '/api/v1/me',                      'me',             true,  'bearer',   NULL,    'users',   'The signed-in user, tenant and granted scopes', NULL, 'Me', 200),
 ('PATCH',  '/api/v1/me',                      'me_update',      true,  'bearer',   'write', 'users',   'Change your display name, e-mail or password (e-mail and password need current_password; a new password signs you out everywhere)', 'MeUpdate', 'User', 200),
 ('POST',   '/api/v1/password-reset',          'password_reset', true,  'none',     NULL,    'users',   'Set a new password with a one-time reset secret', 'PasswordReset', NULL, 204),
 ('GET',    '/api/v1/clients',                 'clients_list',   true,  'bearer',   'admin', 'clients', 'List OAuth clients (never their secrets)', NULL, 'ClientList', 200),
 ('POST',   '/api/v1/clients',                 'client_create',  true,  'bearer',   'admin', 'clients', 'Register an OAuth client; the secret is shown once', 'ClientMetadata', 'ClientWithSecret', 201),
 ('GET',    '/api/v1/clients/{id}',            'client_get',     true,  'bearer',   'admin', 'clients', 'Read an OAuth client', NULL, 'Client', 200),
 ('PATCH',  '/api/v1/clients/{id}',            'client_update',  true,  'bearer',   'admin', 'clients', 'Change an OAuth client (fields given replace the stored ones), e.g. resource_server: may introspect every token of the tenant', 'ClientMetadata', 'Client', 200),
 ('POST',   '/api/v1/clients/{id}/rotate-secret', 'client_rotate', true, 'bearer',   'admin', 'clients', 'Issue a new client secret (shown once); the old one stops working', NULL, 'ClientWithSecret', 200),
 ('DELETE', '/api/v1/clients/{id}',            'client_delete',  true,  'bearer',   'admin', 'clients', 'Delete an OAuth client and revoke its tokens', NULL, NULL, 204),
 ('GET',    '/api/v1/notes',                   'notes_list',     true,  'bearer',   'read',  'notes',   'List notes (yours; admins: all), with limit and cursor', NULL, 'NotePage', 200),
 ('POST',   '/api/v1/notes',                   'note_create',    true,  'bearer',   'write', 'notes',   'Create a note', 'NoteInput', 'Note', 201),
 ('GET',    '/api/v1/notes/{id}',              'note_get',       true,  'bearer',   'read',  'notes',   'Read a note', NULL, 'Note', 200),
 ('PATCH',  '/api/v1/notes/{id}',              'note_update',    true,  'bearer',   'write', 'notes',   'Update a note', 'NoteInput', 'Note', 200),
 ('DELETE', '/api/v1/notes/{id}',              'note_delete',    true,  'bearer',   'write', 'notes',   'Delete a note', NULL, NULL, 204),
 ('GET',    '/oauth/authorize',                'authorize',      true,  'none',     NULL,    'oauth',   'Authorization endpoint: HTML sign-in and consent (RFC 6749 §4.1, PKCE, RFC 9207)', NULL, NULL, 200),
 ('POST',   '/oauth/authorize',                'authorize',      true,  'none',     NULL,    'oauth',   'Sign-in and consent form submission; answers 303 to the redirect URI', 'AuthorizeForm', NULL, 303),
 ('POST',   '/oauth/token',                    'token',          true,  'client',   NULL,    'oauth',   'Token endpoint: authorization_code, refresh_token, client_credentials, password', 'TokenRequest', 'TokenResponse', 200),
 ('POST',   '/oauth/revoke',                   'revoke',         true,  'client',   NULL,    'oauth',   'Token revocation (RFC 7009)', 'RevocationRequest', NULL, 200),
 ('POST',   '/oauth/introspect',               'introspect',     true,  'client',   NULL,    'oauth',   'Token introspection (RFC 7662)', 'IntrospectionRequest', 'Introspection', 200),
 ('POST',   '/oauth/register',                 'register',       true,  'optional', NULL,    'oauth',   'Dynamic client registration (RFC 7591): admin token, or open when the tenant allows', 'ClientMetadata', 'ClientRegistration', 201),
 ('GET',    '/oauth/register/{id}',            'register',       true,  'none',     NULL,    'oauth',   'Read a client''s registration (RFC 7592, registration access token)', NULL, 'ClientRegistration', 200),
 ('PUT',    '/oauth/register/{id}',            'register',       true,  'none',     NULL,    'oauth',   'Replace a client''s registration (RFC 7592)', 'ClientMetadata', 'ClientRegistration', 200),
 ('DELETE', '/oauth/register/{id}',            'register',       true,  'none',     NULL,    'oauth',   'Delete a client registration (RFC 7592)', NULL, NULL, 204),
 ('GET',    '/oauth/userinfo',                 'userinfo',       true,  'bearer',   NULL,    'oauth',   'OpenID Connect userinfo: claims of the token''s user (scope openid or profile)', NULL, 'UserInfo', 200),
 ('POST',   '/oauth/userinfo',                 'userinfo',       true,  'bearer',   NULL,    'oauth',   'OpenID Connect userinfo: claims of the token''s user (scope openid or profile)', NULL, 'UserInfo', 200),
 ('GET',    '/.well-known/oauth-authorization-server', 'metadata', true, 'none',  NULL,    'oauth',   'Authorization server metadata (RFC 8414)', NULL, 'ServerMetadata', 200),
 ('GET',    '/.well-known/openid-configuration', 'metadata',     true,  'none',     NULL,    'oauth',   'OpenID Provider configuration (OpenID Connect Discovery 1.0; the RFC 8414 document)', NULL, 'ServerMetadata', 200),
 ('GET',    '/.well-known/oauth-protected-resource', 'protected_resource', true, 'none', NULL, 'oauth', 'Protected resource metadata of the tenant''s API (RFC 9728)', NULL, NULL, 200),
 ('GET',    '/oauth/jwks',                     'jwks',           true,  'none',     NULL,    'oauth',   'The tenant''s public signing keys (JWKS, RFC 7517)', NULL, NULL, 200),
 ('GET',    '/oauth/logout',                   'logout',         true,  'none',     NULL,    'oauth',   'RP-initiated logout (end_session_endpoint): id_token_hint, post_logout_redirect_uri, state', NULL, NULL, 200),
 ('POST',   '/oauth/logout',                   'logout',         true,  'none',     NULL,    'oauth',   'RP-initiated logout by POST, and the confirmation form', NULL, NULL, 200),
 ('GET',    '/api/v1/me/sessions',             'my_sessions',    true,  'bearer',   NULL,    'users',   'Your browser sign-in sessions', NULL, NULL, 200),
 ('DELETE', '/api/v1/me/sessions/{id}',        'my_session_delete', true, 'bearer', 'write', 'users',   'Sign one of your browser sessions out', NULL, NULL, 204),
 ('GET',    '/api/v1/me/consents',             'my_consents',    true,  'bearer',   NULL,    'users',   'Applications you allowed, with their scopes', NULL, NULL, 200),
 ('DELETE', '/api/v1/me/consents/{id}',        'my_consent_delete', true, 'bearer', 'write', 'users',   'Withdraw consent to an application ({id}: its client_id); its tokens for you are revoked', NULL, NULL, 204);
