/*
 * token.c — the bearer token check of the request path, in C, for opaque
 * access tokens (bfat_ + 43 base64url characters).
 *
 * The fast equivalent of api.authenticate → tenancy.authenticate
 * (35_oauth_authenticate.sql), which stays the one token check for SQL
 * callers and for every other token form (bf_token_check returns false and
 * request.c calls the SQL function): SHA-256 of the token, then one
 * prepared lookup on oauth.tokens by digest (its hash index), run as
 * backend_definer the way SECURITY DEFINER switches user. The same refusals
 * with the same SQLSTATEs, messages and details, in the same order, and the
 * same context, set with SET LOCAL semantics on the superuser-only
 * backend_framework.* settings (set_config_option, PGC_SUSET,
 * GUC_ACTION_LOCAL), so it is undone with the transaction or subtransaction.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"

#include "backend_framework.h"

extern Datum oauth_token_digest(PG_FUNCTION_ARGS);

static SPIPlanPtr token_plan = NULL;

/*
 * The opaque access token of an Authorization header value, or NULL when the
 * value is anything else (left to the SQL check, which knows every form).
 * The accepted shape is a subset of api.bearer_token's pattern.
 */
static char *
opaque_token(const char *h)
{
	const char *p = h;
	const char *t;
	int			i;

	if (pg_strncasecmp(p, "bearer", 6) != 0 || p[6] != ' ')
		return NULL;
	p += 6;
	while (*p == ' ')
		p++;
	t = p;
	if (strncmp(t, "bfat_", 5) != 0)
		return NULL;
	for (i = 5; i < 48; i++)
		if (!(isalnum((unsigned char) t[i]) || t[i] == '_' || t[i] == '-'))
			return NULL;
	for (p = t + 48; *p == ' '; p++)
		;
	if (*p != '\0')
		return NULL;
	return pnstrdup(t, 48);
}

void
bf_set_local(const char *name, const char *value)
{
	const char *cur = GetConfigOption(name, true, false);

	if (cur != NULL && strcmp(cur, value) == 0)
		return;
	(void) set_config_option(name, value, PGC_SUSET, PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0, false);
}

/* The granted scopes without "admin", split and joined on single spaces as array_remove does. */
static char *
drop_admin(const char *scope)
{
	StringInfoData s;
	const char *p = scope;
	bool		first = true;

	initStringInfo(&s);
	for (;;)
	{
		const char *e = strchr(p, ' ');
		size_t		len = e ? (size_t) (e - p) : strlen(p);

		if (!(len == 5 && strncmp(p, "admin", 5) == 0))
		{
			if (!first)
				appendStringInfoChar(&s, ' ');
			appendBinaryStringInfo(&s, p, len);
			first = false;
		}
		if (!e)
			break;
		p = e + 1;
	}
	return s.data;
}

static void
refuse(const char *msg, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
			 errmsg("%s", msg),
			 detail ? errdetail("%s", detail) : 0));
}

/*
 * Checks the request's bearer token when it is an opaque access token in an
 * Authorization header and sets the context; returns false, having done
 * nothing, for anything else (no header, another form, a query string with
 * access_token): the caller then runs the SQL check.
 */
bool
bf_token_check(Datum headers, Datum query)
{
	Jsonb	   *q = DatumGetJsonbP(query);
	Jsonb	   *hj = DatumGetJsonbP(headers);
	JsonbValue	v;
	char	   *token;
	Datum		digest;
	const char *ctx;
	Oid			save_user;
	int			save_sec;
	int			pick = -1;
	uint64		i;
	bool		isnull;

	if (JB_ROOT_IS_OBJECT(q) &&
		getKeyJsonValueFromContainer(&q->root, "access_token", 12, &v) != NULL)
		return false;
	if (!JB_ROOT_IS_OBJECT(hj) ||
		getKeyJsonValueFromContainer(&hj->root, "authorization", 13, &v) == NULL ||
		v.type != jbvString)
		return false;
	token = opaque_token(pnstrdup(v.val.string.val, v.val.string.len));
	if (token == NULL)
		return false;
	digest = DirectFunctionCall1(oauth_token_digest, CStringGetTextDatum(token));
	ctx = GetConfigOption("backend_framework.tenant_id", true, false);
	if (ctx != NULL && ctx[0] == '\0')
		ctx = NULL;

	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(bf_definer_oid(), save_sec | SECURITY_LOCAL_USERID_CHANGE);
	PG_TRY();
	{
		TupleDesc	td;
		HeapTuple	row;
		char	   *tenant,
				   *client,
				   *user,
				   *scope,
				   *role,
				   *user_status,
				   *tenant_status;

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		{
			Oid			types[1] = {BYTEAOID};

			bf_kept_plan(&token_plan,
							 "SELECT x.tenant_id::pg_catalog.text, x.client_id, x.user_id::pg_catalog.text, x.scope, "
							 "x.revoked_at IS NOT NULL, x.expires_at OPERATOR(pg_catalog.<=) pg_catalog.now(), "
							 "u.role, u.status, n.status, x.audience IS NOT NULL "
							 "FROM oauth.tokens x "
							 "JOIN tenancy.tenants n ON n.id OPERATOR(pg_catalog.=) x.tenant_id "
							 "LEFT JOIN tenancy.users u ON u.tenant_id OPERATOR(pg_catalog.=) x.tenant_id "
							 " AND u.id OPERATOR(pg_catalog.=) x.user_id "
							 "WHERE x.token_hash OPERATOR(pg_catalog.=) $1 "
							 "AND x.kind OPERATOR(pg_catalog.=) 'access'",
						 1, types);
		}
		if (SPI_execute_plan(token_plan, &digest, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "reading oauth.tokens failed");
		td = SPI_tuptable->tupdesc;
		/* With a tenant chosen by the request, only its own token will do. */
		for (i = 0; i < SPI_processed && pick < 0; i++)
			if (ctx == NULL || strcmp(SPI_getvalue(SPI_tuptable->vals[i], td, 1), ctx) == 0)
				pick = (int) i;
		if (pick < 0)
		{
			if (ctx != NULL && SPI_processed > 0)
				refuse("access token belongs to another tenant",
					   "Use a token issued by this tenant's authorization server.");
			refuse("invalid access token", "The token is unknown.");
		}
		row = SPI_tuptable->vals[pick];
		if (DatumGetBool(SPI_getbinval(row, td, 5, &isnull)))
			refuse("access token revoked", "Sign in again to get a new one.");
		if (DatumGetBool(SPI_getbinval(row, td, 6, &isnull)))
			refuse("access token expired", "Use the refresh token, or sign in again.");
		/* RFC 8707: a token for another resource server is not for this API. */
		if (DatumGetBool(SPI_getbinval(row, td, 10, &isnull)))
			refuse("access token is for another resource",
				   "Its audience is not this tenant's API; ask for a token without resource, or with the issuer as resource.");
		tenant = SPI_getvalue(row, td, 1);
		client = SPI_getvalue(row, td, 2);
		user = SPI_getvalue(row, td, 3);
		scope = SPI_getvalue(row, td, 4);
		role = SPI_getvalue(row, td, 7);
		user_status = SPI_getvalue(row, td, 8);
		tenant_status = SPI_getvalue(row, td, 9);
		if (strcmp(tenant_status, "active") != 0)
			ereport(ERROR,
					(errcode(BF_ERRCODE_SUSPENDED),
					 errmsg("tenant suspended"),
					 errdetail("This tenant is suspended; contact the platform operator.")));
		if (user != NULL && (user_status == NULL || strcmp(user_status, "active") != 0))
			refuse("the user of this access token is disabled", NULL);
		/* Scopes as granted, within what the user's role allows now. */
		if (user != NULL && !(role && (strcmp(role, "admin") == 0 || strcmp(role, "owner") == 0)))
			scope = drop_admin(scope);
		/* SET LOCAL of the whole context, as tenancy._set_context. */
		bf_set_local("backend_framework.tenant_id", tenant);
		bf_set_local("backend_framework.user_id", user ? user : "");
		bf_set_local("backend_framework.user_role", role ? role : "");
		bf_set_local("backend_framework.scopes", scope ? scope : "");
		bf_set_local("backend_framework.client_id", client ? client : "");
		SPI_finish();
	}
	PG_CATCH();
	{
		SetUserIdAndSecContext(save_user, save_sec);
		PG_RE_THROW();
	}
	PG_END_TRY();
	SetUserIdAndSecContext(save_user, save_sec);
	return true;
}
