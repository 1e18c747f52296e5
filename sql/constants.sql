-- One place per number and fixed set (extension/schema/02_constants.sql),
-- and honest volatility: the documents publish the one scope list, OpenAPI
-- reads the settings and bounds, no other function or constraint spells a
-- scope list, lifetime or bound again, and no IMMUTABLE function reads a
-- table, a setting or the clock. Each scan runs over control rows too, so
-- an empty answer means something.
\set VERBOSITY terse
\pset format unaligned

-- The discovery documents (RFC 8414, OpenID Connect Discovery, RFC 9728)
-- publish the one list, in its order.
SELECT oauth.metadata_document('https://x.example')->'scopes_supported' = to_jsonb(oauth.scopes_supported()) AS metadata,
       oauth.protected_resource_document('https://x.example')->'scopes_supported' = to_jsonb(oauth.scopes_supported()) AS resource,
       oauth.scopes_supported(),
       oauth.metadata_document('https://x.example')->'id_token_signing_alg_values_supported' = to_jsonb(oauth.signing_algs()) AS algs;
-- Stored scopes are sorted and distinct; the API scopes are scopes.
SELECT oauth._scopes('write openid  read write'), oauth._scopes('read bogus') IS NULL AS unknown_is_null,
       oauth.api_scopes() <@ oauth.scopes_supported() AS api_scopes_known;
-- The consent page lists scopes in the published order.
SELECT api.scope_list('{admin,email,openid,profile,read,write}', 'Acme');
-- Messages name the scopes from the list.
SELECT oauth._unknown_scope();
SELECT (oauth._client_metadata('{"grant_types": ["client_credentials"], "scope": "bogus"}', 'admin'))->>'error_description'
       AS metadata_scope_error;
-- OpenAPI's scope pattern accepts exactly scope strings of the list.
SELECT s, s ~ (api.openapi_schemas()#>>'{ClientMetadata,properties,scope,pattern}') AS matches
  FROM unnest(ARRAY[array_to_string(oauth.scopes_supported(), ' '), 'openid', 'openid bogus', 'read  write', '']) s;

-- The constants fold into the plans that read them (no call per row or
-- request): they return named composite types, which the planner evaluates
-- at plan time (a function returning a record it would call every time).
EXPLAIN (VERBOSE, COSTS OFF)
SELECT (oauth.lifetimes()).code, (tenancy.bounds()).name_max, (tenancy.throttling()).signup_window,
       (tenancy.patterns()).uuid, oauth.api_scopes(), oauth._ttl('code', NULL, '{}');

-- Lifetimes: the defaults when neither client nor tenant chose one, and the
-- bounds the settings are held to, come from oauth.lifetimes().
SELECT oauth._ttl('access_token', NULL, '{}') = l.access_token AS access,
       oauth._ttl('refresh_token', NULL, '{}') = l.refresh_token AS refresh,
       oauth._ttl('code', NULL, '{}') = l.code AS code,
       oauth._ttl('code', NULL, '{"code_ttl": 30}') AS tenant_code_ttl,
       oauth._ttl('access_token', 120, '{"access_token_ttl": 30}') AS client_access_ttl
  FROM oauth.lifetimes() l;
SELECT tenancy.validate_settings(jsonb_build_object('code_ttl', (oauth.lifetimes()).ttl_max));
SELECT tenancy.validate_settings(jsonb_build_object('code_ttl', (oauth.lifetimes()).ttl_max + 1));
SELECT tenancy.validate_settings(jsonb_build_object('refresh_token_max_lifetime', (oauth.lifetimes()).family_min - 1));
SELECT tenancy.validate_settings('{"access_token_ttl": 99999999999999999999}');
SELECT (oauth._client_metadata('{"grant_types": ["client_credentials"], "access_token_ttl": 9}', 'admin'))->>'error_description'
       AS client_ttl_error;
SELECT s->'access_token_ttl' AS openapi_ttl, s->'refresh_token_max_lifetime' AS openapi_family
  FROM (SELECT api.openapi_schemas()#>'{Settings,properties}' s) x;

-- OpenAPI and the password policy read the same setting.
SET backend_framework.password_min_length = 12;
SELECT api.openapi_schemas()#>>'{TenantRegistration,properties,owner_password,minLength}' AS registration,
       api.openapi_schemas()#>>'{PasswordReset,properties,password,minLength}' AS reset;
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT tenancy.check_password_policy('eleven-char');
\set VERBOSITY terse
RESET backend_framework.password_min_length;
SELECT api.openapi_schemas()#>>'{TenantRegistration,properties,owner_password,minLength}' =
       current_setting('backend_framework.password_min_length') AS follows_setting;

-- Nothing but the owners in 02_constants.sql spells the scope list (three
-- scope names in a row: an array, an IN list, a regular expression), a
-- lifetime of oauth.lifetimes() or tenancy.throttling() (as seconds or as an
-- interval of hours or days), a distinctive bound of tenancy.bounds() or a
-- signing algorithm: no function of the extension and no CHECK constraint
-- of its tables.
WITH owners(f) AS (VALUES ('oauth.scopes_supported()'::regprocedure), ('oauth.api_scopes()'), ('oauth.signing_algs()'),
                          ('oauth.lifetimes()'), ('tenancy.bounds()'), ('tenancy.throttling()')),
src(what, src) AS (
  SELECT p.oid::regprocedure::text, regexp_replace(p.prosrc, '--[^\n]*', '', 'g')  -- code, not comments
    FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
   WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'backend_framework')
     AND p.oid NOT IN (SELECT f FROM owners)
  UNION ALL
  SELECT conrelid::regclass || ' ' || conname, pg_get_constraintdef(oid) FROM pg_constraint
   WHERE connamespace IN ('tenancy'::regnamespace, 'oauth'::regnamespace, 'api'::regnamespace)
  UNION ALL
  VALUES ('control 1', 'IF scope NOT IN (''read'', ''write'', ''profile'', ''admin'') THEN'),
         ('control 2', 'SELECT ''{admin,email,openid,profile,read,write}''::text[]'),
         ('control 3', 'VALUES (t, uid, now() + interval ''8 hours'')'),
         ('control 4', 'coalesce(cl.access_token_ttl, 3600)'),
         ('control 5', 'WHEN length(u) > 2000 THEN'),
         ('control 6', 'FOREACH a IN ARRAY ARRAY[''RS256'', ''ES256''] LOOP'),
         ('control 7', 'coalesce(alg, ''RS256'')')
)
SELECT what, kind FROM src, (VALUES
  ('scope list', '(openid|email|profile|read|write|admin)[^A-Za-z]{1,6}(openid|email|profile|read|write|admin)[^A-Za-z]{1,6}(openid|email|profile|read|write|admin)'),
  ('lifetime', '\m(900|3600|28800|86400|2592000|7776000|31536000|315360000)\M'),
  ('interval', '(?i)interval ''[0-9]+ (hour|day)s?'''),
  ('bound', '\m(254|512|2000|10000|1000000)\M'),
  ('signing algorithm', '(?i)''(RS256|ES256)''|(RS256|ES256)[^A-Za-z0-9]{1,6}(RS256|ES256)')) k(kind, pat)
 WHERE src ~ pat ORDER BY 1, 2;

-- Honest volatility: the route map and the error mapping are no IMMUTABLE
-- functions (they read the route table and the clock) ...
SELECT oid::regprocedure, provolatile FROM pg_proc
 WHERE oid IN ('api.find_route(text, text)'::regprocedure, 'api.error_from_sqlstate(text, text, text, text)'::regprocedure,
               'api.openapi_schemas()'::regprocedure, 'oauth._client_json(jsonb, boolean)'::regprocedure)
 ORDER BY 1;
-- ... and no IMMUTABLE SQL or PL/pgSQL function of the extension reads a
-- setting, the clock or the session, a table, a date/time from text (the
-- TimeZone and DateStyle settings), or calls a function of the extension
-- that is not IMMUTABLE.
WITH f(fn, src) AS (
  SELECT p.oid::regprocedure::text, regexp_replace(p.prosrc, '--[^\n]*', '', 'g')  -- code, not comments
    FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
    JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
   WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'backend_framework')
     AND p.provolatile = 'i' AND l.lanname IN ('sql', 'plpgsql')
  UNION ALL
  VALUES ('control 1', 'SELECT current_setting(''backend_framework.base_domain'')'),
         ('control 2', 'BEGIN RETURN now(); END'),
         ('control 3', 'SELECT count(*) FROM oauth.tokens t JOIN tenancy.tenants n ON n.id = t.tenant_id'),
         ('control 4', 'SELECT tenancy.current_tenant_id()'),
         ('control 5', 'SELECT extract(epoch FROM (c->>''created_at'')::timestamptz)')
)
SELECT fn, why FROM f, LATERAL (
  SELECT 'reads a setting, the clock or the session'
   WHERE src ~* '\m(current_setting|now|clock_timestamp|statement_timestamp|transaction_timestamp|timeofday|random|gen_random_uuid|nextval|currval|pg_has_role|has_[a-z_]+_privilege)\s*\(|\m(current_(timestamp|date|time|user|role|schema)|session_user|localtimestamp)\M'
  UNION ALL
  SELECT 'reads a date or time from text' WHERE src ~* '::\s*(timestamptz|timestamp|date|time|timetz)\M|\mto_(char|date|timestamp)\s*\('
  UNION ALL
  SELECT 'reads ' || m[1] FROM regexp_matches(src, '\m(?:from|join)\s+([a-z_]+\.[a-z_0-9]+)', 'gi') m
    JOIN pg_class c ON c.oid = to_regclass(m[1]) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  UNION ALL
  SELECT 'calls ' || q.oid::regprocedure FROM regexp_matches(src, '\m(tenancy|oauth|api)\.([a-z_0-9]+)\s*\(', 'gi') m
    JOIN pg_proc q ON q.pronamespace = m[1]::regnamespace AND q.proname = m[2]
   WHERE q.provolatile <> 'i'
) w(why) ORDER BY 1, 2;
