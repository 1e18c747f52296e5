/*
 * buf.c - owns the growable byte buffer used to build JSON, log lines and the
 * /metrics text. A failed allocation marks the buffer failed instead of
 * aborting; callers check `failed` once at the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"

void
buf_init (struct buf *b)
{
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  b->failed = false;
}

bool
buf_reserve (struct buf *b, size_t extra)
{
  size_t need;
  size_t cap;
  char *p;

  if (b->failed)
    return false;
  if (extra > SIZE_MAX - b->len - 1)
  {
    b->failed = true;
    return false;
  }
  need = b->len + extra + 1;    /* room for a terminating NUL */
  if (need <= b->cap)
    return true;
  cap = b->cap ? b->cap : 64;
  while (cap < need)
    cap = (cap > SIZE_MAX / 2) ? need : cap * 2;
  p = realloc (b->data, cap);
  if (NULL == p)
  {
    b->failed = true;
    return false;
  }
  b->data = p;
  b->cap = cap;
  return true;
}

void
buf_add (struct buf *b, const void *p, size_t n)
{
  if (0 == n || ! buf_reserve (b, n))
    return;
  memcpy (b->data + b->len, p, n);
  b->len += n;
}

void
buf_adds (struct buf *b, const char *s)
{
  buf_add (b, s, strlen (s));
}

void
buf_addc (struct buf *b, char c)
{
  if (! buf_reserve (b, 1))
    return;
  b->data[b->len++] = c;
}

void
buf_printf (struct buf *b, const char *fmt, ...)
{
  va_list ap;
  int n;

  if (! buf_reserve (b, 64))
    return;
  va_start (ap, fmt);
  n = vsnprintf (b->data + b->len, b->cap - b->len, fmt, ap);
  va_end (ap);
  if (n < 0)
  {
    b->failed = true;
    return;
  }
  if ((size_t) n >= b->cap - b->len)
  {
    if (! buf_reserve (b, (size_t) n))
      return;
    va_start (ap, fmt);
    vsnprintf (b->data + b->len, b->cap - b->len, fmt, ap);
    va_end (ap);
  }
  b->len += (size_t) n;
}

char *
buf_cstr (struct buf *b)
{
  if (! buf_reserve (b, 0))
    return NULL;
  b->data[b->len] = '\0';
  return b->data;
}

void
buf_free (struct buf *b)
{
  free (b->data);
  buf_init (b);
}
