/*
 * conn.c - owns one pooled PostgreSQL connection's thread, its only owner:
 * the event loop (poll on the connection's socket and its eventfd), the
 * asynchronous connect, pipeline mode and the one PREPARE, reconnects with
 * exponential back-off (every call on a lost connection gets 503;
 * Retry-After follows the back-off), the cancel request for a call that
 * holds up the pipeline past its deadline, and the hand-over queue through
 * which other threads give it calls (conn_enqueue + the eventfd).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "dbconn.h"

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

/* ---- the hand-over queue (any thread) ------------------------------------ */

void
conn_wake (struct dbconn *c)
{
  uint64_t one = 1;

  if (write (c->evfd, &one, sizeof one) < 0 && EAGAIN != errno)
    log_error ("database connection %u: wake-up failed: %s", c->index,
               strerror (errno));
}

/* Queues the call for c's thread; false if c takes no calls right now. */
bool
conn_enqueue (struct dbconn *c, struct job *job)
{
  bool was_empty;

  pthread_mutex_lock (&c->qlock);
  if (! c->accepting)
  {
    pthread_mutex_unlock (&c->qlock);
    return false;
  }
  was_empty = (NULL == c->queue_head);
  if (was_empty)
    c->queue_head = job;
  else
    c->queue_tail->next = job;
  c->queue_tail = job;
  atomic_fetch_add (&c->load, 1);
  pthread_mutex_unlock (&c->qlock);
  /* The owner drains the whole queue after each wake-up: only the job that
     finds it empty needs to wake it. */
  if (was_empty)
    conn_wake (c);
  return true;
}

struct job *
conn_take_queue (struct dbconn *c)
{
  struct job *list;

  pthread_mutex_lock (&c->qlock);
  list = c->queue_head;
  c->queue_head = c->queue_tail = NULL;
  pthread_mutex_unlock (&c->qlock);
  return list;
}

static void
set_accepting (struct dbconn *c, bool on)
{
  pthread_mutex_lock (&c->qlock);
  c->accepting = on;
  pthread_mutex_unlock (&c->qlock);
  atomic_store (&c->up, on);
}

void
conn_became_ready (struct dbconn *c)
{
  c->state = CS_READY;
  set_accepting (c, true);
  atomic_store (&c->backoff_ms, BACKOFF_MIN_MS);
  if (c->ever_up)
    log_info ("database connection %u is back", c->index);
  c->ever_up = true;
}

/* ---- the connection's life (its thread) ---------------------------------- */

/* Drops the connection, answers 503 to every call on it and schedules the
   next attempt. why == NULL: shutting down, no log. */
static void
go_down (struct dbconn *c, const char *why)
{
  unsigned backoff = atomic_load (&c->backoff_ms);
  struct job *queued;

  if (NULL != why)
  {
    char msg[512];

    one_line (msg, sizeof msg, why);
    log_error ("database connection %u: %s; retrying in %u ms", c->index,
               msg, backoff);
    metrics_db_error (&c->pool->cfg->metrics, DBERR_CONNECTION);
  }
  set_accepting (c, false);     /* no job joins the queue from here on */
  pipeline_fail_all (c);
  queued = conn_take_queue (c);
  while (NULL != queued)
  {
    struct job *next = queued->next;

    pipeline_finish (c, queued, JOB_UNAVAILABLE);
    queued = next;
  }
  if (NULL != c->pg)
    PQfinish (c->pg);
  c->pg = NULL;
  c->state = CS_DOWN;
  c->next_attempt_us = now_us () + (uint64_t) backoff * 1000u;
  backoff *= 2;
  atomic_store (&c->backoff_ms, backoff > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
                : backoff);
}

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

/* Connected: pipeline mode, then the one PREPARE. */
static void
start_prepare (struct dbconn *c)
{
  PQsetNoticeReceiver (c->pg, on_notice, c);
  if (0 != PQsetnonblocking (c->pg, 1)
      || ! PQenterPipelineMode (c->pg)
      || ! PQsendPrepare (c->pg, STMT_NAME, STMT_SQL, 6, NULL)
      || ! PQpipelineSync (c->pg)
      || ! pipeline_push (c, &c->prepare)
      || ! pipeline_flush (c))
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

  next = pipeline_deadlines (c, now, &cancel);
  if (NULL != cancel)
  {
    if (! PQcancel (cancel, err, sizeof err))
      log_error ("database connection %u: cancel failed: %s", c->index, err);
    PQfreeCancel (cancel);
  }
  ok = pipeline_send_queued (c);
  if (ok)
  {
    pfd[0] = (struct pollfd) { .fd = c->evfd, .events = POLLIN };
    pfd[1] = (struct pollfd) {
      .fd = PQsocket (c->pg),
      .events = POLLIN | (c->want_write ? POLLOUT : 0)
    };
    wait_events (c, pfd, 2, 0 != next ? ms_until (next, now, TICK_MS)
                 : TICK_MS);
    if (pfd[1].revents & (POLLIN | POLLERR | POLLHUP))
      ok = PQconsumeInput (c->pg);
    if (ok)                     /* a send may have buffered answers too */
      ok = pipeline_read (c);
    if (ok && (c->want_write || (pfd[1].revents & POLLOUT)))
      ok = pipeline_flush (c);
  }
  if (! ok)
  {
    snprintf (err, sizeof err, "%s", PQerrorMessage (c->pg));
    go_down (c, err);
  }
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

/* ---- set-up and tear-down (the pool's thread) ---------------------------- */

bool
conn_init (struct dbconn *c, struct pool *p, unsigned index)
{
  c->pool = p;
  c->index = index;
  c->state = CS_DOWN;
  atomic_store (&c->backoff_ms, BACKOFF_MIN_MS);
  pthread_mutex_init (&c->qlock, NULL);
  c->evfd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
  return c->evfd >= 0;
}

bool
conn_start (struct dbconn *c)
{
  c->started = 0 == pthread_create (&c->thread, NULL, conn_main, c);
  return c->started;
}

/* After the thread has ended (pool_shutdown). */
void
conn_destroy (struct dbconn *c)
{
  if (c->evfd >= 0)
    close (c->evfd);
  c->evfd = -1;
  pthread_mutex_destroy (&c->qlock);
  free (c->fifo);
  c->fifo = NULL;
}
