/*
 * token_endpoint.c — POST /oauth/token (RFC 6749) of the current tenant as a
 * decision (oauth.token_endpoint), its client_credentials grant, and the one
 * place that stores what a grant issues (oauth._issue), in C: client
 * credentials issuance is the busiest write a resource server's clients make.
 *
 * The dispatcher authenticates the client (client_auth.c), checks the grant
 * type and the resource (RFC 8707), then decides with the grant's function:
 * client_credentials here, the other grants in PL/pgSQL (32_oauth_tokens.sql),
 * called through fmgr. It runs as backend_definer (bf_run_as_definer), as the
 * SECURITY DEFINER function it replaces did; its SPI statements name every
 * schema and operator, so the caller's search_path changes nothing.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/regproc.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "backend_framework.h"
#include "primitives.h"

extern Datum oauth_random_token(PG_FUNCTION_ARGS);

/* SQL functions the dispatcher calls, looked up once per backend. */
enum
{
	F_PASSWORD, F_AUTH_CODE, F_REFRESH, F_RESOURCE_KNOWN, F_AUDIENCE, F_DEFAULT_ISSUER, F_TTL, F__N
};
static const char *const fn_names[F__N] = {
	"oauth._token_password(pg_catalog.uuid, oauth.client_authentication, pg_catalog.jsonb, pg_catalog.text, pg_catalog.text, pg_catalog.text)",
	"oauth._token_authorization_code(pg_catalog.uuid, oauth.client_authentication, pg_catalog.jsonb, pg_catalog.text, pg_catalog.text)",
	"oauth._token_refresh_token(pg_catalog.uuid, oauth.client_authentication, pg_catalog.jsonb, pg_catalog.text, pg_catalog.text)",
	"oauth._resource_known(pg_catalog.uuid, pg_catalog.text, pg_catalog.text)",
	"oauth._audience(pg_catalog.text, pg_catalog.text)",
	"oauth._default_issuer(pg_catalog.uuid)",
	"oauth._ttl(pg_catalog.text, pg_catalog.int4, pg_catalog.jsonb)",
};

/* Read once per backend, again after a change of pg_proc or pg_type. */
static MemoryContext cache_cxt = NULL;
static bool cache_valid = false;
static FmgrInfo fns[F__N];
static TupleDesc client_auth_desc;	/* oauth.client_authentication, blessed */

static SPIPlanPtr insert_plan = NULL;
static SPIPlanPtr format_plan = NULL;
static SPIPlanPtr jwt_plan = NULL;

static void
cache_cb(Datum arg, int cacheid, uint32 hashvalue)
{
	cache_valid = false;
}

static void
load_cache(void)
{
	MemoryContext old;
	Oid			typ;
	TupleDesc	td;
	int			i;

	if (cache_cxt == NULL)
	{
		CacheRegisterSyscacheCallback(PROCOID, cache_cb, (Datum) 0);
		CacheRegisterSyscacheCallback(TYPEOID, cache_cb, (Datum) 0);
	}
	old = MemoryContextSwitchTo(bf_cache_context(&cache_cxt, "backend_framework token endpoint"));
	for (i = 0; i < F__N; i++)
		fmgr_info_cxt(DatumGetObjectId(DirectFunctionCall1(regprocedurein, CStringGetDatum(fn_names[i]))),
					  &fns[i], cache_cxt);
	typ = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum("client_authentication"),
						  ObjectIdGetDatum(get_namespace_oid("oauth", false)));
	td = lookup_rowtype_tupdesc(typ, -1);
	client_auth_desc = BlessTupleDesc(CreateTupleDescCopy(td));
	ReleaseTupleDesc(td);
	MemoryContextSwitchTo(old);
	cache_valid = true;
}

/*
 * Calls fns[f] with n arguments (NULL where nulls[i]) as the executor would
 * (the default collation; a strict function answers NULL to a NULL
 * argument); *isnull gets the result's.
 */
static Datum
call(int f, int n, const Datum *args, const bool *nulls, bool *isnull)
{
	LOCAL_FCINFO(fc, 6);
	Datum		r;
	int			i;

	InitFunctionCallInfoData(*fc, &fns[f], n, DEFAULT_COLLATION_OID, NULL, NULL);
	for (i = 0; i < n; i++)
	{
		if (nulls[i] && fns[f].fn_strict)
		{
			*isnull = true;
			return (Datum) 0;
		}
		fc->args[i].value = args[i];
		fc->args[i].isnull = nulls[i];
	}
	r = FunctionCallInvoke(fc);
	*isnull = fc->isnull;
	return r;
}

static Datum
text_or_null(const char *s, bool *isnull)
{
	*isnull = s == NULL;
	return s ? CStringGetTextDatum(s) : (Datum) 0;
}

/* fns[f]'s text result, or NULL. */
static char *
call_text(int f, int n, const Datum *args, const bool *nulls)
{
	bool		isnull;
	Datum		d = call(f, n, args, nulls, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* ---------- oauth._issue: the tokens of a grant, stored as digests ---------- */

typedef struct issue_args
{
	Datum		tenant;
	const char *client;
	Datum		user;			/* uuid, or 0 for none */
	const char *scope;
	Datum		family;			/* uuid, or 0 */
	int32		access_ttl;
	bool		refresh;		/* also a refresh token */
	int32		refresh_ttl;
	const char *refresh_scope;	/* NULL: scope */
	const char *issuer;
	const char *audience;
	Datum		auth_time;		/* timestamptz, or 0 */
	bool		auth_time_null;
	Datum		family_expires; /* timestamptz, or 0 */
	bool		family_expires_null;
	const char *format;			/* NULL: the client's */
} issue_args;

/* oauth.token_digest of a token (ASCII: its UTF-8 bytes are its bytes). */
static bytea *
digest(const char *token)
{
	bytea	   *d = palloc(VARHDRSZ + BF_SHA256_LEN);

	SET_VARSIZE(d, VARHDRSZ + BF_SHA256_LEN);
	bf_sha256(token, strlen(token), (unsigned char *) VARDATA(d));
	return d;
}

/* SPI argument i: d, or NULL when isnull. */
static void
arg(Datum *v, char *n, int i, Datum d, bool isnull)
{
	v[i] = isnull ? (Datum) 0 : d;
	n[i] = isnull ? 'n' : ' ';
}

/* SPI argument i: the text s, or NULL. */
static void
text_arg(Datum *v, char *n, int i, const char *s)
{
	arg(v, n, i, s ? CStringGetTextDatum(s) : (Datum) 0, s == NULL);
}

/* Stores one token's digest (SPI connected). */
static void
store(const issue_args *a, const char *token, const char *kind, const char *scope,
	  TimestampTz expires, const char *kid)
{
	Oid			types[12] = {UUIDOID, BYTEAOID, TEXTOID, TEXTOID, UUIDOID, TEXTOID, UUIDOID,
	TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID, TIMESTAMPTZOID, TEXTOID};
	Datum		v[12];
	char		n[12];

	arg(v, n, 0, a->tenant, false);
	arg(v, n, 1, PointerGetDatum(digest(token)), false);
	text_arg(v, n, 2, kind);
	text_arg(v, n, 3, a->client);
	arg(v, n, 4, a->user, a->user == (Datum) 0);
	text_arg(v, n, 5, scope);
	arg(v, n, 6, a->family, a->family == (Datum) 0);
	arg(v, n, 7, TimestampTzGetDatum(expires), false);
	arg(v, n, 8, a->auth_time, a->auth_time_null);
	text_arg(v, n, 9, a->audience);
	arg(v, n, 10, a->family_expires, a->family_expires_null);
	text_arg(v, n, 11, kid);
	if (SPI_execute_plan(bf_kept_plan(&insert_plan,
									  "INSERT INTO oauth.tokens (tenant_id, token_hash, kind, client_id, user_id, scope, "
									  "family_id, expires_at, auth_time, audience, family_expires_at, kid) "
									  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
									  12, types),
						 v, n, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "storing a token failed");
}

/* The client's access_token_format (SPI connected). */
static char *
client_format(const issue_args *a)
{
	Oid			types[2] = {UUIDOID, TEXTOID};
	Datum		v[2] = {a->tenant, CStringGetTextDatum(a->client)};

	if (SPI_execute_plan(bf_kept_plan(&format_plan,
									  "SELECT c.access_token_format FROM oauth.clients c "
									  "WHERE c.tenant_id OPERATOR(pg_catalog.=) $1 "
									  "AND c.client_id OPERATOR(pg_catalog.=) $2",
									  2, types),
						 v, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading oauth.clients failed");
	return SPI_processed > 0 ? SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1) : NULL;
}

/* An RFC 9068 access token (oauth._access_jwt) and its kid (SPI connected). */
static char *
access_jwt(const issue_args *a, char **kid)
{
	Oid			types[8] = {UUIDOID, TEXTOID, UUIDOID, TEXTOID, INT4OID, TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		v[8];
	char		n[8];

	arg(v, n, 0, a->tenant, false);
	text_arg(v, n, 1, a->client);
	arg(v, n, 2, a->user, a->user == (Datum) 0);
	text_arg(v, n, 3, a->scope);
	arg(v, n, 4, Int32GetDatum(a->access_ttl), false);
	text_arg(v, n, 5, a->issuer);
	text_arg(v, n, 6, a->audience);
	arg(v, n, 7, a->auth_time, a->auth_time_null);
	if (SPI_execute_plan(bf_kept_plan(&jwt_plan,
									  "SELECT j.jwt, j.kid FROM oauth._access_jwt($1, $2, $3, $4, $5, $6, $7, $8) j",
									  8, types),
						 v, n, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "signing an access token failed");
	*kid = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

static char *
random_token(const char *kind)
{
	return TextDatumGetCString(DirectFunctionCall1(oauth_random_token, CStringGetTextDatum(kind)));
}

/*
 * Issues an access token and, when a->refresh, a refresh token of the same
 * family (SPI connected, strings in the current context); returns the RFC
 * 6749 section 5.1 body, built in the context out.
 */
static Datum
issue(const issue_args *a, MemoryContext out)
{
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	const char *format = a->format ? a->format : client_format(a);
	char	   *kid = NULL;
	char	   *at = format && strcmp(format, "jwt") == 0 ? access_jwt(a, &kid) : random_token("access");
	char	   *rt = a->refresh ? random_token("refresh") : NULL;
	JsonbParseState *st = NULL;
	MemoryContext old;
	Datum		body;

	store(a, at, "access", a->scope, now + (int64) a->access_ttl * USECS_PER_SEC, kid);
	if (rt)
	{
		TimestampTz exp = now + (int64) a->refresh_ttl * USECS_PER_SEC;

		/* least(now() + ttl, family end): the grant's absolute lifetime */
		if (!a->family_expires_null && DatumGetTimestampTz(a->family_expires) < exp)
			exp = DatumGetTimestampTz(a->family_expires);
		store(a, rt, "refresh", a->refresh_scope ? a->refresh_scope : a->scope, exp, NULL);
	}
	old = MemoryContextSwitchTo(out);
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	bf_push_string(&st, "access_token", at);
	bf_push_string(&st, "token_type", "Bearer");
	{
		JsonbValue	n = {.type = jbvNumeric, .val.numeric = int64_to_numeric(a->access_ttl)};

		bf_push_key(&st, "expires_in");
		pushJsonbValue(&st, WJB_VALUE, &n);
	}
	if (a->scope)
		bf_push_string(&st, "scope", a->scope);
	if (rt)
		bf_push_string(&st, "refresh_token", rt);
	body = JsonbPGetDatum(JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL)));
	MemoryContextSwitchTo(old);
	return body;
}

/*
 * SQL: oauth._issue(p_tenant, p_client, p_user, p_scope, p_family,
 * access_ttl, refresh_ttl, refresh_scope, p_issuer, p_audience, p_auth_time,
 * p_family_expires, p_format) → jsonb. Runs as its caller (the grants).
 */
PG_FUNCTION_INFO_V1(bf_issue);
Datum
bf_issue(PG_FUNCTION_ARGS)
{
	issue_args a = {0};
	MemoryContext out = CurrentMemoryContext;
	Datum		body;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(3) || PG_ARGISNULL(5))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("tenant, client, scope and access token lifetime are required")));
	a.tenant = PG_GETARG_DATUM(0);
	a.client = TextDatumGetCString(PG_GETARG_DATUM(1));
	a.user = PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2);
	a.scope = TextDatumGetCString(PG_GETARG_DATUM(3));
	a.family = PG_ARGISNULL(4) ? (Datum) 0 : PG_GETARG_DATUM(4);
	a.access_ttl = PG_GETARG_INT32(5);
	a.refresh = !PG_ARGISNULL(6);
	a.refresh_ttl = a.refresh ? PG_GETARG_INT32(6) : 0;
	a.refresh_scope = PG_ARGISNULL(7) ? NULL : TextDatumGetCString(PG_GETARG_DATUM(7));
	a.issuer = PG_ARGISNULL(8) ? NULL : TextDatumGetCString(PG_GETARG_DATUM(8));
	a.audience = PG_ARGISNULL(9) ? NULL : TextDatumGetCString(PG_GETARG_DATUM(9));
	a.auth_time_null = PG_ARGISNULL(10);
	a.auth_time = a.auth_time_null ? (Datum) 0 : PG_GETARG_DATUM(10);
	a.family_expires_null = PG_ARGISNULL(11);
	a.family_expires = a.family_expires_null ? (Datum) 0 : PG_GETARG_DATUM(11);
	a.format = PG_ARGISNULL(12) ? NULL : TextDatumGetCString(PG_GETARG_DATUM(12));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	body = issue(&a, out);
	SPI_finish();
	PG_RETURN_DATUM(body);
}

/* ---------- the client_credentials grant and the dispatcher ---------- */

/*
 * RFC 6749 section 4.4: confidential clients only, no refresh token, no
 * user; the requested scope (default: the client's) within the client's.
 */
static Datum
client_credentials(Datum tenant, const bf_client_auth *c, Jsonb *params, const char *iss,
				   const char *aud, MemoryContext out)
{
	char	   *requested = bf_json_text(JsonbPGetDatum(params), "scope", false);
	issue_args a = {0};
	bool		isnull;

	if (strcmp(c->auth_method, "none") == 0)
		return bf_error_decision("unauthorized_client", "public clients cannot use the client_credentials grant");
	if (requested == NULL)
		a.scope = c->scope;		/* the client's registered scope, stored canonical */
	else
	{
		ArrayType  *scopes;
		char	   *err;

		/* the client's scope is stored canonical: its array is the ceiling */
		bf_grant_scope(requested, bf_scopes(c->scope), &scopes, &err);
		if (err != NULL)
			return bf_error_decision("invalid_scope", err);
		a.scope = bf_scope_text(scopes);
	}

	/*
	 * Speed: this path writes one token row and nothing else that matters
	 * (the HTTP layer's API call counter at most), so its commit does not
	 * wait for the WAL flush. Trade-off: after a crash of PostgreSQL (not of
	 * a client), tokens issued in the last few hundred milliseconds (3 x
	 * wal_writer_delay at most) may be gone; their clients get 401 and ask
	 * again. Never used for tenants, users, clients, codes or refresh
	 * rotation.
	 */
	(void) set_config_option("synchronous_commit", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	{
		Datum		args[3] = {CStringGetTextDatum("access_token"), Int32GetDatum(c->access_ttl), c->settings};
		bool		nulls[3] = {false, c->access_ttl_null, c->settings_null};

		a.access_ttl = DatumGetInt32(call(F_TTL, 3, args, nulls, &isnull));
		if (isnull)
			elog(ERROR, "no access token lifetime");
	}
	a.tenant = tenant;
	a.client = c->client_id;
	a.issuer = iss;
	a.audience = aud;
	a.auth_time_null = a.family_expires_null = true;
	a.format = c->access_token_format;
	return issue(&a, out);
}

/*
 * SQL: oauth._token_client_credentials(p_tenant uuid, c
 * oauth.client_authentication, params jsonb, p_issuer text, p_audience
 * text) → jsonb, the grant alone, as the dispatcher calls it. Runs as its
 * caller.
 */
PG_FUNCTION_INFO_V1(bf_token_client_credentials);
Datum
bf_token_client_credentials(PG_FUNCTION_ARGS)
{
	bf_client_auth c;
	MemoryContext out = CurrentMemoryContext;
	Datum		d;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("tenant, client and parameters are required")));
	bf_client_auth_from_datum(PG_GETARG_HEAPTUPLEHEADER(1), &c);
	if (c.error != NULL)
		PG_RETURN_DATUM(bf_error_decision(c.error, c.error_description));
	if (!cache_valid)
		load_cache();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	d = client_credentials(PG_GETARG_DATUM(0), &c, PG_GETARG_JSONB_P(2),
						   PG_ARGISNULL(3) ? NULL : TextDatumGetCString(PG_GETARG_DATUM(3)),
						   PG_ARGISNULL(4) ? NULL : TextDatumGetCString(PG_GETARG_DATUM(4)), out);
	/* an error decision was built in SPI's memory */
	{
		MemoryContext old = MemoryContextSwitchTo(out);

		d = datumCopy(d, false, -1);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	PG_RETURN_DATUM(d);
}

typedef struct endpoint_args
{
	Jsonb	   *params;
	const char *authorization;
	const char *client_addr;
	const char *issuer;
	MemoryContext out;
	Datum		decision;		/* in out */
} endpoint_args;

/* Whether the client registered the grant type gt. */
static bool
allowed(const bf_client_auth *c, const char *gt)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				i;

	if (c->grant_types_null)
		return false;
	deconstruct_array(DatumGetArrayTypeP(c->grant_types), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (i = 0; i < n; i++)
		if (!nulls[i] && strcmp(TextDatumGetCString(elems[i]), gt) == 0)
			return true;
	return false;
}

static Datum
decide(endpoint_args *e)
{
	static const char *const grants[] = {"authorization_code", "refresh_token", "client_credentials", "password"};
	bf_client_auth c;
	Datum		tenant;
	char	   *gt;
	char	   *iss = (char *) e->issuer;
	char	   *aud = NULL;
	char	   *resource;
	bool		known = false;
	bool		isnull;
	int			i;

	if (!bf_form_client(e->params, e->authorization, &tenant, &c))
		return bf_error_decision(c.error, c.error_description);
	gt = bf_json_text(JsonbPGetDatum(e->params), "grant_type", false);
	if (gt == NULL || gt[0] == '\0')
		return bf_error_decision("invalid_request", "grant_type is missing");
	for (i = 0; i < lengthof(grants); i++)
		known = known || strcmp(gt, grants[i]) == 0;
	if (!known)
		return bf_error_decision("unsupported_grant_type",
							  "grant_type must be authorization_code, refresh_token, client_credentials or password");
	if (!allowed(&c, gt))
		return bf_error_decision("unauthorized_client", psprintf("this client is not allowed to use the %s grant", gt));
	if (iss == NULL)
		iss = call_text(F_DEFAULT_ISSUER, 1, &tenant, (bool[]) {false});
	/* RFC 8707: a resource must be one of the tenant's. */
	resource = bf_json_text(JsonbPGetDatum(e->params), "resource", false);
	if (resource != NULL)
	{
		bool		n3[3] = {false, false, false};
		Datum		a3[3] = {tenant, text_or_null(iss, &n3[1]), CStringGetTextDatum(resource)};
		Datum		ok = call(F_RESOURCE_KNOWN, 3, a3, n3, &isnull);

		if (isnull || !DatumGetBool(ok))
			return bf_error_decision("invalid_target", "the resource is not known to this authorization server");
		aud = call_text(F_AUDIENCE, 2, &a3[1], &n3[1]);
	}
	if (strcmp(gt, "client_credentials") == 0)
		return client_credentials(tenant, &c, e->params, iss, aud, e->out);
	{
		Datum		args[6];
		bool		nulls[6] = {false, false, false, false, false, false};
		int			n = 0;
		int			f = strcmp(gt, "password") == 0 ? F_PASSWORD :
			strcmp(gt, "authorization_code") == 0 ? F_AUTH_CODE : F_REFRESH;
		Datum		d;

		args[n++] = tenant;
		args[n++] = bf_client_auth_datum(client_auth_desc, true, &c);
		args[n++] = JsonbPGetDatum(e->params);
		if (f == F_PASSWORD)
		{
			args[n] = text_or_null(e->client_addr, &nulls[n]);
			n++;
		}
		args[n] = text_or_null(iss, &nulls[n]);
		n++;
		args[n] = text_or_null(aud, &nulls[n]);
		n++;
		d = call(f, n, args, nulls, &isnull);
		if (isnull)
			elog(ERROR, "a grant decided nothing");
		return datumCopy(d, false, -1);
	}
}

static void
decide_run(void *p)
{
	endpoint_args *e = p;
	Datum		d = decide(e);
	MemoryContext old = MemoryContextSwitchTo(e->out);

	e->decision = datumCopy(d, false, -1);
	MemoryContextSwitchTo(old);
}

/*
 * The decision on a token request to the current tenant: the RFC 6749
 * section 5.1 body or a section 5.2 error; never raises for a client's
 * mistake (a failed password count or a revoked family is committed).
 */
Datum
bf_token_endpoint(Jsonb *params, const char *authorization, const char *client_addr, const char *issuer)
{
	endpoint_args e = {params, authorization, client_addr, issuer, CurrentMemoryContext, (Datum) 0};

	if (!cache_valid)
		load_cache();
	bf_run_as_definer(decide_run, &e);
	return e.decision;
}

/* SQL: oauth.token_endpoint(params jsonb, authorization text, client_addr text, issuer text) → jsonb. */
PG_FUNCTION_INFO_V1(bf_token_endpoint_sql);
Datum
bf_token_endpoint_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(bf_token_endpoint(PG_ARGISNULL(0) ? NULL : PG_GETARG_JSONB_P(0),
									  PG_ARGISNULL(1) ? NULL : TextDatumGetCString(PG_GETARG_DATUM(1)),
									  PG_ARGISNULL(2) ? NULL : TextDatumGetCString(PG_GETARG_DATUM(2)),
									  PG_ARGISNULL(3) ? NULL : TextDatumGetCString(PG_GETARG_DATUM(3))));
}
