/*
 * json.c - owns JSON text handling: UTF-8 validation, escaping strings into
 * JSON (invalid UTF-8 becomes U+FFFD so the output is always valid JSON), and
 * the small parser for the headers object returned by api.handle_request
 * ({"name": "value" | ["v1", "v2"], ...}).
 */
#include <string.h>

#include "gateway.h"

size_t
utf8_seq (const unsigned char *s, size_t n)
{
  unsigned char c = s[0];
  unsigned char lo = 0x80, hi = 0xBF;
  size_t len;

  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF)
    len = 2;
  else if (c >= 0xE0 && c <= 0xEF)
  {
    len = 3;
    if (0xE0 == c)
      lo = 0xA0;
    else if (0xED == c)
      hi = 0x9F;                /* no UTF-16 surrogates */
  }
  else if (c >= 0xF0 && c <= 0xF4)
  {
    len = 4;
    if (0xF0 == c)
      lo = 0x90;
    else if (0xF4 == c)
      hi = 0x8F;                /* nothing above U+10FFFF */
  }
  else
    return 0;
  if (n < len || s[1] < lo || s[1] > hi)
    return 0;
  for (size_t i = 2; i < len; i++)
    if (s[i] < 0x80 || s[i] > 0xBF)
      return 0;
  return len;
}

bool
utf8_valid (const char *s, size_t n)
{
  const unsigned char *p = (const unsigned char *) s;
  size_t i = 0;

  while (i < n)
  {
    size_t k;

    if (p[i] < 0x80)
    {
      i++;
      continue;
    }
    k = utf8_seq (p + i, n - i);
    if (0 == k)
      return false;
    i += k;
  }
  return true;
}

void
json_str (struct buf *b, const char *s, size_t n)
{
  static const char hex[] = "0123456789abcdef";
  const unsigned char *p = (const unsigned char *) s;
  size_t i = 0;

  buf_addc (b, '"');
  while (i < n)
  {
    size_t run = i;
    size_t k;

    while (run < n && p[run] >= 0x20 && p[run] < 0x7f
           && '"' != p[run] && '\\' != p[run])
      run++;
    buf_add (b, p + i, run - i);
    i = run;
    if (i >= n)
      break;
    switch (p[i])
    {
    case '"':
      buf_add (b, "\\\"", 2);
      i++;
      continue;
    case '\\':
      buf_add (b, "\\\\", 2);
      i++;
      continue;
    case '\n':
      buf_add (b, "\\n", 2);
      i++;
      continue;
    case '\r':
      buf_add (b, "\\r", 2);
      i++;
      continue;
    case '\t':
      buf_add (b, "\\t", 2);
      i++;
      continue;
    default:
      break;
    }
    if (p[i] < 0x80)
    {
      char esc[6] = { '\\', 'u', '0', '0', hex[p[i] >> 4], hex[p[i] & 15] };
      buf_add (b, esc, sizeof esc);
      i++;
      continue;
    }
    k = utf8_seq (p + i, n - i);
    if (0 == k)
    {
      buf_add (b, "\\ufffd", 6);
      i++;
    }
    else
    {
      buf_add (b, p + i, k);
      i += k;
    }
  }
  buf_addc (b, '"');
}

/* ---- the headers-object parser ----------------------------------------- */

struct cursor
{
  const char *s;
  size_t n;
  size_t i;
};

static void
skip_ws (struct cursor *c)
{
  while (c->i < c->n && (' ' == c->s[c->i] || '\t' == c->s[c->i]
                         || '\n' == c->s[c->i] || '\r' == c->s[c->i]))
    c->i++;
}

static int
hexval (char ch)
{
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

static bool
read_u16 (struct cursor *c, unsigned *out)
{
  unsigned v = 0;

  if (c->n - c->i < 4)
    return false;
  for (int k = 0; k < 4; k++)
  {
    int h = hexval (c->s[c->i + (size_t) k]);

    if (h < 0)
      return false;
    v = (v << 4) | (unsigned) h;
  }
  c->i += 4;
  *out = v;
  return true;
}

static void
put_utf8 (struct buf *out, unsigned cp)
{
  char u[4];
  size_t n;

  if (cp < 0x80)
  {
    u[0] = (char) cp;
    n = 1;
  }
  else if (cp < 0x800)
  {
    u[0] = (char) (0xC0 | (cp >> 6));
    u[1] = (char) (0x80 | (cp & 0x3F));
    n = 2;
  }
  else if (cp < 0x10000)
  {
    u[0] = (char) (0xE0 | (cp >> 12));
    u[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
    u[2] = (char) (0x80 | (cp & 0x3F));
    n = 3;
  }
  else
  {
    u[0] = (char) (0xF0 | (cp >> 18));
    u[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
    u[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
    u[3] = (char) (0x80 | (cp & 0x3F));
    n = 4;
  }
  buf_add (out, u, n);
}

/* Parses a JSON string at the cursor into out (NUL-terminated). */
static bool
parse_string (struct cursor *c, struct buf *out)
{
  out->len = 0;
  if (c->i >= c->n || '"' != c->s[c->i])
    return false;
  c->i++;
  while (c->i < c->n)
  {
    unsigned char ch = (unsigned char) c->s[c->i++];
    unsigned cp;

    if ('"' == ch)
      return NULL != buf_cstr (out);
    if (ch < 0x20)
      return false;
    if ('\\' != ch)
    {
      buf_addc (out, (char) ch);
      continue;
    }
    if (c->i >= c->n)
      return false;
    ch = (unsigned char) c->s[c->i++];
    switch (ch)
    {
    case '"':
    case '\\':
    case '/':
      buf_addc (out, (char) ch);
      break;
    case 'b':
      buf_addc (out, '\b');
      break;
    case 'f':
      buf_addc (out, '\f');
      break;
    case 'n':
      buf_addc (out, '\n');
      break;
    case 'r':
      buf_addc (out, '\r');
      break;
    case 't':
      buf_addc (out, '\t');
      break;
    case 'u':
      if (! read_u16 (c, &cp))
        return false;
      if (cp >= 0xD800 && cp <= 0xDBFF)
      {
        unsigned lo;

        if (c->n - c->i >= 6 && '\\' == c->s[c->i] && 'u' == c->s[c->i + 1])
        {
          c->i += 2;
          if (! read_u16 (c, &lo))
            return false;
          if (lo >= 0xDC00 && lo <= 0xDFFF)
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          else
            cp = 0xFFFD;
        }
        else
          cp = 0xFFFD;
      }
      else if (cp >= 0xDC00 && cp <= 0xDFFF)
        cp = 0xFFFD;
      put_utf8 (out, cp);
      break;
    default:
      return false;
    }
  }
  return false;
}

/* A bare number, true or false, copied as its text. */
static bool
parse_scalar (struct cursor *c, struct buf *out)
{
  size_t start = c->i;

  while (c->i < c->n && NULL != strchr ("0123456789+-.eEtruefals", c->s[c->i])
         && '\0' != c->s[c->i])
    c->i++;
  if (c->i == start)
    return false;
  out->len = 0;
  buf_add (out, c->s + start, c->i - start);
  return NULL != buf_cstr (out);
}

static bool
literal (struct cursor *c, const char *word)
{
  size_t n = strlen (word);

  if (c->n - c->i >= n && 0 == memcmp (c->s + c->i, word, n))
  {
    c->i += n;
    return true;
  }
  return false;
}

static int
parse_members (struct cursor *c, struct buf *key, struct buf *val,
               json_header_cb cb, void *cls)
{
  skip_ws (c);
  if (c->i < c->n && '}' == c->s[c->i])
  {
    c->i++;
    return 0;
  }
  for (;;)
  {
    skip_ws (c);
    if (! parse_string (c, key))
      return -1;
    skip_ws (c);
    if (c->i >= c->n || ':' != c->s[c->i++])
      return -1;
    skip_ws (c);
    if (c->i >= c->n)
      return -1;
    if ('"' == c->s[c->i])
    {
      if (! parse_string (c, val))
        return -1;
      if (! cb (cls, key->data, val->data))
        return -2;
    }
    else if ('[' == c->s[c->i])
    {
      c->i++;
      skip_ws (c);
      if (c->i < c->n && ']' == c->s[c->i])
        c->i++;
      else
        for (;;)
        {
          skip_ws (c);
          if (! parse_string (c, val))
            return -1;
          if (! cb (cls, key->data, val->data))
            return -2;
          skip_ws (c);
          if (c->i >= c->n)
            return -1;
          if (']' == c->s[c->i])
          {
            c->i++;
            break;
          }
          if (',' != c->s[c->i++])
            return -1;
        }
    }
    else if (literal (c, "null"))
      ;                         /* a null header is no header */
    else
    {
      if (! parse_scalar (c, val))
        return -1;
      if (! cb (cls, key->data, val->data))
        return -2;
    }
    skip_ws (c);
    if (c->i >= c->n)
      return -1;
    if ('}' == c->s[c->i])
    {
      c->i++;
      return 0;
    }
    if (',' != c->s[c->i++])
      return -1;
  }
}

int
json_each_header (const char *s, size_t n, json_header_cb cb, void *cls)
{
  struct cursor c = { s, n, 0 };
  struct buf key, val;
  int rc;

  buf_init (&key);
  buf_init (&val);
  skip_ws (&c);
  if (c.i < c.n && '{' == c.s[c.i])
  {
    c.i++;
    rc = parse_members (&c, &key, &val, cb, cls);
    if (0 == rc)
    {
      skip_ws (&c);
      if (c.i != c.n)
        rc = -1;
    }
  }
  else
    rc = -1;
  if (key.failed || val.failed)
    rc = -1;
  buf_free (&key);
  buf_free (&val);
  return rc;
}
