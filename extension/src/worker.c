/*
 * worker.c — the extension's background worker: one per database where the
 * extension meters calls, started on demand by the first metered call of
 * that database (a dynamic background worker, so no setting names the
 * databases and pg_regress's databases get one too).
 *
 * Every second it writes the database's committed call counts from shared
 * memory into tenancy.api_usage (meter.c), and once more when it is told to
 * stop (SIGTERM, e.g. a fast or smart shutdown of the server). Every
 * backend_framework.purge_interval seconds (0: never) it runs
 * oauth.purge_expired(). Both run as backend_definer, like the SECURITY
 * DEFINER functions they replace.
 *
 * A worker leaves its database when someone needs the database to itself
 * (DROP DATABASE, CREATE DATABASE ... TEMPLATE, ALTER DATABASE RENAME wait
 * up to 5 s for other sessions to go; the worker notices within a second),
 * or when the extension is gone. The next metered call starts it again.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "backend_framework.h"

#define FLUSH_INTERVAL_MS 1000
/* A worker asked for but not connected after this long is asked for again. */
#define START_TIMEOUT_MS 10000

int			bf_purge_interval;	/* backend_framework.purge_interval (default: _PG_init) */

static volatile sig_atomic_t got_sigterm = false;

static void
worker_sigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	got_sigterm = true;
	SetLatch(MyLatch);
	errno = save_errno;
}

/*
 * Whether a worker serves db now (called with bf_shared->lock held
 * exclusively). *start is set when one should be started: none was asked
 * for, or the last request went unanswered; the slot is marked as asked.
 */
bool
bf_worker_serving(Oid db, bool *start)
{
	BfWorkerSlot *free_slot = NULL;
	TimestampTz now = GetCurrentTimestamp();
	int			i;

	*start = false;
	for (i = 0; i < BF_MAX_WORKERS; i++)
	{
		BfWorkerSlot *s = &bf_shared->workers[i];

		if (s->db == db)
		{
			if (s->pid != 0)
				return true;
			if (TimestampDifferenceExceeds(s->asked_at, now, START_TIMEOUT_MS))
			{
				s->asked_at = now;
				*start = true;
			}
			return false;
		}
		if (s->db == InvalidOid && free_slot == NULL)
			free_slot = s;
	}
	if (free_slot != NULL)
	{
		free_slot->db = db;
		free_slot->pid = 0;
		free_slot->asked_at = now;
		*start = true;
	}
	return false;
}

/* Registers the worker of db (a failure only leaves the calls counted directly). */
void
bf_worker_start(Oid db)
{
	BackgroundWorker w;
	BackgroundWorkerHandle *h;

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(w.bgw_library_name, "backend_framework", BGW_MAXLEN);
	strlcpy(w.bgw_function_name, "bf_worker_main", BGW_MAXLEN);
	snprintf(w.bgw_name, BGW_MAXLEN, "backend_framework worker for database %u", db);
	strlcpy(w.bgw_type, "backend_framework worker", BGW_MAXLEN);
	w.bgw_main_arg = ObjectIdGetDatum(db);
	w.bgw_notify_pid = 0;
	if (!RegisterDynamicBackgroundWorker(&w, &h))
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("backend_framework: could not start the metering worker"),
				 errhint("Raise max_worker_processes; until then API calls are counted with a write each.")));
}

static void
release_slot(int code, Datum arg)
{
	int			i;

	LWLockAcquire(bf_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < BF_MAX_WORKERS; i++)
		if (bf_shared->workers[i].pid == MyProcPid)
		{
			bf_shared->workers[i].pid = 0;
			bf_shared->workers[i].db = InvalidOid;
		}
	LWLockRelease(bf_shared->lock);
}

/* Takes the slot of db; false when another worker already serves it. */
static bool
claim_slot(Oid db)
{
	bool		ok = false;
	int			i;

	LWLockAcquire(bf_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < BF_MAX_WORKERS && !ok; i++)
		if (bf_shared->workers[i].db == db)
		{
			if (bf_shared->workers[i].pid == 0)
			{
				bf_shared->workers[i].pid = MyProcPid;
				ok = true;
			}
			else
				break;
		}
	for (i = 0; i < BF_MAX_WORKERS && !ok; i++)
		if (bf_shared->workers[i].db == InvalidOid)
		{
			bf_shared->workers[i].db = db;
			bf_shared->workers[i].pid = MyProcPid;
			ok = true;
		}
	LWLockRelease(bf_shared->lock);
	return ok;
}

/*
 * Whether another session wants the database to itself: DROP, RENAME and
 * CREATE DATABASE ... TEMPLATE hold a lock on it that conflicts with the
 * one every new session takes (postinit.c).
 */
static bool
database_wanted(void)
{
	LOCKTAG		tag;

	SET_LOCKTAG_OBJECT(tag, InvalidOid, DatabaseRelationId, MyDatabaseId, 0);
	if (LockAcquire(&tag, RowExclusiveLock, true, true) == LOCKACQUIRE_NOT_AVAIL)
		return true;
	LockRelease(&tag, RowExclusiveLock, true);
	return false;
}

/* One flush (and the purge when due); false when the worker should leave. */
static bool
work(bool purge)
{
	volatile Datum t = 0,
				m = 0,
				c = 0;
	volatile int n = 0;
	volatile bool taken = false;
	volatile bool stay = true;
	MemoryContext cxt = CurrentMemoryContext;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PG_TRY();
	{
		if (database_wanted() || !OidIsValid(get_extension_oid("backend_framework", true)))
			stay = false;
		else
		{
			Oid			definer = bf_definer_oid();
			Oid			save_user;
			int			save_sec;

			PushActiveSnapshot(GetTransactionSnapshot());
			GetUserIdAndSecContext(&save_user, &save_sec);
			SetUserIdAndSecContext(definer, save_sec | SECURITY_LOCAL_USERID_CHANGE);
			if (SPI_connect() != SPI_OK_CONNECT)
				elog(ERROR, "SPI_connect failed");
			pgstat_report_activity(STATE_RUNNING, "flushing API call counts");
			{
				MemoryContext old = MemoryContextSwitchTo(cxt);

				Datum		tt,
							mm,
							cc;
				int			nn;

				taken = bf_meter_take(&tt, &mm, &cc, &nn);
				t = tt;
				m = mm;
				c = cc;
				n = nn;
				MemoryContextSwitchTo(old);
			}
			if (taken)
				bf_meter_write(t, m, c, 0);
			if (purge)
			{
				pgstat_report_activity(STATE_RUNNING, "SELECT oauth.purge_expired()");
				if (SPI_execute("SELECT oauth.purge_expired()", false, 0) != SPI_OK_SELECT)
					elog(ERROR, "oauth.purge_expired() failed");
				elog(DEBUG1, "backend_framework: purged %s expired rows",
					 SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
			}
			SPI_finish();
			SetUserIdAndSecContext(save_user, save_sec);
			PopActiveSnapshot();
		}
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		if (taken)
			bf_meter_done(t, m, c, n, false);
		taken = false;
		pgstat_report_activity(STATE_IDLE, NULL);
		return stay;
	}
	PG_END_TRY();
	if (taken)
		bf_meter_done(t, m, c, n, true);
	pgstat_report_activity(STATE_IDLE, NULL);
	return stay;
}

PGDLLEXPORT void bf_worker_main(Datum arg);

void
bf_worker_main(Datum arg)
{
	Oid			db = DatumGetObjectId(arg);
	TimestampTz last_purge;

	pqsignal(SIGTERM, worker_sigterm);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(db, InvalidOid, 0);
	/* The worker's own queries resolve nothing through a user's schema. */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
	if (!claim_slot(db))
		proc_exit(0);
	before_shmem_exit(release_slot, (Datum) 0);
	last_purge = GetCurrentTimestamp();

	for (;;)
	{
		bool		purge;

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 FLUSH_INTERVAL_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		purge = !got_sigterm && bf_purge_interval > 0 &&
			TimestampDifferenceExceeds(last_purge, GetCurrentTimestamp(), bf_purge_interval * 1000);
		if (purge)
			last_purge = GetCurrentTimestamp();
		if (!work(purge) || got_sigterm)
			break;
	}
	proc_exit(0);
}
