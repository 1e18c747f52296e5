/*
 * pool.c - owns the set of PostgreSQL connections (at most POOL_MAX, see
 * gateway.h): start and stop, the choice of connection for each call (the
 * least loaded one that is up) and the figures /metrics shows. A call is
 * handed over to the chosen connection's thread (conn_enqueue); HTTP threads
 * never touch a PGconn and never wait for the database.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dbconn.h"

void
pool_job_release (struct job *job)
{
  if (NULL != job->res)
  {
    PQclear (job->res);
    job->res = NULL;
  }
}

struct pool *
pool_start (struct config *cfg)
{
  struct pool *p;
  char *err = NULL;
  PQconninfoOption *opts = PQconninfoParse (cfg->database, &err);

  if (NULL == opts)
  {
    log_error ("--database: %s", NULL != err ? err : "out of memory");
    PQfreemem (err);
    return NULL;
  }
  PQconninfoFree (opts);
  if (cfg->pool_size < 1 || cfg->pool_size > POOL_MAX)
  {
    log_error ("--pool %u: between 1 and %d", cfg->pool_size, POOL_MAX);
    return NULL;
  }
  p = calloc (1, sizeof *p + cfg->pool_size * sizeof (struct dbconn));
  if (NULL == p)
    return NULL;
  p->cfg = cfg;
  p->n = cfg->pool_size;
  for (unsigned i = 0; i < p->n; i++)
    p->conns[i].evfd = -1;
  for (unsigned i = 0; i < p->n; i++)
    if (! conn_init (&p->conns[i], p, i) || ! conn_start (&p->conns[i]))
    {
      log_error ("cannot start database thread: %s", strerror (errno));
      pool_free (p);
      return NULL;
    }
  return p;
}

bool
pool_submit (struct pool *p, struct job *job)
{
  unsigned start = atomic_fetch_add (&p->rr, 1);
  bool tried[POOL_MAX] = { false };

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

      if (tried[i] || ! atomic_load (&c->up))
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
    if (conn_enqueue (best, job))
      return true;
    tried[best->index] = true;
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
      conn_wake (&p->conns[i]);
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
    conn_destroy (&p->conns[i]);
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
pool_stats (struct pool *p, struct metrics_stats *s)
{
  s->pool_size = p->n;
  s->pool_up = 0;
  s->pool_busy = 0;
  for (unsigned i = 0; i < p->n; i++)
  {
    if (atomic_load (&p->conns[i].up))
      s->pool_up++;
    if (atomic_load (&p->conns[i].load) > 0)
      s->pool_busy++;
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
