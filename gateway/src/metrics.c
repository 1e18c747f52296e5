/*
 * metrics.c - owns the request and database counters (lock-free atomics in
 * struct metrics, inside the config struct) and their Prometheus text
 * exposition, which the gateway answers itself on /metrics.
 */
#include "gateway.h"

/* Upper bounds of the latency histogram buckets, in microseconds. */
static const uint64_t bucket_le_us[METRICS_BUCKETS] = {
  250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000,
  1000000, 5000000
};

static const char *const db_error_names[DBERR_KINDS] = {
  "sql", "connection", "timeout", "unavailable"
};

void
metrics_request (struct metrics *m, unsigned status, uint64_t us)
{
  unsigned cls = status / 100;
  size_t b = 0;

  if (cls < 1 || cls > 5)
    cls = 0;
  atomic_fetch_add_explicit (&m->by_class[cls], 1, memory_order_relaxed);
  while (b < METRICS_BUCKETS && us > bucket_le_us[b])
    b++;
  atomic_fetch_add_explicit (&m->buckets[b], 1, memory_order_relaxed);
  atomic_fetch_add_explicit (&m->count, 1, memory_order_relaxed);
  atomic_fetch_add_explicit (&m->sum_us, us, memory_order_relaxed);
}

void
metrics_db_error (struct metrics *m, enum db_error_kind kind)
{
  atomic_fetch_add_explicit (&m->db_errors[kind], 1, memory_order_relaxed);
}

static unsigned long long
load (atomic_ullong *a)
{
  return atomic_load_explicit (a, memory_order_relaxed);
}

bool
metrics_render (const struct metrics_stats *s, struct buf *out)
{
  struct metrics *m = s->counters;
  static const char *const class_names[6] = {
    "other", "1xx", "2xx", "3xx", "4xx", "5xx"
  };
  unsigned long long cumulative = 0;

  buf_adds (out,
            "# HELP backend_gateway_requests_total HTTP requests answered, by status class.\n"
            "# TYPE backend_gateway_requests_total counter\n");
  for (int i = 1; i <= 5; i++)
    buf_printf (out, "backend_gateway_requests_total{class=\"%s\"} %llu\n",
                class_names[i], load (&m->by_class[i]));
  buf_printf (out, "backend_gateway_requests_total{class=\"%s\"} %llu\n",
              class_names[0], load (&m->by_class[0]));

  buf_adds (out,
            "# HELP backend_gateway_request_duration_seconds Time from request line to response sent.\n"
            "# TYPE backend_gateway_request_duration_seconds histogram\n");
  for (int b = 0; b < METRICS_BUCKETS; b++)
  {
    cumulative += load (&m->buckets[b]);
    buf_printf (out,
                "backend_gateway_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                (double) bucket_le_us[b] / 1e6, cumulative);
  }
  cumulative += load (&m->buckets[METRICS_BUCKETS]);
  buf_printf (out,
              "backend_gateway_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
              "backend_gateway_request_duration_seconds_sum %.6f\n"
              "backend_gateway_request_duration_seconds_count %llu\n",
              cumulative, (double) load (&m->sum_us) / 1e6, cumulative);

  buf_printf (out,
              "# HELP backend_gateway_requests_in_flight Requests being handled now.\n"
              "# TYPE backend_gateway_requests_in_flight gauge\n"
              "backend_gateway_requests_in_flight %ld\n",
              s->in_flight);

  buf_printf (out,
              "# HELP backend_gateway_pool_connections_in_use Pooled database connections with calls in flight.\n"
              "# TYPE backend_gateway_pool_connections_in_use gauge\n"
              "backend_gateway_pool_connections_in_use %u\n"
              "# HELP backend_gateway_pool_connections_up Pooled database connections ready for calls.\n"
              "# TYPE backend_gateway_pool_connections_up gauge\n"
              "backend_gateway_pool_connections_up %u\n"
              "# HELP backend_gateway_pool_connections_max Configured pool size.\n"
              "# TYPE backend_gateway_pool_connections_max gauge\n"
              "backend_gateway_pool_connections_max %u\n",
              s->pool_busy, s->pool_up, s->pool_size);

  buf_adds (out,
            "# HELP backend_gateway_db_errors_total Database failures, by kind.\n"
            "# TYPE backend_gateway_db_errors_total counter\n");
  for (int k = 0; k < DBERR_KINDS; k++)
    buf_printf (out, "backend_gateway_db_errors_total{kind=\"%s\"} %llu\n",
                db_error_names[k], load (&m->db_errors[k]));
  return ! out->failed;
}
