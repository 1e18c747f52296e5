/*
 * client_auth.c — oauth.authenticate_client, the one client authentication
 * (RFC 6749 §2.3.1) of the token, revocation and introspection endpoints
 * and of RFC 7592's secret check, in C because every one of those requests
 * runs it.
 *
 * HTTP Basic (client_secret_basic), client_id and client_secret in the form
 * (client_secret_post), or client_id alone for a public client (none); the
 * method must be the one the client registered; the secret is compared as
 * SHA-256 digests in constant time. The client and its tenant's settings
 * are read by primary key (lookup.c). It never raises for a client's
 * mistake: the answer is an oauth.client_authentication with error and
 * error_description (invalid_client, invalid_request), or the client.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/snapmgr.h"
#include "utils/uuid.h"

#include "backend_framework.h"
#include "primitives.h"

/* oauth.client_authentication's attributes, in order. */
enum
{
	CA_ERROR, CA_DESCRIPTION, CA_CLIENT_ID, CA_AUTH_METHOD, CA_GRANT_TYPES, CA_SCOPE,
	CA_ACCESS_TTL, CA_REFRESH_TTL, CA_RESOURCE_SERVER, CA_FORMAT, CA_SETTINGS, CA__N
};

static bool
refused(bf_client_auth *a, const char *error, const char *description)
{
	a->error = error;
	a->error_description = description;
	return false;
}

/*
 * Authenticates the client of a request to tenant (params: the form,
 * authorization: the header or NULL). Fills a; false when refused.
 */
bool
bf_authenticate_client(Datum tenant, Jsonb *params, const char *authorization, bf_client_auth *a)
{
	/* params->>'client_id', params->>'client_secret' */
	char	   *body_id = params ? bf_json_text(JsonbPGetDatum(params), "client_id", false) : NULL;
	char	   *body_secret = params ? bf_json_text(JsonbPGetDatum(params), "client_secret", false) : NULL;
	const char *cid = NULL;
	const char *presented = NULL;
	size_t		presented_len = 0;
	const char *used;
	const char *method = NULL;
	bytea	   *secret_hash = NULL;
	Snapshot	snap;
	bf_scan		s;
	bool		found = false;

	memset(a, 0, sizeof(*a));
	if (authorization != NULL && authorization[strspn(authorization, " ")] != '\0')
	{
		size_t		len;
		const char *h = bf_text_utf8(cstring_to_text(authorization), &len);
		char	   *buf = palloc(len + 1);
		bf_basic	basic;
		bf_err		e = bf_basic_parse(h, len, buf, &basic);

		if (e != BF_OK)
			return refused(a, "invalid_client", psprintf("invalid Basic credentials: %s", bf_err_message(e)));
		if (!basic.is_basic)
			return refused(a, "invalid_client",
						   "unsupported authentication scheme: use HTTP Basic (client_secret_basic) or client_id and client_secret in the body (client_secret_post)");
		if (body_secret != NULL)
			return refused(a, "invalid_request",
						   "client credentials were sent both in the Authorization header and in the body; use one method only");
		cid = text_to_cstring(bf_utf8_text(basic.id, basic.id_len));
		if (body_id != NULL && strcmp(body_id, cid) != 0)
			return refused(a, "invalid_request",
						   "the client_id in the body differs from the one in the Authorization header");
		presented = text_to_cstring(bf_utf8_text(basic.secret, basic.secret_len));
		used = "client_secret_basic";
	}
	else if (body_secret != NULL)
	{
		cid = body_id;
		presented = body_secret;
		used = "client_secret_post";
	}
	else
	{
		cid = body_id;
		used = "none";
	}
	if (cid == NULL)
		return refused(a, "invalid_client",
					   "client authentication is required: send HTTP Basic credentials, or client_id (and client_secret)");
	if (presented != NULL)
		presented_len = strlen(presented);

	bf_relations_load();
	snap = RegisterSnapshot(GetTransactionSnapshot());
	{
		Datum		keys[2] = {tenant, CStringGetTextDatum(cid)};

		bf_scan_begin(&s, bf_rel.clients, bf_rel.clients_pkey, snap, 2, (RegProcedure[]) {F_UUID_EQ, F_TEXTEQ}, keys);
	}
	if (bf_scan_next(&s))
	{
		bool		isnull;
		Datum		d;

		found = true;
		method = bf_slot_text(s.slot, bf_rel.client_cols[BF_CL_METHOD]);
		d = slot_getattr(s.slot, bf_rel.client_cols[BF_CL_SECRET], &isnull);
		secret_hash = isnull ? NULL : DatumGetByteaPCopy(d);
		a->grant_types = slot_getattr(s.slot, bf_rel.client_cols[BF_CL_GRANTS], &a->grant_types_null);
		if (!a->grant_types_null)
			a->grant_types = PointerGetDatum(DatumGetArrayTypePCopy(a->grant_types));
		a->scope = bf_slot_text(s.slot, bf_rel.client_cols[BF_CL_SCOPE]);
		d = slot_getattr(s.slot, bf_rel.client_cols[BF_CL_ACCESS_TTL], &a->access_ttl_null);
		a->access_ttl = a->access_ttl_null ? 0 : DatumGetInt32(d);
		d = slot_getattr(s.slot, bf_rel.client_cols[BF_CL_REFRESH_TTL], &a->refresh_ttl_null);
		a->refresh_ttl = a->refresh_ttl_null ? 0 : DatumGetInt32(d);
		d = slot_getattr(s.slot, bf_rel.client_cols[BF_CL_RESOURCE_SERVER], &isnull);
		a->resource_server = !isnull && DatumGetBool(d);
		a->access_token_format = bf_slot_text(s.slot, bf_rel.client_cols[BF_CL_FORMAT]);
	}
	bf_scan_end(&s);
	if (found)
	{
		bf_scan_begin(&s, bf_rel.tenants, bf_rel.tenants_pkey, snap, 1, (RegProcedure[]) {F_UUID_EQ}, &tenant);
		if (bf_scan_next(&s))
		{
			Datum		d = slot_getattr(s.slot, bf_rel.tenant_settings, &a->settings_null);

			if (!a->settings_null)
				a->settings = PointerGetDatum(DatumGetJsonbPCopy(d));
		}
		else
			found = false;		/* the join with the tenant finds nothing */
		bf_scan_end(&s);
	}
	UnregisterSnapshot(snap);

	if (!found)
		return refused(a, "invalid_client", "unknown client");
	/* Public clients: client_id alone (an empty Basic password is accepted too). */
	if (strcmp(method, "none") == 0)
	{
		if (strcmp(used, "client_secret_post") == 0 ||
			(strcmp(used, "client_secret_basic") == 0 && presented_len > 0))
			return refused(a, "invalid_client", "this is a public client: send client_id only, without a secret");
	}
	else if (strcmp(used, "none") == 0)
		return refused(a, "invalid_client", "client authentication is required for this client");
	else if (strcmp(used, method) != 0)
		return refused(a, "invalid_client", psprintf("this client authenticates with %s", method));
	else
	{
		unsigned char digest[BF_SHA256_LEN];
		size_t		len;
		const char *p = bf_text_utf8(cstring_to_text(presented), &len);

		bf_sha256(p, len, digest);
		if (secret_hash == NULL ||
			!bf_ct_equal(digest, sizeof(digest), VARDATA_ANY(secret_hash), VARSIZE_ANY_EXHDR(secret_hash)))
			return refused(a, "invalid_client", "client authentication failed");
	}
	a->client_id = cid;
	a->auth_method = method;
	return true;
}

/* True when params is a form: an object of strings (what oauth.form_decode makes). */
static bool
is_form(Jsonb *params)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	if (params == NULL || !JB_ROOT_IS_OBJECT(params))
		return false;
	it = JsonbIteratorInit(&params->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		if (tok == WJB_VALUE && v.type != jbvString)
			return false;
	return true;
}

/*
 * How the token, revocation and introspection endpoints start (SQL:
 * oauth._form_client): a tenant in the context (the gateway never calls
 * without one: a caller's bug, P0002), a form, then the one client
 * authentication. False with a->error set when refused.
 */
bool
bf_form_client(Jsonb *params, const char *authorization, Datum *tenant, bf_client_auth *a)
{
	const char *t = bf_setting("backend_framework.tenant_id");

	if (t == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("unknown tenant"),
				 errdetail("The OAuth endpoints answer for the tenant of the context (tenancy.resolve_tenant).")));
	*tenant = DirectFunctionCall1(uuid_in, CStringGetDatum(t));
	if (!is_form(params))
	{
		memset(a, 0, sizeof(*a));
		a->error = "invalid_request";
		a->error_description = "the request must be application/x-www-form-urlencoded parameters";
		return false;
	}
	return bf_authenticate_client(*tenant, params, authorization, a);
}

/* The oauth.client_authentication of a decision (td: that type, blessed). */
Datum
bf_client_auth_datum(TupleDesc td, bool ok, const bf_client_auth *ap)
{
	bf_client_auth a = *ap;
	Datum		v[CA__N];
	bool		n[CA__N];

	if (td->natts != CA__N)
		elog(ERROR, "oauth.client_authentication must have %d attributes", CA__N);
	memset(n, true, sizeof(n));
	if (!ok)
	{
		v[CA_ERROR] = CStringGetTextDatum(a.error);
		v[CA_DESCRIPTION] = CStringGetTextDatum(a.error_description);
		n[CA_ERROR] = n[CA_DESCRIPTION] = false;
	}
	else
	{
		v[CA_CLIENT_ID] = CStringGetTextDatum(a.client_id);
		v[CA_AUTH_METHOD] = CStringGetTextDatum(a.auth_method);
		v[CA_GRANT_TYPES] = a.grant_types;
		v[CA_SCOPE] = a.scope ? CStringGetTextDatum(a.scope) : (Datum) 0;
		v[CA_ACCESS_TTL] = Int32GetDatum(a.access_ttl);
		v[CA_REFRESH_TTL] = Int32GetDatum(a.refresh_ttl);
		v[CA_RESOURCE_SERVER] = BoolGetDatum(a.resource_server);
		v[CA_FORMAT] = a.access_token_format ? CStringGetTextDatum(a.access_token_format) : (Datum) 0;
		v[CA_SETTINGS] = a.settings;
		n[CA_CLIENT_ID] = n[CA_AUTH_METHOD] = n[CA_RESOURCE_SERVER] = false;
		n[CA_GRANT_TYPES] = a.grant_types_null;
		n[CA_SCOPE] = a.scope == NULL;
		n[CA_ACCESS_TTL] = a.access_ttl_null;
		n[CA_REFRESH_TTL] = a.refresh_ttl_null;
		n[CA_FORMAT] = a.access_token_format == NULL;
		n[CA_SETTINGS] = a.settings_null;
	}
	return HeapTupleGetDatum(heap_form_tuple(td, v, n));
}

/* The client of an oauth.client_authentication (the decision of a SQL caller). */
void
bf_client_auth_from_datum(HeapTupleHeader t, bf_client_auth *a)
{
	bool		isnull;
	Datum		d;

#define TEXT_AT(i) ((d = GetAttributeByNum(t, (i) + 1, &isnull)), isnull ? NULL : TextDatumGetCString(d))
	memset(a, 0, sizeof(*a));
	a->error = TEXT_AT(CA_ERROR);
	a->error_description = TEXT_AT(CA_DESCRIPTION);
	a->client_id = TEXT_AT(CA_CLIENT_ID);
	a->auth_method = TEXT_AT(CA_AUTH_METHOD);
	a->scope = TEXT_AT(CA_SCOPE);
	a->access_token_format = TEXT_AT(CA_FORMAT);
#undef TEXT_AT
	a->grant_types = GetAttributeByNum(t, CA_GRANT_TYPES + 1, &a->grant_types_null);
	d = GetAttributeByNum(t, CA_ACCESS_TTL + 1, &a->access_ttl_null);
	a->access_ttl = a->access_ttl_null ? 0 : DatumGetInt32(d);
	d = GetAttributeByNum(t, CA_REFRESH_TTL + 1, &a->refresh_ttl_null);
	a->refresh_ttl = a->refresh_ttl_null ? 0 : DatumGetInt32(d);
	d = GetAttributeByNum(t, CA_RESOURCE_SERVER + 1, &isnull);
	a->resource_server = !isnull && DatumGetBool(d);
	a->settings = GetAttributeByNum(t, CA_SETTINGS + 1, &a->settings_null);
	if (a->error == NULL && (a->client_id == NULL || a->auth_method == NULL))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("not an authenticated client"),
				 errdetail("Pass the decision of oauth.authenticate_client.")));
}

/* The same, as the result of a SQL function returning that type. */
static Datum
client_authentication(FunctionCallInfo fcinfo, bool ok, bf_client_auth *a)
{
	TupleDesc	td;

	if (get_call_result_type(fcinfo, NULL, &td) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "the result must be oauth.client_authentication");
	return bf_client_auth_datum(BlessTupleDesc(td), ok, a);
}

/* SQL: oauth.authenticate_client(p_tenant uuid, params jsonb, authorization text). */
PG_FUNCTION_INFO_V1(bf_authenticate_client_sql);
Datum
bf_authenticate_client_sql(PG_FUNCTION_ARGS)
{
	bf_client_auth a;
	bool		ok;

	if (PG_ARGISNULL(0))
		ok = refused(&a, "invalid_client", "unknown client");
	else
		ok = bf_authenticate_client(PG_GETARG_DATUM(0), PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1),
									PG_ARGISNULL(2) ? NULL : TextDatumGetCString(PG_GETARG_DATUM(2)), &a);
	return client_authentication(fcinfo, ok, &a);
}

/* SQL: oauth._form_client(params jsonb, authorization text). */
PG_FUNCTION_INFO_V1(bf_form_client_sql);
Datum
bf_form_client_sql(PG_FUNCTION_ARGS)
{
	bf_client_auth a;
	Datum		tenant;
	bool		ok = bf_form_client(PG_ARGISNULL(0) ? NULL : PG_GETARG_JSONB_P(0),
									PG_ARGISNULL(1) ? NULL : TextDatumGetCString(PG_GETARG_DATUM(1)),
									&tenant, &a);

	return client_authentication(fcinfo, ok, &a);
}
