/*
 * meter.c — API call metering without a write per request.
 *
 * Each authenticated /api call is counted in shared memory, in a fixed-size
 * hash table keyed by (database, tenant, month). The extension's background
 * worker of that database (worker.c) moves the committed counts into
 * tenancy.api_usage every second and when it stops.
 *
 * A count goes through three states, all in the entry:
 *   reserved  taken by a transaction still running (the limit check sees
 *             it, so concurrent calls cannot pass the limit together);
 *   pending   committed, not yet written (the transaction's commit moves
 *             reserved to pending; an abort, or the abort of the handler's
 *             subtransaction, gives it back: a failed call is not charged);
 *   inflight  taken by the worker's flush, being written.
 * The worker moves pending to inflight, writes it, commits, then clears
 * inflight; a failed write puts it back. So a count is written at most once
 * and a crash (which resets shared memory) loses at most the counts of one
 * flush interval. The limit check reads the entry first and the table
 * after, so it never counts less than is true (during the instant between
 * the flush's commit and the clearing of inflight it counts that flush
 * twice, refusing at most that early).
 *
 * While no worker serves the database (not started yet, or none could be
 * started), and when the table is full, a call is written to
 * tenancy.api_usage at once, as before (one row per backend shard).
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "catalog/namespace.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/array.h"
#include "utils/datetime.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "backend_framework.h"

#define BF_METER_ENTRIES 16384
/* Rows per tenant and month of a direct write: the backend's pid picks one. */
#define BF_USAGE_SHARDS 16

typedef struct MeterKey
{
	Oid			db;
	pg_uuid_t	tenant;
	int32		month;			/* DateADT of the month's first day (UTC) */
} MeterKey;

typedef struct MeterEntry
{
	MeterKey	key;
	int64		reserved;
	int64		pending;
	int64		inflight;
} MeterEntry;

BfShared   *bf_shared = NULL;
static HTAB *meter_hash = NULL;

/* This backend's reservations not yet committed or aborted. */
typedef struct LocalCharge
{
	MeterKey	key;
	int			level;			/* transaction nesting level that made it */
} LocalCharge;
static LocalCharge *charges = NULL;
static int	ncharges = 0;
static int	maxcharges = 0;

Size
bf_meter_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(BfShared)),
					hash_estimate_size(BF_METER_ENTRIES, sizeof(MeterEntry)));
}

void
bf_meter_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	bf_shared = ShmemInitStruct("backend_framework", sizeof(BfShared), &found);
	if (!found)
	{
		memset(bf_shared, 0, sizeof(BfShared));
		bf_shared->lock = &(GetNamedLWLockTranche("backend_framework"))->lock;
	}
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(MeterKey);
	info.entrysize = sizeof(MeterEntry);
	meter_hash = ShmemInitHash("backend_framework meter", BF_METER_ENTRIES, BF_METER_ENTRIES,
							   &info, HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
	LWLockRelease(AddinShmemInitLock);
}

/* First day of the current transaction's month, UTC (as tenancy._month_start()). */
int32
bf_month_start(void)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (timestamp2tm(GetCurrentTransactionStartTimestamp(), NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR, (errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE), errmsg("timestamp out of range")));
	return date2j(tm.tm_year, tm.tm_mon, 1) - POSTGRES_EPOCH_JDATE;
}

static void
make_key(MeterKey *k, Oid db, const pg_uuid_t *tenant, int32 month)
{
	memset(k, 0, sizeof(*k));
	k->db = db;
	memcpy(&k->tenant, tenant, sizeof(pg_uuid_t));
	k->month = month;
}

/* Settles this backend's reservations: commit makes them pending. */
static void
settle(bool commit, int from_level)
{
	int			i,
				kept = 0;

	if (ncharges == 0)
		return;
	LWLockAcquire(bf_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < ncharges; i++)
	{
		MeterEntry *e;

		if (charges[i].level < from_level)
		{
			charges[kept++] = charges[i];
			continue;
		}
		e = hash_search(meter_hash, &charges[i].key, HASH_FIND, NULL);
		if (e == NULL)
			continue;			/* shared memory was reset (crash restart) */
		e->reserved--;
		if (commit)
			e->pending++;
	}
	LWLockRelease(bf_shared->lock);
	ncharges = kept;
}

static void
meter_xact_cb(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			settle(true, 0);
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			settle(false, 0);
			break;
		default:
			break;
	}
}

static void
meter_subxact_cb(SubXactEvent event, SubTransactionId mySubid, SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();
	int			i;

	if (event == SUBXACT_EVENT_ABORT_SUB)
		settle(false, level);
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
		for (i = 0; i < ncharges; i++)
			if (charges[i].level >= level)
				charges[i].level = level - 1;
}

static void readings_relcache_cb(Datum arg, Oid relid);

void
bf_meter_init(void)
{
	RegisterXactCallback(meter_xact_cb, NULL);
	RegisterSubXactCallback(meter_subxact_cb, NULL);
	CacheRegisterRelcacheCallback(readings_relcache_cb, (Datum) 0);
}

static void
remember(const MeterKey *k)
{
	if (ncharges == maxcharges)
	{
		maxcharges = maxcharges ? maxcharges * 2 : 8;
		charges = charges ? repalloc(charges, sizeof(LocalCharge) * maxcharges)
			: MemoryContextAlloc(TopMemoryContext, sizeof(LocalCharge) * maxcharges);
	}
	charges[ncharges].key = *k;
	charges[ncharges].level = GetCurrentTransactionNestLevel();
	ncharges++;
}

/*
 * The tenant's monthly limit (NULL: none) and the calls written to
 * tenancy.api_usage this month, read as backend_definer. Operators and
 * functions are schema-qualified: the caller's search_path is not trusted.
 */
static SPIPlanPtr limit_plan = NULL;

/*
 * This backend's last reading of each tenant's limit and written calls,
 * kept while no flush ran since (flush_seq unchanged and even: the table
 * holds what it held then; the worker moves flush_seq every second, so a
 * reading is at most about a second old) and tenancy.tenants did not change
 * (relcache invalidation, as for the tenant cache): the limit check then
 * needs no query. Without a worker (the direct path) nothing is kept.
 */
typedef struct LimitReading
{
	MeterKey	key;
	uint64		seq;
	uint64		generation;
	bool		has_limit;
	int64		lim;
	int64		flushed;
} LimitReading;
static HTAB *readings = NULL;
static uint64 readings_generation = 1;
static Oid	tenants_relid = InvalidOid;

static void
readings_relcache_cb(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == tenants_relid)
		readings_generation++;
}

static LimitReading *
reading(const MeterKey *k, bool create)
{
	bool		found;
	LimitReading *r;

	if (readings == NULL)
	{
		HASHCTL		info;

		memset(&info, 0, sizeof(info));
		info.keysize = sizeof(MeterKey);
		info.entrysize = sizeof(LimitReading);
		readings = hash_create("backend_framework limit readings", 64, &info, HASH_ELEM | HASH_BLOBS);
		tenants_relid = get_relname_relid("tenants", get_namespace_oid("tenancy", false));
	}
	r = hash_search(readings, k, create ? HASH_ENTER : HASH_FIND, &found);
	if (r != NULL && !found)
		r->generation = 0;
	return r;
}
static SPIPlanPtr write_plan = NULL;

static bool
read_limit(Datum tenant, int32 month, bool *has_limit, int64 *lim, int64 *flushed)
{
	Datum		a[2] = {tenant, DateADTGetDatum(month)};
	bool		isnull;

	{
		Oid			types[2] = {UUIDOID, DATEOID};

		bf_kept_plan(&limit_plan,
							 "SELECT CASE WHEN t.limit_overrides OPERATOR(pg_catalog.?) 'max_api_calls_per_month' "
							 "THEN (t.limit_overrides OPERATOR(pg_catalog.->>) 'max_api_calls_per_month')::pg_catalog.int8 "
							 "ELSE p.max_api_calls_per_month END, "
							 "(SELECT pg_catalog.sum(u.calls)::pg_catalog.int8 FROM tenancy.api_usage u "
							 " WHERE u.tenant_id OPERATOR(pg_catalog.=) t.id AND u.month OPERATOR(pg_catalog.=) $2) "
							 "FROM tenancy.tenants t JOIN tenancy.plans p ON p.name OPERATOR(pg_catalog.=) t.plan "
							 "WHERE t.id OPERATOR(pg_catalog.=) $1",
					 2, types);
	}
	if (SPI_execute_plan(limit_plan, a, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading the API call limit failed");
	if (SPI_processed == 0)
		return false;
	*lim = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	*has_limit = !isnull;
	*flushed = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	if (isnull)
		*flushed = 0;
	return true;
}

/* Adds calls to tenancy.api_usage (the worker's flush, and the direct path). */
void
bf_meter_write(Datum tenants, Datum months, Datum calls, int shard)
{
	Datum		a[4] = {tenants, months, calls, Int16GetDatum((int16) shard)};

	{
		Oid			types[4] = {UUIDARRAYOID, INT4ARRAYOID, INT8ARRAYOID, INT2OID};

		bf_kept_plan(&write_plan,
							 "INSERT INTO tenancy.api_usage AS u (tenant_id, month, shard, calls) "
							 "SELECT x.t, ('2000-01-01'::pg_catalog.date OPERATOR(pg_catalog.+) x.m), $4, x.n "
							 "FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3)) AS x(t, m, n) "
							 "WHERE EXISTS (SELECT FROM tenancy.tenants t WHERE t.id OPERATOR(pg_catalog.=) x.t) "
							 "ON CONFLICT (tenant_id, month, shard) "
							 "DO UPDATE SET calls = u.calls OPERATOR(pg_catalog.+) excluded.calls",
					 4, types);
	}
	if (SPI_execute_plan(write_plan, a, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "writing tenancy.api_usage failed");
}

static Datum
one_array(Datum d, Oid type)
{
	int16		len;
	bool		byval;
	char		align;

	get_typlenbyvalalign(type, &len, &byval, &align);
	return PointerGetDatum(construct_array(&d, 1, type, len, byval, align));
}

static void
limit_reached(int64 lim)
{
	ereport(ERROR,
			(errcode(BF_ERRCODE_API_LIMIT),
			 errmsg("monthly API call limit reached"),
			 errdetail("The tenant's plan allows " INT64_FORMAT " API calls per month.", lim),
			 errhint("Upgrade the plan or wait for next month.")));
}

/* The charge's reading and check, as backend_definer (bf_run_as_definer). */
typedef struct charge_args
{
	Datum		tenant;
	int32		month;
	int64		shm_used;
	bool		write;			/* no worker: write the call at once */
	bool		has_limit;
	int64		lim;
	int64		flushed;
} charge_args;

static void
charge_run(void *p)
{
	charge_args *a = p;

	if (!read_limit(a->tenant, a->month, &a->has_limit, &a->lim, &a->flushed))
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("tenant %s does not exist",
						DatumGetCString(DirectFunctionCall1(uuid_out, a->tenant)))));
	if (a->has_limit && a->flushed + a->shm_used >= a->lim)
		limit_reached(a->lim);
	if (a->write)
		bf_meter_write(one_array(a->tenant, UUIDOID), one_array(Int32GetDatum(a->month), INT4OID),
					   one_array(Int64GetDatum(1), INT8OID), MyProcPid % BF_USAGE_SHARDS);
}

/*
 * Counts one API call of a tenant in the current transaction and returns
 * the month's calls including it; TB002 when the month's limit is reached.
 * Runs its lookups as backend_definer.
 */
int64
bf_meter_charge(Datum tenant)
{
	const pg_uuid_t *t = DatumGetUUIDP(tenant);
	int32		month = bf_month_start();
	MeterKey	k;
	MeterEntry *e = NULL;
	int64		shm_used = 0;
	bool		need_worker = false;
	bool		has_limit = false;
	int64		lim = 0,
				flushed = 0;
	bool		found;
	uint64		seq;
	LimitReading *kept;

	make_key(&k, MyDatabaseId, t, month);
	LWLockAcquire(bf_shared->lock, LW_EXCLUSIVE);
	seq = bf_shared->flush_seq;
	if (bf_worker_serving(MyDatabaseId, &need_worker))
	{
		e = hash_search(meter_hash, &k, HASH_ENTER_NULL, &found);
		if (e != NULL)
		{
			if (!found)
				e->reserved = e->pending = e->inflight = 0;
			shm_used = e->reserved + e->pending + e->inflight;
			e->reserved++;
		}
	}
	LWLockRelease(bf_shared->lock);
	/* From here an error gives the reservation back (xact callbacks). */
	if (e != NULL)
		remember(&k);
	if (need_worker)
		bf_worker_start(MyDatabaseId);

	/* A reading from an earlier request, still true: no query. */
	kept = (e != NULL && seq % 2 == 0) ? reading(&k, false) : NULL;
	if (kept != NULL && kept->seq == seq && kept->generation == readings_generation)
	{
		if (kept->has_limit && kept->flushed + shm_used >= kept->lim)
			limit_reached(kept->lim);
		return kept->flushed + shm_used + 1;
	}

	{
		charge_args a = {tenant, month, shm_used, e == NULL};

		bf_run_as_definer(charge_run, &a);
		has_limit = a.has_limit;
		lim = a.lim;
		flushed = a.flushed;
	}
	/* Kept when no flush ran during the read (and none was running before it). */
	if (e != NULL && seq % 2 == 0)
	{
		uint64		gen = readings_generation;
		uint64		now_seq;

		LWLockAcquire(bf_shared->lock, LW_SHARED);
		now_seq = bf_shared->flush_seq;
		LWLockRelease(bf_shared->lock);
		if (now_seq == seq)
		{
			kept = reading(&k, true);
			kept->seq = seq;
			kept->generation = gen;
			kept->has_limit = has_limit;
			kept->lim = lim;
			kept->flushed = flushed;
		}
	}
	return flushed + shm_used + 1;
}

/* meter_used's reading, as backend_definer (bf_run_as_definer). */
typedef struct used_args
{
	Datum		tenant;
	int32		month;
	MeterKey	key;
	int64		used;
} used_args;

static void
used_run(void *p)
{
	used_args  *a = p;
	int			tries;

	for (tries = 0; tries < 1000; tries++)
	{
		uint64		seq1,
					seq2;
		int64		shm = 0,
					lim,
					flushed = 0;
		bool		has_limit;
		MeterEntry *e;

		LWLockAcquire(bf_shared->lock, LW_SHARED);
		seq1 = bf_shared->flush_seq;
		e = hash_search(meter_hash, &a->key, HASH_FIND, NULL);
		if (e)
			shm = e->pending + e->inflight;
		LWLockRelease(bf_shared->lock);
		if (!read_limit(a->tenant, a->month, &has_limit, &lim, &flushed))
			flushed = 0;
		LWLockAcquire(bf_shared->lock, LW_SHARED);
		seq2 = bf_shared->flush_seq;
		LWLockRelease(bf_shared->lock);
		a->used = flushed + shm;
		if (seq1 == seq2 && seq1 % 2 == 0)
			break;
		CHECK_FOR_INTERRUPTS();
		pg_usleep(1000L);
	}
}

/*
 * The month's calls of a tenant: written plus committed plus those of the
 * current transaction (as a transaction sees its own writes), exactly. The
 * entry is read before the table; when a flush of this database ran in
 * between (flush_seq moved, or was odd: writing), both are read again.
 */
static int64
meter_used(Datum tenant)
{
	used_args a = {tenant, bf_month_start(), {0}, 0};

	make_key(&a.key, MyDatabaseId, DatumGetUUIDP(tenant), a.month);
	bf_run_as_definer(used_run, &a);
	/* The transaction sees its own calls, as it saw its own row updates before. */
	{
		int64		total = a.used;
		int			j;

		for (j = 0; j < ncharges; j++)
			if (memcmp(&charges[j].key, &a.key, sizeof(a.key)) == 0)
				total++;
		return total;
	}
}

/*
 * The worker's side. bf_meter_take moves this database's pending counts to
 * inflight and returns them as three arrays (tenant, month, calls), or
 * false when there is nothing to write; bf_meter_done clears them after the
 * write committed (ok) or puts them back to pending (the write failed).
 */
bool
bf_meter_take(Datum *tenants, Datum *months, Datum *calls, int *n)
{
	HASH_SEQ_STATUS seq;
	MeterEntry *e;
	int			cap = 64,
				i = 0;
	Datum	   *t = palloc(sizeof(Datum) * cap),
			   *m = palloc(sizeof(Datum) * cap),
			   *c = palloc(sizeof(Datum) * cap);

	LWLockAcquire(bf_shared->lock, LW_EXCLUSIVE);
	bf_shared->flush_seq++;		/* odd: a flush is writing */
	hash_seq_init(&seq, meter_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		if (e->key.db != MyDatabaseId)
			continue;
		if (e->pending == 0)
		{
			if (e->reserved == 0 && e->inflight == 0)
				(void) hash_search(meter_hash, &e->key, HASH_REMOVE, NULL);
			continue;
		}
		if (i == cap)
		{
			cap *= 2;
			t = repalloc(t, sizeof(Datum) * cap);
			m = repalloc(m, sizeof(Datum) * cap);
			c = repalloc(c, sizeof(Datum) * cap);
		}
		{
			pg_uuid_t  *u = palloc(sizeof(pg_uuid_t));

			memcpy(u, &e->key.tenant, sizeof(pg_uuid_t));
			t[i] = UUIDPGetDatum(u);
		}
		m[i] = Int32GetDatum(e->key.month);
		c[i] = Int64GetDatum(e->pending);
		e->inflight += e->pending;
		e->pending = 0;
		i++;
	}
	if (i == 0)
		bf_shared->flush_seq++;
	LWLockRelease(bf_shared->lock);
	*n = i;
	if (i == 0)
		return false;
	*tenants = PointerGetDatum(construct_array(t, i, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
	*months = PointerGetDatum(construct_array(m, i, INT4OID, 4, true, TYPALIGN_INT));
	*calls = PointerGetDatum(construct_array(c, i, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	return true;
}

void
bf_meter_done(Datum tenants, Datum months, Datum calls, int n, bool ok)
{
	ArrayType  *ta = DatumGetArrayTypeP(tenants);
	ArrayType  *ma = DatumGetArrayTypeP(months);
	ArrayType  *ca = DatumGetArrayTypeP(calls);
	Datum	   *t,
			   *m,
			   *c;
	int			nt,
				i;

	deconstruct_array(ta, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR, &t, NULL, &nt);
	deconstruct_array(ma, INT4OID, 4, true, TYPALIGN_INT, &m, NULL, &nt);
	deconstruct_array(ca, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &c, NULL, &nt);
	LWLockAcquire(bf_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < n; i++)
	{
		MeterKey	k;
		MeterEntry *e;

		make_key(&k, MyDatabaseId, DatumGetUUIDP(t[i]), DatumGetInt32(m[i]));
		e = hash_search(meter_hash, &k, HASH_FIND, NULL);
		if (e == NULL)
			continue;
		e->inflight -= DatumGetInt64(c[i]);
		if (!ok)
			e->pending += DatumGetInt64(c[i]);
	}
	bf_shared->flush_seq++;
	LWLockRelease(bf_shared->lock);
}

/* SQL: tenancy.count_api_call(uuid) — one call counted (see 16_tenancy_usage.sql). */
PG_FUNCTION_INFO_V1(bf_count_api_call);
Datum
bf_count_api_call(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	PG_RETURN_INT64(bf_meter_charge(PG_GETARG_DATUM(0)));
}

/* SQL: tenancy.api_calls_this_month(uuid) — written and committed calls of this month. */
PG_FUNCTION_INFO_V1(bf_api_calls_this_month);
Datum
bf_api_calls_this_month(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	PG_RETURN_INT64(meter_used(PG_GETARG_DATUM(0)));
}
