/*
 * router.c — the route table of api.routes, cached per backend, and the
 * matching of a method and path against it.
 *
 * The cache is loaded on first use with one SPI query run as
 * backend_definer (the way SECURITY DEFINER switches user), and dropped
 * when api.routes changes: a statement trigger on the table sends a relcache
 * invalidation (api._routes_changed → bf_routes_changed), which reaches
 * every backend at commit, so a route added or dropped from SQL takes effect
 * on the next request of every session. Any change of pg_proc drops it too
 * (a handler replaced by another function of the same signature).
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "backend_framework.h"

typedef struct bf_route
{
	char		method[8];
	char	   *pattern;
	int			nseg;
	char	  **seg;
	int			idseg;			/* index of the {id} segment, or -1 */
	Oid			handler;
	bool		tenant;
	char		auth;
	char	   *scope;
	bool		api;
	FmgrInfo	finfo;
	bool		finfo_ready;	/* looked up on first use: a dropped handler fails only its route */
} bf_route;

static MemoryContext route_cxt = NULL;
static bf_route *routes = NULL;
static int	nroutes = 0;
static bool routes_valid = false;
static uint64 routes_generation = 0;	/* moved by every invalidation */
static Oid	routes_relid = InvalidOid;

static void
routes_relcache_cb(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == routes_relid)
	{
		routes_valid = false;
		routes_generation++;
	}
}

static void
routes_syscache_cb(Datum arg, int cacheid, uint32 hashvalue)
{
	routes_valid = false;
	routes_generation++;
}

void
bf_router_init(void)
{
	CacheRegisterRelcacheCallback(routes_relcache_cb, (Datum) 0);
	CacheRegisterSyscacheCallback(PROCOID, routes_syscache_cb, (Datum) 0);
}

Oid
bf_definer_oid(void)
{
	return get_role_oid("backend_definer", false);
}

/* Splits a path at '/' into palloc'd segments ("/a/b" → "", "a", "b"). */
static int
split_path(const char *path, char ***out)
{
	int			n = 1;
	const char *p;
	char	  **seg;
	int			i = 0;

	for (p = path; *p; p++)
		if (*p == '/')
			n++;
	seg = palloc(sizeof(char *) * n);
	for (p = path;;)
	{
		const char *e = strchr(p, '/');

		seg[i++] = e ? pnstrdup(p, e - p) : pstrdup(p);
		if (!e)
			break;
		p = e + 1;
	}
	*out = seg;
	return n;
}

/* Reads api.routes into route_cxt (as backend_definer: bf_run_as_definer). */
static void
load_run(void *unused)
{
	MemoryContext old;
	uint64		i;

	if (SPI_execute("SELECT method, pattern, handler::pg_catalog.oid, tenant, auth, scope "
					"FROM api.routes ORDER BY pattern, method", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading api.routes failed");
	old = MemoryContextSwitchTo(route_cxt);
	routes = palloc0(sizeof(bf_route) * (SPI_processed + 1));
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		bf_route   *r = &routes[i];
		bool		isnull;
		char	   *auth;
		int			j;

		strlcpy(r->method, SPI_getvalue(tup, td, 1), sizeof(r->method));
		r->pattern = SPI_getvalue(tup, td, 2);
		r->handler = DatumGetObjectId(SPI_getbinval(tup, td, 3, &isnull));
		r->tenant = DatumGetBool(SPI_getbinval(tup, td, 4, &isnull));
		auth = SPI_getvalue(tup, td, 5);
		r->auth = auth[0];
		r->scope = SPI_getvalue(tup, td, 6);
		r->api = strncmp(r->pattern, "/api/", 5) == 0;
		r->nseg = split_path(r->pattern, &r->seg);
		r->idseg = -1;
		for (j = 0; j < r->nseg; j++)
			if (strcmp(r->seg[j], "{id}") == 0)
				r->idseg = j;
	}
	nroutes = (int) SPI_processed;
	MemoryContextSwitchTo(old);
	routes_relid = get_relname_relid("routes", get_namespace_oid("api", false));
}

static void
load_routes(void)
{
	uint64		generation = routes_generation;

	(void) bf_cache_context(&route_cxt, "backend_framework routes");
	routes = NULL;
	nroutes = 0;
	bf_run_as_definer(load_run, NULL);
	/* An invalidation that arrived while we read wins: read again next time. */
	routes_valid = (generation == routes_generation);
}

/*
 * The route of a method and path. Exact segments win over {id}; among {id}
 * patterns, the one whose {id} comes later (the longer literal prefix).
 * Everything returned is copied into the caller's memory context, so a
 * reload of the cache (a handler that changes routes) cannot pull it away.
 */
void
bf_route_find(const char *method, const char *path, bf_match *m)
{
	char	  **seg;
	int			n;
	int			best = -1;
	int			best_score = -1;
	int			i;

	memset(m, 0, sizeof(*m));
	if (!routes_valid)
		load_routes();
	n = split_path(path, &seg);
	for (i = 0; i < nroutes; i++)
	{
		bf_route   *r = &routes[i];
		int			j;
		int			score;

		if (r->nseg != n)
			continue;
		for (j = 0; j < n; j++)
		{
			if (j == r->idseg ? seg[j][0] == '\0' : strcmp(seg[j], r->seg[j]) != 0)
				break;
		}
		if (j < n)
			continue;
		score = r->idseg < 0 ? n + 1 : r->idseg;
		if (score > best_score)
		{
			best = i;
			best_score = score;
		}
	}
	if (best < 0)
		return;
	m->found = true;
	m->pattern = pstrdup(routes[best].pattern);
	if (routes[best].idseg >= 0)
		m->id = pstrdup(seg[routes[best].idseg]);
	/* Rows are sorted by pattern, method: the pattern's rows are adjacent. */
	while (best > 0 && strcmp(routes[best - 1].pattern, m->pattern) == 0)
		best--;
	for (i = best; i < nroutes && strcmp(routes[i].pattern, m->pattern) == 0; i++)
	{
		bf_route   *r = &routes[i];

		if (m->nallow < BF_MAX_ALLOW)
			m->allow[m->nallow++] = pstrdup(r->method);
		if (strcmp(r->method, method) == 0)
		{
			m->has_route = true;
			m->handler = r->handler;
			if (!r->finfo_ready)
			{
				fmgr_info_cxt(r->handler, &r->finfo, route_cxt);
				r->finfo_ready = true;
			}
			fmgr_info_copy(&m->finfo, &r->finfo, CurrentMemoryContext);
			m->tenant = r->tenant;
			m->auth = r->auth;
			m->scope = r->scope ? pstrdup(r->scope) : NULL;
			m->api = r->api;
		}
	}
}

/* api.find_route(method, path): the router as SQL sees it (tests, tools). */
PG_FUNCTION_INFO_V1(bf_find_route);
Datum
bf_find_route(PG_FUNCTION_ARGS)
{
	TupleDesc	td;
	Datum		v[4];
	bool		nulls[4] = {true, true, true, true};
	bf_match	m;

	if (get_call_result_type(fcinfo, NULL, &td) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (!PG_ARGISNULL(0) && !PG_ARGISNULL(1))
	{
		bf_route_find(text_to_cstring(PG_GETARG_TEXT_PP(0)), text_to_cstring(PG_GETARG_TEXT_PP(1)), &m);
		if (m.found)
		{
			Datum	   *a = palloc(sizeof(Datum) * m.nallow);
			int			i;

			for (i = 0; i < m.nallow; i++)
				a[i] = CStringGetTextDatum(m.allow[i]);
			v[0] = CStringGetTextDatum(m.pattern);
			nulls[0] = false;
			if (m.has_route)
			{
				v[1] = ObjectIdGetDatum(m.handler);
				nulls[1] = false;
			}
			if (m.id)
			{
				v[2] = CStringGetTextDatum(m.id);
				nulls[2] = false;
			}
			v[3] = PointerGetDatum(construct_array(a, m.nallow, TEXTOID, -1, false, TYPALIGN_INT));
			nulls[3] = false;
		}
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(td), v, nulls)));
}

/* Statement trigger of api.routes: every backend reloads its cache. */
PG_FUNCTION_INFO_V1(bf_routes_changed);
Datum
bf_routes_changed(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("api._routes_changed() is a trigger function")));
	CacheInvalidateRelcache(td->tg_relation);
	return PointerGetDatum(NULL);
}
