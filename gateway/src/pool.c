/*
 * pool.c - owns the set of PostgreSQL connections and their threads: start
 * and stop, the choice of connection for each call (the least loaded one
 * that is up), and each connection's life, driven by its own thread:
 * asynchronous connect, pipeline mode and the one PREPARE, waiting for
 * answers (pipeline.c takes them), reconnects with exponential back-off
 * (every call on a lost connection gets 503; Retry-After follows the
 * back-off) and a cancel request for a call that holds up the pipeline past
 * its deadline. HTTP threads never wait for the database.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "dbconn.h"

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
