-- 53_api_handlers.sql — route handlers of /health and /api/v1 (meta,
-- tenants, users, me). Each is a function (api.request) RETURNS api.response
-- named in api.routes.handler. Handlers run as the gateway's role with the request's
-- context, so row-level security decides what they see.

CREATE FUNCTION api.uuid_param(r api.request, what text) RETURNS uuid
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF r.id ~* (tenancy.patterns()).uuid THEN
    RETURN r.id::uuid;
  END IF;
  RAISE EXCEPTION '% not found', what USING ERRCODE = 'P0002';
END $$;
COMMENT ON FUNCTION api.uuid_param(api.request, text) IS 'The {id} path parameter as a uuid; 404 when it is not one.';

-- The {id} of /api/v1/tenants/{id}/... must be the request's own tenant.
CREATE FUNCTION api.own_tenant(r api.request) RETURNS uuid
LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF api.uuid_param(r, 'tenant') IS DISTINCT FROM tenancy.current_tenant_id() THEN
    RAISE EXCEPTION 'tenant not found' USING ERRCODE = 'P0002';
  END IF;
  RETURN r.id::uuid;
END $$;
COMMENT ON FUNCTION api.own_tenant(api.request) IS 'The {id} of a tenant route when it is the current tenant; 404 otherwise.';

CREATE FUNCTION api.extension_version() RETURNS text
LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'bf_extension_version';
COMMENT ON FUNCTION api.extension_version() IS 'Installed version of backend_framework.';

-- What only platform operators see: the server's version and the number of
-- tenants. Over HTTP nobody is a platform operator, so /api/v1/status
-- shows neither; operators ask in SQL.
CREATE FUNCTION tenancy.platform_status() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF NOT tenancy.is_platform_admin() THEN
    RAISE EXCEPTION 'only platform operators see the platform status' USING ERRCODE = '42501';
  END IF;
  RETURN jsonb_build_object('version', api.extension_version(), 'server_version', current_setting('server_version'),
                            'tenant_count', (SELECT count(*) FROM tenancy.tenants),
                            'uptime_seconds', floor(extract(epoch FROM now() - pg_postmaster_start_time())));
END $$;
COMMENT ON FUNCTION tenancy.platform_status() IS 'backend_admin: extension and server versions, number of tenants, uptime.';
REVOKE ALL ON FUNCTION tenancy.platform_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.platform_status() TO backend_admin;

CREATE FUNCTION api.h_health(r api.request) RETURNS api.response
LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'bf_h_health';
COMMENT ON FUNCTION api.h_health(api.request) IS 'GET /health.';

CREATE FUNCTION api.h_ping(r api.request) RETURNS api.response
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN api.json(200, jsonb_build_object('pong', true, 'time', now()));
END $$;
COMMENT ON FUNCTION api.h_ping(api.request) IS 'GET /api/v1/ping.';

CREATE FUNCTION api.h_status(r api.request) RETURNS api.response
LANGUAGE sql STABLE AS $$
  SELECT api.json(200, jsonb_build_object('status', 'ok', 'version', api.extension_version()))
$$;
COMMENT ON FUNCTION api.h_status(api.request) IS 'GET /api/v1/status: the service answers, and its version (no server version or platform figures: tenancy.platform_status() in SQL).';

CREATE FUNCTION api.h_signup_policy(r api.request) RETURNS api.response
LANGUAGE sql STABLE AS $$
  SELECT api.json(200, tenancy.signup_policy())
$$;
COMMENT ON FUNCTION api.h_signup_policy(api.request) IS 'GET /api/v1/signup: how sign-up works here (open, invite or closed) and the plan new organizations get.';

CREATE FUNCTION api.h_tenant_get(r api.request) RETURNS api.response
LANGUAGE sql STABLE AS $$
  SELECT api.json(200, api.tenant_json(t)) FROM tenancy.tenants t WHERE t.id = api.own_tenant(r)
$$;
COMMENT ON FUNCTION api.h_tenant_get(api.request) IS 'GET /api/v1/tenants/{id}.';

CREATE FUNCTION api.h_tenant_update(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  doc jsonb := api.json_body(r);
  t tenancy.tenants;
BEGIN
  PERFORM api.only_fields(doc, '{name,custom_domain}');
  PERFORM api.require_admin();
  SELECT * INTO t FROM tenancy.update_tenant(api.own_tenant(r), api.text_field(doc, 'name'),
    CASE WHEN doc ? 'custom_domain' THEN coalesce(api.text_field(doc, 'custom_domain'), '') END);
  RETURN api.json(200, api.tenant_json(t));
END $$;
COMMENT ON FUNCTION api.h_tenant_update(api.request) IS 'PATCH /api/v1/tenants/{id}: name, custom_domain (null clears). The plan is for platform operators (SQL).';

CREATE FUNCTION api.h_tenant_delete(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM api.own_tenant(r);
  IF tenancy.current_user_role() IS DISTINCT FROM 'owner' THEN
    RAISE EXCEPTION 'only owners delete a tenant' USING ERRCODE = '42501';
  END IF;
  PERFORM tenancy.delete_tenant(r.id::uuid);
  RETURN api.no_content();
END $$;
COMMENT ON FUNCTION api.h_tenant_delete(api.request) IS 'DELETE /api/v1/tenants/{id} (owners).';

CREATE FUNCTION api.h_tenant_stats(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM api.require_admin();
  RETURN api.json(200, tenancy.tenant_stats(api.own_tenant(r)));
END $$;
COMMENT ON FUNCTION api.h_tenant_stats(api.request) IS 'GET /api/v1/tenants/{id}/stats (admins).';

CREATE FUNCTION api.h_settings_get(r api.request) RETURNS api.response
LANGUAGE plpgsql STABLE AS $$
BEGIN
  PERFORM api.own_tenant(r);
  PERFORM api.require_admin();
  RETURN api.json(200, tenancy.get_settings());
END $$;
COMMENT ON FUNCTION api.h_settings_get(api.request) IS 'GET /api/v1/tenants/{id}/settings (admins).';

-- PUT replaces: keys not in the body are removed.
CREATE FUNCTION api.h_settings_put(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  doc jsonb := api.json_body(r);
  cleared jsonb;
BEGIN
  PERFORM api.own_tenant(r);
  PERFORM api.require_admin();
  SELECT coalesce(jsonb_object_agg(k, 'null'::jsonb), '{}') INTO cleared
    FROM jsonb_object_keys(tenancy.get_settings()) k WHERE NOT doc ? k;
  RETURN api.json(200, tenancy.set_settings(cleared || doc));
END $$;
COMMENT ON FUNCTION api.h_settings_put(api.request) IS 'PUT /api/v1/tenants/{id}/settings: replaces the settings (admins).';

CREATE FUNCTION api.h_users_list(r api.request) RETURNS api.response
LANGUAGE plpgsql STABLE AS $$
DECLARE
  lim integer := api.page_limit(r);
  items jsonb[];
  keys text[];
BEGIN
  SELECT array_agg(api.user_json(u) ORDER BY lower(u.email)), array_agg(u.email ORDER BY lower(u.email))
    INTO items, keys FROM tenancy._users_after(api.cursor_decode(r.query->>'cursor'), lim + 1) u;
  RETURN api.page('users', items, keys, lim);
END $$;
COMMENT ON FUNCTION api.h_users_list(api.request) IS 'GET /api/v1/users?limit=&cursor= (admins: every user; users: themselves).';

CREATE FUNCTION api.h_user_create(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  doc jsonb := api.json_body(r);
  u tenancy.user_info;
BEGIN
  PERFORM api.only_fields(doc, '{email,password,role,display_name}');
  SELECT * INTO u FROM tenancy.create_user(api.text_field(doc, 'email', true), api.text_field(doc, 'password', true),
                                           coalesce(api.text_field(doc, 'role'), 'user'), api.text_field(doc, 'display_name'));
  RETURN api.json(201, api.user_json(u), jsonb_build_object('Location', r.issuer || '/api/v1/users/' || u.id));
END $$;
COMMENT ON FUNCTION api.h_user_create(api.request) IS 'POST /api/v1/users (admins).';

CREATE FUNCTION api.h_user_get(r api.request) RETURNS api.response
LANGUAGE plpgsql STABLE AS $$
DECLARE u tenancy.user_info;
BEGIN
  SELECT * INTO u FROM tenancy.user_info WHERE tenant_id = tenancy.current_tenant_id() AND id = api.uuid_param(r, 'user');
  IF NOT FOUND THEN RAISE EXCEPTION 'user not found' USING ERRCODE = 'P0002'; END IF;
  RETURN api.json(200, api.user_json(u));
END $$;
COMMENT ON FUNCTION api.h_user_get(api.request) IS 'GET /api/v1/users/{id} (yourself, or admins).';

CREATE FUNCTION api.h_user_update(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  doc jsonb := api.json_body(r);
  u tenancy.user_info;
BEGIN
  IF doc ? 'password' OR doc ? 'email' THEN
    RAISE EXCEPTION 'passwords and e-mail addresses are not changed here' USING ERRCODE = '42501',
      DETAIL = 'Change your own with PATCH /api/v1/me (with current_password); admins reset a user''s password with POST /api/v1/users/{id}/reset-password.';
  END IF;
  PERFORM api.only_fields(doc, '{display_name,role,status}');
  SELECT * INTO u FROM tenancy.update_user(api.uuid_param(r, 'user'),
    CASE WHEN doc ? 'display_name' THEN coalesce(api.text_field(doc, 'display_name'), '') END,
    api.text_field(doc, 'role'), api.text_field(doc, 'status'));
  RETURN api.json(200, api.user_json(u));
END $$;
COMMENT ON FUNCTION api.h_user_update(api.request) IS 'PATCH /api/v1/users/{id}: display_name (yourself or admins), role and status (admins). Never password or email (403).';

CREATE FUNCTION api.h_user_delete(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM tenancy.delete_user(api.uuid_param(r, 'user'));
  RETURN api.no_content();
END $$;
COMMENT ON FUNCTION api.h_user_delete(api.request) IS 'DELETE /api/v1/users/{id} (admins).';

-- In C (extension/src/handlers.c): one prepared read as the caller (RLS applies).
CREATE FUNCTION api.h_me(r api.request) RETURNS api.response
LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'bf_h_me';
COMMENT ON FUNCTION api.h_me(api.request) IS 'GET /api/v1/me: the token''s user (null for client credentials), tenant, role, scope and client.';

-- Registration is public (the sign-up page): a tenant, its first owner, and
-- the owner's first access token, so a script can go on at once.
CREATE FUNCTION api.h_tenant_create(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  doc jsonb := api.json_body(r);
  reg record;
  t tenancy.tenants;
  u tenancy.user_info;
  tok jsonb;
BEGIN
  PERFORM api.only_fields(doc, '{slug,name,owner_email,owner_password,plan,invitation}');
  SELECT * INTO reg FROM tenancy.register_tenant(api.text_field(doc, 'slug', true), api.text_field(doc, 'name', true),
    api.text_field(doc, 'owner_email', true), api.text_field(doc, 'owner_password', true),
    api.text_field(doc, 'plan'), api.text_field(doc, 'invitation'));
  SELECT * INTO t FROM tenancy.tenants WHERE id = reg.tenant_id;
  SELECT * INTO u FROM tenancy.user_info WHERE tenant_id = reg.tenant_id AND id = reg.owner_id;
  tok := oauth.issue_first_token();
  RETURN api.json(201, jsonb_build_object('tenant', api.tenant_json(t), 'owner', api.user_json(u)) || tok,
                  jsonb_build_object('Location', r.base_url || '/t/' || t.slug || '/api/v1/tenants/' || t.id,
                                     'Cache-Control', 'no-store'));
END $$;
COMMENT ON FUNCTION api.h_tenant_create(api.request) IS 'POST /api/v1/tenants: sign-up (throttled per client address by api.handle_request; plan: the default; invitation when sign-up is by invitation); answers the tenant, its owner and the owner''s first access token.';
