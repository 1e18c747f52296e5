/*
 * mhd_errors.c - owns the JSON bodies of the errors libmicrohttpd detects and
 * answers by itself, before the gateway ever sees the request: a request
 * head larger than the connection's memory (431), a malformed header line or
 * chunk (400), an unsupported HTTP version (505), a Content-Length beyond
 * 64 bits (413). libmicrohttpd 0.9.75 answers those with fixed HTML pages and
 * offers no hook, but it queues them through its exported
 * MHD_queue_response(), and the dynamic linker binds that call to a
 * definition in the executable first. This is that definition: a response
 * without X-Request-Id (every response the gateway builds has one) is one of
 * libmicrohttpd's own, and is replaced by the JSON equivalent before the real
 * MHD_queue_response() queues it. A 5xx of libmicrohttpd's (505 for an
 * unsupported HTTP version, 500 for a chunk line beyond the connection's
 * memory) becomes a 400: in this project a malformed request is a 4xx, a
 * 5xx is a bug. The gateway's own responses go straight to
 * the real function (config.queue_response), so the hot path pays nothing.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <microhttpd.h>
#include <stdio.h>

#include "gateway.h"

mhd_queue_fn
mhd_real_queue_response (void)
{
  return (mhd_queue_fn) dlsym (RTLD_NEXT, "MHD_queue_response");
}

static const char *
describe (unsigned status)
{
  switch (status)
  {
  case MHD_HTTP_BAD_REQUEST:
    return "malformed HTTP request";
  case MHD_HTTP_CONTENT_TOO_LARGE:
    return "the request body is too large";
  case MHD_HTTP_URI_TOO_LONG:
    return "the request target is too long";
  case MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE:
    return "the request header fields are too large";
  case MHD_HTTP_HTTP_VERSION_NOT_SUPPORTED:
    return "HTTP version not supported";
  default:
    return "the request could not be handled";
  }
}

enum MHD_Result
MHD_queue_response (struct MHD_Connection *connection, unsigned int status,
                    struct MHD_Response *response)
{
  mhd_queue_fn real = mhd_real_queue_response ();
  struct MHD_Response *json;
  enum MHD_Result ret;
  char body[160];
  int n;

  if (NULL == real)
    return MHD_NO;
  if (NULL == response
      || NULL != MHD_get_response_header (response, "X-Request-Id"))
    return real (connection, status, response);
  /* Whatever libmicrohttpd refuses is the request's fault (an unsupported
   * version, a chunk line too long for the connection's memory): a 4xx. */
  if (status >= 500)
    status = MHD_HTTP_BAD_REQUEST;
  n = snprintf (body, sizeof body,
                "{\"error\":\"invalid_request\",\"error_description\":\"%s\"}",
                describe (status));
  json = MHD_create_response_from_buffer ((size_t) n, body,
                                          MHD_RESPMEM_MUST_COPY);
  if (NULL == json)
    return real (connection, status, response);
  MHD_add_response_header (json, MHD_HTTP_HEADER_CONTENT_TYPE,
                           "application/json");
  MHD_add_response_header (json, MHD_HTTP_HEADER_CONNECTION, "close");
  ret = real (connection, status, json);
  MHD_destroy_response (json);
  return ret;
}
