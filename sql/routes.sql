-- Routes (issue 11): the C router (exact and {id} patterns, 404 versus 405
-- with Allow), application routes added with api.add_route (who may, which
-- handlers), the handler running as the gateway's role, the route cache
-- invalidated when api.routes changes, and routes in /api/v1/openapi.json.
\set VERBOSITY terse
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bf_test_gw') AS missing_roles;
-- The router: exact paths win over {id}; {id} as the last or an inner segment.
SELECT p, (api.find_route('GET', p)).* FROM unnest(ARRAY['/api/v1/users', '/api/v1/users/abc', '/api/v1/users/abc/reset-password',
  '/api/v1/tenants/t1/stats', '/api/v1/users/', '/api/v1/users/a/b', '/api/v1/nope', '/health', '/']) p;
SELECT (api.find_route('POST', '/api/v1/users/abc/reset-password')).handler;

-- A tenant and a user token to call routes with.
INSERT INTO tenancy.tenants (id, slug, name, plan) VALUES ('00000000-0000-4000-8000-0000000b0000', 'routes-co', 'Routes Co', 'premium');
BEGIN;
SELECT tenancy._set_context('00000000-0000-4000-8000-0000000b0000', NULL, 'owner', 'admin', NULL);
INSERT INTO tenancy.users (tenant_id, id, email, password_hash, role) VALUES
  ('00000000-0000-4000-8000-0000000b0000', '00000000-0000-4000-8000-0000000b0001', 'o@routes.test', '$2a$10$abcdefghijklmnopqrstuu5wrzkqbSrMWRBDXOEVwjvAcE3xIWdAe', 'owner');
SELECT oauth._issue('00000000-0000-4000-8000-0000000b0000', 'console', '00000000-0000-4000-8000-0000000b0001', 'read profile', gen_random_uuid(), 600, NULL)->>'access_token' AS tok \gset
COMMIT;
CREATE FUNCTION public.rt_call(m text, p text, tok text DEFAULT NULL) RETURNS TABLE(status integer, allow text, body text)
LANGUAGE sql AS $$
  SELECT status, headers->>'Allow', body FROM api.handle_request(m, p, '',
    jsonb_strip_nulls(jsonb_build_object('host', 'localhost:8080', 'x-tenant', 'routes-co', 'authorization', 'Bearer ' || tok)), NULL, '192.0.2.9')
$$;
-- 404 (no pattern) versus 405 (pattern, other method) with Allow; OPTIONS.
SELECT * FROM public.rt_call('GET', '/api/v1/invoices');
SELECT * FROM public.rt_call('PUT', '/api/v1/users');
SELECT status, allow FROM public.rt_call('OPTIONS', '/api/v1/users/abc');

-- An application route: a table of the application, a handler, add_route.
CREATE TABLE public.rt_items (tenant_id uuid NOT NULL, id integer NOT NULL, name text NOT NULL, PRIMARY KEY (tenant_id, id));
SELECT tenancy.enable_tenant_table('public.rt_items');
GRANT SELECT ON public.rt_items TO backend_gateway;
INSERT INTO public.rt_items VALUES ('00000000-0000-4000-8000-0000000b0000', 1, 'one'), ('00000000-0000-4000-8000-0000000b0000', 2, 'two');
CREATE FUNCTION public.rt_item(r api.request) RETURNS api.response LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE n text;
BEGIN
  SELECT name INTO n FROM public.rt_items WHERE tenant_id = tenancy.current_tenant_id() AND id = r.id::integer;
  IF NOT FOUND THEN RAISE EXCEPTION 'no such item' USING ERRCODE = 'P0002'; END IF;
  -- Who runs the handler: the caller of api.handle_request, never a definer.
  RETURN api.json(200, jsonb_build_object('name', n, 'id', r.id, 'current_user', current_user, 'session_user', session_user));
END $$;
-- Only platform operators and superusers may add routes.
\c - bf_test_gw
\set VERBOSITY terse
SELECT api.add_route('GET', '/api/v1/items/{id}', 'public.rt_item(api.request)');
INSERT INTO api.routes (method, pattern, handler, tenant, auth, tag, summary) VALUES ('GET', '/api/x', 'public.rt_item(api.request)', true, 'none', 'x', 'x');
\c - bf_test_app
\set VERBOSITY terse
SELECT api.add_route('GET', '/api/v1/items/{id}', 'public.rt_item(api.request)');
SELECT api.drop_route('GET', '/api/v1/ping');
\c - postgres
\set VERBOSITY terse
-- Checked before anything is added: the handler's signature, its security, the path, the gateway's EXECUTE.
SELECT api.add_route('GET', '/api/v1/items/{id}', 'tenancy.current_tenant_id()');
SELECT api.add_route('GET', '/api/v1/items/{id}', 'api.cors_allowed(text, uuid)');
CREATE FUNCTION public.rt_definer(r api.request) RETURNS api.response LANGUAGE sql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp AS $$ SELECT api.json(200, '{}') $$;
SELECT api.add_route('GET', '/api/v1/items/{id}', 'public.rt_definer(api.request)');
SELECT api.add_route('GET', '/oauth/items', 'public.rt_item(api.request)');
SELECT api.add_route('GET', '/api/v1/items/{id}/{id}', 'public.rt_item(api.request)');
SELECT api.add_route('GET', '/api/v1/items/a b', 'public.rt_item(api.request)');
SELECT api.add_route('GET', '/api/v1/users/me', 'public.rt_item(api.request)');
SELECT api.add_route('GET', '/api/v1/{id}', 'public.rt_item(api.request)');
SELECT api.add_route('TRACE', '/api/v1/items/{id}', 'public.rt_item(api.request)');
SELECT api.add_route('GET', '/api/v1/items/{id}', 'public.rt_item(api.request)', 'client');
SELECT api.add_route('GET', '/api/v1/items/{id}', 'public.rt_item(api.request)', 'none', 'read');
REVOKE EXECUTE ON FUNCTION public.rt_item(api.request) FROM PUBLIC;
SELECT api.add_route('GET', '/api/v1/items/{id}', 'public.rt_item(api.request)');
GRANT EXECUTE ON FUNCTION public.rt_item(api.request) TO backend_gateway;
SELECT count(*) AS app_routes FROM api.routes WHERE NOT builtin;
-- A platform operator adds it; the same session routes it at once.
\c - bf_test_admin
\set VERBOSITY terse
SELECT api.add_route('GET', '/api/v1/items/{id}', 'public.rt_item(api.request)', scope => 'read', summary => 'Read an item');
SELECT api.add_route('GET', '/api/v1/items/{id}', 'public.rt_item(api.request)');
SELECT method, pattern, handler, tenant, auth, scope, tag, summary, builtin FROM api.routes WHERE NOT builtin;
\c - bf_test_gw
\set VERBOSITY terse
-- The gateway calls it: as backend_gateway's member bf_test_gw, in the tenant's context.
SELECT status, body::jsonb - 'session_user' AS body FROM public.rt_call('GET', '/api/v1/items/2', :'tok');
SELECT status, body FROM public.rt_call('GET', '/api/v1/items/3', :'tok');
SELECT status, body FROM public.rt_call('GET', '/api/v1/items/2');
SELECT status, allow FROM public.rt_call('POST', '/api/v1/items/2', :'tok');
-- In the OpenAPI document.
SELECT api.openapi('http://localhost:8080')->'paths'->'/api/v1/items/{id}';
\c - postgres
\set VERBOSITY terse
-- The route cache follows the table: a new handler, a scope, a drop.
CREATE FUNCTION public.rt_item2(r api.request) RETURNS api.response LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $$ SELECT api.json(200, jsonb_build_object('v', 2, 'id', r.id)) $$;
GRANT EXECUTE ON FUNCTION public.rt_item2(api.request) TO backend_gateway;
SELECT status, body::jsonb - 'session_user' AS body FROM public.rt_call('GET', '/api/v1/items/1', :'tok');
UPDATE api.routes SET handler = 'public.rt_item2(api.request)' WHERE pattern = '/api/v1/items/{id}';
SELECT status, body FROM public.rt_call('GET', '/api/v1/items/1', :'tok');
UPDATE api.routes SET scope = 'write' WHERE pattern = '/api/v1/items/{id}';
SELECT status, body FROM public.rt_call('GET', '/api/v1/items/1', :'tok');
BEGIN;
SELECT api.drop_route('GET', '/api/v1/items/{id}');
SELECT status FROM public.rt_call('GET', '/api/v1/items/1', :'tok');
ROLLBACK;
SELECT status FROM public.rt_call('GET', '/api/v1/items/1', :'tok');
SELECT api.drop_route('GET', '/api/v1/items/{id}');
SELECT api.drop_route('GET', '/api/v1/items/{id}');
SELECT api.drop_route('GET', '/health');
SELECT status, body FROM public.rt_call('GET', '/api/v1/items/1', :'tok');
-- A handler dropped behind the router's back fails only its route (500), never the others.
SELECT api.add_route('GET', '/api/v1/items/{id}', 'public.rt_item2(api.request)', 'none');
DROP FUNCTION public.rt_item2(api.request);
SET client_min_messages = error;  -- the WARNING names the function's oid
SELECT status, body FROM public.rt_call('GET', '/api/v1/items/1');
RESET client_min_messages;
SELECT status FROM public.rt_call('GET', '/api/v1/ping');
SELECT api.drop_route('GET', '/api/v1/items/{id}');
-- Clean up.
DROP TABLE public.rt_items;
DROP FUNCTION public.rt_item(api.request);
DROP FUNCTION public.rt_definer(api.request);
DROP FUNCTION public.rt_call(text, text, text);
DELETE FROM tenancy.tenants WHERE id = '00000000-0000-4000-8000-0000000b0000';
