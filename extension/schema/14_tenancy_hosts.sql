-- 14_tenancy_hosts.sql — the hosts the deployment answers for: its public
-- base URLs (backend_framework.public_urls), subdomains of
-- backend_framework.base_domain, and custom domains of tenants, which take
-- effect only once a platform operator approved them. The platform's own
-- hosts can never be a tenant's custom domain.

-- The port of an http or https URL that names none.
CREATE FUNCTION tenancy._default_port(scheme text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE scheme WHEN 'https' THEN 443 ELSE 80 END
$$;
COMMENT ON FUNCTION tenancy._default_port(text) IS 'Internal: 443 for https, else 80.';

-- scheme://host[:port], the port left out when it is the scheme's default.
CREATE FUNCTION tenancy._origin(scheme text, host text, port integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT scheme || '://' || host || CASE WHEN port IS NULL OR port = tenancy._default_port(scheme) THEN '' ELSE ':' || port END
$$;
COMMENT ON FUNCTION tenancy._origin(text, text, integer) IS 'Internal: scheme://host[:port] without the scheme''s default port.';

-- The configured public base URLs, in order (the first is the canonical one).
-- The setting's check hook already refused malformed entries.
CREATE FUNCTION tenancy.public_urls(OUT ord integer, OUT url text, OUT scheme text, OUT host text, OUT port integer)
RETURNS SETOF record
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT e.ord::integer, tenancy._origin(m[1], m[2], p.port), m[1], m[2], p.port
    FROM unnest(string_to_array(current_setting('backend_framework.public_urls'), ',')) WITH ORDINALITY e(v, ord),
         LATERAL regexp_match(lower(btrim(e.v)), '^(https?)://([a-z0-9.-]+|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?/?$') m,
         LATERAL (SELECT coalesce(m[3]::integer, tenancy._default_port(m[1])) AS port) p
   WHERE m IS NOT NULL
   ORDER BY e.ord
$$;
COMMENT ON FUNCTION tenancy.public_urls() IS 'backend_framework.public_urls parsed: position, normalised URL (lower case, no default port, no trailing slash), scheme, host, port (default port filled in).';

-- p_host: lower case, without a port.
CREATE FUNCTION tenancy.is_platform_host(p_host text) RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  base text := lower(current_setting('backend_framework.base_domain'));
  h text := lower(btrim(p_host, ' .'));
BEGIN
  RETURN (base <> '' AND (h = base OR right(h, length(base) + 1) = '.' || base))
      OR EXISTS (SELECT 1 FROM tenancy.public_urls() u WHERE u.host = h);
END $$;
COMMENT ON FUNCTION tenancy.is_platform_host(text) IS 'True for the platform''s own hosts: base_domain, its subdomains, and the hosts of backend_framework.public_urls. They never identify a tenant by custom domain.';

-- Whatever path a change takes (tenancy.update_tenant, the API, a plain
-- UPDATE by an application): a new custom domain is pending, and never one
-- of the platform's hosts. Only tenancy.approve_custom_domain approves; the
-- status column is granted to no role.
CREATE FUNCTION tenancy._custom_domain_pending() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF TG_OP = 'INSERT' OR NEW.custom_domain IS DISTINCT FROM OLD.custom_domain THEN
    IF NEW.custom_domain IS NOT NULL AND tenancy.is_platform_host(NEW.custom_domain) THEN
      RAISE EXCEPTION 'custom domain "%" is a host of the platform', NEW.custom_domain USING ERRCODE = '22023',
        DETAIL = 'The base domain, its subdomains and the public URLs of the deployment cannot be a tenant''s custom domain.';
    END IF;
    NEW.custom_domain_status := CASE WHEN NEW.custom_domain IS NOT NULL THEN 'pending' END;
  END IF;
  RETURN NEW;
END $$;
COMMENT ON FUNCTION tenancy._custom_domain_pending() IS 'Trigger: a new or changed custom domain is pending until approved; the platform''s own hosts are refused (22023).';
REVOKE ALL ON FUNCTION tenancy._custom_domain_pending() FROM PUBLIC;
CREATE TRIGGER tenants_custom_domain BEFORE INSERT OR UPDATE OF custom_domain ON tenancy.tenants
  FOR EACH ROW EXECUTE FUNCTION tenancy._custom_domain_pending();

-- The tenant of an operator's decision, by slug or id, locked. p_domain
-- repeats what the operator reviewed: if the tenant changed its domain
-- meanwhile, nothing is decided.
CREATE FUNCTION tenancy._tenant_for_domain_change(p_tenant text, p_domain text) RETURNS tenancy.tenants
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t tenancy.tenants;
  dom text := lower(btrim(p_domain));
BEGIN
  IF p_tenant ~* (tenancy.patterns()).uuid THEN
    SELECT * INTO t FROM tenancy.tenants WHERE id = p_tenant::uuid FOR UPDATE;
  ELSE
    SELECT * INTO t FROM tenancy.tenants WHERE slug = lower(p_tenant) FOR UPDATE;
  END IF;
  IF t.id IS NULL THEN
    RAISE EXCEPTION 'tenant not found' USING ERRCODE = 'P0002';
  END IF;
  IF t.custom_domain IS DISTINCT FROM dom THEN
    RAISE EXCEPTION 'tenant "%" does not ask for custom domain "%"', t.slug, dom USING ERRCODE = '22023',
      DETAIL = coalesce('It asks for "' || t.custom_domain || '".', 'It has no custom domain.');
  END IF;
  RETURN t;
END $$;
COMMENT ON FUNCTION tenancy._tenant_for_domain_change(text, text) IS 'Internal: the tenant (slug or id) locked for an operator''s custom-domain decision; P0002 when unknown, 22023 when it asks for another domain than the one reviewed.';
REVOKE ALL ON FUNCTION tenancy._tenant_for_domain_change(text, text) FROM PUBLIC;

CREATE FUNCTION tenancy.approve_custom_domain(p_tenant text, p_domain text) RETURNS tenancy.tenants
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE t tenancy.tenants := tenancy._tenant_for_domain_change(p_tenant, p_domain);
BEGIN
  IF tenancy.is_platform_host(t.custom_domain) THEN
    RAISE EXCEPTION 'custom domain "%" is a host of the platform', t.custom_domain USING ERRCODE = '22023';
  END IF;
  UPDATE tenancy.tenants SET custom_domain_status = 'approved' WHERE id = t.id RETURNING * INTO t;
  RETURN t;
EXCEPTION WHEN unique_violation THEN
  RAISE EXCEPTION 'custom domain "%" is already approved for another tenant', lower(btrim(p_domain)) USING ERRCODE = '23505';
END $$;
COMMENT ON FUNCTION tenancy.approve_custom_domain(text, text) IS 'backend_admin only: approves the custom domain a tenant (slug or id) asks for, which from then on identifies it. 22023 when the tenant asks for another domain or the domain is a platform host, 23505 when another tenant has it approved.';
REVOKE ALL ON FUNCTION tenancy.approve_custom_domain(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.approve_custom_domain(text, text) TO backend_admin;

CREATE FUNCTION tenancy.reject_custom_domain(p_tenant text, p_domain text) RETURNS tenancy.tenants
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE t tenancy.tenants := tenancy._tenant_for_domain_change(p_tenant, p_domain);
BEGIN
  UPDATE tenancy.tenants SET custom_domain = NULL WHERE id = t.id RETURNING * INTO t;
  RETURN t;
END $$;
COMMENT ON FUNCTION tenancy.reject_custom_domain(text, text) IS 'backend_admin only: refuses a pending custom domain or withdraws an approved one (the tenant''s custom domain is cleared). 22023 when the tenant has another domain.';
REVOKE ALL ON FUNCTION tenancy.reject_custom_domain(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.reject_custom_domain(text, text) TO backend_admin;
