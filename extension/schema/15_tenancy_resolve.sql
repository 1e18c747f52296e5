-- 15_tenancy_resolve.sql — which tenant a request is for (subdomain, custom
-- domain, X-Tenant header, /t/{slug}/ path), and enter_tenant for operators.

CREATE TYPE tenancy.resolved_tenant AS (
  tenant_id uuid,   -- NULL when the request names no tenant
  slug      text,
  strategy  text,   -- header, path, subdomain or domain: the first that matched
  prefix    text,   -- '/t/{slug}' when the path named the tenant, else ''
  path      text,   -- the request path without that prefix
  by_host   boolean -- the Host (subdomain or approved custom domain) named this tenant
);
COMMENT ON TYPE tenancy.resolved_tenant IS 'Result of tenancy.resolve_tenant.';

-- Looks a tenant up by slug or id; raises P0002 (unknown) or TB003 (suspended).
CREATE FUNCTION tenancy._find_tenant(p_key text, p_by_id_too boolean, OUT id uuid, OUT slug text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE st text;
BEGIN
  IF p_by_id_too AND p_key ~* (tenancy.patterns()).uuid THEN
    SELECT t.id, t.slug, t.status INTO id, slug, st FROM tenancy.tenants t WHERE t.id = p_key::uuid;
  ELSE
    SELECT t.id, t.slug, t.status INTO id, slug, st FROM tenancy.tenants t WHERE t.slug = lower(p_key);
  END IF;
  IF id IS NULL THEN
    RAISE EXCEPTION 'tenant not found' USING ERRCODE = 'P0002';
  END IF;
  IF st = 'suspended' THEN
    RAISE EXCEPTION 'tenant suspended' USING ERRCODE = 'TB003',
      DETAIL = 'This tenant is suspended; contact the platform operator.';
  END IF;
END $$;
COMMENT ON FUNCTION tenancy._find_tenant(text, boolean) IS 'Internal: tenant by slug (or id); P0002 when unknown, TB003 when suspended.';
REVOKE ALL ON FUNCTION tenancy._find_tenant(text, boolean) FROM PUBLIC;

-- Resolves the tenant of a request with the strategies listed in
-- backend_framework.tenant_strategies, and sets the tenant context (no
-- user) for the rest of the transaction. Strategies that name different
-- tenants are an error, not a precedence game.
CREATE FUNCTION tenancy.resolve_tenant(host text, path text, headers jsonb DEFAULT '{}')
RETURNS tenancy.resolved_tenant
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  r tenancy.resolved_tenant := ROW(NULL, NULL, NULL, '', coalesce(path, '/'), false);
  base text := lower(current_setting('backend_framework.base_domain'));
  h text := lower(coalesce(host, headers->>'host', ''));
  strategy text;
  key text;
  by_id boolean;
  m text[];
  found_id uuid;
  found_slug text;
  platform boolean;
BEGIN
  -- Host without port; bracketed IPv6 literals name no tenant.
  h := CASE WHEN h LIKE '[%' THEN '' ELSE regexp_replace(h, ':[0-9]*$', '') END;
  -- The hosts of the public URLs name no tenant (api.example.com is not tenant "api").
  platform := h = '' OR EXISTS (SELECT 1 FROM tenancy.public_urls() u WHERE u.host = h);
  FOREACH strategy IN ARRAY string_to_array(replace(current_setting('backend_framework.tenant_strategies'), ' ', ''), ',') LOOP
    key := NULL; by_id := false;
    CASE strategy
    WHEN 'header' THEN
      key := nullif(btrim(headers->>'x-tenant'), ''); by_id := true;
    WHEN 'path' THEN
      m := regexp_match(coalesce(path, ''), '^/t/([^/]+)(/.*)?$');
      IF m IS NOT NULL THEN
        key := m[1]; r.prefix := '/t/' || m[1]; r.path := coalesce(m[2], '/');
      ELSE
        -- RFC 8414 §3: metadata of issuer .../t/{slug} lives at /.well-known/oauth-authorization-server/t/{slug}
        -- (and likewise OpenID Provider configuration and RFC 9728 protected resource metadata).
        m := regexp_match(coalesce(path, ''), '^(/\.well-known/(oauth-authorization-server|openid-configuration|oauth-protected-resource))/t/([^/]+)$');
        IF m IS NOT NULL THEN key := m[3]; r.prefix := '/t/' || m[3]; r.path := m[1]; END IF;
      END IF;
    WHEN 'subdomain' THEN
      IF NOT platform AND base <> '' AND right(h, length(base) + 1) = '.' || base THEN
        key := left(h, length(h) - length(base) - 1);
        IF key LIKE '%.%' OR key = '' THEN key := NULL; END IF;
      END IF;
    WHEN 'domain' THEN
      -- Only an approved domain names a tenant, and never a platform host.
      IF NOT platform AND h <> base AND right(h, length(base) + 1) <> '.' || base THEN
        SELECT t.slug INTO key FROM tenancy.tenants t WHERE t.custom_domain = h AND t.custom_domain_status = 'approved';
      END IF;
    ELSE
      RAISE EXCEPTION 'unknown tenant strategy "%"', strategy USING ERRCODE = '22023',
        HINT = 'backend_framework.tenant_strategies lists header, path, subdomain and domain.';
    END CASE;
    CONTINUE WHEN key IS NULL;
    SELECT f.id, f.slug INTO found_id, found_slug FROM tenancy._find_tenant(key, by_id) f;
    IF r.tenant_id IS NULL THEN
      r.tenant_id := found_id; r.slug := found_slug; r.strategy := strategy;
    END IF;
    IF r.tenant_id = found_id THEN
      r.by_host := r.by_host OR strategy IN ('subdomain', 'domain');
    ELSIF r.tenant_id <> found_id THEN
      RAISE EXCEPTION 'conflicting tenant identification' USING ERRCODE = '22023',
        DETAIL = format('The %s and the %s name different tenants.', r.strategy, strategy);
    END IF;
  END LOOP;
  PERFORM tenancy._set_context(r.tenant_id, NULL, NULL, NULL, NULL);
  RETURN r;
END $$;
COMMENT ON FUNCTION tenancy.resolve_tenant(text, text, jsonb) IS 'Tenant of a request by X-Tenant header (slug or id), /t/{slug}/ path, subdomain of backend_framework.base_domain or approved custom domain (hosts of backend_framework.public_urls name none), as backend_framework.tenant_strategies lists; sets the tenant context (no user). P0002 unknown, TB003 suspended, 22023 conflicting.';
REVOKE ALL ON FUNCTION tenancy.resolve_tenant(text, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.resolve_tenant(text, text, jsonb) TO backend_gateway, backend_admin;

-- Platform operators (pgAdmin, psql) work inside one tenant as its owner.
CREATE FUNCTION tenancy.enter_tenant(slug_or_id text) RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE t uuid;
BEGIN
  IF slug_or_id ~* (tenancy.patterns()).uuid THEN
    SELECT id INTO t FROM tenancy.tenants WHERE id = slug_or_id::uuid;
  ELSE
    SELECT id INTO t FROM tenancy.tenants WHERE slug = lower(slug_or_id);
  END IF;
  IF t IS NULL THEN
    RAISE EXCEPTION 'tenant not found' USING ERRCODE = 'P0002';
  END IF;
  PERFORM tenancy._set_context(t, NULL, 'owner', oauth._scope_text(oauth.api_scopes()), NULL);
  RETURN t;
END $$;
COMMENT ON FUNCTION tenancy.enter_tenant(text) IS 'backend_admin only: act as an owner of the tenant (slug or id) for the rest of the transaction.';
REVOKE ALL ON FUNCTION tenancy.enter_tenant(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.enter_tenant(text) TO backend_admin;

-- The request path resolves tenants in C (extension/src/tenant.c) with a
-- per-backend cache; any change of the table drops it in every backend (a
-- relcache invalidation, sent at commit). ALWAYS: also under
-- session_replication_role = replica (restores).
CREATE FUNCTION tenancy._tenants_changed() RETURNS trigger
  LANGUAGE c AS 'MODULE_PATHNAME', 'bf_tenants_changed';
COMMENT ON FUNCTION tenancy._tenants_changed() IS 'Trigger: invalidates the tenant cache of every backend when tenancy.tenants changes.';
REVOKE ALL ON FUNCTION tenancy._tenants_changed() FROM PUBLIC;
CREATE TRIGGER tenants_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tenancy.tenants
  FOR EACH STATEMENT EXECUTE FUNCTION tenancy._tenants_changed();
ALTER TABLE tenancy.tenants ENABLE ALWAYS TRIGGER tenants_changed;
