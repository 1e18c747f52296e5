/*
 * introspect.c — oauth.introspect_endpoint (RFC 7662) of the current tenant,
 * as a decision (the api schema turns it into HTTP), in C: resource servers
 * call it for every request they serve.
 *
 * Who may learn about a token: a resource server (a client an admin marked
 * resource_server) about any token of its tenant; any other confidential
 * client only about its own. Otherwise the answer is {"active": false}, as
 * for an unknown token (RFC 7662 §2.2 allows it; a 403 would tell a token
 * scanner that the token exists). The client is authenticated by the one
 * client authentication (client_auth.c); the token, its user and tenant are
 * read by key (lookup.c).
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "backend_framework.h"
#include "primitives.h"

/* A string member, left out when NULL (as jsonb_strip_nulls does). */
static void
push_str(JsonbParseState **st, const char *key, const char *val)
{
	if (val != NULL)
		bf_push_string(st, key, val);
}

static void
push_int(JsonbParseState **st, const char *key, int64 n)
{
	JsonbValue	v = {.type = jbvNumeric, .val.numeric = int64_to_numeric(n)};

	bf_push_key(st, key);
	pushJsonbValue(st, WJB_VALUE, &v);
}

/* Seconds since 1970 of a timestamptz, rounded down (floor(extract(epoch ...))). */
static int64
epoch_seconds(TimestampTz t)
{
	int64		us = t + (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;

	return us >= 0 ? us / USECS_PER_SEC : -((-us + USECS_PER_SEC - 1) / USECS_PER_SEC);
}

/* The decision (jsonb) on an introspection request of the current tenant. */
Datum
bf_introspect(Jsonb *params, const char *authorization, const char *issuer)
{
	bf_client_auth c;
	Datum		tenant;
	char	   *token;
	unsigned char digest[BF_SHA256_LEN];
	bytea	   *dg;
	Snapshot	snap;
	bf_scan		s;
	bool		active = false;
	char	   *kind = NULL,
			   *client = NULL,
			   *scope = NULL,
			   *aud = NULL,
			   *sub = NULL,
			   *email = NULL,
			   *slug = NULL;
	TimestampTz created = 0,
				expires = 0;
	Datum		user = (Datum) 0;
	JsonbParseState *st = NULL;

	if (!bf_form_client(params, authorization, &tenant, &c))
		return bf_error_decision(c.error, c.error_description);
	if (strcmp(c.auth_method, "none") == 0)
		return bf_error_decision("invalid_client", "introspection needs an authenticated (confidential) client");
	token = bf_json_text(JsonbPGetDatum(params), "token", false);
	if (token == NULL)
		return bf_error_decision("invalid_request", "token is missing");
	{
		size_t		len;
		const char *p = bf_text_utf8(cstring_to_text(token), &len);

		bf_sha256(p, len, digest);
	}
	dg = palloc(VARHDRSZ + BF_SHA256_LEN);
	SET_VARSIZE(dg, VARHDRSZ + BF_SHA256_LEN);
	memcpy(VARDATA(dg), digest, BF_SHA256_LEN);

	bf_relations_load();
	snap = RegisterSnapshot(GetTransactionSnapshot());
	{
		Datum		keys[2] = {tenant, PointerGetDatum(dg)};

		bf_scan_begin(&s, bf_rel.tokens, bf_rel.tokens_pkey, snap, 2, (RegProcedure[]) {F_UUID_EQ, F_BYTEAEQ}, keys);
	}
	if (bf_scan_next(&s))
	{
		bool		isnull,
					not_revoked,
					not_rotated,
					user_null;

		/* revoked_at and rotated_at are NULL while the token is live. */
		(void) slot_getattr(s.slot, bf_rel.tok[BF_TOK_REVOKED], &not_revoked);
		(void) slot_getattr(s.slot, bf_rel.tok[BF_TOK_ROTATED], &not_rotated);
		expires = DatumGetTimestampTz(slot_getattr(s.slot, bf_rel.tok[BF_TOK_EXPIRES], &isnull));
		client = bf_slot_text(s.slot, bf_rel.tok[BF_TOK_CLIENT]);
		user = slot_getattr(s.slot, bf_rel.tok[BF_TOK_USER], &user_null);
		/* Not revoked, rotated or expired; its own client's, unless the caller is a resource server. */
		active = not_revoked && not_rotated && expires > GetCurrentTransactionStartTimestamp() &&
			(strcmp(client, c.client_id) == 0 || c.resource_server);
		if (active)
		{
			kind = bf_slot_text(s.slot, bf_rel.tok[BF_TOK_KIND]);
			scope = bf_slot_text(s.slot, bf_rel.tok[BF_TOK_SCOPE]);
			aud = bf_slot_text(s.slot, bf_rel.tok[BF_TOK_AUDIENCE]);
			created = DatumGetTimestampTz(slot_getattr(s.slot, bf_rel.tok[BF_TOK_CREATED], &isnull));
			if (!user_null)
			{
				user = datumCopy(user, false, UUID_LEN);
				sub = DatumGetCString(DirectFunctionCall1(uuid_out, user));
			}
		}
	}
	bf_scan_end(&s);
	if (active)
	{
		/* The tenant must be active. */
		bf_scan_begin(&s, bf_rel.tenants, bf_rel.tenants_pkey, snap, 1, (RegProcedure[]) {F_UUID_EQ}, &tenant);
		active = bf_scan_next(&s) &&
			strcmp(bf_slot_text(s.slot, bf_rel.tenant_status), "active") == 0;
		if (active)
			slug = bf_slot_text(s.slot, bf_rel.tenant_slug);
		bf_scan_end(&s);
	}
	if (active && sub != NULL)
	{
		/* A user's token: the user must be active; username is the e-mail. */
		Datum		keys[2] = {tenant, user};

		bf_scan_begin(&s, bf_rel.users, bf_rel.users_pkey, snap, 2, (RegProcedure[]) {F_UUID_EQ, F_UUID_EQ}, keys);
		active = bf_scan_next(&s) &&
			strcmp(bf_slot_text(s.slot, bf_rel.user_status), "active") == 0;
		if (active)
			email = bf_slot_text(s.slot, bf_rel.user_email);
		bf_scan_end(&s);
	}
	UnregisterSnapshot(snap);

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	{
		JsonbValue	b = {.type = jbvBool, .val.boolean = active};

		bf_push_key(&st, "active");
		pushJsonbValue(&st, WJB_VALUE, &b);
	}
	if (active)
	{
		push_str(&st, "scope", scope);
		push_str(&st, "client_id", client);
		push_str(&st, "username", email);
		push_str(&st, "sub", sub);
		push_str(&st, "token_type", strcmp(kind, "access") == 0 ? "Bearer" : "refresh_token");
		push_int(&st, "exp", epoch_seconds(expires));
		push_int(&st, "iat", epoch_seconds(created));
		push_str(&st, "iss", issuer);
		push_str(&st, "aud", aud);
		push_str(&st, "tenant", slug);
		push_str(&st, "tenant_id", DatumGetCString(DirectFunctionCall1(uuid_out, tenant)));
	}
	return JsonbPGetDatum(JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL)));
}

/* SQL: oauth.introspect_endpoint(params jsonb, authorization text, issuer text) → jsonb. */
PG_FUNCTION_INFO_V1(bf_introspect_endpoint);
Datum
bf_introspect_endpoint(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(bf_introspect(PG_ARGISNULL(0) ? NULL : PG_GETARG_JSONB_P(0),
								  PG_ARGISNULL(1) ? NULL : TextDatumGetCString(PG_GETARG_DATUM(1)),
								  PG_ARGISNULL(2) ? NULL : TextDatumGetCString(PG_GETARG_DATUM(2))));
}
