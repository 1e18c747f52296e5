/*
 * hosts.c — the Host of a request and the deployment's public URLs, in C for
 * the request path: the exact equivalents of api.request_host,
 * tenancy.public_urls and api.public_base_url (14_tenancy_hosts.sql,
 * 52_api_handle.sql), which stay for SQL callers. No database access: they
 * depend only on their input and on backend_framework.public_urls and
 * base_domain, whose parsed form is kept until the setting changes.
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "backend_framework.h"

typedef struct PublicUrl
{
	char	   *url;			/* normalised: no default port, no slash */
	bool		https;
	char	   *host;
	int			port;			/* default port filled in */
} PublicUrl;

static char *urls_setting = NULL;	/* the value parsed below */
static PublicUrl *urls = NULL;
static int	nurls = 0;

/* lower() as SQL has it (the database's collation), of a C string. */
char *
bf_lower(const char *s)
{
	return TextDatumGetCString(DirectFunctionCall1Coll(lower, DEFAULT_COLLATION_OID,
													   CStringGetTextDatum(s)));
}

/* btrim(s): spaces off both ends. */
static char *
trim_spaces(const char *s)
{
	const char *e;

	while (*s == ' ')
		s++;
	e = s + strlen(s);
	while (e > s && e[-1] == ' ')
		e--;
	return pnstrdup(s, e - s);
}

static bool
is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool
is_hex_lower(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/*
 * Parses "host[:port]" (host: [a-z0-9.-]+, or [hex:.] in brackets) from s;
 * with strict, the host also starts and ends with a letter or digit (as
 * api.request_host's pattern). *port is -1 when absent. Returns the end of
 * what was parsed, or NULL when s does not start that way.
 */
static const char *
parse_host_port(const char *s, bool strict, char **host, int *port, int *port_digits)
{
	const char *p = s;

	if (*p == '[')
	{
		p++;
		while (is_hex_lower(*p) || *p == ':' || *p == '.')
			p++;
		if (*p != ']' || p == s + 1)
			return NULL;
		p++;
	}
	else
	{
		while (is_lower_alnum(*p) || *p == '.' || *p == '-')
			p++;
		if (p == s)
			return NULL;
		if (strict && (!is_lower_alnum(s[0]) || !is_lower_alnum(p[-1])))
			return NULL;
	}
	*host = pnstrdup(s, p - s);
	*port = -1;
	*port_digits = 0;
	if (*p == ':')
	{
		int			n = 0,
					v = 0;

		for (p++; *p >= '0' && *p <= '9' && n < 6; p++, n++)
			v = v * 10 + (*p - '0');
		if (n < 1 || n > 5)
			return NULL;
		*port = v;
		*port_digits = n;
	}
	return p;
}

/* api.request_host(headers): *host NULL (and *port -1) when there is none. */
void
bf_request_host(Datum headers, char **host, int *port)
{
	/* The text of ->> for every kind of value, as the SQL version reads it. */
	char	   *h = bf_json_text(headers, "host", false);
	const char *end;
	int			digits;

	*host = NULL;
	*port = -1;
	if (h == NULL)
		return;
	h = bf_lower(trim_spaces(h));
	if (h[0] == '\0')
		return;
	if (strchr(h, ',') != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("more than one Host header"),
				 errdetail("A request has exactly one Host header (RFC 9112 §3.2).")));
	end = parse_host_port(h, true, host, port, &digits);
	if (end == NULL || *end != '\0' || *port > 65535)
	{
		*host = NULL;
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("invalid Host header")));
	}
}

/* tenancy.public_urls(): backend_framework.public_urls parsed, entries that do not parse skipped. */
static void
load_urls(void)
{
	const char *setting = GetConfigOption("backend_framework.public_urls", false, false);
	MemoryContext old;
	char	   *copy,
			   *item,
			   *save;

	if (urls_setting != NULL && strcmp(urls_setting, setting) == 0)
		return;
	old = MemoryContextSwitchTo(TopMemoryContext);
	if (urls_setting)
	{
		int			i;

		for (i = 0; i < nurls; i++)
		{
			pfree(urls[i].url);
			pfree(urls[i].host);
		}
		pfree(urls);
		pfree(urls_setting);
	}
	urls_setting = pstrdup(setting);
	urls = palloc0(sizeof(PublicUrl) * (strlen(setting) / 2 + 1));
	nurls = 0;
	copy = pstrdup(setting);
	for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save))
	{
		char	   *v = bf_lower(trim_spaces(item));
		const char *p = v;
		bool		https;
		char	   *host;
		int			port,
					digits;
		PublicUrl  *u;

		if (strncmp(p, "https://", 8) == 0)
		{
			https = true;
			p += 8;
		}
		else if (strncmp(p, "http://", 7) == 0)
		{
			https = false;
			p += 7;
		}
		else
			continue;
		p = parse_host_port(p, false, &host, &port, &digits);
		if (p == NULL)
			continue;
		if (*p == '/')
			p++;
		if (*p != '\0')
			continue;
		u = &urls[nurls++];
		u->https = https;
		u->host = host;
		u->port = port >= 0 ? port : (https ? 443 : 80);
		if (port < 0 || port == (https ? 443 : 80))
			u->url = psprintf("%s://%s", https ? "https" : "http", host);
		else
			u->url = psprintf("%s://%s:%d", https ? "https" : "http", host, port);
	}
	MemoryContextSwitchTo(old);
}

/* Whether h (lower case, no port) is the host of a public URL. */
bool
bf_is_public_host(const char *h)
{
	int			i;

	load_urls();
	for (i = 0; i < nurls; i++)
		if (strcmp(urls[i].host, h) == 0)
			return true;
	return false;
}

/*
 * api.public_base_url(host, port, tenant_host, any_host); port -1 for NULL.
 * NULL when any_host and the host is none of the deployment's.
 */
char *
bf_public_base_url(const char *host, int port, bool tenant_host, bool any_host)
{
	const char *base;
	int			i,
				best = -1;

	load_urls();
	if (host == NULL)
		return nurls > 0 ? pstrdup(urls[0].url) : NULL;
	/* A public URL of this host: the one with the client's port first. */
	for (i = 0; i < nurls; i++)
		if (strcmp(urls[i].host, host) == 0)
		{
			int			want = port >= 0 ? port : (urls[i].https ? 443 : 80);

			if (urls[i].port == want)
				return pstrdup(urls[i].url);
			if (best < 0)
				best = i;
		}
	if (best >= 0)
		return pstrdup(urls[best].url);
	if (tenant_host)
	{
		int			best_score = INT_MAX;

		base = bf_lower(GetConfigOption("backend_framework.base_domain", false, false));
		for (i = 0; i < nurls; i++)
		{
			int			want = port >= 0 ? port : (urls[i].https ? 443 : 80);
			int			score = (strcmp(urls[i].host, base) != 0) * 2 + (urls[i].port != want);

			if (score < best_score)
			{
				best_score = score;
				best = i;
			}
		}
		if (best < 0)
			return NULL;
		if (urls[best].port == (urls[best].https ? 443 : 80))
			return psprintf("%s://%s", urls[best].https ? "https" : "http", host);
		return psprintf("%s://%s:%d", urls[best].https ? "https" : "http", host, urls[best].port);
	}
	if (any_host)
		return NULL;
	ereport(ERROR,
			(errcode(BF_ERRCODE_MISDIRECTED),
			 errmsg("this server does not serve the host named in the request"),
			 errdetail("The host is not one of the deployment's public URLs, a tenant's subdomain or an approved custom domain.")));
	return NULL;
}
