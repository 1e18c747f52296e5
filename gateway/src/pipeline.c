/*
 * pipeline.c - owns the traffic on one pooled connection in libpq pipeline
 * mode: the queue of calls waiting to be sent (filled by pool_submit without
 * ever waiting), sending them (PQsendQueryPrepared + PQpipelineSync: one sync
 * per call, so every call is its own transaction), the fifo of calls sent,
 * taking each answer when its sync comes back, and the --timeout deadline of
 * each call. Whoever holds the connection's mutex sends what is queued before
 * letting go (release), so a caller that finds it busy just queues and
 * returns. Finished calls are collected under the mutex and resumed after it
 * (resume_done).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dbconn.h"

/* ---- fifo of sent calls (under the lock) ------------------------------ */

struct job **
fifo_at (struct dbconn *c, size_t i)
{
  return &c->fifo[(c->fifo_head + i) % c->fifo_cap];
}

bool
fifo_push (struct dbconn *c, struct job *j)
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
  atomic_fetch_sub (&c->load, 1);
}

/* ---- finishing calls ---------------------------------------------------- */

/* Records the outcome; the HTTP side hears of it in resume_done(). */
void
finish (struct dbconn *c, struct job *j, enum job_result r)
{
  if (JOB_OK != r && NULL != j->res)
  {
    PQclear (j->res);
    j->res = NULL;
  }
  j->result = r;
  j->next = NULL;
  if (NULL == c->done_tail)
    c->done_head = j;
  else
    c->done_tail->next = j;
  c->done_tail = j;
}

/* Outside the lock: resumes every HTTP connection finished meanwhile. */
void
resume_done (struct dbconn *c)
{
  struct job *j = c->done_head;

  c->done_head = c->done_tail = NULL;
  while (NULL != j)
  {
    struct job *next = j->next;

    j->done (j);                /* j may be gone from here on */
    j = next;
  }
}

/* Under the lock (or before accepting). false = connection broken. */
bool
flush_out (struct dbconn *c)
{
  int r = PQflush (c->pg);

  if (r < 0)
    return false;
  c->want_write = (1 == r);
  return true;
}

/* ---- sending (under the lock) ----------------------------------------- */

void
wake (struct dbconn *c)
{
  uint64_t one = 1;

  if (write (c->evfd, &one, sizeof one) < 0 && EAGAIN != errno)
    log_error ("database connection %u: wake-up failed: %s", c->index,
               strerror (errno));
}

/* A send failed: stop taking calls; the thread answers 503 and reconnects. */
static void
mark_broken (struct dbconn *c)
{
  c->broken = true;
  pthread_mutex_lock (&c->qlock);
  c->accepting = false;
  pthread_mutex_unlock (&c->qlock);
  atomic_store (&c->up, false);
  wake (c);
}

/* Sends every queued call, each followed by its own sync. */
void
send_pending (struct dbconn *c)
{
  static const int formats[6] = { 0, 0, 0, 0, 1, 0 };
  struct job *list;
  bool had_output = c->want_write;

  if (c->broken)
    return;
  pthread_mutex_lock (&c->qlock);
  list = c->pending_head;
  c->pending_head = c->pending_tail = NULL;
  pthread_mutex_unlock (&c->qlock);
  if (NULL == list)
    return;
  while (NULL != list)
  {
    struct job *j = list;

    if (! fifo_push (c, j))
      break;                    /* j and the rest go back to pending */
    list = j->next;
    j->next = NULL;
    if (! PQsendQueryPrepared (c->pg, STMT_NAME, 6, j->values, j->lengths,
                               formats, 0) || ! PQpipelineSync (c->pg))
      break;
  }
  if (NULL == list && flush_out (c))
  {
    if (c->want_write && ! had_output)
      wake (c);                 /* the thread must wait for POLLOUT */
    return;
  }
  if (NULL != list)
  {                             /* unsent: back in front, go_down fails them */
    struct job *tail = list;

    while (NULL != tail->next)
      tail = tail->next;
    pthread_mutex_lock (&c->qlock);
    tail->next = c->pending_head;
    if (NULL == c->pending_head)
      c->pending_tail = tail;
    c->pending_head = list;
    pthread_mutex_unlock (&c->qlock);
  }
  mark_broken (c);
}

/* Lets go of the connection, first sending what was queued meanwhile by
   callers that found it taken. */
void
release (struct dbconn *c)
{
  for (;;)
  {
    bool more;

    pthread_mutex_unlock (&c->lock);
    pthread_mutex_lock (&c->qlock);
    more = c->accepting && NULL != c->pending_head;
    pthread_mutex_unlock (&c->qlock);
    if (! more || 0 != pthread_mutex_trylock (&c->lock))
      return;                   /* nothing left, or the new holder sends */
    send_pending (c);
  }
}

/* ---- answers (all under the lock) -------------------------------------- */

static void
became_ready (struct dbconn *c)
{
  c->state = CS_READY;
  pthread_mutex_lock (&c->qlock);
  c->accepting = true;
  pthread_mutex_unlock (&c->qlock);
  atomic_store (&c->up, true);
  atomic_store (&c->backoff_ms, BACKOFF_MIN_MS);
  if (c->ever_up)
    log_info ("database connection %u is back", c->index);
  c->ever_up = true;
}

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
    became_ready (c);
  }
  else if (NULL != j)
  {
    if (failed)
      metrics_db_error (&c->pool->cfg->metrics, DBERR_SQL);
    finish (c, j, failed ? JOB_SQL_ERROR : JOB_OK);
  }
  return true;
}

/* Takes every answer already received. false = connection broken. */
bool
read_results (struct dbconn *c)
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
check_deadlines (struct dbconn *c, uint64_t now, PGcancel **cancel)
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
    finish (c, j, JOB_TIMEOUT);
  }
  return 0;
}

