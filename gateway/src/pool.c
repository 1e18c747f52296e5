/*
 * pool.c - owns the PostgreSQL side: a fixed set of connections in libpq
 * pipeline mode, each with one thread that reads its results. HTTP threads
 * never wait for the database: pool_submit() queues the call on the least
 * loaded connection that is up and, when nobody else holds the connection,
 * sends it right away (PQsendQueryPrepared + PQpipelineSync on a
 * non-blocking socket, one sync per call so that every call is its own
 * transaction); otherwise whoever holds the connection sends it before
 * letting go. Either way it returns at once; the HTTP connection stays
 * suspended. The connection's thread wakes when answers
 * arrive, takes each row when its sync comes back, and calls job->done for
 * the whole batch after releasing the mutex; done resumes the HTTP
 * connection. The thread also owns the connection's life: asynchronous
 * connect, the one PREPARE, reconnects with exponential back-off (every call
 * on a lost connection gets 503), and the --timeout deadline of each call
 * (504, plus a cancel request for a call that holds up the pipeline).
 */
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "gateway.h"

#define STMT_NAME "backend_gateway_handle_request"
#define STMT_SQL "SELECT status, headers, body FROM api.handle_request(" \
  "$1::text, $2::text, $3::text, $4::jsonb, $5::bytea, $6::text)"
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define TICK_MS 200             /* longest sleep: deadline check period */

enum conn_state
{
  CS_DOWN,                      /* waiting for the next attempt */
  CS_CONNECTING,                /* PQconnectPoll in progress */
  CS_PREPARING,                 /* PREPARE sent, waiting for its sync */
  CS_READY                      /* accepting calls */
};

struct dbconn
{
  struct pool *pool;
  unsigned index;
  pthread_t thread;
  bool started;
  int evfd;                     /* wakes the thread: output pending, stop */

  /* Guarded by lock. While accepting is false only the connection's own
     thread touches pg; once it is true, every use of pg takes the lock,
     and every holder lets go through release(). */
  pthread_mutex_t lock;
  PGconn *pg;
  bool broken;                  /* a send failed; the thread reconnects */
  bool want_write;              /* libpq holds unsent output */
  struct job **fifo;            /* sent calls in order; NULL = answered 504 */
  size_t fifo_cap;
  size_t fifo_head;
  size_t fifo_len;
  int phase;                    /* head: 0 its row, 1 end of rows, 2 sync */
  bool head_failed;
  bool head_cancelled;

  pthread_mutex_t qlock;        /* guards the three below; never waits */
  bool accepting;               /* CS_READY and not broken (changed under */
                                /* both locks) */
  struct job *pending_head;     /* queued by pool_submit, not yet sent */
  struct job *pending_tail;

  atomic_bool up;               /* lock-free copy of accepting */
  atomic_int load;              /* calls pending or in the fifo */
  atomic_uint backoff_ms;

  /* private to the connection's thread */
  enum conn_state state;
  PostgresPollingStatusType want;
  uint64_t next_attempt_us;
  uint64_t connect_deadline_us;
  bool ever_up;
  struct job prepare;           /* marks the PREPARE in the fifo */
  struct job *done_head;        /* finished under the lock, */
  struct job *done_tail;        /* resumed after releasing it */
};

struct pool
{
  struct config *cfg;
  unsigned n;
  atomic_bool stop;
  atomic_uint rr;
  struct dbconn conns[];
};

/* ---- fifo of sent calls (under the lock) ------------------------------ */

static struct job **
fifo_at (struct dbconn *c, size_t i)
{
  return &c->fifo[(c->fifo_head + i) % c->fifo_cap];
}

static bool
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
static void
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
static void
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

void
job_free_result (struct job *job)
{
  if (NULL != job->res)
  {
    PQclear (job->res);
    job->res = NULL;
  }
}

static int
ms_until (uint64_t when, uint64_t now, int cap)
{
  uint64_t ms;

  if (when <= now)
    return 0;
  ms = (when - now + 999) / 1000;
  return ms > (uint64_t) cap ? cap : (int) ms;
}

/* libpq messages span lines; the log wants one. */
static void
one_line (char *out, size_t cap, const char *why)
{
  size_t n = 0;

  for (const char *p = why; *p && n < cap - 1; p++)
  {
    bool space = (' ' == *p || '\n' == *p || '\t' == *p);

    if (! space)
      out[n++] = *p;
    else if (n > 0 && ' ' != out[n - 1])
      out[n++] = ' ';
  }
  while (n > 0 && ' ' == out[n - 1])
    n--;
  out[n] = '\0';
}

/* Drops the connection, answers 503 to every call on it and schedules the
   next attempt. why == NULL: shutting down, no log. */
static void
go_down (struct dbconn *c, const char *why)
{
  struct pool *p = c->pool;
  unsigned backoff = atomic_load (&c->backoff_ms);
  struct job *pending;
  PGconn *pg;

  if (NULL != why)
  {
    char msg[512];

    one_line (msg, sizeof msg, why);
    log_error ("database connection %u: %s; retrying in %u ms", c->index,
               msg, backoff);
    metrics_db_error (&p->cfg->metrics, DBERR_CONNECTION);
  }
  pthread_mutex_lock (&c->lock);
  pthread_mutex_lock (&c->qlock);
  c->accepting = false;
  pending = c->pending_head;
  c->pending_head = c->pending_tail = NULL;
  pthread_mutex_unlock (&c->qlock);
  atomic_store (&c->up, false);
  pg = c->pg;
  c->pg = NULL;
  for (size_t i = 0; i < c->fifo_len; i++)
  {
    struct job *j = *fifo_at (c, i);

    if (NULL != j && &c->prepare != j)
      finish (c, j, JOB_UNAVAILABLE);
  }
  atomic_fetch_sub (&c->load, (int) c->fifo_len);
  while (NULL != pending)
  {
    struct job *next = pending->next;

    atomic_fetch_sub (&c->load, 1);
    finish (c, pending, JOB_UNAVAILABLE);
    pending = next;
  }
  c->fifo_len = 0;
  c->fifo_head = 0;
  c->phase = 0;
  c->head_failed = false;
  c->head_cancelled = false;
  c->want_write = false;
  c->broken = false;
  pthread_mutex_unlock (&c->lock);
  if (NULL != pg)
    PQfinish (pg);
  resume_done (c);
  c->state = CS_DOWN;
  c->next_attempt_us = now_us () + (uint64_t) backoff * 1000u;
  backoff *= 2;
  atomic_store (&c->backoff_ms, backoff > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
                : backoff);
}

/* ---- connecting (the thread alone uses pg here) ------------------------ */

static void
on_notice (void *arg, const PGresult *res)
{
  const char *sev = PQresultErrorField (res, PG_DIAG_SEVERITY_NONLOCALIZED);

  (void) arg;
  if (NULL != sev && 0 == strcmp (sev, "WARNING"))
    log_error ("database warning: %s", PQresultErrorMessage (res));
}

static void
start_connect (struct dbconn *c)
{
  const char *keys[] = { "dbname", "fallback_application_name", NULL };
  const char *vals[] = { c->pool->cfg->database, "backend-gateway", NULL };
  PGconn *pg = PQconnectStartParams (keys, vals, 1);

  pthread_mutex_lock (&c->lock);
  c->pg = pg;
  pthread_mutex_unlock (&c->lock);
  if (NULL == pg)
  {
    go_down (c, "out of memory");
    return;
  }
  if (CONNECTION_BAD == PQstatus (pg))
  {
    go_down (c, PQerrorMessage (pg));
    return;
  }
  c->state = CS_CONNECTING;
  c->want = PGRES_POLLING_WRITING;
  c->connect_deadline_us = now_us ()
    + (uint64_t) c->pool->cfg->timeout * 1000000u;
}

/* Under the lock (or before accepting). false = connection broken. */
static bool
flush_out (struct dbconn *c)
{
  int r = PQflush (c->pg);

  if (r < 0)
    return false;
  c->want_write = (1 == r);
  return true;
}

/* Connected: pipeline mode, then the one PREPARE. */
static void
start_prepare (struct dbconn *c)
{
  bool ok;

  PQsetNoticeReceiver (c->pg, on_notice, c);
  pthread_mutex_lock (&c->lock);
  ok = 0 == PQsetnonblocking (c->pg, 1)
       && PQenterPipelineMode (c->pg)
       && PQsendPrepare (c->pg, STMT_NAME, STMT_SQL, 6, NULL)
       && PQpipelineSync (c->pg)
       && fifo_push (c, &c->prepare)
       && flush_out (c);
  if (ok)
    atomic_fetch_add (&c->load, 1);
  pthread_mutex_unlock (&c->lock);
  if (! ok)
  {
    go_down (c, PQerrorMessage (c->pg));
    return;
  }
  c->state = CS_PREPARING;
}

static void
connect_step (struct dbconn *c)
{
  c->want = PQconnectPoll (c->pg);
  if (PGRES_POLLING_OK == c->want)
    start_prepare (c);
  else if (PGRES_POLLING_FAILED == c->want)
    go_down (c, PQerrorMessage (c->pg));
}

/* ---- sending (under the lock) ----------------------------------------- */

static void
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
static void
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
static void
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
static bool
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
static uint64_t
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

/* ---- the connection's thread ------------------------------------------- */

static void
wait_events (struct dbconn *c, struct pollfd *pfd, nfds_t n, int timeout_ms)
{
  uint64_t junk;

  if (poll (pfd, n, timeout_ms) < 0 && EINTR != errno)
    log_error ("database connection %u: poll: %s", c->index,
               strerror (errno));
  if (pfd[0].revents & POLLIN)
    while (read (c->evfd, &junk, sizeof junk) > 0)
      ;
}

static void
step_live (struct dbconn *c)
{
  struct pollfd pfd[2];
  uint64_t now = now_us ();
  uint64_t next;
  PGcancel *cancel = NULL;
  char err[256];
  bool ok;

  pthread_mutex_lock (&c->lock);
  if (c->broken)
  {
    snprintf (err, sizeof err, "%s", PQerrorMessage (c->pg));
    pthread_mutex_unlock (&c->lock);
    go_down (c, err);
    return;
  }
  next = check_deadlines (c, now, &cancel);
  send_pending (c);
  pfd[0] = (struct pollfd) { .fd = c->evfd, .events = POLLIN };
  pfd[1] = (struct pollfd) {
    .fd = PQsocket (c->pg),
    .events = POLLIN | (c->want_write ? POLLOUT : 0)
  };
  release (c);
  resume_done (c);
  if (NULL != cancel)
  {
    if (! PQcancel (cancel, err, sizeof err))
      log_error ("database connection %u: cancel failed: %s", c->index, err);
    PQfreeCancel (cancel);
  }

  wait_events (c, pfd, 2, 0 != next ? ms_until (next, now, TICK_MS)
               : TICK_MS);

  pthread_mutex_lock (&c->lock);
  ok = true;
  if (pfd[1].revents & (POLLIN | POLLERR | POLLHUP))
    ok = PQconsumeInput (c->pg);
  if (ok)                       /* a send may have buffered answers too */
    ok = read_results (c);
  if (ok && (c->want_write || (pfd[1].revents & POLLOUT)))
    ok = flush_out (c);
  if (ok)
    send_pending (c);
  ok = ok && ! c->broken;
  if (! ok)
    snprintf (err, sizeof err, "%s", PQerrorMessage (c->pg));
  release (c);
  resume_done (c);
  if (! ok)
    go_down (c, err);
}

static void
step_connecting (struct dbconn *c)
{
  struct pollfd pfd[2];
  uint64_t now = now_us ();

  if (now >= c->connect_deadline_us)
  {
    go_down (c, "connection attempt timed out");
    return;
  }
  pfd[0] = (struct pollfd) { .fd = c->evfd, .events = POLLIN };
  pfd[1] = (struct pollfd) {
    .fd = PQsocket (c->pg),
    .events = PGRES_POLLING_READING == c->want ? POLLIN : POLLOUT
  };
  wait_events (c, pfd, 2, ms_until (c->connect_deadline_us, now, TICK_MS));
  if (0 != pfd[1].revents)
    connect_step (c);
}

static void
step_down (struct dbconn *c)
{
  struct pollfd pfd[1];
  uint64_t now = now_us ();

  if (now >= c->next_attempt_us)
  {
    start_connect (c);
    return;
  }
  pfd[0] = (struct pollfd) { .fd = c->evfd, .events = POLLIN };
  wait_events (c, pfd, 1, ms_until (c->next_attempt_us, now, TICK_MS));
}

static void *
conn_main (void *arg)
{
  struct dbconn *c = arg;

  while (! atomic_load (&c->pool->stop))
  {
    switch (c->state)
    {
    case CS_DOWN:
      step_down (c);
      break;
    case CS_CONNECTING:
      step_connecting (c);
      break;
    case CS_PREPARING:
    case CS_READY:
      step_live (c);
      break;
    }
  }
  go_down (c, NULL);
  return NULL;
}

/* ---- the interface ------------------------------------------------------ */

struct pool *
pool_start (struct config *cfg)
{
  struct pool *p;
  char *err = NULL;
  PQconninfoOption *opts = PQconninfoParse (cfg->database, &err);

  if (NULL == opts)
  {
    char msg[512];

    one_line (msg, sizeof msg, NULL != err ? err : "out of memory");
    log_error ("--database: %s", msg);
    PQfreemem (err);
    return NULL;
  }
  PQconninfoFree (opts);
  p = calloc (1, sizeof *p + cfg->pool_size * sizeof (struct dbconn));
  if (NULL == p)
    return NULL;
  p->cfg = cfg;
  p->n = cfg->pool_size;
  for (unsigned i = 0; i < p->n; i++)
  {
    struct dbconn *c = &p->conns[i];

    c->pool = p;
    c->index = i;
    c->state = CS_DOWN;
    c->evfd = -1;
    atomic_store (&c->backoff_ms, BACKOFF_MIN_MS);
    pthread_mutex_init (&c->lock, NULL);
    pthread_mutex_init (&c->qlock, NULL);
  }
  for (unsigned i = 0; i < p->n; i++)
  {
    struct dbconn *c = &p->conns[i];

    c->evfd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (c->evfd < 0 || 0 != pthread_create (&c->thread, NULL, conn_main, c))
    {
      log_error ("cannot start database thread: %s", strerror (errno));
      pool_free (p);
      return NULL;
    }
    c->started = true;
  }
  return p;
}

/* Queues the call on c and sends it at once if c is free; false if c does
   not take calls right now. Never waits for another holder of c. */
static bool
send_on (struct dbconn *c, struct job *job)
{
  pthread_mutex_lock (&c->qlock);
  if (! c->accepting)
  {
    pthread_mutex_unlock (&c->qlock);
    return false;
  }
  if (NULL == c->pending_tail)
    c->pending_head = job;
  else
    c->pending_tail->next = job;
  c->pending_tail = job;
  atomic_fetch_add (&c->load, 1);
  pthread_mutex_unlock (&c->qlock);
  if (0 == pthread_mutex_trylock (&c->lock))
  {
    send_pending (c);
    release (c);
  }
  return true;
}

bool
pool_submit (struct pool *p, struct job *job)
{
  unsigned start = atomic_fetch_add (&p->rr, 1);
  uint64_t tried = 0;

  job->result = JOB_PENDING;
  job->res = NULL;
  job->next = NULL;
  job->deadline_us = now_us () + (uint64_t) p->cfg->timeout * 1000000u;
  while (! atomic_load (&p->stop))
  {
    struct dbconn *best = NULL;
    int best_load = 0;

    for (unsigned k = 0; k < p->n; k++)
    {
      unsigned i = (start + k) % p->n;
      struct dbconn *c = &p->conns[i];
      int load;

      if ((tried >> i) & 1 || ! atomic_load (&c->up))
        continue;
      load = atomic_load (&c->load);
      if (NULL == best || load < best_load)
      {
        best = c;
        best_load = load;
      }
    }
    if (NULL == best)
      break;
    if (send_on (best, job))
      return true;
    tried |= 1ULL << best->index;
  }
  metrics_db_error (&p->cfg->metrics, DBERR_UNAVAILABLE);
  return false;
}

/* Stops the threads; every call still queued gets 503. The struct stays
   valid (submissions are refused) until pool_free. */
void
pool_shutdown (struct pool *p)
{
  if (NULL == p || atomic_exchange (&p->stop, true))
    return;
  for (unsigned i = 0; i < p->n; i++)
    if (p->conns[i].evfd >= 0)
      wake (&p->conns[i]);
  for (unsigned i = 0; i < p->n; i++)
    if (p->conns[i].started)
      pthread_join (p->conns[i].thread, NULL);
}

void
pool_free (struct pool *p)
{
  if (NULL == p)
    return;
  pool_shutdown (p);
  for (unsigned i = 0; i < p->n; i++)
  {
    struct dbconn *c = &p->conns[i];

    if (c->evfd >= 0)
      close (c->evfd);
    pthread_mutex_destroy (&c->lock);
    pthread_mutex_destroy (&c->qlock);
    free (c->fifo);
  }
  free (p);
}

unsigned
pool_retry_after (struct pool *p)
{
  unsigned ms = BACKOFF_MAX_MS;

  for (unsigned i = 0; i < p->n; i++)
  {
    unsigned b = atomic_load (&p->conns[i].backoff_ms);

    if (b < ms)
      ms = b;
  }
  return ms < 1000 ? 1 : (ms + 999) / 1000;
}

void
pool_stats (struct pool *p, int *size, int *up, int *busy)
{
  *size = (int) p->n;
  *up = 0;
  *busy = 0;
  for (unsigned i = 0; i < p->n; i++)
  {
    if (atomic_load (&p->conns[i].up))
      (*up)++;
    if (atomic_load (&p->conns[i].load) > 0)
      (*busy)++;
  }
}

bool
pool_wait_up (struct pool *p, unsigned ms)
{
  for (unsigned waited = 0;; waited += 10)
  {
    for (unsigned i = 0; i < p->n; i++)
      if (atomic_load (&p->conns[i].up))
        return true;
    if (waited >= ms)
      return false;
    usleep (10000);
  }
}
