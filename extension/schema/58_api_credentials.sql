-- 58_api_credentials.sql — HTTP handlers for credentials: PATCH /api/v1/me
-- (the user's own name, e-mail and password; the current password is
-- required for e-mail and password), POST /api/v1/users/{id}/reset-password
-- (admins) and POST /api/v1/password-reset (anonymous redemption of a reset
-- secret). The rules live in tenancy.change_credentials and friends.

CREATE FUNCTION api.h_me_update(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  doc jsonb := api.json_body(r);
  uid uuid;
  pw text;
  em text;
  c record;
  u tenancy.user_info;
BEGIN
  PERFORM api.only_fields(doc, '{display_name,email,password,current_password}');
  uid := api.require_user();
  pw := api.text_field(doc, 'password');
  em := api.text_field(doc, 'email');
  IF pw IS NOT NULL OR em IS NOT NULL THEN
    SELECT * INTO c FROM tenancy.change_credentials(api.text_field(doc, 'current_password', true), pw, em, r.client_addr);
    IF c.retry_after > 0 THEN
      RETURN api.error(429, 'too_many_attempts', 'Too many wrong passwords; try again later.',
                       jsonb_build_object('Retry-After', c.retry_after::text));
    END IF;
    IF NOT c.changed THEN
      -- Returned, not raised: the failure must be committed to count.
      RETURN api.error(403, 'invalid_password', 'The current password is wrong.');
    END IF;
  END IF;
  IF doc ? 'display_name' THEN
    PERFORM tenancy.update_user(uid, coalesce(api.text_field(doc, 'display_name'), ''));
  END IF;
  SELECT * INTO u FROM tenancy.user_info x WHERE x.tenant_id = tenancy.current_tenant_id() AND x.id = uid;
  RETURN api.json(200, api.user_json(u));
END $$;
COMMENT ON FUNCTION api.h_me_update(api.request) IS 'PATCH /api/v1/me: display_name; email and password need current_password (403 invalid_password when wrong, 429 when throttled). A new password signs the user out everywhere.';

CREATE FUNCTION api.h_user_reset(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE rid uuid;
BEGIN
  PERFORM api.require_admin();
  rid := tenancy.reset_password(api.uuid_param(r, 'user'));
  RETURN api.json(202, jsonb_build_object('id', r.id, 'password_reset', 'pending_delivery', 'reset_id', rid));
END $$;
COMMENT ON FUNCTION api.h_user_reset(api.request) IS 'POST /api/v1/users/{id}/reset-password (admins; an owner: owners): the password stops working, the user is signed out, a one-time secret goes to the user by the platform''s mail sender. 202.';

CREATE FUNCTION api.h_password_reset(r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE doc jsonb := api.json_body(r);
BEGIN
  PERFORM api.only_fields(doc, '{token,password}');
  PERFORM tenancy.redeem_password_reset(api.text_field(doc, 'token', true), api.text_field(doc, 'password', true));
  RETURN api.no_content('{"Cache-Control": "no-store"}');
END $$;
COMMENT ON FUNCTION api.h_password_reset(api.request) IS 'POST /api/v1/password-reset (anonymous): {"token", "password"} sets a new password with a reset secret; 204, or 400.';
