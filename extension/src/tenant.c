/*
 * tenant.c — which tenant a request is for, in C for the request path: the
 * exact equivalent of tenancy.resolve_tenant and tenancy._find_tenant
 * (15_tenancy_resolve.sql), which stay for SQL callers. The strategies of
 * backend_framework.tenant_strategies in order (header, path, subdomain,
 * domain); strategies naming different tenants are an error (22023); an
 * unknown tenant P0002, a suspended one TB003. The tenants are read with
 * prepared lookups as backend_definer (the way SECURITY DEFINER switches
 * user) and kept in a backend-local cache (found and not found alike), which
 * every backend drops when tenancy.tenants changes: a statement trigger
 * (tenancy._tenants_changed, enabled ALWAYS, so also under
 * session_replication_role = replica) sends a relcache invalidation, which
 * reaches every backend when the change commits, and this backend at once.
 * So a suspended tenant is refused on the next request of every session.
 * The tenant context is set as tenancy._set_context does.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/uuid.h"

#include "backend_framework.h"

/* The cache: "i:<uuid>", "s:<slug>" or "d:<domain>" → what the lookup found. */
#define CACHE_KEY_LEN 272
#define CACHE_MAX 50000
typedef struct TenantEntry
{
	char		key[CACHE_KEY_LEN];
	bool		found;
	char		c1[64];			/* id (or the domain's slug) */
	char		c2[64];			/* slug */
	char		c3[16];			/* status */
} TenantEntry;
static HTAB *cache = NULL;
static Oid	tenants_relid = InvalidOid;

static void
tenants_relcache_cb(Datum arg, Oid relid)
{
	if (cache != NULL && (relid == InvalidOid || relid == tenants_relid))
	{
		hash_destroy(cache);
		cache = NULL;
	}
}

void
bf_tenant_init(void)
{
	CacheRegisterRelcacheCallback(tenants_relcache_cb, (Datum) 0);
}

static SPIPlanPtr by_id_plan = NULL;
static SPIPlanPtr by_slug_plan = NULL;
static SPIPlanPtr by_domain_plan = NULL;

/*
 * The plan of sql, prepared once per backend and kept in *plan (the request
 * path's lookups in tenant.c, token.c and meter.c all use it).
 */
SPIPlanPtr
bf_kept_plan(SPIPlanPtr *plan, const char *sql, int nargs, Oid *types)
{
	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(sql, nargs, types);

		if (p == NULL)
			elog(ERROR, "preparing \"%.40s...\" failed: %s", sql, SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		*plan = p;
	}
	return *plan;
}

/*
 * The memory context of a per-backend cache (*cxt): made under
 * CacheMemoryContext on first use, emptied when the cache is read again.
 * name: a string literal (it is kept, not copied).
 */
MemoryContext
bf_cache_context(MemoryContext *cxt, const char *name)
{
	if (*cxt == NULL)
		*cxt = AllocSetContextCreateInternal(CacheMemoryContext, name, ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(*cxt);
	return *cxt;
}

/*
 * Runs fn(arg) as backend_definer, the way SECURITY DEFINER switches user,
 * between SPI_connect and SPI_finish; the caller's user comes back on error
 * too. What fn keeps must be copied out of SPI's memory.
 */
void
bf_run_as_definer(void (*fn) (void *arg), void *arg)
{
	Oid			save_user;
	int			save_sec;

	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(bf_definer_oid(), save_sec | SECURITY_LOCAL_USERID_CHANGE);
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		fn(arg);
		SPI_finish();
	}
	PG_CATCH();
	{
		SetUserIdAndSecContext(save_user, save_sec);
		PG_RE_THROW();
	}
	PG_END_TRY();
	SetUserIdAndSecContext(save_user, save_sec);
}

/* A one-parameter lookup: the first row's columns as text, in the caller's memory. */
typedef struct lookup_args
{
	SPIPlanPtr *plan;
	const char *sql;
	Oid			type;
	Datum		arg;
	char	  **c1,
			  **c2,
			  **c3;
	MemoryContext caller;
	bool		found;
} lookup_args;

static void
lookup_run(void *p)
{
	lookup_args *a = p;

	if (SPI_execute_plan(bf_kept_plan(a->plan, a->sql, 1, &a->type), &a->arg, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading tenancy.tenants failed");
	if (SPI_processed > 0)
	{
		HeapTuple	row = SPI_tuptable->vals[0];
		TupleDesc	td = SPI_tuptable->tupdesc;
		/* Copied into the caller's memory: SPI_finish frees SPI's. */
		MemoryContext spi = MemoryContextSwitchTo(a->caller);

		a->found = true;
		*a->c1 = SPI_getvalue(row, td, 1);
		if (a->c2)
			*a->c2 = td->natts >= 2 ? SPI_getvalue(row, td, 2) : NULL;
		if (a->c3)
			*a->c3 = td->natts >= 3 ? SPI_getvalue(row, td, 3) : NULL;
		MemoryContextSwitchTo(spi);
	}
}

/* Runs a one-parameter lookup as backend_definer; the first row's columns as text. */
static bool
lookup(SPIPlanPtr *plan, const char *sql, Oid type, Datum arg, char **c1, char **c2, char **c3)
{
	lookup_args a = {plan, sql, type, arg, c1, c2, c3, CurrentMemoryContext, false};

	bf_run_as_definer(lookup_run, &a);
	return a.found;
}

/* lookup() through the cache; keys too long to cache are looked up each time. */
static bool
cached_lookup(char kind, const char *k, SPIPlanPtr *plan, const char *sql, Oid type, Datum arg,
			  char **c1, char **c2, char **c3)
{
	char		key[CACHE_KEY_LEN];
	TenantEntry *e;
	bool		hit;
	bool		found;
	char	   *v1 = NULL,
			   *v2 = NULL,
			   *v3 = NULL;

	if (strlen(k) + 3 > CACHE_KEY_LEN)
		return lookup(plan, sql, type, arg, c1, c2, c3);
	if (cache == NULL || hash_get_num_entries(cache) >= CACHE_MAX)
	{
		HASHCTL		ctl;

		if (cache)
			hash_destroy(cache);
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = CACHE_KEY_LEN;
		ctl.entrysize = sizeof(TenantEntry);
		ctl.hcxt = CacheMemoryContext;
		tenants_relid = get_relname_relid("tenants", get_namespace_oid("tenancy", false));
		cache = hash_create("backend_framework tenants", 256, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}
	memset(key, 0, sizeof(key));
	snprintf(key, sizeof(key), "%c:%s", kind, k);
	e = hash_search(cache, key, HASH_FIND, &hit);
	if (e != NULL)
	{
		if (e->found)
		{
			*c1 = pstrdup(e->c1);
			if (c2)
				*c2 = pstrdup(e->c2);
			if (c3)
				*c3 = pstrdup(e->c3);
		}
		return e->found;
	}
	found = lookup(plan, sql, type, arg, &v1, c2 ? &v2 : NULL, c3 ? &v3 : NULL);
	if (found)
	{
		*c1 = v1;
		if (c2)
			*c2 = v2;
		if (c3)
			*c3 = v3;
	}

	/*
	 * Not kept when an invalidation arrived during the lookup (its snapshot
	 * may predate the change: the cache was dropped meanwhile), nor when a
	 * value does not fit.
	 */
	if (cache == NULL ||
		(found && (strlen(v1) >= 64 || (v2 && strlen(v2) >= 64) || (v3 && strlen(v3) >= 16))))
		return found;
	e = hash_search(cache, key, HASH_ENTER, &hit);
	e->found = found;
	e->c1[0] = e->c2[0] = e->c3[0] = '\0';
	if (found)
	{
		strlcpy(e->c1, v1, sizeof(e->c1));
		if (v2)
			strlcpy(e->c2, v2, sizeof(e->c2));
		if (v3)
			strlcpy(e->c3, v3, sizeof(e->c3));
	}
	return found;
}

static bool
is_uuid_text(const char *s)
{
	static const int groups[5] = {8, 4, 4, 4, 12};
	int			g,
				i;

	for (g = 0; g < 5; g++)
	{
		for (i = 0; i < groups[g]; i++, s++)
			if (!isxdigit((unsigned char) *s))
				return false;
		if (g < 4 && *s++ != '-')
			return false;
	}
	return *s == '\0';
}

/* tenancy._find_tenant(key, by_id_too): id and slug, or P0002 / TB003. */
static void
find_tenant(const char *key, bool by_id, char **id, char **slug)
{
	char	   *status = NULL;
	bool		found;

	if (by_id && is_uuid_text(key))
		found = cached_lookup('i', key, &by_id_plan,
					   "SELECT t.id::pg_catalog.text, t.slug, t.status FROM tenancy.tenants t "
					   "WHERE t.id OPERATOR(pg_catalog.=) $1",
					   UUIDOID, DirectFunctionCall1(uuid_in, CStringGetDatum(key)), id, slug, &status);
	else
	{
		char	   *lk = bf_lower(key);

		found = cached_lookup('s', lk, &by_slug_plan,
							  "SELECT t.id::pg_catalog.text, t.slug, t.status FROM tenancy.tenants t "
							  "WHERE t.slug OPERATOR(pg_catalog.=) $1",
							  TEXTOID, CStringGetTextDatum(lk), id, slug, &status);
	}
	if (!found)
		ereport(ERROR, (errcode(ERRCODE_NO_DATA_FOUND), errmsg("tenant not found")));
	if (status && strcmp(status, "suspended") == 0)
		ereport(ERROR,
				(errcode(BF_ERRCODE_SUSPENDED),
				 errmsg("tenant suspended"),
				 errdetail("This tenant is suspended; contact the platform operator.")));
}

static bool
ends_with_dot(const char *h, const char *base)
{
	size_t		hl = strlen(h),
				bl = strlen(base);

	return hl >= bl + 1 && h[hl - bl - 1] == '.' && strcmp(h + hl - bl, base) == 0;
}

/* btrim(s), NULL for an empty result. */
static char *
header_key(Datum headers, const char *name)
{
	const char *s = bf_json_text(headers, name, false);
	const char *e;

	if (s == NULL)
		return NULL;
	while (*s == ' ')
		s++;
	e = s + strlen(s);
	while (e > s && e[-1] == ' ')
		e--;
	return e > s ? pnstrdup(s, e - s) : NULL;
}

void
bf_resolve_tenant(const char *host, const char *path, Datum headers, bf_resolved *r)
{
	char	   *base = bf_lower(GetConfigOption("backend_framework.base_domain", false, false));
	char	   *h = bf_lower(host ? host : "");
	char	   *list;
	char	   *strategy;
	char	   *save;
	char	   *tenant_text = NULL;
	bool		platform;

	memset(r, 0, sizeof(*r));
	r->prefix = "";
	r->path = pstrdup(path ? path : "/");
	if (path == NULL)
		path = "";
	/* Host without port; bracketed IPv6 literals name no tenant. */
	if (h[0] == '[')
		h = "";
	else
	{
		char	   *p = h + strlen(h);

		while (p > h && isdigit((unsigned char) p[-1]))
			p--;
		if (p > h && p[-1] == ':')
			p[-1] = '\0';
	}
	platform = h[0] == '\0' || bf_is_public_host(h);

	/* string_to_array(replace(setting, ' ', ''), ','): empty items kept. */
	{
		const char *s = GetConfigOption("backend_framework.tenant_strategies", false, false);
		char	   *d;

		list = palloc(strlen(s) + 2);
		for (d = list; *s; s++)
			if (*s != ' ')
				*d++ = *s;
		*d = '\0';
	}
	if (list[0] == '\0')
		strategy = NULL;
	else
		strategy = list;
	while (strategy != NULL)
	{
		char	   *key = NULL;
		bool		by_id = false;
		char	   *id,
				   *slug;

		save = strchr(strategy, ',');
		if (save)
			*save++ = '\0';
		if (strcmp(strategy, "header") == 0)
		{
			key = header_key(headers, "x-tenant");
			by_id = true;
		}
		else if (strcmp(strategy, "path") == 0)
		{
			/* RFC 8414 section 3 (and the same form for OpenID discovery and
			 * RFC 9728): metadata of issuer .../t/{slug} at /.well-known/{doc}/t/{slug}. */
			static const char *const wks[] = {
				"/.well-known/oauth-authorization-server",
				"/.well-known/openid-configuration",
				"/.well-known/oauth-protected-resource",
			};

			if (strncmp(path, "/t/", 3) == 0 && path[3] != '\0' && path[3] != '/')
			{
				const char *e = strchr(path + 3, '/');

				key = e ? pnstrdup(path + 3, e - (path + 3)) : pstrdup(path + 3);
				r->prefix = psprintf("/t/%s", key);
				r->path = pstrdup(e ? e : "/");
			}
			else
				for (int w = 0; w < lengthof(wks) && key == NULL; w++)
				{
					size_t		n = strlen(wks[w]);
					const char *k = path + n + 3;

					if (strncmp(path, wks[w], n) == 0 && strncmp(path + n, "/t/", 3) == 0
						&& *k != '\0' && strchr(k, '/') == NULL)
					{
						key = pstrdup(k);
						r->prefix = psprintf("/t/%s", key);
						r->path = pstrdup(wks[w]);
					}
				}
		}
		else if (strcmp(strategy, "subdomain") == 0)
		{
			if (!platform && base[0] != '\0' && ends_with_dot(h, base))
			{
				key = pnstrdup(h, strlen(h) - strlen(base) - 1);
				if (strchr(key, '.') != NULL || key[0] == '\0')
					key = NULL;
			}
		}
		else if (strcmp(strategy, "domain") == 0)
		{
			/* Only an approved domain names a tenant, and never a platform host. */
			if (!platform && strcmp(h, base) != 0 && !ends_with_dot(h, base))
			{
				char	   *found_slug;

				if (cached_lookup('d', h, &by_domain_plan,
						   "SELECT t.slug FROM tenancy.tenants t WHERE t.custom_domain OPERATOR(pg_catalog.=) $1 "
						   "AND t.custom_domain_status OPERATOR(pg_catalog.=) 'approved'",
						   TEXTOID, CStringGetTextDatum(h), &found_slug, NULL, NULL))
					key = found_slug;
			}
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown tenant strategy \"%s\"", strategy),
					 errhint("backend_framework.tenant_strategies lists header, path, subdomain and domain.")));
		if (key != NULL)
		{
			find_tenant(key, by_id, &id, &slug);
			if (!r->found)
			{
				r->found = true;
				tenant_text = id;
				r->slug = slug;
				r->strategy = pstrdup(strategy);
			}
			if (strcmp(tenant_text, id) == 0)
				r->by_host = r->by_host || strcmp(strategy, "subdomain") == 0 || strcmp(strategy, "domain") == 0;
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("conflicting tenant identification"),
						 errdetail("The %s and the %s name different tenants.", r->strategy, strategy)));
		}
		strategy = save;
	}
	if (r->found)
		r->tenant_id = DirectFunctionCall1(uuid_in, CStringGetDatum(tenant_text));
	/* tenancy._set_context(tenant, NULL, NULL, NULL, NULL) */
	bf_set_local("backend_framework.tenant_id", tenant_text ? tenant_text : "");
	bf_set_local("backend_framework.user_id", "");
	bf_set_local("backend_framework.user_role", "");
	bf_set_local("backend_framework.scopes", "");
	bf_set_local("backend_framework.client_id", "");
}

/* Statement trigger of tenancy.tenants: every backend drops its tenant cache. */
PG_FUNCTION_INFO_V1(bf_tenants_changed);
Datum
bf_tenants_changed(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("tenancy._tenants_changed() is a trigger function")));
	CacheInvalidateRelcache(td->tg_relation);
	return PointerGetDatum(NULL);
}
