/*
 * pipeline.c - owns the traffic on one live connection in libpq pipeline
 * mode, always on the connection's own thread: sending the calls taken from
 * the hand-over queue (PQsendQueryPrepared + PQpipelineSync: one sync per
 * call, so every call is its own transaction), the fifo of calls sent,
 * taking each answer when its sync comes back, and the --timeout deadline
 * of each call. Each call finishes here exactly once (pipeline_finish).
 */
#include <stdlib.h>
#include <string.h>

#include "dbconn.h"

/* ---- fifo of sent calls ------------------------------------------------- */

static struct job **
fifo_at (struct dbconn *c, size_t i)
{
  return &c->fifo[(c->fifo_head + i) % c->fifo_cap];
}

bool
pipeline_push (struct dbconn *c, struct job *j)
{
  if (c->fifo_len == c->fifo_cap)
  {
    size_t cap = c->fifo_cap ? c->fifo_cap * 2 : 64;
    struct job **f = malloc (cap * sizeof *f);

    if (NULL == f)
      return false;
    for (size_t i = 0; i < c->fifo_len; i++)
      f[i] = *fifo_at (c, i);
    free (c->fifo);
    c->fifo = f;
    c->fifo_cap = cap;
    c->fifo_head = 0;
  }
  c->fifo[(c->fifo_head + c->fifo_len) % c->fifo_cap] = j;
  c->fifo_len++;
  return true;
}

static void
fifo_pop (struct dbconn *c)
{
  c->fifo_head = (c->fifo_head + 1) % c->fifo_cap;
  c->fifo_len--;
}

/* ---- finishing calls ---------------------------------------------------- */

/* Records the outcome and hands the job back (j may be gone afterwards). */
void
pipeline_finish (struct dbconn *c, struct job *j, enum job_result r)
{
  if (JOB_OK != r && NULL != j->res)
  {
    PQclear (j->res);
    j->res = NULL;
  }
  j->result = r;
  j->next = NULL;
  atomic_fetch_sub (&c->load, 1);
  j->done (j);
}

/* The connection is lost or closing: every call sent on it gets 503. */
void
pipeline_fail_all (struct dbconn *c)
{
  for (size_t i = 0; i < c->fifo_len; i++)
  {
    struct job *j = *fifo_at (c, i);

    if (NULL != j && &c->prepare != j)
      pipeline_finish (c, j, JOB_UNAVAILABLE);
  }
  c->fifo_len = 0;
  c->fifo_head = 0;
  c->phase = 0;
  c->head_failed = false;
  c->head_cancelled = false;
  c->want_write = false;
}

/* false = connection broken. */
bool
pipeline_flush (struct dbconn *c)
{
  int r = PQflush (c->pg);

  if (r < 0)
    return false;
  c->want_write = (1 == r);
  return true;
}

/* ---- sending ------------------------------------------------------------ */

/* Sends every queued call, each followed by its own sync. false = the
   connection is broken (the calls not sent got 503, those sent are in the
   fifo for pipeline_fail_all). */
bool
pipeline_send_queued (struct dbconn *c)
{
  static const int formats[6] = { 0, 0, 0, 0, 1, 0 };
  struct job *list = conn_take_queue (c);
  bool ok = true;

  if (NULL == list)
    return true;
  while (NULL != list)
  {
    struct job *j = list;

    list = j->next;
    j->next = NULL;
    if (! ok || ! pipeline_push (c, j))
    {
      ok = false;
      pipeline_finish (c, j, JOB_UNAVAILABLE);
      continue;
    }
    if (! PQsendQueryPrepared (c->pg, STMT_NAME, 6, j->values, j->lengths,
                               formats, 0) || ! PQpipelineSync (c->pg))
      ok = false;               /* j is in the fifo: fail_all answers it */
  }
  return ok && pipeline_flush (c);
}

/* ---- answers ------------------------------------------------------------ */

static void
take_result (struct dbconn *c, struct job *j, PGresult *res)
{
  ExecStatusType st = PQresultStatus (res);

  if (NULL == j)
  {                             /* the caller already got its 504 */
    PQclear (res);
    return;
  }
  if (&c->prepare == j)
  {
    if (PGRES_COMMAND_OK != st)
    {
      log_error ("database connection %u: cannot prepare the call: %s",
                 c->index, PQresultErrorMessage (res));
      c->head_failed = true;
    }
    PQclear (res);
    return;
  }
  if (PGRES_TUPLES_OK == st && NULL == j->res && ! c->head_failed)
  {
    if (1 == PQntuples (res) && 3 == PQnfields (res))
    {
      j->res = res;
      return;
    }
    log_error ("request %s: api.handle_request returned %d rows", j->tag,
               PQntuples (res));
  }
  else if (PGRES_FATAL_ERROR == st)
  {
    const char *state = PQresultErrorField (res, PG_DIAG_SQLSTATE);

    log_error ("request %s: database error %s: %s", j->tag,
               state ? state : "?????", PQresultErrorMessage (res));
  }
  else
    log_error ("request %s: unexpected database result %s", j->tag,
               PQresStatus (st));
  c->head_failed = true;
  PQclear (res);
}

/* The head's sync arrived: its transaction is over. */
static bool
finish_head (struct dbconn *c)
{
  struct job *j = *fifo_at (c, 0);
  bool failed = c->head_failed;

  fifo_pop (c);
  c->phase = 0;
  c->head_failed = false;
  c->head_cancelled = false;
  if (&c->prepare == j)
  {
    if (failed)
      return false;
    conn_became_ready (c);
  }
  else if (NULL != j)
  {
    if (failed)
      metrics_db_error (&c->pool->cfg->metrics, DBERR_SQL);
    pipeline_finish (c, j, failed ? JOB_SQL_ERROR : JOB_OK);
  }
  return true;
}

/* Takes every answer already received. false = connection broken. */
bool
pipeline_read (struct dbconn *c)
{
  while (c->fifo_len > 0 && ! PQisBusy (c->pg))
  {
    PGresult *res = PQgetResult (c->pg);
    struct job *j = *fifo_at (c, 0);

    if (0 == c->phase)
    {
      if (NULL == res)
        return CONNECTION_OK == PQstatus (c->pg);
      if (PGRES_PIPELINE_SYNC == PQresultStatus (res))
      {                         /* no row at all: count it failed */
        PQclear (res);
        c->head_failed = true;
        if (! finish_head (c))
          return false;
        continue;
      }
      take_result (c, j, res);
      c->phase = 1;
    }
    else if (1 == c->phase)
    {
      if (NULL == res)
        c->phase = 2;
      else
        take_result (c, j, res);
    }
    else
    {
      if (NULL == res)
        break;
      if (PGRES_PIPELINE_SYNC == PQresultStatus (res))
      {
        PQclear (res);
        if (! finish_head (c))
          return false;
      }
      else
        take_result (c, j, res);        /* e.g. an error at commit */
    }
  }
  return CONNECTION_BAD != PQstatus (c->pg);
}

/* Answers 504 for calls past their deadline; returns the next deadline (0:
   none) and, when the call at the head is overdue, a cancel handle. */
uint64_t
pipeline_deadlines (struct dbconn *c, uint64_t now, PGcancel **cancel)
{
  for (size_t i = 0; i < c->fifo_len; i++)
  {
    struct job **slot = fifo_at (c, i);
    struct job *j = *slot;

    if (NULL == j || &c->prepare == j)
      continue;
    if (j->deadline_us > now)
      return j->deadline_us;
    log_error ("request %s: no answer from the database within %u s",
               j->tag, c->pool->cfg->timeout);
    metrics_db_error (&c->pool->cfg->metrics, DBERR_TIMEOUT);
    if (0 == i && ! c->head_cancelled)
    {
      c->head_cancelled = true;
      *cancel = PQgetCancel (c->pg);
    }
    *slot = NULL;
    pipeline_finish (c, j, JOB_TIMEOUT);
  }
  return 0;
}
