/*
 * main.c - owns the process: the one struct config (on main's stack; every
 * thread reaches it through callback arguments), start-up in dependency
 * order, the signal wait, and the graceful shutdown on SIGTERM/SIGINT: stop
 * accepting, let requests in flight finish, stop the database threads, stop
 * the HTTP daemon, exit 0.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "gateway.h"

/* Many idle keep-alive connections need many descriptors. */
static void
raise_nofile (void)
{
  struct rlimit rl;

  if (0 == getrlimit (RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max)
  {
    rl.rlim_cur = rl.rlim_max;
    if (0 != setrlimit (RLIMIT_NOFILE, &rl))
      log_error ("cannot raise the open files limit");
  }
}

static uint64_t
random_key (void)
{
  uint64_t k = 0;

  if (sizeof k != getrandom (&k, sizeof k, 0))
    k = (uint64_t) time (NULL) ^ ((uint64_t) getpid () << 32);
  return k;
}

/* Waits until no request is between its start and its completion. */
static bool
drain (struct config *cfg, unsigned ms)
{
  for (unsigned waited = 0; waited < ms; waited += 10)
  {
    if (0 == atomic_load (&cfg->in_flight))
      return true;
    usleep (10000);
  }
  return 0 == atomic_load (&cfg->in_flight);
}

static void
cleanup (struct config *cfg)
{
  http_stop (cfg);
  pool_free (cfg->pool);
  cfg->pool = NULL;
  log_close (cfg->log);
  cfg->log = NULL;
  free (cfg->www_root);
  cfg->www_root = NULL;
}

int
main (int argc, char **argv)
{
  struct config cfg;
  sigset_t set;
  int sig = 0;

  memset (&cfg, 0, sizeof cfg);
  switch (config_parse (&cfg, argc, argv))
  {
  case CONFIG_OK:
    break;
  case CONFIG_EXIT:
    return 0;
  case CONFIG_ERROR:
    return 2;
  }

  /* Every thread inherits this mask; only sigwait below sees the signals. */
  signal (SIGPIPE, SIG_IGN);
  sigemptyset (&set);
  sigaddset (&set, SIGINT);
  sigaddset (&set, SIGTERM);
  pthread_sigmask (SIG_BLOCK, &set, NULL);

  raise_nofile ();
  cfg.id_key = random_key ();
  cfg.listen_fd = -1;
  if (! static_init (&cfg))
    return 1;
  cfg.log = log_open ();
  if (NULL == cfg.log)
  {
    log_error ("cannot start the access log");
    cleanup (&cfg);
    return 1;
  }
  cfg.pool = pool_start (&cfg);
  if (NULL == cfg.pool)
  {
    cleanup (&cfg);
    return 1;
  }
  if (! pool_wait_up (cfg.pool, 2000))
    log_error ("the database is not reachable yet; answering 503 until it is");
  if (! http_start (&cfg))
  {
    cleanup (&cfg);
    return 1;
  }
  log_info ("backend-gateway %s listening on %s:%s (threads %u, pool %u, "
            "timeout %u s, max body %llu, www %s%s)", GATEWAY_VERSION,
            cfg.listen_host, cfg.listen_port, cfg.threads, cfg.pool_size,
            cfg.timeout, (unsigned long long) cfg.max_body,
            cfg.www_root ? cfg.www_root : "off",
            cfg.trust_proxy ? ", trusting X-Forwarded-*" : "");

  while (0 != sigwait (&set, &sig))
    ;
  log_info ("%s: finishing requests in flight",
            SIGTERM == sig ? "SIGTERM" : "SIGINT");
  atomic_store (&cfg.stopping, true);
  http_quiesce (&cfg);
  if (! drain (&cfg, (cfg.timeout + 1) * 1000))
    log_error ("%ld requests still in flight; closing them",
               atomic_load (&cfg.in_flight));
  pool_shutdown (cfg.pool);
  drain (&cfg, 1000);
  cleanup (&cfg);
  log_info ("stopped");
  return 0;
}
