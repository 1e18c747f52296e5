/*
 * config.c - owns the options of struct config: defaults, then BACKEND_*
 * environment variables, then the command line (which wins), with range
 * checks and the --help / --version texts.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "gateway.h"

#define DEFAULT_LISTEN "127.0.0.1:8080"
#define DEFAULT_MAX_BODY (1024 * 1024)
#define DEFAULT_TIMEOUT 10

static void
usage (FILE *f)
{
  fprintf (f,
           "Usage: backend-gateway [OPTIONS]\n"
           "HTTP gateway of Backend Framework: each request becomes one call of\n"
           "api.handle_request() in PostgreSQL.\n"
           "\n"
           "Options (each also read from the environment variable shown):\n"
           "  --listen HOST:PORT    address to listen on (BACKEND_LISTEN, default "
           DEFAULT_LISTEN ")\n"
           "  --database CONNINFO   libpq connection string or URL (BACKEND_DATABASE_URL)\n"
           "  --pool N              database connections, each pipelining many calls\n"
           "                        (BACKEND_POOL, default: number of cores, at least 2)\n"
           "  --threads N           HTTP event-loop threads (BACKEND_THREADS, default:\n"
           "                        number of cores)\n"
           "  --www DIR             serve static files from DIR (BACKEND_WWW, default off)\n"
           "  --max-body BYTES      largest request body, k/m suffixes allowed\n"
           "                        (BACKEND_MAX_BODY, default 1m); larger gets 413\n"
           "  --timeout SECONDS     idle connection timeout and longest wait for the\n"
           "                        database (BACKEND_TIMEOUT, default %d)\n"
           "  --trust-proxy         trust X-Forwarded-For/Proto/Host from a proxy in\n"
           "                        front (BACKEND_TRUST_PROXY=1). The client address\n"
           "                        is the RIGHT-most X-Forwarded-For entry, the one\n"
           "                        the proxy added; the proxy must overwrite\n"
           "                        X-Forwarded-Proto/Host, and only it may reach\n"
           "                        the gateway\n"
           "  --metrics-token TOKEN /metrics answers only requests with\n"
           "                        Authorization: Bearer TOKEN, at least 16 characters\n"
           "                        (BACKEND_METRICS_TOKEN, default none: /metrics open\n"
           "                        to whoever reaches the gateway; prefer the variable,\n"
           "                        a command line is visible to other processes)\n"
           "  --help                show this help and exit\n"
           "  --version             show the version and exit\n",
           DEFAULT_TIMEOUT);
}

static bool
parse_listen (struct config *cfg, const char *v)
{
  const char *colon = strrchr (v, ':');
  const char *host = v;
  size_t hlen;
  char *end;
  long port;

  if (NULL == colon)
    return false;
  hlen = (size_t) (colon - v);
  if (hlen >= 2 && '[' == v[0] && ']' == v[hlen - 1])
  {
    host = v + 1;
    hlen -= 2;
  }
  if (hlen >= sizeof cfg->listen_host)
    return false;
  errno = 0;
  port = strtol (colon + 1, &end, 10);
  if (0 != errno || end == colon + 1 || '\0' != *end || port < 0
      || port > 65535)
    return false;
  if (0 == hlen)
    strcpy (cfg->listen_host, "0.0.0.0");
  else
  {
    memcpy (cfg->listen_host, host, hlen);
    cfg->listen_host[hlen] = '\0';
  }
  snprintf (cfg->listen_port, sizeof cfg->listen_port, "%ld", port);
  return true;
}

static bool
parse_uint (const char *v, unsigned long long min, unsigned long long max,
            bool suffixes, unsigned long long *out)
{
  char *end;
  unsigned long long n;

  if (NULL == v || ! isdigit ((unsigned char) v[0]))
    return false;
  errno = 0;
  n = strtoull (v, &end, 10);
  if (0 != errno)
    return false;
  if (suffixes && '\0' != *end && '\0' == end[1])
  {
    unsigned shift = 0;

    switch (tolower ((unsigned char) *end))
    {
    case 'k':
      shift = 10;
      break;
    case 'm':
      shift = 20;
      break;
    case 'g':
      shift = 30;
      break;
    default:
      return false;
    }
    if (n > (max >> shift))
      return false;
    n <<= shift;
    end++;
  }
  if ('\0' != *end || n < min || n > max)
    return false;
  *out = n;
  return true;
}

static bool
parse_bool (const char *v, bool *out)
{
  static const char *const yes[] = { "1", "true", "yes", "on" };
  static const char *const no[] = { "0", "false", "no", "off", "" };

  for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
    if (0 == strcasecmp (v, yes[i]))
      return (*out = true);
  for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
    if (0 == strcasecmp (v, no[i]))
      return ! (*out = false);
  return false;
}

enum opt
{
  OPT_LISTEN, OPT_DATABASE, OPT_POOL, OPT_THREADS, OPT_WWW, OPT_MAX_BODY,
  OPT_TIMEOUT, OPT_TRUST_PROXY, OPT_METRICS_TOKEN, OPT_COUNT
};

static const struct
{
  const char *flag;
  const char *env;
  bool takes_value;
} opts[OPT_COUNT] = {
  [OPT_LISTEN] = { "--listen", "BACKEND_LISTEN", true },
  [OPT_DATABASE] = { "--database", "BACKEND_DATABASE_URL", true },
  [OPT_POOL] = { "--pool", "BACKEND_POOL", true },
  [OPT_THREADS] = { "--threads", "BACKEND_THREADS", true },
  [OPT_WWW] = { "--www", "BACKEND_WWW", true },
  [OPT_MAX_BODY] = { "--max-body", "BACKEND_MAX_BODY", true },
  [OPT_TIMEOUT] = { "--timeout", "BACKEND_TIMEOUT", true },
  [OPT_TRUST_PROXY] = { "--trust-proxy", "BACKEND_TRUST_PROXY", false },
  [OPT_METRICS_TOKEN] = { "--metrics-token", "BACKEND_METRICS_TOKEN", true },
};

static bool
apply (struct config *cfg, enum opt o, const char *v, const char *from)
{
  unsigned long long n;
  bool ok = true;

  switch (o)
  {
  case OPT_LISTEN:
    ok = parse_listen (cfg, v);
    break;
  case OPT_DATABASE:
    cfg->database = v;
    break;
  case OPT_POOL:
    if ((ok = parse_uint (v, 1, POOL_MAX, false, &n)))
      cfg->pool_size = (unsigned) n;
    break;
  case OPT_THREADS:
    if ((ok = parse_uint (v, 1, 64, false, &n)))
      cfg->threads = (unsigned) n;
    break;
  case OPT_WWW:
    cfg->www = ('\0' == v[0]) ? NULL : v;
    break;
  case OPT_MAX_BODY:
    if ((ok = parse_uint (v, 0, 1ULL << 30, true, &n)))
      cfg->max_body = n;
    break;
  case OPT_TIMEOUT:
    if ((ok = parse_uint (v, 1, 3600, false, &n)))
      cfg->timeout = (unsigned) n;
    break;
  case OPT_TRUST_PROXY:
    ok = parse_bool (v, &cfg->trust_proxy);
    break;
  case OPT_METRICS_TOKEN:
    /* Empty: no token. A short one would be guessed; the message below
       never echoes the value (a secret). */
    if ('\0' != v[0] && strlen (v) < 16)
    {
      fprintf (stderr, "backend-gateway: %s must be at least 16 characters\n",
               from);
      return false;
    }
    cfg->metrics_token = ('\0' == v[0]) ? NULL : v;
    break;
  case OPT_COUNT:
    ok = false;
    break;
  }
  if (! ok)
    fprintf (stderr, "backend-gateway: invalid value \"%s\" for %s\n", v, from);
  return ok;
}

static unsigned
cores (void)
{
  long n = sysconf (_SC_NPROCESSORS_ONLN);

  if (n < 1)
    return 1;
  return n > 16 ? 16 : (unsigned) n;
}

enum config_result
config_parse (struct config *cfg, int argc, char **argv)
{
  parse_listen (cfg, DEFAULT_LISTEN);
  cfg->database = "";
  cfg->threads = cores ();
  cfg->pool_size = cfg->threads < 2 ? 2 : cfg->threads;
  cfg->www = NULL;
  cfg->max_body = DEFAULT_MAX_BODY;
  cfg->timeout = DEFAULT_TIMEOUT;
  cfg->trust_proxy = false;
  cfg->metrics_token = NULL;
  cfg->listen_fd = -1;

  for (int o = 0; o < OPT_COUNT; o++)
  {
    const char *v = getenv (opts[o].env);

    if (NULL != v && ! apply (cfg, (enum opt) o, v, opts[o].env))
      return CONFIG_ERROR;
  }

  for (int i = 1; i < argc; i++)
  {
    const char *arg = argv[i];
    const char *eq = strchr (arg, '=');
    size_t nlen = eq ? (size_t) (eq - arg) : strlen (arg);
    int o;

    if (0 == strcmp (arg, "--help") || 0 == strcmp (arg, "-h"))
    {
      usage (stdout);
      return CONFIG_EXIT;
    }
    if (0 == strcmp (arg, "--version") || 0 == strcmp (arg, "-V"))
    {
      printf ("backend-gateway %s\n", GATEWAY_VERSION);
      return CONFIG_EXIT;
    }
    for (o = 0; o < OPT_COUNT; o++)
      if (strlen (opts[o].flag) == nlen
          && 0 == strncmp (arg, opts[o].flag, nlen))
        break;
    if (OPT_COUNT == o)
    {
      fprintf (stderr, "backend-gateway: unknown option %s (see --help)\n",
               arg);
      return CONFIG_ERROR;
    }
    if (! opts[o].takes_value)
    {
      if (! apply (cfg, (enum opt) o, eq ? eq + 1 : "1", opts[o].flag))
        return CONFIG_ERROR;
      continue;
    }
    if (NULL == eq && i + 1 >= argc)
    {
      fprintf (stderr, "backend-gateway: %s needs a value\n", opts[o].flag);
      return CONFIG_ERROR;
    }
    if (! apply (cfg, (enum opt) o, eq ? eq + 1 : argv[++i], opts[o].flag))
      return CONFIG_ERROR;
  }
  return CONFIG_OK;
}

/* May this request read /metrics? Without --metrics-token, yes. With it,
 * only with "Authorization: Bearer <token>" (scheme case-insensitive). Every
 * byte of the token is compared whatever differs first, so the time taken
 * does not tell how much of a guess was right. */
bool
config_metrics_allowed (const struct config *cfg, const char *authorization)
{
  const char *t = cfg->metrics_token;
  const char *g;
  size_t n, m;
  volatile unsigned char d;

  if (NULL == t)
    return true;
  if (NULL == authorization || 0 != strncasecmp (authorization, "Bearer ", 7))
    return false;
  g = authorization + 7;
  n = strlen (t);
  m = strlen (g);
  d = (unsigned char) (n != m);
  for (size_t i = 0; i < n; i++)
    d |= (unsigned char) (t[i] ^ (i < m ? g[i] : 0));
  return 0 == d;
}
