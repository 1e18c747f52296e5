-- 57_api_dispatch.sql — api.dispatch: a route's handler name → its function.
-- A static CASE (not dynamic SQL) keeps every call a cached plan.

CREATE FUNCTION api.dispatch(p_handler text, r api.request) RETURNS api.response
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  RETURN CASE p_handler
    WHEN 'me'             THEN api.h_me(r)
    WHEN 'token'          THEN api.h_token(r)
    WHEN 'introspect'     THEN api.h_introspect(r)
    WHEN 'health'         THEN api.h_health(r)
    WHEN 'ping'           THEN api.h_ping(r)
    WHEN 'status'         THEN api.h_status(r)
    WHEN 'signup_policy'  THEN api.h_signup_policy(r)
    WHEN 'openapi'        THEN api.h_openapi(r)
    WHEN 'tenant_create'  THEN api.h_tenant_create(r)
    WHEN 'tenant_get'     THEN api.h_tenant_get(r)
    WHEN 'tenant_update'  THEN api.h_tenant_update(r)
    WHEN 'tenant_delete'  THEN api.h_tenant_delete(r)
    WHEN 'tenant_stats'   THEN api.h_tenant_stats(r)
    WHEN 'settings_get'   THEN api.h_settings_get(r)
    WHEN 'settings_put'   THEN api.h_settings_put(r)
    WHEN 'users_list'     THEN api.h_users_list(r)
    WHEN 'user_create'    THEN api.h_user_create(r)
    WHEN 'user_get'       THEN api.h_user_get(r)
    WHEN 'user_update'    THEN api.h_user_update(r)
    WHEN 'user_delete'    THEN api.h_user_delete(r)
    WHEN 'user_reset'     THEN api.h_user_reset(r)
    WHEN 'me_update'      THEN api.h_me_update(r)
    WHEN 'password_reset' THEN api.h_password_reset(r)
    WHEN 'clients_list'   THEN api.h_clients_list(r)
    WHEN 'client_create'  THEN api.h_client_create(r)
    WHEN 'client_get'     THEN api.h_client_get(r)
    WHEN 'client_rotate'  THEN api.h_client_rotate(r)
    WHEN 'client_update'  THEN api.h_client_update(r)
    WHEN 'client_delete'  THEN api.h_client_delete(r)
    WHEN 'notes_list'     THEN api.h_notes_list(r)
    WHEN 'note_create'    THEN api.h_note_create(r)
    WHEN 'note_get'       THEN api.h_note_get(r)
    WHEN 'note_update'    THEN api.h_note_update(r)
    WHEN 'note_delete'    THEN api.h_note_delete(r)
    WHEN 'revoke'         THEN api.h_revoke(r)
    WHEN 'register'       THEN api.h_register(r)
    WHEN 'userinfo'       THEN api.h_userinfo(r)
    WHEN 'metadata'       THEN api.h_metadata(r)
    WHEN 'authorize'      THEN api.h_authorize(r)
    ELSE api.error(500, 'server_error', 'No handler for ' || p_handler || '.')
  END;
END $$;
COMMENT ON FUNCTION api.dispatch(text, api.request) IS 'Calls the handler of a route (the handler column of api.routes).';
