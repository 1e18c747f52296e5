/*
 * dbconn.h - the private picture shared by pool.c and pipeline.c: one pooled
 * PostgreSQL connection (struct dbconn: its libpq handle, the fifo of calls
 * sent on it, the queue of calls waiting to be sent, its thread's state) and
 * the pool that holds them.
 */
#ifndef DBCONN_H
#define DBCONN_H

#include <libpq-fe.h>

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

/* pipeline.c: sending calls and taking answers (callers hold c->lock unless
   noted) */
struct job **fifo_at (struct dbconn *c, size_t i);
bool fifo_push (struct dbconn *c, struct job *j);
bool flush_out (struct dbconn *c);
void wake (struct dbconn *c);           /* any thread, no lock */
void send_pending (struct dbconn *c);
void release (struct dbconn *c);        /* lets go of c->lock */
void finish (struct dbconn *c, struct job *j, enum job_result r);
void resume_done (struct dbconn *c);    /* the thread, without the lock */
bool read_results (struct dbconn *c);
uint64_t check_deadlines (struct dbconn *c, uint64_t now, PGcancel **cancel);

#endif
