/*
 * request.c - owns struct request, the per-request context, and everything
 * decided about what the client sent before the database is called: the
 * checks for NUL, control characters and invalid UTF-8 in the method, the
 * request target and the header fields; one Host field at most; the headers
 * object passed to SQL (lower-cased names, repeated fields joined with ", ",
 * X-Forwarded-* only with --trust-proxy); the client address; the request id.
 *
 * NUL bytes: libmicrohttpd hands out the method, the target and every field
 * as a C string, so a NUL cuts what the gateway sees and cannot be seen in
 * it. What the public API does give is the size of the whole head
 * (MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE). Every byte of the head must be
 * a byte the gateway saw or a separator HTTP/1.1 puts there (a space in the
 * request line, the colon and one space or tab after it, CR LF at each line
 * end); a head with more bytes than that held something the gateway was not
 * shown (a NUL, or whitespace a strict parser refuses too): 400.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "gateway.h"

#define MAX_FIELDS 128

struct field
{
  const char *name;
  size_t name_len;
  const char *value;
  size_t value_len;
};

struct scan
{
  struct request *r;
  size_t seen;                  /* bytes of the head the gateway saw */
  const char *error;
  unsigned status;
  struct field fields[MAX_FIELDS];
  size_t n;
};

struct request *
request_new (struct config *cfg, const char *uri)
{
  size_t n = (NULL == uri) ? 0 : strlen (uri);
  struct request *r = malloc (sizeof *r + n + 1);
  char *q;

  if (NULL == r)
    return NULL;
  memset (r, 0, sizeof *r);
  r->cfg = cfg;
  r->start_us = now_us ();
  r->phase = PH_NEW;
  r->uri_len = n;
  if (n > 0)
    memcpy (r->uri, uri, n);
  r->uri[n] = '\0';
  q = memchr (r->uri, '?', n);
  r->path_len = (NULL == q) ? n : (size_t) (q - r->uri);
  if (NULL != q)
    *q = '\0';                  /* uri = path, uri + path_len + 1 = query */
  buf_init (&r->headers_json);
  buf_init (&r->body);
  atomic_fetch_add (&cfg->in_flight, 1);
  return r;
}

void
request_free (struct request *r)
{
  if (NULL == r)
    return;
  atomic_fetch_sub (&r->cfg->in_flight, 1);
  buf_free (&r->headers_json);
  buf_free (&r->body);
  pool_job_release (&r->job);
  free (r);
}

static bool
is_tchar (unsigned char c)
{
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
      || (c >= '0' && c <= '9'))
    return true;
  return NULL != memchr ("!#$%&'*+-.^_`|~", c, 15);
}

static bool
token_ok (const char *s, size_t n)
{
  if (0 == n)
    return false;
  for (size_t i = 0; i < n; i++)
    if (! is_tchar ((unsigned char) s[i]))
      return false;
  return true;
}

/* No controls (a tab only where allowed), and valid UTF-8. */
static bool
text_ok (const char *s, size_t n, bool tab_ok)
{
  for (size_t i = 0; i < n; i++)
  {
    unsigned char c = (unsigned char) s[i];

    if ((c < 0x20 && ! (tab_ok && '\t' == c)) || 0x7f == c)
      return false;
  }
  return utf8_valid (s, n);
}

static enum MHD_Result
scan_field (void *cls, enum MHD_ValueKind kind, const char *key,
            size_t key_size, const char *value, size_t value_size)
{
  struct scan *s = cls;

  (void) kind;
  if (NULL == value)
    value = "";
  if (! token_ok (key, key_size))
  {
    s->error = "invalid header field name";
    return MHD_NO;
  }
  if (! text_ok (value, value_size, true))
  {
    s->error = "control character or invalid UTF-8 in a header field";
    return MHD_NO;
  }
  if (s->n == MAX_FIELDS)
  {
    s->error = "too many header fields";
    s->status = MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE;
    return MHD_NO;
  }
  s->fields[s->n++] = (struct field) { key, key_size, value, value_size };
  s->seen += key_size + value_size;
  return MHD_YES;
}

static bool
is_forwarded (const struct field *f)
{
  return (f->name_len == 15 && 0 == strncasecmp (f->name, "x-forwarded-for", 15))
         || (f->name_len == 17
             && 0 == strncasecmp (f->name, "x-forwarded-proto", 17))
         || (f->name_len == 16
             && 0 == strncasecmp (f->name, "x-forwarded-host", 16));
}

static bool
same_name (const struct field *a, const struct field *b)
{
  return a->name_len == b->name_len
         && 0 == strncasecmp (a->name, b->name, a->name_len);
}

/* RFC 9112 3.2: more than one Host field is a 400. Joined with ", " like
 * other repeated fields, two hosts would reach the database as one. */
static bool
repeated_host (const struct scan *s)
{
  int n = 0;

  for (size_t i = 0; i < s->n; i++)
    if (4 == s->fields[i].name_len
        && 0 == strncasecmp (s->fields[i].name, "host", 4))
      n++;
  return n > 1;
}

static void
lower_str (struct buf *b, const char *s, size_t n)
{
  char low[256];

  if (n > sizeof low)
  {                             /* very long names: no lower-casing copy */
    size_t at = b->len;

    json_str (b, s, n);
    for (size_t i = at; i < b->len; i++)
      if (b->data[i] >= 'A' && b->data[i] <= 'Z')
        b->data[i] = (char) (b->data[i] - 'A' + 'a');
    return;
  }
  for (size_t i = 0; i < n; i++)
    low[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char) (s[i] - 'A' + 'a') : s[i];
  json_str (b, low, n);
}

static void
build_headers_json (struct request *r, struct scan *s)
{
  struct buf *b = &r->headers_json;
  bool first = true;

  buf_reserve (b, 256);
  buf_addc (b, '{');
  for (size_t i = 0; i < s->n; i++)
  {
    bool seen = false;
    bool more = false;

    if (! r->cfg->trust_proxy && is_forwarded (&s->fields[i]))
      continue;
    for (size_t k = 0; k < i && ! seen; k++)
      seen = same_name (&s->fields[k], &s->fields[i]);
    if (seen)
      continue;
    if (! first)
      buf_addc (b, ',');
    first = false;
    lower_str (b, s->fields[i].name, s->fields[i].name_len);
    buf_addc (b, ':');
    for (size_t k = i + 1; k < s->n && ! more; k++)
      more = same_name (&s->fields[k], &s->fields[i]);
    if (! more)
    {
      json_str (b, s->fields[i].value, s->fields[i].value_len);
      continue;
    }
    {
      struct buf joined;

      buf_init (&joined);
      for (size_t k = i; k < s->n; k++)
        if (same_name (&s->fields[k], &s->fields[i]))
        {
          if (k > i)
            buf_add (&joined, ", ", 2);
          buf_add (&joined, s->fields[k].value, s->fields[k].value_len);
        }
      json_str (b, joined.data ? joined.data : "", joined.len);
      if (joined.failed)
        b->failed = true;
      buf_free (&joined);
    }
  }
  buf_addc (b, '}');
  buf_cstr (b);
}

static void
peer_address (struct request *r)
{
  const union MHD_ConnectionInfo *ci =
    MHD_get_connection_info (r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  const struct sockaddr *sa = (NULL != ci) ? ci->client_addr : NULL;

  strcpy (r->client, "unknown");
  if (NULL == sa)
    return;
  if (AF_INET == sa->sa_family)
    inet_ntop (AF_INET, &((const struct sockaddr_in *) (const void *) sa)->sin_addr,
               r->client, sizeof r->client);
  else if (AF_INET6 == sa->sa_family)
  {
    const struct in6_addr *a =
      &((const struct sockaddr_in6 *) (const void *) sa)->sin6_addr;

    if (IN6_IS_ADDR_V4MAPPED (a))
      inet_ntop (AF_INET, &a->s6_addr[12], r->client, sizeof r->client);
    else
      inet_ntop (AF_INET6, a, r->client, sizeof r->client);
  }
}

/*
 * The client address behind a trusted proxy: the RIGHT-most entry of the
 * last X-Forwarded-For field, when it is an IP address. That entry is the
 * one the proxy itself added (the peer it saw); everything to its left came
 * from the client and may be forged. Anything else keeps the peer address.
 */
static void
forwarded_address (struct request *r, const struct field *f)
{
  const char *p = f->value;
  const char *end = f->value + f->value_len;
  char addr[64];
  unsigned char bin[sizeof (struct in6_addr)];
  size_t n;

  for (const char *q = end; q > p; q--)
    if (',' == q[-1])
    {
      p = q;
      break;
    }
  while (p < end && (' ' == *p || '\t' == *p))
    p++;
  while (end > p && (' ' == end[-1] || '\t' == end[-1]))
    end--;
  n = (size_t) (end - p);
  if (0 == n || n >= sizeof addr)
    return;
  memcpy (addr, p, n);
  addr[n] = '\0';
  if (1 == inet_pton (AF_INET, addr, bin) || 1 == inet_pton (AF_INET6, addr, bin))
    memcpy (r->client, addr, n + 1);
}

static bool
request_id_ok (const char *s, size_t n)
{
  if (0 == n || n > REQUEST_ID_MAX)
    return false;
  for (size_t i = 0; i < n; i++)
  {
    unsigned char c = (unsigned char) s[i];

    if (! ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || '.' == c || '_' == c || '-' == c))
      return false;
  }
  return true;
}

static uint64_t
mix64 (uint64_t x)
{
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

void
request_make_id (struct request *r)
{
  static const char hex[] = "0123456789abcdef";
  uint64_t n = atomic_fetch_add (&r->cfg->id_counter, 1);
  uint64_t a = mix64 (r->cfg->id_key ^ n);
  uint64_t b = mix64 (a ^ r->cfg->id_key);

  for (int i = 0; i < 16; i++)
  {
    r->id[i] = hex[(a >> (60 - 4 * i)) & 15];
    r->id[16 + i] = hex[(b >> (60 - 4 * i)) & 15];
  }
  r->id[32] = '\0';
}

static const char *
check_line (struct request *r, const char *method)
{
  size_t mlen = strlen (method);

  if (r->uri_len > REQUEST_TARGET_MAX)
    return "the request target is too long";
  if (! token_ok (method, mlen))
    return "invalid method";
  if (0 == r->uri_len)
    return "empty request target";
  /* our copy: the path, a NUL where the '?' was, the query */
  for (size_t i = 0; i < r->uri_len; i++)
  {
    unsigned char c = (unsigned char) r->uri[i];

    if (i == r->path_len)
      continue;
    if (c <= 0x20 || 0x7f == c)
      return "space or control character in the request target";
  }
  if (! utf8_valid (r->uri, r->uri_len))
    return "invalid UTF-8 in the request target";
  return NULL;
}

const char *
request_check (struct request *r, const char *method, const char *version,
               unsigned *status)
{
  struct scan scan;
  struct scan *s = &scan;
  const union MHD_ConnectionInfo *hs;
  const char *err;
  size_t most;
  bool id_taken = false;
  const struct field *xff = NULL;

  *status = MHD_HTTP_BAD_REQUEST;
  snprintf (r->method, sizeof r->method, "%s", method);
  peer_address (r);
  request_make_id (r);
  hs = MHD_get_connection_info (r->conn,
                                MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
  if (NULL == hs)
  {
    *status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    return "the size of the request head is unknown";
  }
  if (hs->header_size > REQUEST_HEAD_MAX)
  {
    *status = MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE;
    return "the request head is too large";
  }
  if (NULL != (err = check_line (r, method)))
  {
    if (r->uri_len > REQUEST_TARGET_MAX)
      *status = MHD_HTTP_URI_TOO_LONG;
    return err;
  }

  s->r = r;
  s->seen = 0;
  s->error = NULL;
  s->status = MHD_HTTP_BAD_REQUEST;
  s->n = 0;
  MHD_get_connection_values_n (r->conn, MHD_HEADER_KIND, scan_field, s);
  /* the request line and its CR LF, each field with ": " and CR LF, the
     empty line */
  most = strlen (method) + 1 + r->uri_len + 1 + strlen (version) + 2
         + s->seen + 4 * s->n + 2;
  if (NULL == s->error && hs->header_size > most)
    s->error = "NUL byte or stray whitespace in the request head";
  if (NULL != s->error)
  {
    *status = s->status;
    return s->error;
  }

  for (size_t i = 0; i < s->n; i++)
  {
    const struct field *f = &s->fields[i];

    if (! id_taken && 12 == f->name_len
        && 0 == strncasecmp (f->name, "x-request-id", 12)
        && request_id_ok (f->value, f->value_len))
    {
      memcpy (r->id, f->value, f->value_len);
      r->id[f->value_len] = '\0';
      id_taken = true;
    }
    if (r->cfg->trust_proxy && 15 == f->name_len
        && 0 == strncasecmp (f->name, "x-forwarded-for", 15))
      xff = f;                  /* the last field: the proxy's */
  }
  if (repeated_host (s))
    return "more than one Host header";
  if (NULL != xff)
    forwarded_address (r, xff);
  build_headers_json (r, s);
  if (r->headers_json.failed)
  {
    *status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    return "out of memory";
  }
  return NULL;
}
