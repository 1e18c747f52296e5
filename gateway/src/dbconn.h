/*
 * dbconn.h - the private picture shared by pool.c, conn.c and pipeline.c:
 * one pooled PostgreSQL connection (struct dbconn) and the pool that holds
 * them.
 *
 * Ownership: each connection belongs to one thread, its event loop (conn.c).
 * Only that thread touches the PGconn, the fifo of calls sent and the
 * connection's state. Other threads (HTTP threads in pool_submit) reach a
 * connection through its hand-over queue alone: they append a job under
 * qlock and write the eventfd; the owner takes the whole queue and sends it.
 * Every job finishes on the owning thread (job->done, exactly once).
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
  int evfd;                     /* wakes the owner: a job queued, or stop */

  /* The hand-over queue: the only part other threads touch. */
  pthread_mutex_t qlock;        /* guards the three below; held briefly */
  bool accepting;               /* the owner takes calls (CS_READY) */
  struct job *queue_head;       /* queued by pool_submit, not yet sent */
  struct job *queue_tail;

  atomic_bool up;               /* lock-free copy of accepting */
  atomic_int load;              /* calls queued or sent, not finished */
  atomic_uint backoff_ms;

  /* The owning thread's alone. */
  PGconn *pg;
  enum conn_state state;
  PostgresPollingStatusType want;
  uint64_t next_attempt_us;
  uint64_t connect_deadline_us;
  bool ever_up;
  bool want_write;              /* libpq holds unsent output */
  struct job **fifo;            /* sent calls in order; NULL = answered 504 */
  size_t fifo_cap;
  size_t fifo_head;
  size_t fifo_len;
  int phase;                    /* head: 0 its row, 1 end of rows, 2 sync */
  bool head_failed;
  bool head_cancelled;
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

/* conn.c: the connection's thread and its hand-over queue */
bool conn_init (struct dbconn *c, struct pool *p, unsigned index);
bool conn_start (struct dbconn *c);
void conn_destroy (struct dbconn *c);
bool conn_enqueue (struct dbconn *c, struct job *job);  /* any thread */
void conn_wake (struct dbconn *c);                      /* any thread */
struct job *conn_take_queue (struct dbconn *c);         /* the owner */
void conn_became_ready (struct dbconn *c);              /* the owner */

/* pipeline.c: the traffic on a live connection (the owner only) */
bool pipeline_push (struct dbconn *c, struct job *j);
bool pipeline_flush (struct dbconn *c);
bool pipeline_send_queued (struct dbconn *c);
bool pipeline_read (struct dbconn *c);
uint64_t pipeline_deadlines (struct dbconn *c, uint64_t now,
                             PGcancel **cancel);
void pipeline_finish (struct dbconn *c, struct job *j, enum job_result r);
void pipeline_fail_all (struct dbconn *c);

#endif
