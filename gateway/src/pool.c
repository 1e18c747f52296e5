/*
 * pool.c - owns the PostgreSQL side: a fixed set of connections, each driven
 * by its own thread in libpq pipeline mode. HTTP threads never block on the
 * database: they hand a job to the least loaded connection that is up and
 * suspend the HTTP connection; the connection's thread sends it
 * (PQsendQueryPrepared + PQpipelineSync, one sync per call so that every call
 * is its own transaction), reads the row when the sync comes back, and calls
 * job->done, which resumes the HTTP connection. The thread also owns the
 * connection's life: asynchronous connect, the one PREPARE, reconnects with
 * exponential back-off, and the --timeout deadline of each call (504, with a
 * cancel request for a call that holds up the pipeline).
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

enum conn_state
{
  CS_DOWN,                      /* waiting for the next attempt */
  CS_CONNECTING,                /* PQconnectPoll in progress */
  CS_PREPARING,                 /* PREPARE sent, waiting for its sync */
  CS_READY                      /* accepting jobs */
};

struct dbconn
{
  struct pool *pool;
  unsigned index;
  pthread_t thread;
  bool started;
  int evfd;                     /* wakes the thread for new jobs / stop */

  pthread_mutex_t lock;         /* guards the four fields below */
  struct job *in_head;          /* submitted, not yet sent */
  struct job *in_tail;
  bool sleeping;                /* thread is in (or entering) poll */
  bool accepting;               /* CS_READY as seen by submitters */

  atomic_bool up;               /* lock-free copy of accepting */
  atomic_int load;              /* jobs submitted and still queued here */
  atomic_uint backoff_ms;

  /* private to the connection's thread */
  PGconn *pg;
  enum conn_state state;
  PostgresPollingStatusType want;
  uint64_t next_attempt_us;
  uint64_t connect_deadline_us;
  struct job **fifo;            /* sent, waiting for results; NULL = gave up */
  size_t fifo_cap;
  size_t fifo_head;
  size_t fifo_len;
  int phase;                    /* head: 0 its result, 1 end, 2 its sync */
  bool head_failed;
  bool head_cancelled;
  bool want_write;
  bool ever_up;
  struct job prepare;           /* marks the PREPARE in the fifo */
};

struct pool
{
  struct config *cfg;
  unsigned n;
  atomic_bool stop;
  atomic_uint rr;
  struct dbconn conns[];
};

/* ---- fifo of sent jobs ------------------------------------------------- */

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
}

/* ---- completing jobs --------------------------------------------------- */

static void
complete (struct job *j, enum job_result r)
{
  if (JOB_OK != r && NULL != j->res)
  {
    PQclear (j->res);
    j->res = NULL;
  }
  j->result = r;
  j->done (j);                  /* j may be gone from here on */
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

/* Drops the connection, fails everything queued on it with 503 and
   schedules the next attempt. */
static void
go_down (struct dbconn *c, const char *why)
{
  struct pool *p = c->pool;
  struct job *list;
  unsigned backoff = atomic_load (&c->backoff_ms);

  if (NULL != why)
  {
    char msg[512];
    size_t n = 0;

    /* libpq messages span lines; keep one line */
    for (const char *p = why; *p && n < sizeof msg - 1; p++)
    {
      bool space = (' ' == *p || '\n' == *p || '\t' == *p);

      if (! space)
        msg[n++] = *p;
      else if (n > 0 && ' ' != msg[n - 1])
        msg[n++] = ' ';
    }
    while (n > 0 && ' ' == msg[n - 1])
      n--;
    msg[n] = '\0';
    log_error ("database connection %u: %s; retrying in %u ms", c->index,
               msg, backoff);
    metrics_db_error (&p->cfg->metrics, DBERR_CONNECTION);
  }
  pthread_mutex_lock (&c->lock);
  c->accepting = false;
  atomic_store (&c->up, false);
  list = c->in_head;
  c->in_head = c->in_tail = NULL;
  pthread_mutex_unlock (&c->lock);

  if (NULL != c->pg)
  {
    PQfinish (c->pg);
    c->pg = NULL;
  }
  for (size_t i = 0; i < c->fifo_len; i++)
  {
    struct job *j = *fifo_at (c, i);

    atomic_fetch_sub (&c->load, 1);
    if (NULL != j && &c->prepare != j)
      complete (j, JOB_UNAVAILABLE);
  }
  c->fifo_len = 0;
  c->fifo_head = 0;
  c->phase = 0;
  c->head_failed = false;
  c->head_cancelled = false;
  c->want_write = false;
  while (NULL != list)
  {
    struct job *next = list->next;

    atomic_fetch_sub (&c->load, 1);
    complete (list, JOB_UNAVAILABLE);
    list = next;
  }
  c->state = CS_DOWN;
  c->next_attempt_us = now_us () + (uint64_t) backoff * 1000u;
  backoff *= 2;
  atomic_store (&c->backoff_ms, backoff > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
                : backoff);
}

/* ---- connecting -------------------------------------------------------- */

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

  c->pg = PQconnectStartParams (keys, vals, 1);
  if (NULL == c->pg)
  {
    go_down (c, "out of memory");
    return;
  }
  if (CONNECTION_BAD == PQstatus (c->pg))
  {
    go_down (c, PQerrorMessage (c->pg));
    return;
  }
  c->state = CS_CONNECTING;
  c->want = PGRES_POLLING_WRITING;
  c->connect_deadline_us = now_us ()
    + (uint64_t) c->pool->cfg->timeout * 1000000u;
}

static bool
flush_out (struct dbconn *c)
{
  int r = PQflush (c->pg);

  if (r < 0)
    return false;
  c->want_write = (1 == r);
  return true;
}

/* Connected: switch to pipeline mode and prepare the one statement. */
static void
start_prepare (struct dbconn *c)
{
  PQsetNoticeReceiver (c->pg, on_notice, c);
  if (0 != PQsetnonblocking (c->pg, 1)
      || ! PQenterPipelineMode (c->pg)
      || ! PQsendPrepare (c->pg, STMT_NAME, STMT_SQL, 6, NULL)
      || ! PQpipelineSync (c->pg)
      || ! fifo_push (c, &c->prepare))
  {
    go_down (c, PQerrorMessage (c->pg));
    return;
  }
  atomic_fetch_add (&c->load, 1);
  c->state = CS_PREPARING;
  if (! flush_out (c))
    go_down (c, PQerrorMessage (c->pg));
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

static void
became_ready (struct dbconn *c)
{
  c->state = CS_READY;
  atomic_store (&c->backoff_ms, BACKOFF_MIN_MS);
  pthread_mutex_lock (&c->lock);
  c->accepting = true;
  atomic_store (&c->up, true);
  pthread_mutex_unlock (&c->lock);
  if (c->ever_up)
    log_info ("database connection %u is back", c->index);
  c->ever_up = true;
}

/* ---- sending and receiving --------------------------------------------- */

/* Puts jobs back at the front of the submitted list (the connection is
   about to go down, which fails them all). */
static void
requeue (struct dbconn *c, struct job *list)
{
  struct job *tail = list;

  if (NULL == list)
    return;
  while (NULL != tail->next)
    tail = tail->next;
  pthread_mutex_lock (&c->lock);
  tail->next = c->in_head;
  if (NULL == c->in_head)
    c->in_tail = tail;
  c->in_head = list;
  pthread_mutex_unlock (&c->lock);
}

/* Sends everything submitted since the last round. */
static bool
send_pending (struct dbconn *c)
{
  static const int formats[6] = { 0, 0, 0, 0, 1, 0 };
  struct job *list;

  pthread_mutex_lock (&c->lock);
  list = c->in_head;
  c->in_head = c->in_tail = NULL;
  pthread_mutex_unlock (&c->lock);
  if (NULL == list)
    return true;
  while (NULL != list)
  {
    struct job *j = list;

    list = j->next;
    j->next = NULL;
    if (! fifo_push (c, j))
    {
      j->next = list;
      requeue (c, j);
      return false;
    }
    if (! PQsendQueryPrepared (c->pg, STMT_NAME, 6, j->values, j->lengths,
                               formats, 0)
        || ! PQpipelineSync (c->pg))
    {
      requeue (c, list);
      return false;
    }
  }
  return flush_out (c);
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
  atomic_fetch_sub (&c->load, 1);
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
    complete (j, failed ? JOB_SQL_ERROR : JOB_OK);
  }
  return true;
}

/* Reads every result that is already complete. false = connection broken. */
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
      {                         /* no result at all: count it failed */
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

static void
cancel_head (struct dbconn *c)
{
  PGcancel *cancel = PQgetCancel (c->pg);
  char err[256];

  if (NULL == cancel)
    return;
  if (! PQcancel (cancel, err, sizeof err))
    log_error ("database connection %u: cancel failed: %s", c->index, err);
  PQfreeCancel (cancel);
}

/* Answers 504 for calls past their deadline; returns the next deadline. */
static uint64_t
check_deadlines (struct dbconn *c, uint64_t now)
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
      cancel_head (c);
    }
    *slot = NULL;
    complete (j, JOB_TIMEOUT);
  }
  return 0;
}

/* ---- the connection's thread ------------------------------------------- */

static void
wait_events (struct dbconn *c, struct pollfd *pfd, nfds_t n, int timeout_ms)
{
  uint64_t junk;

  pthread_mutex_lock (&c->lock);
  if (NULL != c->in_head)
  {
    pthread_mutex_unlock (&c->lock);
    timeout_ms = 0;
  }
  else
  {
    c->sleeping = true;
    pthread_mutex_unlock (&c->lock);
  }
  if (poll (pfd, n, timeout_ms) < 0 && EINTR != errno)
    log_error ("database connection %u: poll: %s", c->index,
               strerror (errno));
  pthread_mutex_lock (&c->lock);
  c->sleeping = false;
  pthread_mutex_unlock (&c->lock);
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
  int timeout_ms = 1000;

  if (CS_READY == c->state && ! send_pending (c))
  {
    go_down (c, PQerrorMessage (c->pg));
    return;
  }
  next = check_deadlines (c, now);
  if (0 != next)
    timeout_ms = ms_until (next, now, 1000);
  pfd[0] = (struct pollfd) { .fd = c->evfd, .events = POLLIN };
  pfd[1] = (struct pollfd) {
    .fd = PQsocket (c->pg),
    .events = POLLIN | (c->want_write ? POLLOUT : 0)
  };
  wait_events (c, pfd, 2, timeout_ms);
  if (pfd[1].revents & (POLLIN | POLLERR | POLLHUP))
  {
    if (! PQconsumeInput (c->pg) || ! read_results (c))
    {
      go_down (c, PQerrorMessage (c->pg));
      return;
    }
  }
  if ((pfd[1].revents & POLLOUT) && ! flush_out (c))
    go_down (c, PQerrorMessage (c->pg));
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
  wait_events (c, pfd, 2, ms_until (c->connect_deadline_us, now, 1000));
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
  wait_events (c, pfd, 1, ms_until (c->next_attempt_us, now, 1000));
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

/* ---- the interface --------------------------------------------------- */

struct pool *
pool_start (struct config *cfg)
{
  struct pool *p;

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

static void
wake (struct dbconn *c)
{
  uint64_t one = 1;

  if (write (c->evfd, &one, sizeof one) < 0 && EAGAIN != errno)
    log_error ("database connection %u: wake-up failed: %s", c->index,
               strerror (errno));
}

bool
pool_submit (struct pool *p, struct job *job)
{
  unsigned start = atomic_fetch_add (&p->rr, 1);

  job->result = JOB_PENDING;
  job->res = NULL;
  job->next = NULL;
  job->deadline_us = now_us () + (uint64_t) p->cfg->timeout * 1000000u;
  for (int attempt = 0; attempt < 2 && ! atomic_load (&p->stop); attempt++)
  {
    struct dbconn *best = NULL;
    int best_load = 0;
    bool sleeping;

    for (unsigned k = 0; k < p->n; k++)
    {
      struct dbconn *c = &p->conns[(start + k) % p->n];
      int load;

      if (! atomic_load (&c->up))
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
    pthread_mutex_lock (&best->lock);
    if (! best->accepting)
    {
      pthread_mutex_unlock (&best->lock);
      continue;
    }
    if (NULL == best->in_tail)
      best->in_head = job;
    else
      best->in_tail->next = job;
    best->in_tail = job;
    atomic_fetch_add (&best->load, 1);
    sleeping = best->sleeping;
    best->sleeping = false;
    pthread_mutex_unlock (&best->lock);
    if (sleeping)
      wake (best);
    return true;
  }
  metrics_db_error (&p->cfg->metrics, DBERR_UNAVAILABLE);
  return false;
}

/* Stops the threads; every job still queued gets 503. The struct stays
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
