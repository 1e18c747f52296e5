/*
 * gateway.h - the shared picture of backend-gateway: the one config struct
 * (command-line options plus the runtime structures hanging off it) and the
 * small interface of each module. Nothing here holds state by itself.
 *
 *   main.c     start-up order, signals, graceful shutdown
 *   config.c   options from the command line and BACKEND_* variables
 *   http.c     the libmicrohttpd daemon and the life of one request
 *   request.c  validation of what the client sent, headers JSON, ids
 *   static.c   files under --www
 *   pool.c     the set of PostgreSQL connections, the choice for each call
 *   conn.c     one connection's owning thread: connect, reconnect, the
 *              hand-over queue other threads give it calls through
 *   pipeline.c sending calls and taking answers in libpq pipeline mode
 *              (dbconn.h: what pool.c, conn.c and pipeline.c share)
 *   metrics.c  counters and the Prometheus text of /metrics
 *   json.c     JSON escaping, UTF-8 checks, the response-headers parser
 *   log.c      the access log (stdout) and the error log (stderr)
 *   buf.c      a growable byte buffer
 */
#ifndef GATEWAY_H
#define GATEWAY_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef GATEWAY_VERSION		/* from VERSION, by gateway/gateway.mk */
#error "GATEWAY_VERSION is not defined: build with make"
#endif

struct pg_result;
struct config;

/* ---- buf.c ------------------------------------------------------------ */
struct buf
{
  char *data;
  size_t len;
  size_t cap;
  bool failed;                  /* an allocation failed; content is partial */
};

void buf_init (struct buf *b);
bool buf_reserve (struct buf *b, size_t extra);
void buf_add (struct buf *b, const void *p, size_t n);
void buf_adds (struct buf *b, const char *s);
void buf_addc (struct buf *b, char c);
void buf_printf (struct buf *b, const char *fmt, ...)
__attribute__((format (printf, 2, 3)));
void buf_free (struct buf *b);
char *buf_cstr (struct buf *b);  /* NUL-terminates, returns data or NULL */

/* ---- json.c ----------------------------------------------------------- */
size_t utf8_seq (const unsigned char *s, size_t n); /* 0 = invalid */
bool utf8_valid (const char *s, size_t n);
void json_str (struct buf *b, const char *s, size_t n);
typedef bool (*json_header_cb) (void *cls, const char *name,
                                const char *value);
/* Calls cb for each name/value of a headers object ({"n": "v" | ["v", ...]});
   0 = ok, -1 = malformed, -2 = cb refused. */
int json_each_header (const char *s, size_t n, json_header_cb cb, void *cls);

/* ---- log.c ------------------------------------------------------------ */
struct log;
struct log *log_open (void);
void log_close (struct log *lg);
void log_access (struct log *lg, const char *id, const char *method,
                 const char *path, size_t path_len, unsigned status,
                 uint64_t duration_us, uint64_t bytes);
void log_error (const char *fmt, ...) __attribute__((format (printf, 1, 2)));
void log_info (const char *fmt, ...) __attribute__((format (printf, 1, 2)));
void log_vwarning (const char *fmt, va_list ap);
uint64_t now_us (void);         /* monotonic clock, microseconds */

/* ---- metrics.c -------------------------------------------------------- */
#define METRICS_BUCKETS 12
enum db_error_kind
{
  DBERR_SQL,                    /* the statement failed */
  DBERR_CONNECTION,             /* connection lost or refused */
  DBERR_TIMEOUT,                /* no answer within --timeout */
  DBERR_UNAVAILABLE,            /* request refused: no connection up */
  DBERR_KINDS
};
struct metrics
{
  atomic_ullong by_class[6];    /* [0] = unknown, [1..5] = 1xx..5xx */
  atomic_ullong buckets[METRICS_BUCKETS + 1];
  atomic_ullong count;
  atomic_ullong sum_us;
  atomic_ullong db_errors[DBERR_KINDS];
};
/* What /metrics shows besides the counters, gathered by the caller (so
   metrics.c depends on no other module). */
struct metrics_stats
{
  struct metrics *counters;
  long in_flight;
  unsigned pool_size;
  unsigned pool_up;
  unsigned pool_busy;           /* connections with calls in flight */
};
void metrics_request (struct metrics *m, unsigned status, uint64_t us);
void metrics_db_error (struct metrics *m, enum db_error_kind kind);
bool metrics_render (const struct metrics_stats *s, struct buf *out);

/* ---- pool.c ----------------------------------------------------------- */
/* The largest --pool (config.c checks it, pool.c sizes by it). */
#define POOL_MAX 64
enum job_result
{
  JOB_PENDING,
  JOB_OK,                       /* res holds the one row */
  JOB_SQL_ERROR,                /* the call failed: answer 500 */
  JOB_UNAVAILABLE,              /* no connection: answer 503 */
  JOB_TIMEOUT                   /* no answer in time: answer 504 */
};
struct job
{
  const char *values[6];        /* method, path, query, headers, body, addr */
  int lengths[6];
  const char *tag;              /* request id, for the error log */
  enum job_result result;
  struct pg_result *res;
  void (*done) (struct job *job);       /* called once, on the thread */
                                        /* owning the connection */
  void *cls;
  uint64_t deadline_us;
  struct job *next;
};
struct pool;
struct pool *pool_start (struct config *cfg);
bool pool_submit (struct pool *p, struct job *job);
void pool_shutdown (struct pool *p);
void pool_free (struct pool *p);
unsigned pool_retry_after (struct pool *p);
void pool_stats (struct pool *p, struct metrics_stats *s);
bool pool_wait_up (struct pool *p, unsigned ms);
void pool_job_release (struct job *job);        /* frees job->res */

/* ---- request.c -------------------------------------------------------- */
#define REQUEST_ID_MAX 128
/* The largest request head and target the gateway takes (431 / 414 JSON
   beyond): below what libmicrohttpd's connection memory holds (http.c,
   CONNECTION_MEMORY), so that most long heads reach the gateway's check. */
#define REQUEST_HEAD_MAX (8 * 1024)
#define REQUEST_TARGET_MAX (4 * 1024)
enum phase
{
  PH_NEW,                       /* before the first handler call */
  PH_BODY,                      /* reading the body */
  PH_WAIT,                      /* suspended, the pool has the job */
  PH_DONE                       /* a response is queued */
};
struct request
{
  struct config *cfg;
  struct MHD_Connection *conn;
  uint64_t start_us;
  enum phase phase;
  unsigned status;              /* what we queued, for the log */
  uint64_t bytes;
  bool too_large;
  struct buf headers_json;
  struct buf body;
  struct job job;
  char id[REQUEST_ID_MAX + 1];
  char client[64];
  char method[24];              /* copy for the log (longer ones cut) */
  size_t path_len;              /* uri[0 .. path_len) is the path */
  size_t uri_len;
  char uri[];                   /* raw request target, NUL-terminated */
};
struct request *request_new (struct config *cfg, const char *uri);
void request_free (struct request *r);
const char *request_check (struct request *r, const char *method,
                           const char *version, unsigned *status);
void request_make_id (struct request *r);

/* ---- static.c --------------------------------------------------------- */
enum static_result
{
  STATIC_MISS,                  /* not a static request or no such file */
  STATIC_HIT,                   /* *resp and *status set */
  STATIC_FORBIDDEN              /* traversal attempt: answer 400 */
};
bool static_init (struct config *cfg);
enum static_result static_lookup (struct config *cfg, struct request *r,
                                  struct MHD_Response **resp,
                                  unsigned *status);

/* ---- http.c ----------------------------------------------------------- */
bool http_start (struct config *cfg);
void http_quiesce (struct config *cfg);
void http_stop (struct config *cfg);

/* ---- config.c: the one config struct ----------------------------------- */
struct config
{
  /* options */
  char listen_host[256];
  char listen_port[16];
  const char *database;
  unsigned pool_size;
  unsigned threads;
  const char *www;
  uint64_t max_body;
  unsigned timeout;             /* seconds */
  bool trust_proxy;
  const char *metrics_token;    /* NULL: /metrics needs no token */

  /* runtime structures hanging off it */
  char *www_root;               /* realpath of www, without trailing '/' */
  size_t www_root_len;
  int listen_fd;
  struct MHD_Daemon *daemon;
  struct pool *pool;
  struct log *log;
  struct metrics metrics;
  uint64_t id_key;              /* random key for generated request ids */
  atomic_ullong id_counter;
  atomic_long in_flight;        /* requests between start and completion */
  atomic_bool stopping;
};

enum config_result
{
  CONFIG_OK,
  CONFIG_EXIT,                  /* --help / --version printed */
  CONFIG_ERROR
};
enum config_result config_parse (struct config *cfg, int argc, char **argv);
bool config_metrics_allowed (const struct config *cfg,
                             const char *authorization);

#endif
