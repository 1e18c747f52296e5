/*
 * http.c - owns the libmicrohttpd daemon (epoll, an internal thread pool,
 * suspend/resume) and the life of one request on it:
 *
 *   URI callback      allocate struct request, copy the raw target
 *   first call        check the request head (400/431), the announced body
 *                     size (413) and the transfer coding
 *   body calls        collect the body up to --max-body
 *   last call         /metrics, a static file, or: suspend the connection
 *                     and hand the job to the pool (never block here)
 *   call on resume    turn the row (or the failure) into the response
 *   completion        access log line, metrics, free
 *
 * Every answer the gateway makes itself is JSON
 * {"error": ..., "error_description": ...} and every response carries
 * X-Request-Id.
 */
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway.h"

/* libmicrohttpd's memory per connection (the request head, the records of
 * its fields and query parameters, the response head). libmicrohttpd 0.9.75
 * zeroes the whole pool at each keep-alive reset (MHD_pool_reset), so all of
 * it stays resident on every idle keep-alive connection: this size is what
 * holds 1,000 of them within 24 MiB (test/bench/idle.mjs). A head beyond it
 * is refused by libmicrohttpd's own parser (MHD_OWN_ANSWER in
 * test/http/lib.mjs); REQUEST_HEAD_MAX and REQUEST_TARGET_MAX let the
 * gateway refuse most long heads itself, with JSON, before that. */
#define CONNECTION_MEMORY (10 * 1024)

/* ---- responses --------------------------------------------------------- */

static enum MHD_Result
queue (struct request *r, struct MHD_Response *resp, unsigned status)
{
  enum MHD_Result ret;

  MHD_add_response_header (resp, "X-Request-Id", r->id);
  if (atomic_load (&r->cfg->stopping))
    MHD_add_response_header (resp, MHD_HTTP_HEADER_CONNECTION, "close");
  r->status = status;
  r->phase = PH_DONE;
  ret = MHD_queue_response (r->conn, status, resp);
  MHD_destroy_response (resp);
  return ret;
}

static enum MHD_Result
reply_error (struct request *r, unsigned status, const char *error,
             const char *description, unsigned retry_after, bool close)
{
  struct MHD_Response *resp;
  struct buf b;

  buf_init (&b);
  buf_adds (&b, "{\"error\":");
  json_str (&b, error, strlen (error));
  buf_adds (&b, ",\"error_description\":");
  json_str (&b, description, strlen (description));
  buf_adds (&b, "}");
  if (b.failed)
  {
    buf_free (&b);
    return MHD_NO;
  }
  resp = MHD_create_response_from_buffer (b.len, b.data,
                                          MHD_RESPMEM_MUST_FREE);
  if (NULL == resp)
  {
    buf_free (&b);
    return MHD_NO;
  }
  r->bytes = b.len;
  MHD_add_response_header (resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                           "application/json");
  if (retry_after > 0)
  {
    char v[16];

    snprintf (v, sizeof v, "%u", retry_after);
    MHD_add_response_header (resp, MHD_HTTP_HEADER_RETRY_AFTER, v);
  }
  if (close)
    MHD_add_response_header (resp, MHD_HTTP_HEADER_CONNECTION, "close");
  return queue (r, resp, status);
}

static enum MHD_Result
reply_server_error (struct request *r)
{
  return reply_error (r, MHD_HTTP_INTERNAL_SERVER_ERROR, "server_error",
                      "the request could not be handled", 0, false);
}

static enum MHD_Result
reply_metrics (struct request *r, bool allowed)
{
  struct MHD_Response *resp;
  struct metrics_stats s = {
    .counters = &r->cfg->metrics,
    .in_flight = atomic_load (&r->cfg->in_flight),
  };
  struct buf b;

  if (! allowed)
  {
    enum MHD_Result ret;

    ret = reply_error (r, MHD_HTTP_METHOD_NOT_ALLOWED, "invalid_request",
                       "/metrics answers GET and HEAD only", 0, false);
    return ret;
  }
  if (! config_metrics_allowed (r->cfg, MHD_lookup_connection_value (
                                 r->conn, MHD_HEADER_KIND,
                                 MHD_HTTP_HEADER_AUTHORIZATION)))
    return reply_error (r, MHD_HTTP_UNAUTHORIZED, "invalid_token",
                        "/metrics needs the gateway's metrics token", 0, false);
  if (NULL != r->cfg->pool)
    pool_stats (r->cfg->pool, &s);
  buf_init (&b);
  if (! metrics_render (&s, &b))
  {
    buf_free (&b);
    return reply_server_error (r);
  }
  resp = MHD_create_response_from_buffer (b.len, b.data,
                                          MHD_RESPMEM_MUST_FREE);
  if (NULL == resp)
  {
    buf_free (&b);
    return reply_server_error (r);
  }
  r->bytes = b.len;
  MHD_add_response_header (resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                           "text/plain; version=0.0.4; charset=utf-8");
  MHD_add_response_header (resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  return queue (r, resp, MHD_HTTP_OK);
}

struct header_ctx
{
  struct MHD_Response *resp;
  const char *bad;              /* the header name that was refused */
};

static bool
add_db_header (void *cls, const char *name, const char *value)
{
  struct header_ctx *h = cls;

  if (0 == strcasecmp (name, "content-length")
      || 0 == strcasecmp (name, "transfer-encoding")
      || 0 == strcasecmp (name, "x-request-id"))
    return true;                /* libmicrohttpd and the gateway own these */
  for (const char *p = name; *p; p++)
    if ((unsigned char) *p <= 0x20 || (unsigned char) *p >= 0x7f
        || NULL != strchr ("\"(),/:;<=>?@[\\]{}", *p))
    {
      h->bad = "invalid header name";
      return false;
    }
  if ('\0' == name[0]
      || MHD_YES != MHD_add_response_header (h->resp, name, value))
  {
    h->bad = "header refused (line break in the value?)";
    return false;
  }
  return true;
}

static void
free_result (void *res)
{
  PQclear (res);
}

/* The row of api.handle_request: status, headers jsonb, body text. */
static enum MHD_Result
reply_db (struct request *r)
{
  PGresult *res = r->job.res;
  struct MHD_Response *resp;
  struct header_ctx h = { NULL, NULL };
  long status;
  char *body;
  size_t blen;
  int rc;

  status = PQgetisnull (res, 0, 0) ? 0 : strtol (PQgetvalue (res, 0, 0),
                                                   NULL, 10);
  if (status < 100 || status > 599)
  {
    log_error ("request %s: api.handle_request returned status %s", r->id,
               PQgetisnull (res, 0, 0) ? "NULL" : PQgetvalue (res, 0, 0));
    return reply_server_error (r);
  }
  body = PQgetisnull (res, 0, 2) ? (char *) "" : PQgetvalue (res, 0, 2);
  blen = PQgetisnull (res, 0, 2) ? 0 : (size_t) PQgetlength (res, 0, 2);
  resp = MHD_create_response_from_buffer_with_free_callback_cls (
    blen, body, free_result, res);
  if (NULL == resp)
    return reply_server_error (r);
  r->job.res = NULL;            /* the response owns the result now */
  h.resp = resp;
  if (! PQgetisnull (res, 0, 1))
  {
    rc = json_each_header (PQgetvalue (res, 0, 1),
                           (size_t) PQgetlength (res, 0, 1), add_db_header,
                           &h);
    if (0 != rc)
    {
      log_error ("request %s: bad headers from api.handle_request: %s",
                 r->id, -1 == rc ? "not a JSON object of strings" : h.bad);
      MHD_destroy_response (resp);
      return reply_server_error (r);
    }
  }
  r->bytes = blen;
  return queue (r, resp, (unsigned) status);
}

/* ---- the request life ---------------------------------------------------- */

static void
job_done (struct job *job)
{
  struct request *r = job->cls;

  MHD_resume_connection (r->conn);
}

static enum MHD_Result
on_answer (struct request *r)
{
  struct job *j = &r->job;

  switch (j->result)
  {
  case JOB_OK:
    return reply_db (r);
  case JOB_SQL_ERROR:
    return reply_error (r, MHD_HTTP_INTERNAL_SERVER_ERROR, "server_error",
                        "the database call failed", 0, false);
  case JOB_UNAVAILABLE:
    return reply_error (r, MHD_HTTP_SERVICE_UNAVAILABLE,
                        "temporarily_unavailable",
                        "the database is not available",
                        pool_retry_after (r->cfg->pool), false);
  case JOB_TIMEOUT:
    return reply_error (r, MHD_HTTP_GATEWAY_TIMEOUT,
                        "temporarily_unavailable",
                        "the database did not answer in time", 0, false);
  case JOB_PENDING:
    break;
  }
  log_error ("request %s: resumed before its answer", r->id);
  return reply_server_error (r);
}

static enum MHD_Result
call_database (struct request *r, const char *method)
{
  struct job *j = &r->job;

  j->values[0] = method;
  j->values[1] = r->uri;
  j->values[2] = (r->path_len < r->uri_len) ? r->uri + r->path_len + 1 : "";
  j->values[3] = r->headers_json.data;
  j->values[4] = (NULL != r->body.data) ? r->body.data : "";
  j->lengths[4] = (int) r->body.len;
  j->values[5] = r->client;
  j->tag = r->id;
  j->done = job_done;
  j->cls = r;
  r->phase = PH_WAIT;
  MHD_suspend_connection (r->conn);
  if (! pool_submit (r->cfg->pool, j))
  {
    j->result = JOB_UNAVAILABLE;
    MHD_resume_connection (r->conn);
  }
  return MHD_YES;
}

/* The whole request is in. */
static enum MHD_Result
on_full (struct request *r, const char *method)
{
  struct MHD_Response *resp = NULL;
  unsigned status = 0;
  bool get = 0 == strcmp (method, MHD_HTTP_METHOD_GET);
  bool head = 0 == strcmp (method, MHD_HTTP_METHOD_HEAD);

  if (r->too_large)
  {
    char d[96];

    snprintf (d, sizeof d, "the request body exceeds %llu bytes",
              (unsigned long long) r->cfg->max_body);
    return reply_error (r, MHD_HTTP_CONTENT_TOO_LARGE, "invalid_request", d,
                        0, true);
  }
  if (r->body.failed)
    return reply_server_error (r);
  if (8 == r->path_len && 0 == memcmp (r->uri, "/metrics", 8))
    return reply_metrics (r, get || head);
  if (get || head)
    switch (static_lookup (r->cfg, r, &resp, &status))
    {
    case STATIC_HIT:
      return queue (r, resp, status);
    case STATIC_FORBIDDEN:
      return reply_error (r, MHD_HTTP_BAD_REQUEST, "invalid_request",
                          "path traversal is not allowed", 0, false);
    case STATIC_MISS:
      break;
    }
  return call_database (r, method);
}

static void
take_body (struct request *r, const char *data, size_t n)
{
  if (r->too_large)
    return;                     /* read and dropped */
  if (r->body.len + n > r->cfg->max_body)
  {
    r->too_large = true;
    buf_free (&r->body);
    return;
  }
  buf_add (&r->body, data, n);
}

/* First call: the request head is complete. */
static enum MHD_Result
on_head (struct request *r, const char *method, const char *version)
{
  struct MHD_Connection *c = r->conn;
  const char *te;
  const char *cl;
  const char *err;
  unsigned status;

  err = request_check (r, method, version, &status);
  if (NULL != err)
  {
    if (MHD_HTTP_INTERNAL_SERVER_ERROR == status)
      return reply_server_error (r);
    return reply_error (r, status, "invalid_request", err, 0, true);
  }
  te = MHD_lookup_connection_value (c, MHD_HEADER_KIND,
                                    MHD_HTTP_HEADER_TRANSFER_ENCODING);
  cl = MHD_lookup_connection_value (c, MHD_HEADER_KIND,
                                    MHD_HTTP_HEADER_CONTENT_LENGTH);
  if (NULL != te)
  {
    if (0 != strcasecmp (te, "chunked"))
      return reply_error (r, MHD_HTTP_BAD_REQUEST, "invalid_request",
                          "unsupported Transfer-Encoding", 0, true);
    if (NULL != cl)
      return reply_error (r, MHD_HTTP_BAD_REQUEST, "invalid_request",
                          "both Content-Length and Transfer-Encoding", 0,
                          true);
  }
  else if (NULL != cl)
  {
    unsigned long long n = strtoull (cl, NULL, 10);

    if (n > r->cfg->max_body)
    {
      char d[96];

      snprintf (d, sizeof d, "the request body exceeds %llu bytes",
                (unsigned long long) r->cfg->max_body);
      return reply_error (r, MHD_HTTP_CONTENT_TOO_LARGE, "invalid_request",
                          d, 0, true);
    }
    if (n > 0)
      buf_reserve (&r->body, (size_t) n);
  }
  r->phase = PH_BODY;
  return MHD_YES;
}

static enum MHD_Result
on_request (void *cls, struct MHD_Connection *c, const char *url,
            const char *method, const char *version, const char *upload,
            size_t *upload_size, void **con_cls)
{
  struct request *r = *con_cls;

  (void) cls;
  (void) url;
  (void) c;
  if (NULL == r)
    return MHD_NO;              /* out of memory in on_uri */
  switch (r->phase)
  {
  case PH_NEW:
    return on_head (r, method, version);
  case PH_BODY:
    if (0 != *upload_size)
    {
      take_body (r, upload, *upload_size);
      *upload_size = 0;
      return MHD_YES;
    }
    return on_full (r, method);
  case PH_WAIT:
    return on_answer (r);
  case PH_DONE:
    break;
  }
  return MHD_NO;
}


/* The request a connection has open, kept in libmicrohttpd's per-socket
 * context. libmicrohttpd calls on_completed only for requests that reached
 * on_request; one it refuses earlier (e.g. too many query arguments for
 * the connection's memory) is never completed, so it is finished here —
 * when the connection's next request starts or when the connection closes —
 * instead of leaking (and holding in_flight up). */
struct conn_slot
{
  struct request *open;
};

static struct conn_slot *
slot_of (struct MHD_Connection *c)
{
  const union MHD_ConnectionInfo *ci =
    MHD_get_connection_info (c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

  return (NULL == ci) ? NULL : ci->socket_context;
}

/* Logs, counts and frees a finished request. */
static void
finish_request (struct config *cfg, struct MHD_Connection *c,
                struct request *r)
{
  struct conn_slot *slot = slot_of (c);
  unsigned status = r->status;
  uint64_t us;

  if (NULL != slot && slot->open == r)
    slot->open = NULL;
  if (0 == status)
  {                             /* refused by libmicrohttpd's own parser */
    const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info (c, MHD_CONNECTION_INFO_HTTP_STATUS);

    status = (NULL != ci && 0 != ci->http_status) ? ci->http_status : 400;
  }
  if ('\0' == r->id[0])
    request_make_id (r);
  us = now_us () - r->start_us;
  log_access (cfg->log, r->id, '\0' != r->method[0] ? r->method : "-",
              r->uri, r->path_len, status, us, r->bytes);
  metrics_request (&cfg->metrics, status, us);
  request_free (r);
}

static void *
on_uri (void *cls, const char *uri, struct MHD_Connection *c)
{
  struct conn_slot *slot = slot_of (c);
  struct request *r;

  if (NULL != slot && NULL != slot->open)
    finish_request (cls, c, slot->open);      /* refused before on_request */
  r = request_new (cls, uri);
  if (NULL != r)
  {
    r->conn = c;
    if (NULL != slot)
      slot->open = r;
  }
  return r;
}

static void
on_completed (void *cls, struct MHD_Connection *c, void **con_cls,
              enum MHD_RequestTerminationCode toe)
{
  struct request *r = *con_cls;

  (void) toe;
  if (NULL == r)
    return;
  *con_cls = NULL;
  finish_request (cls, c, r);
}

static void
on_connection (void *cls, struct MHD_Connection *c, void **socket_context,
               enum MHD_ConnectionNotificationCode toe)
{
  struct conn_slot *slot = *socket_context;

  if (MHD_CONNECTION_NOTIFY_STARTED == toe)
  {
    *socket_context = calloc (1, sizeof (struct conn_slot));
    return;
  }
  if (NULL == slot)
    return;
  if (NULL != slot->open)
    finish_request (cls, c, slot->open);
  free (slot);
  *socket_context = NULL;
}

/* Keeps the URL raw: we never use libmicrohttpd's decoded copy. */
static size_t
keep_raw (void *cls, struct MHD_Connection *c, char *s)
{
  (void) cls;
  (void) c;
  return strlen (s);
}

static void
mhd_log (void *cls, const char *fmt, va_list ap)
{
  (void) cls;
  log_vwarning (fmt, ap);
}

/* ---- the daemon ---------------------------------------------------------- */

static int
listen_socket (struct config *cfg)
{
  struct addrinfo hints, *ai = NULL;
  int fd = -1;
  int one = 1;
  int rc;

  memset (&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  rc = getaddrinfo (cfg->listen_host, cfg->listen_port, &hints, &ai);
  if (0 != rc)
  {
    log_error ("--listen %s:%s: %s", cfg->listen_host, cfg->listen_port,
               gai_strerror (rc));
    return -1;
  }
  fd = socket (ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
               ai->ai_protocol);
  if (fd < 0
      || 0 != setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one)
      || 0 != bind (fd, ai->ai_addr, ai->ai_addrlen)
      || 0 != listen (fd, 1024))
  {
    log_error ("cannot listen on %s:%s: %s", cfg->listen_host,
               cfg->listen_port, strerror (errno));
    if (fd >= 0)
      close (fd);
    fd = -1;
  }
  freeaddrinfo (ai);
  return fd;
}

static unsigned
connection_limit (const struct config *cfg)
{
  struct rlimit rl;
  rlim_t reserve = 64 + 2 * (rlim_t) cfg->pool_size + 4 * cfg->threads;

  if (0 != getrlimit (RLIMIT_NOFILE, &rl) || rl.rlim_cur <= reserve + 16)
    return 16;
  if (rl.rlim_cur - reserve > 1000000)
    return 1000000;
  return (unsigned) (rl.rlim_cur - reserve);
}

bool
http_start (struct config *cfg)
{
  unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD
                   | MHD_USE_INTERNAL_POLLING_THREAD
                   | MHD_ALLOW_SUSPEND_RESUME
                   | MHD_USE_ERROR_LOG | MHD_USE_TURBO;
  /* one thread is no pool: libmicrohttpd warns about a pool size of 1 */
  struct MHD_OptionItem pool[] = {
    { cfg->threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END,
      (intptr_t) cfg->threads, NULL },
    { MHD_OPTION_END, 0, NULL }
  };

  cfg->listen_fd = listen_socket (cfg);
  if (cfg->listen_fd < 0)
    return false;
  cfg->daemon = MHD_start_daemon (
    flags, 0, NULL, NULL, on_request, cfg,
    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
    MHD_OPTION_LISTEN_SOCKET, cfg->listen_fd,
    MHD_OPTION_URI_LOG_CALLBACK, on_uri, cfg,
    MHD_OPTION_NOTIFY_COMPLETED, on_completed, cfg,
    MHD_OPTION_NOTIFY_CONNECTION, on_connection, cfg,
    MHD_OPTION_UNESCAPE_CALLBACK, keep_raw, NULL,
    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) CONNECTION_MEMORY,
    MHD_OPTION_CONNECTION_TIMEOUT, cfg->timeout,
    MHD_OPTION_CONNECTION_LIMIT, connection_limit (cfg),
    MHD_OPTION_ARRAY, pool,
    MHD_OPTION_END);
  if (NULL == cfg->daemon)
  {
    log_error ("cannot start the HTTP daemon");
    close (cfg->listen_fd);
    cfg->listen_fd = -1;
    return false;
  }
  return true;
}

void
http_quiesce (struct config *cfg)
{
  MHD_socket s;

  if (NULL == cfg->daemon)
    return;
  s = MHD_quiesce_daemon (cfg->daemon);
  if (MHD_INVALID_SOCKET != s)
    close (s);
  cfg->listen_fd = -1;
}

void
http_stop (struct config *cfg)
{
  if (NULL != cfg->daemon)
    MHD_stop_daemon (cfg->daemon);
  cfg->daemon = NULL;
  if (cfg->listen_fd >= 0)
    close (cfg->listen_fd);
  cfg->listen_fd = -1;
}
