-- 51_api_routes.sql — the route table: the single source of truth for
-- routing, the Allow header of 405 answers, /api/v1/openapi.json and the
-- route-by-route tests. Paths use {id} for their one parameter. Built-in
-- routes (loaded by 59_api_routes_data.sql, once their handlers exist) and
-- application routes (api.add_route) are rows of the same table; the C
-- router (extension/src/router.c) caches it per backend, and a trigger
-- invalidates that cache in every backend when a row changes.

CREATE TABLE api.routes (
  method   text NOT NULL CHECK (method IN ('GET', 'POST', 'PUT', 'PATCH', 'DELETE')),
  pattern  text NOT NULL,
  handler  regprocedure NOT NULL,       -- a function (api.request) RETURNS api.response
  tenant   boolean NOT NULL,            -- needs a tenant (header, path, subdomain or domain)
  auth     text NOT NULL CHECK (auth IN ('none', 'bearer', 'optional', 'client')),
  scope    text,                        -- scope the bearer token needs
  tag      text NOT NULL,
  summary  text NOT NULL,
  request  text,                        -- schema name of the request body in openapi.json
  response text,                        -- schema name of the success answer
  success  integer NOT NULL DEFAULT 200,
  builtin  boolean NOT NULL DEFAULT false, -- made by the extension (not dumped); false: api.add_route
  PRIMARY KEY (pattern, method)
);
COMMENT ON TABLE api.routes IS 'HTTP routes: pattern, method, handler function, tenant and auth needs, documentation. Built-in rows come with the extension; application rows are added with api.add_route and survive pg_dump. Read by api.handle_request (cached per backend) and api.openapi().';
GRANT SELECT ON api.routes TO backend_gateway, backend_app, backend_admin;
-- Application routes are the database's own data: pg_dump keeps them.
SELECT pg_catalog.pg_extension_config_dump('api.routes', 'WHERE NOT builtin');

-- Any change of the table invalidates every backend's route cache (a
-- relcache invalidation, sent at commit): the next request routes anew.
CREATE FUNCTION api._routes_changed() RETURNS trigger
  LANGUAGE c AS 'MODULE_PATHNAME', 'bf_routes_changed';
COMMENT ON FUNCTION api._routes_changed() IS 'Trigger: invalidates the route cache of every backend when api.routes changes.';
REVOKE ALL ON FUNCTION api._routes_changed() FROM PUBLIC;
CREATE TRIGGER routes_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON api.routes
  FOR EACH STATEMENT EXECUTE FUNCTION api._routes_changed();

-- The router, as api.handle_request uses it (C, cached): the pattern that
-- matches a path (exact segments win over {id}), its {id} value, the
-- methods it allows, and the handler for the method (NULL: 405).
CREATE FUNCTION api.find_route(p_method text, p_path text,
  OUT pattern text, OUT handler regprocedure, OUT id text, OUT allow text[])
  LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'bf_find_route';
COMMENT ON FUNCTION api.find_route(text, text) IS 'The route for a method and path: matching pattern, handler (NULL when the method is not allowed), {id} value and the allowed methods; all NULL when no pattern matches.';

-- Application routes. Only platform operators (backend_admin) and the
-- extension's owner (a superuser) may add or drop them: EXECUTE is granted
-- to nobody else. The handler runs as the caller of api.handle_request
-- (the gateway's role), so it may not be SECURITY DEFINER itself, and the
-- gateway must be allowed to execute it.
CREATE FUNCTION api.add_route(method text, path text, handler regprocedure, auth text DEFAULT 'bearer',
                              scope text DEFAULT NULL, summary text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  m text := upper(btrim(method));
  segs text[];
  p pg_catalog.pg_proc;
  clash text;
BEGIN
  IF m IS NULL OR m NOT IN ('GET', 'POST', 'PUT', 'PATCH', 'DELETE') THEN
    RAISE EXCEPTION 'method must be GET, POST, PUT, PATCH or DELETE' USING ERRCODE = '22023';
  END IF;
  IF auth IS NULL OR auth NOT IN ('bearer', 'optional', 'none') THEN
    RAISE EXCEPTION 'auth must be bearer, optional or none' USING ERRCODE = '22023';
  END IF;
  IF scope IS NOT NULL AND NOT scope = ANY (oauth.api_scopes()) THEN
    RAISE EXCEPTION 'scope must be %', tenancy._words(oauth.api_scopes(), 'or') USING ERRCODE = '22023';
  END IF;
  IF scope IS NOT NULL AND auth <> 'bearer' THEN
    RAISE EXCEPTION 'a scope needs auth bearer' USING ERRCODE = '22023';
  END IF;
  -- /api/{segments}, each a plain name or the one {id} parameter.
  segs := string_to_array(path, '/');
  IF path IS NULL OR path !~ '^/api/' OR length(path) > 200
     OR EXISTS (SELECT 1 FROM unnest(segs[2:]) s WHERE s <> '{id}' AND s !~ '^[A-Za-z0-9._~-]+$')
     OR (SELECT count(*) FROM unnest(segs) s WHERE s = '{id}') > 1 THEN
    RAISE EXCEPTION 'invalid route path "%"', path USING ERRCODE = '22023',
      DETAIL = 'A path starts with /api/ and has plain segments (letters, digits, . _ ~ -) and at most one {id}.';
  END IF;
  -- Application routes never shadow built-in ones (a literal segment where
  -- a built-in route has {id}, or the other way round, would).
  SELECT r.pattern INTO clash FROM api.routes r
   WHERE r.builtin AND cardinality(string_to_array(r.pattern, '/')) = cardinality(segs)
     AND NOT EXISTS (SELECT 1 FROM unnest(string_to_array(r.pattern, '/'), segs) x(a, b)
                      WHERE a <> b AND a <> '{id}' AND b <> '{id}')
   LIMIT 1;
  IF clash IS NOT NULL THEN
    RAISE EXCEPTION 'route path "%" overlaps the built-in route "%"', path, clash USING ERRCODE = '42710';
  END IF;
  SELECT * INTO p FROM pg_catalog.pg_proc WHERE oid = handler;
  IF p.pronargs <> 1 OR p.proargtypes[0] <> 'api.request'::regtype OR p.prorettype <> 'api.response'::regtype
     OR p.proretset OR p.prokind <> 'f' THEN
    RAISE EXCEPTION 'a handler is a function (api.request) RETURNS api.response' USING ERRCODE = '42P13',
      DETAIL = format('%s does not have that signature.', handler);
  END IF;
  IF p.prosecdef THEN
    RAISE EXCEPTION 'a handler may not be SECURITY DEFINER' USING ERRCODE = '42501',
      DETAIL = 'Handlers run as the gateway''s role; call narrow SECURITY DEFINER helpers from them instead.';
  END IF;
  IF NOT pg_catalog.has_function_privilege('backend_gateway', handler, 'EXECUTE') THEN
    RAISE EXCEPTION 'backend_gateway may not execute %', handler USING ERRCODE = '42501',
      HINT = format('GRANT EXECUTE ON FUNCTION %s TO backend_gateway;', handler);
  END IF;
  INSERT INTO api.routes (method, pattern, handler, tenant, auth, scope, tag, summary, builtin)
  VALUES (m, path, handler, true, auth, scope,
          coalesce(nullif(CASE WHEN segs[3] ~ '^v[0-9]+$' THEN segs[4] ELSE segs[3] END, '{id}'), 'application'),
          coalesce(summary, m || ' ' || path), false);
EXCEPTION WHEN unique_violation THEN
  RAISE EXCEPTION 'route % % exists', m, path USING ERRCODE = '42710', HINT = 'Drop it first with api.drop_route.';
END $$;
COMMENT ON FUNCTION api.add_route(text, text, regprocedure, text, text, text) IS 'Adds an application route (platform operators and the extension owner only): method, path under /api/ with at most one {id}, handler (api.request) RETURNS api.response (not SECURITY DEFINER, executable by backend_gateway), auth bearer/optional/none, scope, summary. Takes effect on the next request of every session; survives pg_dump.';
REVOKE ALL ON FUNCTION api.add_route(text, text, regprocedure, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.add_route(text, text, regprocedure, text, text, text) TO backend_admin;

CREATE FUNCTION api.drop_route(method text, path text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  DELETE FROM api.routes r WHERE r.method = upper(btrim(drop_route.method)) AND r.pattern = drop_route.path AND NOT r.builtin;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no application route % %', method, path USING ERRCODE = 'P0002',
      HINT = 'Built-in routes cannot be dropped.';
  END IF;
END $$;
COMMENT ON FUNCTION api.drop_route(text, text) IS 'Drops an application route (platform operators and the extension owner only); built-in routes stay.';
REVOKE ALL ON FUNCTION api.drop_route(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.drop_route(text, text) TO backend_admin;
