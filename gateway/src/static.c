/*
 * static.c - owns serving files from --www: which requests qualify (GET/HEAD
 * outside /api/, /oauth/, /.well-known/, /t/, /health and /metrics), mapping
 * the percent-decoded path into the directory without ever leaving it (".."
 * segments are refused, symlinks are resolved with realpath and must stay
 * inside), index.html for directories, content types, ETag/Last-Modified
 * and 304 answers, and the security headers of the console's pages. A
 * missing file is a miss: the database answers it, unless a browser asks
 * for a page under a folder of --www (a mistyped /console/nope): 404.html.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gateway.h"

/* Security headers of every file served from --www (200 and 304): the same
 * names and values as docker/nginx/frontend adds to the files it serves
 * itself (test/http/gateway.test.mjs compares the two), so the console is
 * framed by nobody and runs only its own scripts whoever serves it. Pages
 * the database renders (the authorize page) bring their own. */
static const char *const page_headers[][2] = {
  { "Content-Security-Policy",
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self' http: https:; "
    "object-src 'none'; base-uri 'self'; form-action 'self' http: https:; "
    "frame-ancestors 'none'" },
  { "X-Frame-Options", "DENY" },
  { "X-Content-Type-Options", "nosniff" },
  { "Referrer-Policy", "no-referrer" },
  { "Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()" },
};

bool
static_init (struct config *cfg)
{
  struct stat st;
  char *root;

  if (NULL == cfg->www)
    return true;
  root = realpath (cfg->www, NULL);
  if (NULL == root || 0 != stat (root, &st) || ! S_ISDIR (st.st_mode))
  {
    log_error ("--www %s: %s", cfg->www,
               NULL == root ? strerror (errno) : "not a directory");
    free (root);
    return false;
  }
  cfg->www_root = root;
  cfg->www_root_len = strlen (root);
  if (1 == cfg->www_root_len)   /* "/" */
    cfg->www_root_len = 0;
  return true;
}

static bool
excluded (const char *path, size_t n)
{
  static const char *const prefixes[] = {
    "/api/", "/oauth/", "/.well-known/", "/t/"
  };

  for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
  {
    size_t k = strlen (prefixes[i]);

    if (n >= k && 0 == memcmp (path, prefixes[i], k))
      return true;
  }
  return (7 == n && 0 == memcmp (path, "/health", 7))
         || (8 == n && 0 == memcmp (path, "/metrics", 8));
}

static int
hexval (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Percent-decodes path into out; false on a bad escape or a NUL. */
static bool
decode_path (const char *path, size_t n, char *out, size_t cap)
{
  size_t o = 0;

  for (size_t i = 0; i < n; i++)
  {
    char c = path[i];

    if ('%' == c)
    {
      int hi, lo;

      if (i + 2 >= n)
        return false;
      hi = hexval (path[i + 1]);
      lo = hexval (path[i + 2]);
      if (hi < 0 || lo < 0)
        return false;
      c = (char) (hi * 16 + lo);
      i += 2;
    }
    if ('\0' == c || o + 1 >= cap)
      return false;
    out[o++] = c;
  }
  out[o] = '\0';
  return true;
}

static bool
has_dotdot (const char *p)
{
  while (*p)
  {
    const char *seg = p;
    size_t len;

    while (*p && '/' != *p)
      p++;
    len = (size_t) (p - seg);
    if (2 == len && '.' == seg[0] && '.' == seg[1])
      return true;
    if ('/' == *p)
      p++;
  }
  return false;
}

static bool
inside_root (const struct config *cfg, const char *real)
{
  return 0 == strncmp (real, cfg->www_root, cfg->www_root_len)
         && '/' == real[cfg->www_root_len];
}

static const char *
content_type (const char *file)
{
  static const struct
  {
    const char *ext;
    const char *type;
  } types[] = {
    { "html", "text/html; charset=utf-8" },
    { "htm", "text/html; charset=utf-8" },
    { "css", "text/css; charset=utf-8" },
    { "js", "text/javascript; charset=utf-8" },
    { "mjs", "text/javascript; charset=utf-8" },
    { "json", "application/json" },
    { "svg", "image/svg+xml" },
    { "png", "image/png" },
    { "ico", "image/x-icon" },
    { "woff2", "font/woff2" },
    { "txt", "text/plain; charset=utf-8" },
    { "map", "application/json" },
  };
  const char *slash = strrchr (file, '/');
  const char *dot = strrchr (NULL != slash ? slash : file, '.');

  if (NULL != dot)
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
      if (0 == strcasecmp (dot + 1, types[i].ext))
        return types[i].type;
  return "application/octet-stream";
}

/* Does an If-None-Match list name our entity tag (weakly compared)? */
static bool
etag_matches (const char *list, const char *etag)
{
  size_t elen = strlen (etag);
  const char *p = list;

  while (*p)
  {
    const char *start;
    const char *end;

    while (' ' == *p || '\t' == *p || ',' == *p)
      p++;
    start = p;
    while (*p && ',' != *p)
      p++;
    end = p;
    while (end > start && (' ' == end[-1] || '\t' == end[-1]))
      end--;
    if (1 == end - start && '*' == *start)
      return true;
    if (end - start > 2 && 'W' == start[0] && '/' == start[1])
      start += 2;
    if ((size_t) (end - start) == elen && 0 == memcmp (start, etag, elen))
      return true;
  }
  return false;
}

static bool
not_modified (struct MHD_Connection *c, const char *etag, time_t mtime)
{
  const char *inm = MHD_lookup_connection_value (c, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_IF_NONE_MATCH);
  const char *ims;
  struct tm tm;

  if (NULL != inm)
    return etag_matches (inm, etag);
  ims = MHD_lookup_connection_value (c, MHD_HEADER_KIND,
                                     MHD_HTTP_HEADER_IF_MODIFIED_SINCE);
  if (NULL == ims)
    return false;
  memset (&tm, 0, sizeof tm);
  {
    const char *end = strptime (ims, "%a, %d %b %Y %H:%M:%S GMT", &tm);

    if (NULL == end || '\0' != *end)
      return false;
  }
  return mtime <= timegm (&tm);
}

/* Resolves the request to a regular file inside the root; fd or -1. */
static int
open_file (const struct config *cfg, const char *decoded, char *real,
           struct stat *st)
{
  char full[PATH_MAX];
  size_t dlen = strlen (decoded);
  int n;
  int fd;

  n = snprintf (full, sizeof full, "%.*s%s%s", (int) cfg->www_root_len,
                cfg->www_root, decoded,
                '/' == decoded[dlen - 1] ? "index.html" : "");
  if (n < 0 || (size_t) n >= sizeof full)
    return -1;
  if (NULL == realpath (full, real) || ! inside_root (cfg, real)
      || 0 != stat (real, st))
    return -1;
  if (S_ISDIR (st->st_mode))
  {
    n = snprintf (full, sizeof full, "%s/index.html", real);
    if (n < 0 || (size_t) n >= sizeof full)
      return -1;
    if (NULL == realpath (full, real) || ! inside_root (cfg, real))
      return -1;
  }
  fd = open (real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return -1;
  if (0 != fstat (fd, st) || ! S_ISREG (st->st_mode))
  {
    close (fd);
    return -1;
  }
  return fd;
}

/* The security headers every file served carries (as the frontend nginx's). */
static void
add_page_headers (struct MHD_Response *rs)
{
  for (size_t i = 0; i < sizeof page_headers / sizeof page_headers[0]; i++)
    MHD_add_response_header (rs, page_headers[i][0], page_headers[i][1]);
}

/* 404.html (already open as fd) as a 404 answer, never cached. */
static enum static_result
not_found_page (struct request *r, int fd, const struct stat *st,
                struct MHD_Response **resp, unsigned *status)
{
  struct MHD_Response *rs = MHD_create_response_from_fd64 ((uint64_t) st->st_size, fd);

  if (NULL == rs)
  {
    close (fd);
    return STATIC_MISS;
  }
  MHD_add_response_header (rs, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
  MHD_add_response_header (rs, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  add_page_headers (rs);
  r->bytes = (uint64_t) st->st_size;
  *status = MHD_HTTP_NOT_FOUND;
  *resp = rs;
  return STATIC_HIT;
}

/* True when a browser asks (Accept names text/html) for a path whose first
 * segment is a folder of --www (such as /console/): a file missing there is
 * a mistyped page, answered with 404.html. Other clients keep the API's
 * JSON answer. */
static bool
page_under_www_folder (struct config *cfg, struct request *r, const char *decoded)
{
  char full[PATH_MAX];
  const char *slash = strchr (decoded + 1, '/');
  const char *accept = MHD_lookup_connection_value (r->conn, MHD_HEADER_KIND,
                                                    MHD_HTTP_HEADER_ACCEPT);
  struct stat st;
  int n;

  if (NULL == slash || slash == decoded + 1 || NULL == accept
      || NULL == strstr (accept, "text/html"))
    return false;
  n = snprintf (full, sizeof full, "%s/%.*s", cfg->www_root,
                (int) (slash - decoded - 1), decoded + 1);
  return n > 0 && (size_t) n < sizeof full && 0 == stat (full, &st)
         && S_ISDIR (st.st_mode);
}

enum static_result
static_lookup (struct config *cfg, struct request *r,
               struct MHD_Response **resp, unsigned *status)
{
  char decoded[PATH_MAX];
  char real[PATH_MAX];
  char etag[64];
  char modified[64];
  struct stat st;
  struct tm tm;
  int fd;
  struct MHD_Response *rs;

  if (NULL == cfg->www_root || 0 == r->path_len || '/' != r->uri[0]
      || excluded (r->uri, r->path_len))
    return STATIC_MISS;
  if (! decode_path (r->uri, r->path_len, decoded, sizeof decoded))
    return STATIC_MISS;
  if (has_dotdot (decoded))
    return STATIC_FORBIDDEN;
  fd = open_file (cfg, decoded, real, &st);
  if (fd < 0 && page_under_www_folder (cfg, r, decoded))
  {
    fd = open_file (cfg, "/404.html", real, &st);
    if (fd < 0)
      return STATIC_MISS;
    return not_found_page (r, fd, &st, resp, status);
  }
  if (fd < 0)
    return STATIC_MISS;

  snprintf (etag, sizeof etag, "\"%llx-%llx\"",
            (unsigned long long) st.st_mtim.tv_sec * 1000000000ULL
            + (unsigned long long) st.st_mtim.tv_nsec,
            (unsigned long long) st.st_size);
  gmtime_r (&st.st_mtim.tv_sec, &tm);
  strftime (modified, sizeof modified, "%a, %d %b %Y %H:%M:%S GMT", &tm);

  if (not_modified (r->conn, etag, st.st_mtim.tv_sec))
  {
    close (fd);
    rs = MHD_create_response_from_buffer (0, (void *) "",
                                          MHD_RESPMEM_PERSISTENT);
    *status = MHD_HTTP_NOT_MODIFIED;
  }
  else
  {
    rs = MHD_create_response_from_fd64 ((uint64_t) st.st_size, fd);
    if (NULL == rs)
      close (fd);
    else
    {
      MHD_add_response_header (rs, MHD_HTTP_HEADER_CONTENT_TYPE,
                               content_type (real));
      r->bytes = (uint64_t) st.st_size;
    }
    *status = MHD_HTTP_OK;
  }
  if (NULL == rs)
    return STATIC_MISS;
  MHD_add_response_header (rs, MHD_HTTP_HEADER_ETAG, etag);
  MHD_add_response_header (rs, MHD_HTTP_HEADER_LAST_MODIFIED, modified);
  MHD_add_response_header (rs, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
  add_page_headers (rs);
  *resp = rs;
  return STATIC_HIT;
}
