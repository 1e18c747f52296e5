/*
 * token.c — the one access-token check: tenancy.authenticate(token) for SQL
 * callers, api.authenticate(request, required) and api.bearer_token(request)
 * for handlers, and the request path (request.c), all through
 * bf_authenticate_token.
 *
 * An access token is opaque (bfat_ + 43 base64url characters) or an RFC 9068
 * JWT this server issued; both are stored as SHA-256 digests, so one lookup
 * finds either and sees its revocation. The lookup reads oauth.tokens by its
 * digest index, then the user and the tenant by primary key, with direct
 * index scans under a fresh snapshot (what a READ COMMITTED statement would
 * see): no SQL, no plan, no role switch — this code reads only what it
 * needs, and row-level security has no say in a credential check (the
 * PL/pgSQL it replaces ran as a BYPASSRLS definer). The refusals are 28000
 * (TB003 for a suspended tenant), in a fixed order; the context is set with
 * SET LOCAL semantics on the superuser-only backend_framework.* settings
 * (set_config_option, PGC_SUSET, GUC_ACTION_LOCAL), so it is undone with the
 * transaction or subtransaction.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "backend_framework.h"

extern Datum oauth_token_digest(PG_FUNCTION_ARGS);

static void
refuse(const char *msg, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
			 errmsg("%s", msg),
			 detail ? errdetail("%s", detail) : 0));
}

/* bfat_ + 43 base64url characters, or a JWT (eyJ...; three base64url parts), at most 8 KiB. */
static bool
token_form_ok(const char *t)
{
	size_t		len = strlen(t);
	int			dots = 0;
	size_t		part = 0;

	if (len == 48 && strncmp(t, "bfat_", 5) == 0)
	{
		for (size_t i = 5; i < len; i++)
			if (!(isalnum((unsigned char) t[i]) || t[i] == '_' || t[i] == '-'))
				return false;
		return true;
	}
	if (len > 8192 || strncmp(t, "eyJ", 3) != 0)
		return false;
	for (size_t i = 0; i < len; i++)
	{
		if (t[i] == '.')
		{
			if (++dots > 2 || (dots == 2 && part == 0))
				return false;
			part = 0;
		}
		else if (isalnum((unsigned char) t[i]) || t[i] == '_' || t[i] == '-')
			part++;
		else
			return false;
	}
	/* Header part may be "eyJ" alone; payload and signature are non-empty. */
	return dots == 2 && part > 0;
}

void
bf_set_local(const char *name, const char *value)
{
	const char *cur = GetConfigOption(name, true, false);

	if (cur != NULL && strcmp(cur, value) == 0)
		return;
	(void) set_config_option(name, value, PGC_SUSET, PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0, false);
}

/* The granted scopes without "admin", split and joined on single spaces. */
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

/*
 * Checks an access token and sets the context (tenant, user, role, scopes,
 * client) for the rest of the transaction. When a tenant context is already
 * set, the token must be one of that tenant's.
 */
void
bf_authenticate_token(const char *token)
{
	const char *ctx = bf_setting("backend_framework.tenant_id");
	Datum		digest;
	Snapshot	snap;
	bf_scan		s;
	bool		found = false,
				other_tenant = false;
	Datum		tenant_id = (Datum) 0;
	char	   *tenant = NULL,
			   *client = NULL,
			   *user = NULL,
			   *scope = NULL,
			   *role = NULL,
			   *user_status = NULL,
			   *tenant_status = NULL;
	bool		revoked = false,
				expired = false,
				audience = false;

	if (token == NULL || !token_form_ok(token))
		refuse("invalid access token",
			   "An access token looks like bfat_ followed by 43 characters, or is a JWT; get one from the token endpoint.");
	bf_relations_load();
	digest = DirectFunctionCall1(oauth_token_digest, CStringGetTextDatum(token));
	snap = RegisterSnapshot(GetTransactionSnapshot());

	/* The token, by digest (any tenant's: a match elsewhere is its own refusal). */
	bf_scan_begin(&s, bf_rel.tokens, bf_rel.tokens_digest, snap, 1, (RegProcedure[]) {F_BYTEAEQ}, &digest);
	while (!found && bf_scan_next(&s))
	{
		char	   *kind = bf_slot_text(s.slot, bf_rel.tok[BF_TOK_KIND]);
		bool		isnull;
		Datum		t;

		if (strcmp(kind, "access") != 0)
			continue;
		t = slot_getattr(s.slot, bf_rel.tok[BF_TOK_TENANT], &isnull);
		tenant = DatumGetCString(DirectFunctionCall1(uuid_out, t));
		if (ctx != NULL && strcmp(tenant, ctx) != 0)
		{
			other_tenant = true;
			continue;
		}
		found = true;
		tenant_id = DirectFunctionCall1(uuid_in, CStringGetDatum(tenant));
		client = bf_slot_text(s.slot, bf_rel.tok[BF_TOK_CLIENT]);
		{
			Datum		u = slot_getattr(s.slot, bf_rel.tok[BF_TOK_USER], &isnull);

			user = isnull ? NULL : DatumGetCString(DirectFunctionCall1(uuid_out, u));
		}
		scope = bf_slot_text(s.slot, bf_rel.tok[BF_TOK_SCOPE]);
		(void) slot_getattr(s.slot, bf_rel.tok[BF_TOK_REVOKED], &isnull);
		revoked = !isnull;
		expired = DatumGetTimestampTz(slot_getattr(s.slot, bf_rel.tok[BF_TOK_EXPIRES], &isnull)) <=
			GetCurrentTransactionStartTimestamp();
		(void) slot_getattr(s.slot, bf_rel.tok[BF_TOK_AUDIENCE], &isnull);
		audience = !isnull;
	}
	bf_scan_end(&s);

	if (found)
	{
		/* The tenant's status, and the user's role and status, as they are now. */
		bf_scan_begin(&s, bf_rel.tenants, bf_rel.tenants_pkey, snap, 1, (RegProcedure[]) {F_UUID_EQ}, &tenant_id);
		if (bf_scan_next(&s))
			tenant_status = bf_slot_text(s.slot, bf_rel.tenant_status);
		bf_scan_end(&s);
		if (user != NULL)
		{
			Datum		keys[2] = {tenant_id, DirectFunctionCall1(uuid_in, CStringGetDatum(user))};

			bf_scan_begin(&s, bf_rel.users, bf_rel.users_pkey, snap, 2, (RegProcedure[]) {F_UUID_EQ, F_UUID_EQ}, keys);
			if (bf_scan_next(&s))
			{
				role = bf_slot_text(s.slot, bf_rel.user_role);
				user_status = bf_slot_text(s.slot, bf_rel.user_status);
			}
			bf_scan_end(&s);
		}
	}
	UnregisterSnapshot(snap);

	if (!found)
	{
		if (other_tenant)
			refuse("access token belongs to another tenant",
				   "Use a token issued by this tenant's authorization server.");
		refuse("invalid access token", "The token is unknown.");
	}
	if (tenant_status == NULL)
		refuse("invalid access token", "The token is unknown.");
	if (revoked)
		refuse("access token revoked", "Sign in again to get a new one.");
	if (expired)
		refuse("access token expired", "Use the refresh token, or sign in again.");
	/* RFC 8707: a token for another resource server is not for this API. */
	if (audience)
		refuse("access token is for another resource",
			   "Its audience is not this tenant's API; ask for a token without resource, or with the issuer as resource.");
	if (strcmp(tenant_status, "active") != 0)
		ereport(ERROR,
				(errcode(BF_ERRCODE_SUSPENDED),
				 errmsg("tenant suspended"),
				 errdetail("This tenant is suspended; contact the platform operator.")));
	if (user != NULL && (user_status == NULL || strcmp(user_status, "active") != 0))
		refuse("the user of this access token is disabled", NULL);
	/* Scopes as granted, within what the user's role allows now (a demoted admin loses admin at once). */
	if (user != NULL && !bf_role_is_admin(role))
		scope = drop_admin(scope);
	bf_set_local("backend_framework.tenant_id", tenant);
	bf_set_local("backend_framework.user_id", user ? user : "");
	bf_set_local("backend_framework.user_role", role ? role : "");
	bf_set_local("backend_framework.scopes", scope ? scope : "");
	bf_set_local("backend_framework.client_id", client ? client : "");
}

/*
 * The token of an Authorization: Bearer header value (RFC 6750 §2.1
 * b64token, scheme case-insensitive, spaces around), or NULL.
 */
static char *
bearer_token(const char *h)
{
	const char *p = h;
	const char *t;
	const char *e;

	if (h == NULL || pg_strncasecmp(p, "bearer", 6) != 0 || p[6] != ' ')
		return NULL;
	for (p += 6; *p == ' '; p++)
		;
	t = p;
	while (isalnum((unsigned char) *p) || (*p != '\0' && strchr("._~+/-", *p) != NULL))
		p++;
	if (p == t)
		return NULL;
	while (*p == '=')
		p++;
	e = p;
	while (*p == ' ')
		p++;
	if (*p != '\0')
		return NULL;
	return pnstrdup(t, e - t);
}

/*
 * Bearer authentication of a request (RFC 6750 §2.1: header only, a token in
 * the query string is refused). False when there is no Authorization header
 * and none is required; raises on any refusal.
 */
bool
bf_request_authenticate(Datum headers, Datum query, bool required)
{
	char	   *h;
	char	   *token;

	/* As the SQL reads it: r.query ? 'access_token' (form values are strings), r.headers->>'authorization'. */
	if (bf_json_text(query, "access_token", false) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("access tokens are not accepted in the query string"),
				 errdetail("Send Authorization: Bearer <token>.")));
	h = bf_json_text(headers, "authorization", false);
	if (h == NULL)
	{
		if (required)
			ereport(ERROR,
					(errcode(BF_ERRCODE_UNAUTHENTICATED),
					 errmsg("authentication required"),
					 errdetail("Send Authorization: Bearer <token>.")));
		return false;
	}
	token = bearer_token(h);
	if (token == NULL)
		refuse("malformed Authorization header", "Send Authorization: Bearer <token>.");
	bf_authenticate_token(token);
	return true;
}

/* SQL: tenancy.authenticate(access_token text). */
PG_FUNCTION_INFO_V1(bf_authenticate);
Datum
bf_authenticate(PG_FUNCTION_ARGS)
{
	bf_authenticate_token(PG_ARGISNULL(0) ? NULL : TextDatumGetCString(PG_GETARG_DATUM(0)));
	PG_RETURN_VOID();
}

/* The headers and query of an api.request. */
static void
request_parts(FunctionCallInfo fcinfo, Datum *headers, Datum *query)
{
	HeapTupleHeader r = PG_GETARG_HEAPTUPLEHEADER(0);
	bool		isnull;

	*headers = GetAttributeByName(r, "headers", &isnull);
	if (isnull)
		*headers = bf_headers_object(0, NULL);
	*query = GetAttributeByName(r, "query", &isnull);
	if (isnull)
		*query = bf_headers_object(0, NULL);
}

/* SQL: api.authenticate(r api.request, p_required boolean) → boolean. */
PG_FUNCTION_INFO_V1(bf_api_authenticate);
Datum
bf_api_authenticate(PG_FUNCTION_ARGS)
{
	Datum		headers,
				query;

	request_parts(fcinfo, &headers, &query);
	PG_RETURN_BOOL(bf_request_authenticate(headers, query, PG_ARGISNULL(1) ? false : PG_GETARG_BOOL(1)));
}

/* SQL: api.bearer_token(r api.request) → text, or NULL. */
PG_FUNCTION_INFO_V1(bf_api_bearer_token);
Datum
bf_api_bearer_token(PG_FUNCTION_ARGS)
{
	Datum		headers,
				query;
	char	   *t;

	request_parts(fcinfo, &headers, &query);
	t = bearer_token(bf_json_text(headers, "authorization", false));
	if (t == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(t));
}
