/*
 * lookup.c — direct index lookups for the hot paths (token.c, handlers.c):
 * a relation read through one of its indexes with equality keys, under a
 * snapshot the caller registers, without SQL, plans or a role switch.
 * Callers read only rows named by what they already know (a token's digest,
 * the context's own tenant and user), so bypassing the executor widens
 * nothing.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "executor/tuptable.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "backend_framework.h"

bf_relations bf_rel;

static const char *const token_cols[BF_TOK__N] = {
	"tenant_id", "client_id", "user_id", "scope", "kind", "expires_at", "revoked_at", "audience", "rotated_at", "created_at"
};

static const char *const client_cols[BF_CL__N] = {
	"token_endpoint_auth_method", "secret_hash", "grant_types", "scope", "access_token_ttl",
	"refresh_token_ttl", "resource_server", "access_token_format"
};

static void
relations_relcache_cb(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == bf_rel.tokens || relid == bf_rel.users || relid == bf_rel.tenants ||
		relid == bf_rel.clients)
		bf_rel.valid = false;
}

void
bf_lookup_init(void)
{
	CacheRegisterRelcacheCallback(relations_relcache_cb, (Datum) 0);
}

Oid
bf_relation_oid(const char *nsp, const char *name)
{
	Oid			oid = get_relname_relid(name, get_namespace_oid(nsp, false));

	if (!OidIsValid(oid))
		elog(ERROR, "relation %s.%s does not exist", nsp, name);
	return oid;
}

AttrNumber
bf_column(Oid relid, const char *name)
{
	AttrNumber	a = get_attnum(relid, name);

	if (a == InvalidAttrNumber)
		elog(ERROR, "column %s of relation %u does not exist", name, relid);
	return a;
}

/* An index scan of equality keys (index columns 1..n) over a relation. */
void
bf_scan_begin(bf_scan *s, Oid heap, Oid index, Snapshot snap, int n, const RegProcedure *eq, const Datum *vals)
{
	int			i;

	if (n > lengthof(s->keys))
		elog(ERROR, "bf_scan_begin: %d keys", n);
	s->heap = table_open(heap, AccessShareLock);
	s->index = index_open(index, AccessShareLock);
	s->nkeys = n;
	/* Each key compares with its index column's collation (text needs one). */
	for (i = 0; i < n; i++)
		ScanKeyEntryInitialize(&s->keys[i], 0, i + 1, BTEqualStrategyNumber, InvalidOid,
							   s->index->rd_indcollation[i], eq[i], vals[i]);
	s->slot = table_slot_create(s->heap, NULL);
	s->scan = index_beginscan(s->heap, s->index, snap, n, 0);
	index_rescan(s->scan, s->keys, n, NULL, 0);
}

/*
 * The next row whose columns equal the keys. A lossy index (a hash index
 * keeps only a 32-bit hash of the value) asks for a recheck: then the row's
 * own columns are compared, or two different tokens whose digests share a
 * hash would be taken for each other.
 */
bool
bf_scan_next(bf_scan *s)
{
	while (index_getnext_slot(s->scan, ForwardScanDirection, s->slot))
	{
		bool		match = true;
		int			i;

		for (i = 0; match && s->scan->xs_recheck && i < s->nkeys; i++)
		{
			bool		isnull;
			Datum		d = slot_getattr(s->slot, s->index->rd_index->indkey.values[i], &isnull);

			match = !isnull &&
				DatumGetBool(FunctionCall2Coll(&s->keys[i].sk_func, s->keys[i].sk_collation,
											   d, s->keys[i].sk_argument));
		}
		if (match)
			return true;
	}
	return false;
}

void
bf_scan_end(bf_scan *s)
{
	index_endscan(s->scan);
	ExecDropSingleTupleTableSlot(s->slot);
	index_close(s->index, AccessShareLock);
	table_close(s->heap, AccessShareLock);
}

/* A text column of the scan's current row, palloc'd, or NULL. */
char *
bf_slot_text(TupleTableSlot *slot, AttrNumber a)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, a, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}


/* The relations, indexes and columns of the hot paths, once per backend (again after DDL on them). */
void
bf_relations_load(void)
{
	int			i;

	if (bf_rel.valid)
		return;
	bf_rel.tokens = bf_relation_oid("oauth", "tokens");
	bf_rel.tokens_pkey = bf_relation_oid("oauth", "tokens_pkey");
	bf_rel.tokens_digest = bf_relation_oid("oauth", "tokens_digest_idx");
	bf_rel.users = bf_relation_oid("tenancy", "users");
	bf_rel.users_pkey = bf_relation_oid("tenancy", "users_pkey");
	bf_rel.tenants = bf_relation_oid("tenancy", "tenants");
	bf_rel.tenants_pkey = bf_relation_oid("tenancy", "tenants_pkey");
	for (i = 0; i < BF_TOK__N; i++)
		bf_rel.tok[i] = bf_column(bf_rel.tokens, token_cols[i]);
	bf_rel.clients = bf_relation_oid("oauth", "clients");
	bf_rel.clients_pkey = bf_relation_oid("oauth", "clients_pkey");
	for (i = 0; i < BF_CL__N; i++)
		bf_rel.client_cols[i] = bf_column(bf_rel.clients, client_cols[i]);
	bf_rel.tenant_settings = bf_column(bf_rel.tenants, "settings");
	bf_rel.user_role = bf_column(bf_rel.users, "role");
	bf_rel.user_status = bf_column(bf_rel.users, "status");
	bf_rel.user_email = bf_column(bf_rel.users, "email");
	bf_rel.tenant_status = bf_column(bf_rel.tenants, "status");
	bf_rel.tenant_slug = bf_column(bf_rel.tenants, "slug");
	bf_rel.tenant_name = bf_column(bf_rel.tenants, "name");
	bf_rel.tenant_plan = bf_column(bf_rel.tenants, "plan");
	bf_rel.valid = true;
}
