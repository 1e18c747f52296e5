/*
 * context.c — readers of the request context: tenancy.current_tenant_id(),
 * current_user_id(), current_user_role(), current_client_id(), has_scope(),
 * and the one "admin or owner" rule: is_admin_role(), is_tenant_admin(),
 * acts_as_admin() (C, because every row-level policy that lets admins in
 * asks it on every query, and the bearer check asks it too).
 *
 * They are STABLE and fail closed: an unset setting reads as NULL (or false
 * for has_scope), so a policy `tenant_id = (SELECT current_tenant_id())`
 * matches no row when no context is set.
 */
#include "postgres.h"

#include "fmgr.h"
#include "backend_framework.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/uuid.h"

/* A context setting's value, NULL when unset or empty. */
const char *
bf_setting(const char *name)
{
	const char *v = GetConfigOption(name, true, false);

	return (v == NULL || v[0] == '\0') ? NULL : v;
}

static Datum
uuid_setting(FunctionCallInfo fcinfo, const char *name)
{
	const char *v = bf_setting(name);

	if (v == NULL)
		PG_RETURN_NULL();
	return DirectFunctionCall1(uuid_in, CStringGetDatum(v));
}

static Datum
text_setting(FunctionCallInfo fcinfo, const char *name)
{
	const char *v = bf_setting(name);

	if (v == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(v));
}

PG_FUNCTION_INFO_V1(bf_current_tenant_id);
Datum
bf_current_tenant_id(PG_FUNCTION_ARGS)
{
	return uuid_setting(fcinfo, "backend_framework.tenant_id");
}

PG_FUNCTION_INFO_V1(bf_current_user_id);
Datum
bf_current_user_id(PG_FUNCTION_ARGS)
{
	return uuid_setting(fcinfo, "backend_framework.user_id");
}

PG_FUNCTION_INFO_V1(bf_current_user_role);
Datum
bf_current_user_role(PG_FUNCTION_ARGS)
{
	return text_setting(fcinfo, "backend_framework.user_role");
}

PG_FUNCTION_INFO_V1(bf_current_client_id);
Datum
bf_current_client_id(PG_FUNCTION_ARGS)
{
	return text_setting(fcinfo, "backend_framework.client_id");
}

/* True when `scope` is one of the space-separated granted scopes. */
PG_FUNCTION_INFO_V1(bf_has_scope);
Datum
bf_has_scope(PG_FUNCTION_ARGS)
{
	const char *granted = bf_setting("backend_framework.scopes");
	text	   *want_t;
	const char *want;
	size_t		wlen;
	const char *p;

	if (granted == NULL || PG_ARGISNULL(0))
		PG_RETURN_BOOL(false);
	want_t = PG_GETARG_TEXT_PP(0);
	want = VARDATA_ANY(want_t);
	wlen = VARSIZE_ANY_EXHDR(want_t);
	if (wlen == 0)
		PG_RETURN_BOOL(false);
	for (p = granted; *p;)
	{
		const char *end = strchr(p, ' ');
		size_t		len = end ? (size_t) (end - p) : strlen(p);

		if (len == wlen && memcmp(p, want, wlen) == 0)
			PG_RETURN_BOOL(true);
		if (!end)
			break;
		p = end + 1;
	}
	PG_RETURN_BOOL(false);
}

/* "Admin or owner": the roles that administer a tenant. The one statement of it. */
bool
bf_role_is_admin(const char *role)
{
	return role != NULL && (strcmp(role, "admin") == 0 || strcmp(role, "owner") == 0);
}

PG_FUNCTION_INFO_V1(bf_is_admin_role);
Datum
bf_is_admin_role(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(!PG_ARGISNULL(0) && bf_role_is_admin(TextDatumGetCString(PG_GETARG_DATUM(0))));
}

PG_FUNCTION_INFO_V1(bf_is_tenant_admin);
Datum
bf_is_tenant_admin(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(bf_role_is_admin(bf_setting("backend_framework.user_role")));
}

/* A tenant, an admin or owner, and a grant of the admin scope. */
PG_FUNCTION_INFO_V1(bf_acts_as_admin);
Datum
bf_acts_as_admin(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(bf_setting("backend_framework.tenant_id") != NULL &&
				   bf_role_is_admin(bf_setting("backend_framework.user_role")) &&
				   DatumGetBool(DirectFunctionCall1(bf_has_scope, CStringGetTextDatum("admin"))));
}

/* Called first by every context setter: errors (from _PG_init) unless preloaded. */
PG_FUNCTION_INFO_V1(bf_assert_loaded);
Datum
bf_assert_loaded(PG_FUNCTION_ARGS)
{
	PG_RETURN_VOID();
}
