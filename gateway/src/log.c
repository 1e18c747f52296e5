/*
 * log.c - owns the two logs. The access log is one JSON line per request on
 * stdout, collected in a buffer under a mutex and written by a small flusher
 * thread (every 100 ms, or at once when the buffer grows past 64 KiB), so a
 * busy gateway does not pay one write(2) per request. Errors (and the few
 * start/stop/reconnect notices) are one JSON line each on stderr, written
 * directly.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gateway.h"

#define LOG_FLUSH_BYTES (64 * 1024)
#define LOG_FLUSH_MS 100

struct log
{
  pthread_mutex_t lock;
  pthread_cond_t wake;
  pthread_t flusher;
  bool stop;
  struct buf out;
  time_t cached_sec;            /* second whose text is in cached */
  char cached[24];              /* "YYYY-MM-DDTHH:MM:SS" */
};

uint64_t
now_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static void
write_all (int fd, const char *p, size_t n)
{
  while (n > 0)
  {
    ssize_t w = write (fd, p, n);

    if (w < 0)
    {
      if (EINTR == errno)
        continue;
      return;                   /* nowhere to report a broken log */
    }
    p += w;
    n -= (size_t) w;
  }
}

/* Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" into out (25 bytes with NUL). */
static void
format_time (char out[32], time_t *cache_sec, char cache[24])
{
  struct timespec ts;
  struct tm tm;
  char tmp[24];
  const char *day = tmp;

  clock_gettime (CLOCK_REALTIME, &ts);
  if (NULL != cache_sec && ts.tv_sec == *cache_sec)
    day = cache;
  else
  {
    gmtime_r (&ts.tv_sec, &tm);
    strftime (tmp, sizeof tmp, "%Y-%m-%dT%H:%M:%S", &tm);
    if (NULL != cache_sec)
    {
      memcpy (cache, tmp, sizeof tmp);
      *cache_sec = ts.tv_sec;
    }
  }
  snprintf (out, 32, "%.19s.%03uZ", day,
            (unsigned) (ts.tv_nsec / 1000000L) % 1000u);
}

static void
flush_locked (struct log *lg)
{
  if (lg->out.len > 0)
  {
    write_all (STDOUT_FILENO, lg->out.data, lg->out.len);
    lg->out.len = 0;
  }
  lg->out.failed = false;
}

static void *
flusher_main (void *arg)
{
  struct log *lg = arg;

  pthread_mutex_lock (&lg->lock);
  while (! lg->stop)
  {
    struct timespec until;

    clock_gettime (CLOCK_REALTIME, &until);
    until.tv_nsec += LOG_FLUSH_MS * 1000000L;
    if (until.tv_nsec >= 1000000000L)
    {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait (&lg->wake, &lg->lock, &until);
    flush_locked (lg);
  }
  flush_locked (lg);
  pthread_mutex_unlock (&lg->lock);
  return NULL;
}

struct log *
log_open (void)
{
  struct log *lg = calloc (1, sizeof *lg);

  if (NULL == lg)
    return NULL;
  pthread_mutex_init (&lg->lock, NULL);
  pthread_cond_init (&lg->wake, NULL);
  buf_init (&lg->out);
  lg->cached_sec = -1;
  if (0 != pthread_create (&lg->flusher, NULL, flusher_main, lg))
  {
    pthread_cond_destroy (&lg->wake);
    pthread_mutex_destroy (&lg->lock);
    free (lg);
    return NULL;
  }
  return lg;
}

void
log_close (struct log *lg)
{
  if (NULL == lg)
    return;
  pthread_mutex_lock (&lg->lock);
  lg->stop = true;
  pthread_cond_signal (&lg->wake);
  pthread_mutex_unlock (&lg->lock);
  pthread_join (lg->flusher, NULL);
  buf_free (&lg->out);
  pthread_cond_destroy (&lg->wake);
  pthread_mutex_destroy (&lg->lock);
  free (lg);
}

void
log_access (struct log *lg, const char *id, const char *method,
            const char *path, size_t path_len, unsigned status,
            uint64_t duration_us, uint64_t bytes)
{
  char ts[32];
  struct buf *b = &lg->out;

  pthread_mutex_lock (&lg->lock);
  format_time (ts, &lg->cached_sec, lg->cached);
  buf_printf (b, "{\"time\":\"%s\",\"request_id\":", ts);
  json_str (b, id, strlen (id));
  buf_adds (b, ",\"method\":");
  json_str (b, method, strlen (method));
  buf_adds (b, ",\"path\":");
  json_str (b, path, path_len);
  buf_printf (b, ",\"status\":%u,\"duration_us\":%llu,\"bytes\":%llu}\n",
              status, (unsigned long long) duration_us,
              (unsigned long long) bytes);
  if (b->len >= LOG_FLUSH_BYTES || b->failed)
    flush_locked (lg);
  pthread_mutex_unlock (&lg->lock);
}

static void
log_line (const char *level, const char *fmt, va_list ap)
{
  char msg[2048];
  char ts[32];
  struct buf b;
  int n;

  n = vsnprintf (msg, sizeof msg, fmt, ap);
  if (n < 0)
    return;
  if ((size_t) n >= sizeof msg)
    n = sizeof msg - 1;
  while (n > 0 && '\n' == msg[n - 1])
    n--;
  format_time (ts, NULL, NULL);
  buf_init (&b);
  buf_printf (&b, "{\"time\":\"%s\",\"level\":\"%s\",\"message\":", ts,
              level);
  json_str (&b, msg, (size_t) n);
  buf_adds (&b, "}\n");
  if (! b.failed)
    write_all (STDERR_FILENO, b.data, b.len);
  buf_free (&b);
}

void
log_vwarning (const char *fmt, va_list ap)
{
  log_line ("warning", fmt, ap);
}

void
log_error (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  log_line ("error", fmt, ap);
  va_end (ap);
}

void
log_info (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  log_line ("info", fmt, ap);
  va_end (ap);
}
