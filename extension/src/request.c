/*
 * request.c — api.handle_request, the gateway's one call per request.
 *
 * Same contract as the PL/pgSQL version it replaces: one call per request,
 * never raises, every failure a JSON answer. In one subtransaction:
 *  1. decode the query string, validate the Host (hosts.c), resolve the
 *     tenant (tenant.c, which sets the tenant context), find the route
 *     (router.c), decide CORS, answer 404/405/OPTIONS, count sign-up
 *     attempts (tenancy.signup_throttle);
 *  2. authenticate the bearer token (token.c, the one check), check the
 *     scope, meter authenticated /api calls (in shared memory, meter.c),
 *     call the route's handler.
 * A failure undoes all of it (an unsuccessful call is not charged) and
 * becomes the answer; a failed sign-up is counted again on its own. Then
 *  3. add the security and CORS headers.
 * SQL functions are called through fmgr lookups cached per backend, with the
 * executor's EXECUTE check, as the caller (their own SECURITY DEFINER and
 * SET clauses apply as in SQL). Errors map to HTTP through the one table,
 * api.error_from_sqlstate. The handler runs as the caller of
 * api.handle_request (the gateway's role), never as a definer.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/resowner.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "backend_framework.h"

/* The SQL functions the request path calls, looked up once per backend. */
enum
{
	FN_CORS_ALLOWED,
	FN_ERROR,
	FN_ERROR_FROM_SQLSTATE,
	FN_SIGNUP_THROTTLE,
	FN_HTML_CSP,
	FN_H_TENANT_CREATE,
	FN__COUNT
};
static const char *const fn_sigs[FN__COUNT] = {
	"api.cors_allowed(pg_catalog.text, pg_catalog.uuid)",
	"api.error(pg_catalog.int4, pg_catalog.text, pg_catalog.text, pg_catalog.jsonb)",
	"api.error_from_sqlstate(pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text)",
	"tenancy.signup_throttle(pg_catalog.text)",
	"api.html_csp(pg_catalog.text)",
	"api.h_tenant_create(api.request)",
};
static FmgrInfo fns[FN__COUNT];
static bool fns_valid = false;
static MemoryContext fn_cxt = NULL;
static TupleDesc request_desc = NULL;

/* api.request's attributes, in order (checked when the cache loads). */
enum
{
	RQ_METHOD, RQ_PATH, RQ_QUERY, RQ_HEADERS, RQ_BODY, RQ_CLIENT_ADDR,
	RQ_TENANT_ID, RQ_SLUG, RQ_BASE_URL, RQ_ISSUER, RQ_ID, RQ__COUNT
};
static const char *const rq_names[RQ__COUNT] = {
	"method", "path", "query", "headers", "body", "client_addr",
	"tenant_id", "slug", "base_url", "issuer", "id"
};

typedef struct bf_request
{
	const char *m;				/* the method as sent, upper case */
	const char *method;			/* HEAD is routed as GET */
	const char *raw_path;
	char	   *path;
	Datum		v[RQ__COUNT];	/* the api.request being built */
	bool		n[RQ__COUNT];
	char	   *origin;
	bool		cors;
	bf_match	route;
	bool		answered;		/* resp holds the answer */
	int			status;
	Datum		headers;
	bool		headers_null;
	Datum		body;
	bool		body_null;
} bf_request;

static void
fns_syscache_cb(Datum arg, int cacheid, uint32 hashvalue)
{
	fns_valid = false;
}

void
bf_request_init(void)
{
	CacheRegisterSyscacheCallback(PROCOID, fns_syscache_cb, (Datum) 0);
	CacheRegisterSyscacheCallback(TYPEOID, fns_syscache_cb, (Datum) 0);
}

static void
load_fns(void)
{
	Oid			typoid;
	TupleDesc	td;
	int			i;

	(void) bf_cache_context(&fn_cxt, "backend_framework request");
	request_desc = NULL;
	fns_valid = true;
	for (i = 0; i < FN__COUNT; i++)
	{
		Oid			oid = DatumGetObjectId(DirectFunctionCall1(regprocedurein,
															   CStringGetDatum(fn_sigs[i])));

		fmgr_info_cxt(oid, &fns[i], fn_cxt);
	}
	typoid = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum("request"),
							 ObjectIdGetDatum(get_namespace_oid("api", false)));
	td = lookup_rowtype_tupdesc(typoid, -1);
	if (td->natts != RQ__COUNT)
		elog(ERROR, "api.request has %d attributes, expected %d", td->natts, RQ__COUNT);
	for (i = 0; i < RQ__COUNT; i++)
		if (strcmp(NameStr(TupleDescAttr(td, i)->attname), rq_names[i]) != 0)
			elog(ERROR, "api.request attribute %d is not %s", i + 1, rq_names[i]);
	{
		MemoryContext old = MemoryContextSwitchTo(fn_cxt);

		request_desc = CreateTupleDescCopy(td);
		MemoryContextSwitchTo(old);
	}
	ReleaseTupleDesc(td);
}

/*
 * Calls a cached function as the executor would: EXECUTE checked for the
 * current user, strict functions answer NULL to a NULL argument.
 */
static Datum
call_fn(FmgrInfo *f, int nargs, const Datum *args, const bool *nulls, bool *isnull)
{
	LOCAL_FCINFO(fcinfo, 4);
	AclResult	acl;
	Datum		result;
	int			i;

	Assert(nargs <= 4);
	acl = pg_proc_aclcheck(f->fn_oid, GetUserId(), ACL_EXECUTE);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_FUNCTION, get_func_name(f->fn_oid));
	InitFunctionCallInfoData(*fcinfo, f, nargs, DEFAULT_COLLATION_OID, NULL, NULL);
	for (i = 0; i < nargs; i++)
	{
		fcinfo->args[i].value = args[i];
		fcinfo->args[i].isnull = nulls[i];
		if (nulls[i] && f->fn_strict)
		{
			*isnull = true;
			return (Datum) 0;
		}
	}
	result = FunctionCallInvoke(fcinfo);
	*isnull = fcinfo->isnull;
	return result;
}

static Datum
attr(Datum composite, int attno, bool *isnull)
{
	return GetAttributeByNum(DatumGetHeapTupleHeader(composite), attno, isnull);
}

/*
 * A member of a jsonb object as the ->> operator reads it: NULL when absent
 * or JSON null, else its text (a string's value, a number's or boolean's
 * text, an array's or object's JSON). With strings_only, NULL for anything
 * but a string. The one reader of request and header members.
 */
char *
bf_json_text(Datum doc, const char *key, bool strings_only)
{
	Jsonb	   *jb = DatumGetJsonbP(doc);
	JsonbValue	v;

	if (!JB_ROOT_IS_OBJECT(jb) ||
		getKeyJsonValueFromContainer(&jb->root, key, strlen(key), &v) == NULL ||
		v.type == jbvNull || (strings_only && v.type != jbvString))
		return NULL;
	if (v.type == jbvString)
		return pnstrdup(v.val.string.val, v.val.string.len);
	if (v.type == jbvNumeric)
		return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v.val.numeric)));
	if (v.type == jbvBool)
		return pstrdup(v.val.boolean ? "true" : "false");
	return JsonbToCString(NULL, v.val.binary.data, v.val.binary.len);
}

/* A jsonb object of string members from key, value pairs (NULL values skipped). */
Datum
bf_headers_object(int n, const char *const *kv)
{
	JsonbParseState *state = NULL;
	JsonbValue *res;
	int			i;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (i = 0; i < n; i++)
		if (kv[2 * i + 1] != NULL)
			bf_push_string(&state, kv[2 * i], kv[2 * i + 1]);
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbPGetDatum(JsonbValueToJsonb(res));
}

static Datum
json_concat(Datum a, Datum b)
{
	return DirectFunctionCall2(jsonb_concat, a, b);
}

static void
set_response(bf_request *r, Datum resp, bool isnull)
{
	bool		n;
	Datum		st;

	r->answered = true;
	st = isnull ? (Datum) 0 : attr(resp, 1, &n);
	if (isnull || n)
	{
		/* A handler that answers nothing is a bug of the handler. */
		r->status = 500;
		r->headers = bf_headers_object(1, (const char *[]) {"Content-Type", "application/json"});
		r->headers_null = false;
		r->body = CStringGetTextDatum("{\"error\": \"server_error\", \"error_description\": \"The handler gave no answer.\"}");
		r->body_null = false;
		return;
	}
	r->status = DatumGetInt32(st);
	r->headers = attr(resp, 2, &r->headers_null);
	r->body = attr(resp, 3, &r->body_null);
}

/* api.error(status, error, description, headers) as the answer. */
static void
answer_error(bf_request *r, int status, const char *error, const char *description, Datum headers)
{
	Datum		a[4] = {Int32GetDatum(status), CStringGetTextDatum(error),
	CStringGetTextDatum(description), headers};
	bool		n[4] = {false, false, false, headers == (Datum) 0};
	bool		isnull;
	Datum		d = call_fn(&fns[FN_ERROR], 4, a, n, &isnull);

	set_response(r, d, isnull);
}

static char *
allow_list(bf_request *r, bool with_options)
{
	StringInfoData s;
	int			i;

	initStringInfo(&s);
	for (i = 0; i < r->route.nallow; i++)
		appendStringInfo(&s, "%s%s", i ? ", " : "", r->route.allow[i]);
	if (with_options)
		appendStringInfoString(&s, ", OPTIONS");
	return s.data;
}

static void
set_text(bf_request *r, int att, const char *s)
{
	r->n[att] = (s == NULL);
	r->v[att] = s ? CStringGetTextDatum(s) : (Datum) 0;
}

static bool is_signup(bf_request *r);
static void signup_throttle(bf_request *r);

/* Step 1: query, Host, tenant, route, CORS, early answers. */
static void
step_route(bf_request *r, Datum query_text, bool query_null)
{
	Datum		a[4];
	bool		n[4] = {false, false, false, false};
	bool		isnull;
	bf_resolved res;
	char	   *host;
	int			port;
	char	   *base_url;
	const char *strategy;
	char	   *slug;

	if (query_null || VARSIZE_ANY_EXHDR(DatumGetPointer(query_text)) == 0)
		r->v[RQ_QUERY] = DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"));
	else
		r->v[RQ_QUERY] = DirectFunctionCall1(oauth_form_decode_text, query_text);
	r->n[RQ_QUERY] = false;

	/* Host, tenant and base URL in C (hosts.c, tenant.c). */
	bf_request_host(r->v[RQ_HEADERS], &host, &port);
	bf_resolve_tenant(host ? host : "", r->raw_path, r->v[RQ_HEADERS], &res);
	/* /health answers on any host (container health checks use 127.0.0.1); it builds no URL. */
	base_url = bf_public_base_url(host, port, res.by_host, strcmp(r->raw_path, "/health") == 0);

	r->n[RQ_TENANT_ID] = !res.found;
	r->v[RQ_TENANT_ID] = res.found ? res.tenant_id : (Datum) 0;
	slug = res.slug;
	strategy = res.strategy;
	r->path = res.path ? res.path : pstrdup(r->raw_path);
	set_text(r, RQ_SLUG, slug);
	set_text(r, RQ_PATH, r->path);
	set_text(r, RQ_BASE_URL, base_url);
	if (base_url == NULL)
		set_text(r, RQ_ISSUER, NULL);
	else if (strategy && (strcmp(strategy, "subdomain") == 0 || strcmp(strategy, "domain") == 0))
		set_text(r, RQ_ISSUER, base_url);
	else
		set_text(r, RQ_ISSUER, slug ? psprintf("%s/t/%s", base_url, slug) : NULL);

	bf_route_find(r->method, r->path, &r->route);
	set_text(r, RQ_ID, r->route.id);

	if (r->origin && r->route.found && strcmp(r->path, "/oauth/authorize") != 0)
	{
		a[0] = CStringGetTextDatum(r->origin);
		n[0] = false;
		a[1] = r->v[RQ_TENANT_ID];
		n[1] = r->n[RQ_TENANT_ID];
		a[0] = call_fn(&fns[FN_CORS_ALLOWED], 2, a, n, &isnull);
		r->cors = !isnull && DatumGetBool(a[0]);
	}

	if (!r->route.found)
		answer_error(r, 404, "not_found", psprintf("No such route: %s.", r->path), (Datum) 0);
	else if (strcmp(r->m, "OPTIONS") == 0)
	{
		char	   *methods = allow_list(r, false);
		const char *kv[] = {
			"Allow", allow_list(r, true),
			"Access-Control-Allow-Methods", r->cors ? methods : NULL,
			"Access-Control-Allow-Headers", r->cors ? "Authorization, Content-Type, X-Tenant, X-Request-Id" : NULL,
			"Access-Control-Max-Age", r->cors ? "600" : NULL,
		};

		r->answered = true;
		r->status = 204;
		r->headers = bf_headers_object(4, kv);
		r->headers_null = false;
		r->body_null = true;
	}
	else if (!r->route.has_route)
		answer_error(r, 405, "method_not_allowed",
					 psprintf("%s is not allowed on %s.", r->m, r->path),
					 bf_headers_object(1, (const char *[]) {"Allow", allow_list(r, true)}));
	else if (r->route.tenant && r->n[RQ_TENANT_ID])
		answer_error(r, 404, "not_found",
					 psprintf("No tenant named in this request: use the X-Tenant header, a /t/{slug}/ path prefix or a {slug}.%s host.",
							  GetConfigOption("backend_framework.base_domain", false, false)),
					 (Datum) 0);
	else if (is_signup(r))
		signup_throttle(r);
}

static bool
is_signup(bf_request *r)
{
	return r->route.found && r->route.has_route && r->route.handler == fns[FN_H_TENANT_CREATE].fn_oid;
}

/*
 * Sign-up is anonymous: limited per client address, and counted even when
 * the handler fails (see bf_handle_request).
 */
static void
signup_throttle(bf_request *r)
{
	bool		isnull;

	(void) call_fn(&fns[FN_SIGNUP_THROTTLE], 1, &r->v[RQ_CLIENT_ADDR], &r->n[RQ_CLIENT_ADDR], &isnull);
}

/* Step 2: authentication, scope, metering and the handler. */
static void
step_handle(bf_request *r)
{
	Datum		req = HeapTupleGetDatum(heap_form_tuple(request_desc, r->v, r->n));
	bool		authed = false;
	AclResult	acl;

	if (r->route.auth == 'b' || r->route.auth == 'o')
	{
		authed = bf_request_authenticate(r->v[RQ_HEADERS], r->v[RQ_QUERY], r->route.auth == 'b');
		if (r->route.auth == 'b' && r->route.scope &&
			!DatumGetBool(DirectFunctionCall1(bf_has_scope, CStringGetTextDatum(r->route.scope))))
			ereport(ERROR,
					(errcode(BF_ERRCODE_SCOPE),
					 errmsg("the token lacks the \"%s\" scope", r->route.scope),
					 errhint("%s", r->route.scope)));
	}

	/*
	 * Only calls that passed authentication count against the monthly quota,
	 * and never the OAuth endpoints or the sign-in pages: anonymous requests
	 * cannot burn a tenant's month (they are limited per client address
	 * instead). A call whose handler fails is not charged either.
	 */
	if (authed && r->route.api && !r->n[RQ_TENANT_ID])
		(void) bf_meter_charge(r->v[RQ_TENANT_ID]);

	/* The handler: as the caller, with the executor's EXECUTE check. */
	acl = pg_proc_aclcheck(r->route.handler, GetUserId(), ACL_EXECUTE);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_FUNCTION, get_func_name(r->route.handler));
	{
		LOCAL_FCINFO(fcinfo, 1);
		Datum		resp;

		InitFunctionCallInfoData(*fcinfo, &r->route.finfo, 1, DEFAULT_COLLATION_OID, NULL, NULL);
		fcinfo->args[0].value = req;
		fcinfo->args[0].isnull = false;
		resp = FunctionCallInvoke(fcinfo);
		set_response(r, resp, fcinfo->isnull);
	}
}

/* The answer of an error, through the one SQLSTATE → HTTP table. */
static void
answer_sqlstate(bf_request *r, ErrorData *e)
{
	Datum		a[4];
	bool		n[4];
	bool		isnull;
	Datum		d;

	a[0] = CStringGetTextDatum(unpack_sql_state(e->sqlerrcode));
	n[0] = false;
	a[1] = CStringGetTextDatum(e->message ? e->message : "");
	n[1] = false;
	a[2] = e->detail ? CStringGetTextDatum(e->detail) : (Datum) 0;
	n[2] = (e->detail == NULL);
	a[3] = e->hint ? CStringGetTextDatum(e->hint) : (Datum) 0;
	n[3] = (e->hint == NULL);
	d = call_fn(&fns[FN_ERROR_FROM_SQLSTATE], 4, a, n, &isnull);
	set_response(r, d, isnull);
}

/*
 * Runs a step in a subtransaction; an error rolls it back and becomes the
 * answer. Returns false on error (with *state set to the SQLSTATE).
 */
static bool
run_step(bf_request *r, void (*step) (bf_request *, Datum, bool), Datum qt, bool qn, int *state)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		step(r, qt, qn);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_END_TRY();
	if (edata == NULL)
		return true;
	*state = edata->sqlerrcode;
	answer_sqlstate(r, edata);
	if (r->status == 500)
		ereport(WARNING,
				(errmsg("api: %s %s failed: %s %s", r->m, r->raw_path,
						unpack_sql_state(edata->sqlerrcode), edata->message ? edata->message : "")));
	return false;
}

/* Both steps, in one subtransaction. */
static void
step_all(bf_request *r, Datum qt, bool qn)
{
	step_route(r, qt, qn);
	if (!r->answered)
		step_handle(r);
}

static void
step_throttle(bf_request *r, Datum qt, bool qn)
{
	signup_throttle(r);
}

/* Step 3: headers every answer carries. */
static void
add_headers(bf_request *r)
{
	Datum		resp_headers = r->headers_null ? bf_headers_object(0, NULL) : r->headers;
	char	   *ct = bf_json_text(resp_headers, "Content-Type", true);
	const char *csp = "default-src 'none'; frame-ancestors 'none'";

	if (ct && strncmp(ct, "text/html", 9) == 0)
	{
		char	   *ru = bf_json_text(r->v[RQ_QUERY], "redirect_uri", true);
		Datum		a[1] = {ru ? CStringGetTextDatum(ru) : (Datum) 0};
		bool		n[1] = {ru == NULL};
		bool		isnull;
		Datum		d = call_fn(&fns[FN_HTML_CSP], 1, a, n, &isnull);

		csp = isnull ? csp : TextDatumGetCString(d);
	}
	{
		const char *kv[] = {
			"X-Content-Type-Options", "nosniff",
			"Referrer-Policy", "no-referrer",
			"X-Frame-Options", "DENY",
			"Cache-Control", "no-store",
			"Content-Security-Policy", csp,
		};

		r->headers = json_concat(bf_headers_object(5, kv), resp_headers);
		r->headers_null = false;
	}
	if (r->cors)
	{
		char	   *vary = bf_json_text(r->headers, "Vary", true);
		const char *kv[] = {
			"Access-Control-Allow-Origin", r->origin,
			"Vary", vary ? psprintf("%s, Origin", vary) : "Origin",
			"Access-Control-Expose-Headers", "WWW-Authenticate, Retry-After, Location, X-Request-Id",
		};

		r->headers = json_concat(r->headers, bf_headers_object(3, kv));
	}
}

PG_FUNCTION_INFO_V1(bf_handle_request);
Datum
bf_handle_request(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	bf_request	r;
	Datum		values[3];
	bool		nulls[3];
	int			state = 0;
	char	   *m;

	/*
	 * The result's descriptor is the one the executor expects (a copy: it is
	 * freed after the call); InitMaterializedSRF would build it from pg_proc
	 * on every call.
	 */
	if (rsinfo && IsA(rsinfo, ReturnSetInfo) && rsinfo->expectedDesc &&
		(rsinfo->allowedModes & SFRM_Materialize))
	{
		MemoryContext old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);

		rsinfo->returnMode = SFRM_Materialize;
		rsinfo->setDesc = CreateTupleDescCopy(rsinfo->expectedDesc);
		rsinfo->setResult = tuplestore_begin_heap(false, false, work_mem);
		MemoryContextSwitchTo(old);
	}
	else
		InitMaterializedSRF(fcinfo, 0);
	if (!fns_valid || request_desc == NULL)
		load_fns();

	memset(&r, 0, sizeof(r));
	m = PG_ARGISNULL(0) ? pstrdup("") : TextDatumGetCString(PG_GETARG_DATUM(0));
	for (char *p = m; *p; p++)
		*p = pg_ascii_toupper((unsigned char) *p);
	r.m = m;
	r.method = strcmp(m, "HEAD") == 0 ? "GET" : m;
	r.raw_path = PG_ARGISNULL(1) ? "/" : TextDatumGetCString(PG_GETARG_DATUM(1));
	r.path = pstrdup(r.raw_path);
	set_text(&r, RQ_METHOD, r.method);
	set_text(&r, RQ_PATH, r.path);
	r.v[RQ_HEADERS] = PG_ARGISNULL(3) ? bf_headers_object(0, NULL) : PG_GETARG_DATUM(3);
	r.v[RQ_BODY] = PG_ARGISNULL(4) ? (Datum) 0 : PG_GETARG_DATUM(4);
	r.n[RQ_BODY] = PG_ARGISNULL(4);
	r.v[RQ_CLIENT_ADDR] = PG_ARGISNULL(5) ? (Datum) 0 : PG_GETARG_DATUM(5);
	r.n[RQ_CLIENT_ADDR] = PG_ARGISNULL(5);
	r.n[RQ_QUERY] = r.n[RQ_TENANT_ID] = r.n[RQ_SLUG] = r.n[RQ_BASE_URL] = r.n[RQ_ISSUER] = r.n[RQ_ID] = true;
	r.origin = bf_json_text(r.v[RQ_HEADERS], "origin", true);

	/*
	 * Reads need no synchronous commit: they write nothing, unless no
	 * metering worker serves the database yet (meter.c).
	 */
	if (strcmp(r.method, "GET") == 0 || strcmp(r.method, "OPTIONS") == 0)
		(void) set_config_option("synchronous_commit", "off", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_LOCAL, true, 0, false);

	/*
	 * One subtransaction for the whole request: an error undoes all of it
	 * and becomes the answer. A failed sign-up still counts against its
	 * address: when the error came after the throttle had counted it (any
	 * error but the throttle's own refusal), the rollback undid the count,
	 * so it is counted again, in a subtransaction of its own (a refusal
	 * there changes nothing: the answer is the first error's).
	 */
	if (!run_step(&r, step_all, PG_GETARG_DATUM(2), PG_ARGISNULL(2), &state) &&
		is_signup(&r) && state != BF_ERRCODE_TOO_MANY)
	{
		bf_request	again = r;
		int			ignored;

		(void) run_step(&again, step_throttle, (Datum) 0, true, &ignored);
	}
	if (r.n[RQ_QUERY])
	{
		/* The query string itself was refused: no redirect_uri to read. */
		r.v[RQ_QUERY] = bf_headers_object(0, NULL);
		r.n[RQ_QUERY] = false;
	}
	add_headers(&r);

	values[0] = Int32GetDatum(r.status);
	nulls[0] = false;
	values[1] = r.headers;
	nulls[1] = false;
	values[2] = r.body;
	nulls[2] = r.body_null;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}
