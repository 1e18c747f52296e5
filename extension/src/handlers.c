/*
 * handlers.c — the hot route handlers in C: GET /health and GET /api/v1/me,
 * with api.user_json (the one shape of a user in the API, which the SQL
 * handlers call too) and api.extension_version.
 *
 * They are ordinary handlers ((api.request) → api.response), called by the
 * router like any other, as the caller: reads go through SPI plans prepared
 * once per backend and run as the current user, so row-level security
 * applies exactly as it would to the PL/pgSQL they replace. Written in C
 * because they are the most frequent calls; a handler in PL/pgSQL costs a
 * function call with a pinned search_path and a plan check per statement.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/regproc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/typcache.h"
#include "utils/snapmgr.h"
#include "utils/uuid.h"

#include "backend_framework.h"

/* Read once per backend, again after a change of pg_type or pg_proc. */
static MemoryContext cache_cxt = NULL;
static bool cache_valid = false;
static TupleDesc response_desc = NULL;	/* api.response, blessed */
static char *ext_version = NULL;		/* backend_framework's installed version */
static FmgrInfo oauth_error_answer;	/* api._oauth_error_answer(jsonb, text, text, jsonb) */

static void
handlers_syscache_cb(Datum arg, int cacheid, uint32 hashvalue)
{
	cache_valid = false;
}

static void load_cache(void);

void
bf_handlers_init(void)
{
	CacheRegisterSyscacheCallback(TYPEOID, handlers_syscache_cb, (Datum) 0);
	/* ALTER EXTENSION UPDATE replaces functions: the version may have changed. */
	CacheRegisterSyscacheCallback(PROCOID, handlers_syscache_cb, (Datum) 0);
}

/* An api.response (status, headers, body) as a composite Datum. */
Datum
bf_response(int status, Datum headers, Datum body, bool body_null)
{
	Datum		v[3] = {Int32GetDatum(status), headers, body};
	bool		n[3] = {false, false, body_null};

	if (!cache_valid)
		load_cache();
	return HeapTupleGetDatum(heap_form_tuple(response_desc, v, n));
}

/*
 * A JSON answer: Content-Type application/json, then the given headers
 * (they win), the body as text (no body for NULL).
 */
static Datum
json_answer(int status, Jsonb *body, Datum headers, bool headers_null)
{
	const char *kv[] = {"Content-Type", "application/json"};
	Datum		h = bf_headers_object(1, kv);

	if (!headers_null)
		h = DirectFunctionCall2(jsonb_concat, h, headers);
	return bf_response(status, h,
					   body ? CStringGetTextDatum(JsonbToCString(NULL, &body->root, VARSIZE(body))) : (Datum) 0,
					   body == NULL);
}

static Datum
json_response(int status, JsonbValue *body)
{
	return json_answer(status, JsonbValueToJsonb(body), (Datum) 0, true);
}

/* api.json(status, body jsonb, headers jsonb DEFAULT '{}'): a JSON answer. */
PG_FUNCTION_INFO_V1(bf_api_json);
Datum
bf_api_json(PG_FUNCTION_ARGS)
{
	return json_answer(PG_GETARG_INT32(0), PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1),
					   PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2), PG_ARGISNULL(2));
}

/* Object members, pushed in any order (jsonb sorts them as jsonb_build_object does). */
void
bf_push_key(JsonbParseState **st, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(st, WJB_KEY, &k);
}

void
bf_push_string(JsonbParseState **st, const char *key, const char *val)
{
	JsonbValue	v;

	bf_push_key(st, key);
	if (val == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvString;
		v.val.string.val = (char *) val;
		v.val.string.len = strlen(val);
	}
	pushJsonbValue(st, WJB_VALUE, &v);
}

/* {"error", "error_description"}: an OAuth error decision, as oauth._error. */
Datum
bf_error_decision(const char *error, const char *description)
{
	JsonbParseState *st = NULL;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	bf_push_string(&st, "error", error);
	if (description != NULL)
		bf_push_string(&st, "error_description", description);
	return JsonbPGetDatum(JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL)));
}

/* A timestamptz as jsonb_build_object writes it (ISO 8601, JSON's form). */
static void
push_time(JsonbParseState **st, const char *key, Datum ts, bool isnull)
{
	bf_push_string(st, key, isnull ? NULL : JsonEncodeDateTime(NULL, ts, TIMESTAMPTZOID, NULL));
}

/*
 * Pushes the members of api.user_json(u), the one shape of a user: each
 * column converted as jsonb_build_object converts it (timestamps in JSON's
 * ISO form, NULL as null, anything else as its text).
 */
static JsonbValue *
push_user(JsonbParseState **st, HeapTupleHeader u)
{
	static const char *const cols[] = {"id", "email", "display_name", "role", "status", "created_at", "updated_at"};
	TupleDesc	td = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(u), HeapTupleHeaderGetTypMod(u));
	JsonbValue *res;

	pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < lengthof(cols); i++)
	{
		int			att;
		bool		isnull;
		Datum		d;
		Oid			typ;

		for (att = 0; att < td->natts; att++)
			if (strcmp(NameStr(TupleDescAttr(td, att)->attname), cols[i]) == 0)
				break;
		if (att == td->natts)
			elog(ERROR, "tenancy.user_info has no column %s", cols[i]);
		typ = TupleDescAttr(td, att)->atttypid;
		d = GetAttributeByNum(u, att + 1, &isnull);
		if (isnull)
			bf_push_string(st, cols[i], NULL);
		else if (typ == TIMESTAMPTZOID)
			push_time(st, cols[i], d, false);
		else
		{
			Oid			out;
			bool		varlena;

			getTypeOutputInfo(typ, &out, &varlena);
			bf_push_string(st, cols[i], OidOutputFunctionCall(out, d));
		}
	}
	res = pushJsonbValue(st, WJB_END_OBJECT, NULL);
	ReleaseTupleDesc(td);
	return res;
}

/* api.user_json(tenancy.user_info) → jsonb: a user as the API shows it. */
PG_FUNCTION_INFO_V1(bf_user_json);
Datum
bf_user_json(PG_FUNCTION_ARGS)
{
	JsonbParseState *st = NULL;

	PG_RETURN_POINTER(JsonbValueToJsonb(push_user(&st, PG_GETARG_HEAPTUPLEHEADER(0))));
}

/*
 * api.response's descriptor and the installed version (pg_extension has no
 * syscache: one index scan), kept until the next invalidation.
 */
static void
load_cache(void)
{
	Oid			typ = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum("response"),
									  ObjectIdGetDatum(get_namespace_oid("api", false)));
	TupleDesc	td = lookup_rowtype_tupdesc(typ, -1);
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	MemoryContext old;

	old = MemoryContextSwitchTo(bf_cache_context(&cache_cxt, "backend_framework handlers"));
	response_desc = BlessTupleDesc(CreateTupleDescCopy(td));
	ReleaseTupleDesc(td);
	ext_version = NULL;
	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum("backend_framework"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, Anum_pg_extension_extversion, RelationGetDescr(rel), &isnull);

		if (!isnull)
			ext_version = TextDatumGetCString(d);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	oauth_error_answer.fn_oid = InvalidOid;	/* looked up when first needed */
	MemoryContextSwitchTo(old);
	cache_valid = true;
}

/* api.extension_version(): the installed version of backend_framework. */
PG_FUNCTION_INFO_V1(bf_extension_version);
Datum
bf_extension_version(PG_FUNCTION_ARGS)
{
	if (!cache_valid)
		load_cache();
	if (ext_version == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(ext_version));
}

/* GET /health: the service and its database answer. */
PG_FUNCTION_INFO_V1(bf_h_health);
Datum
bf_h_health(PG_FUNCTION_ARGS)
{
	JsonbParseState *st = NULL;
	JsonbValue *v;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	bf_push_string(&st, "status", "ok");
	bf_push_string(&st, "database", "up");
	if (!cache_valid)
		load_cache();
	bf_push_string(&st, "version", ext_version);
	push_time(&st, "time", TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()), false);
	v = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	PG_RETURN_DATUM(json_response(200, v));
}


/* A JSON null as the value of the member whose key was just pushed. */
static void
push_null(JsonbParseState **st)
{
	JsonbValue	nv = {.type = jbvNull};

	pushJsonbValue(st, WJB_VALUE, &nv);
}

/*
 * GET /api/v1/me: the token's user (null for client credentials), tenant,
 * role, scope and client. The context's own tenant and user rows, read by
 * primary key (lookup.c): exactly the rows the caller's row-level security
 * shows it, without a query.
 */
PG_FUNCTION_INFO_V1(bf_h_me);
Datum
bf_h_me(PG_FUNCTION_ARGS)
{
	const char *tenant = bf_setting("backend_framework.tenant_id");
	const char *user = bf_setting("backend_framework.user_id");
	const char *scope = GetConfigOption("backend_framework.scopes", true, false);
	JsonbParseState *st = NULL;
	Snapshot	snap;
	bf_scan		s;
	Datum		tid = tenant ? DirectFunctionCall1(uuid_in, CStringGetDatum(tenant)) : (Datum) 0;

	bf_relations_load();
	snap = RegisterSnapshot(GetTransactionSnapshot());
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	bf_push_key(&st, "user");
	if (tenant && user)
	{
		Datum		keys[2] = {tid, DirectFunctionCall1(uuid_in, CStringGetDatum(user))};

		bf_scan_begin(&s, bf_rel.users, bf_rel.users_pkey, snap, 2, (RegProcedure[]) {F_UUID_EQ, F_UUID_EQ}, keys);
		if (bf_scan_next(&s))
		{
			/* A composite datum (heap tuples on disk carry no row type). */
			push_user(&st, DatumGetHeapTupleHeader(ExecFetchSlotHeapTupleDatum(s.slot)));
		}
		else
			push_null(&st);
		bf_scan_end(&s);
	}
	else
		push_null(&st);
	bf_push_key(&st, "tenant");
	if (tenant)
	{
		bf_scan_begin(&s, bf_rel.tenants, bf_rel.tenants_pkey, snap, 1, (RegProcedure[]) {F_UUID_EQ}, &tid);
		if (bf_scan_next(&s))
		{
			pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
			bf_push_string(&st, "id", tenant);
			bf_push_string(&st, "slug", bf_slot_text(s.slot, bf_rel.tenant_slug));
			bf_push_string(&st, "name", bf_slot_text(s.slot, bf_rel.tenant_name));
			bf_push_string(&st, "plan", bf_slot_text(s.slot, bf_rel.tenant_plan));
			pushJsonbValue(&st, WJB_END_OBJECT, NULL);
		}
		else
			push_null(&st);
		bf_scan_end(&s);
	}
	else
		push_null(&st);
	UnregisterSnapshot(snap);
	bf_push_string(&st, "role", bf_setting("backend_framework.user_role"));
	bf_push_string(&st, "scope", scope ? scope : "");
	bf_push_string(&st, "client_id", bf_setting("backend_framework.client_id"));
	PG_RETURN_DATUM(json_response(200, pushJsonbValue(&st, WJB_END_OBJECT, NULL)));
}

/* The body of a request decoded as a form (strict); 22023 for another content type. */
static Datum
form_body(HeapTupleHeader r)
{
	bool		isnull;
	Datum		headers = GetAttributeByName(r, "headers", &isnull);
	char	   *ct = isnull ? NULL : bf_json_text(headers, "content-type", false);
	const char *p = ct ? ct : "";
	size_t		len;
	Datum		body;

	/* btrim(lower(split_part(content-type, ';', 1))) */
	while (*p == ' ')
		p++;
	len = strcspn(p, ";");
	while (len > 0 && p[len - 1] == ' ')
		len--;
	if (len != strlen("application/x-www-form-urlencoded") ||
		pg_strncasecmp(p, "application/x-www-form-urlencoded", len) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unsupported content type"),
				 errdetail("Send Content-Type: application/x-www-form-urlencoded.")));
	body = GetAttributeByName(r, "body", &isnull);
	if (isnull)
		body = PointerGetDatum(DatumGetByteaPP(DirectFunctionCall1(byteain, CStringGetDatum(""))));
	return DirectFunctionCall1(oauth_form_decode_bytea, body);
}

/* api.form_body(r api.request) → jsonb. */
PG_FUNCTION_INFO_V1(bf_api_form_body);
Datum
bf_api_form_body(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(form_body(PG_GETARG_HEAPTUPLEHEADER(0)));
}

/*
 * The HTTP answer of an OAuth decision (api.oauth_answer): no-store; a
 * decision without "error" is the body of a success answer (none for 204);
 * an error decision's status and challenge come from
 * api._oauth_error_answer (the one table, the one realm).
 */
static Datum
oauth_answer(Datum decision, bool decision_null, const char *authorization, int success, const char *scope)
{
	const char *kv[] = {"Cache-Control", "no-store", "Pragma", "no-cache"};
	Datum		h = bf_headers_object(2, kv);
	LOCAL_FCINFO(call, 4);
	Datum		resp;

	if (decision_null || bf_json_text(decision, "error", false) == NULL)
		return json_answer(success, decision_null || success == 204 ? NULL : DatumGetJsonbP(decision), h, false);
	if (!cache_valid)
		load_cache();
	if (!OidIsValid(oauth_error_answer.fn_oid))
		fmgr_info_cxt(DatumGetObjectId(DirectFunctionCall1(regprocedurein,
														   CStringGetDatum("api._oauth_error_answer(pg_catalog.jsonb, pg_catalog.text, pg_catalog.text, pg_catalog.jsonb)"))),
					  &oauth_error_answer, cache_cxt);
	InitFunctionCallInfoData(*call, &oauth_error_answer, 4, InvalidOid, NULL, NULL);
	call->args[0].value = decision;
	call->args[0].isnull = false;
	call->args[1].value = authorization ? CStringGetTextDatum(authorization) : (Datum) 0;
	call->args[1].isnull = authorization == NULL;
	call->args[2].value = scope ? CStringGetTextDatum(scope) : (Datum) 0;
	call->args[2].isnull = scope == NULL;
	call->args[3].value = h;
	call->args[3].isnull = false;
	resp = FunctionCallInvoke(call);
	if (call->isnull)
		elog(ERROR, "api._oauth_error_answer answered nothing");
	return resp;
}

/* api.oauth_answer(p_decision jsonb, p_authorization text, p_success integer DEFAULT 200, p_scope text DEFAULT NULL). */
PG_FUNCTION_INFO_V1(bf_oauth_answer);
Datum
bf_oauth_answer(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(oauth_answer(PG_GETARG_DATUM(0), PG_ARGISNULL(0),
								 PG_ARGISNULL(1) ? NULL : TextDatumGetCString(PG_GETARG_DATUM(1)),
								 PG_ARGISNULL(2) ? 200 : PG_GETARG_INT32(2),
								 PG_ARGISNULL(3) ? NULL : TextDatumGetCString(PG_GETARG_DATUM(3))));
}

/* The request's Authorization header and the named text attribute of r. */
static char *
request_text(HeapTupleHeader r, const char *attr)
{
	bool		isnull;
	Datum		d = GetAttributeByName(r, attr, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

static char *
request_authorization(HeapTupleHeader r)
{
	bool		isnull;
	Datum		headers = GetAttributeByName(r, "headers", &isnull);

	return isnull ? NULL : bf_json_text(headers, "authorization", false);
}

/*
 * POST /oauth/introspect (RFC 7662): the form, the decision
 * (oauth.introspect_endpoint, introspect.c), the answer of api.oauth_answer.
 */
PG_FUNCTION_INFO_V1(bf_h_introspect);
Datum
bf_h_introspect(PG_FUNCTION_ARGS)
{
	HeapTupleHeader r = PG_GETARG_HEAPTUPLEHEADER(0);
	char	   *authorization = request_authorization(r);
	Datum		decision = bf_introspect(DatumGetJsonbP(form_body(r)), authorization, request_text(r, "issuer"));
	PG_RETURN_DATUM(oauth_answer(decision, false, authorization, 200, NULL));
}

/*
 * POST /oauth/token (RFC 6749): the form, the decision
 * (oauth.token_endpoint, token_endpoint.c), the answer of api.oauth_answer.
 */
PG_FUNCTION_INFO_V1(bf_h_token);
Datum
bf_h_token(PG_FUNCTION_ARGS)
{
	HeapTupleHeader r = PG_GETARG_HEAPTUPLEHEADER(0);
	char	   *authorization = request_authorization(r);
	Datum		decision = bf_token_endpoint(DatumGetJsonbP(form_body(r)), authorization,
											 request_text(r, "client_addr"), request_text(r, "issuer"));
	PG_RETURN_DATUM(oauth_answer(decision, false, authorization, 200, NULL));
}
