/*
 * scopes.c — the scope rules in C: oauth._scopes (a scope string as the
 * sorted array of known scopes), oauth._scope_and, oauth._scope_text and
 * oauth._grant_scope (what a token request may get within a ceiling). Every
 * token request runs them; in PL/pgSQL they were a third of a client
 * credentials grant. The scopes themselves are oauth.scopes_supported()'s
 * (the one place that lists them), read once per backend and again after a
 * change of pg_proc.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

#include "backend_framework.h"

static MemoryContext cache_cxt = NULL;
static bool cache_valid = false;
static char **supported;		/* sorted as COLLATE "C" */
static int	n_supported;

static void
cache_cb(Datum arg, int cacheid, uint32 hashvalue)
{
	cache_valid = false;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The elements of a text[] as C strings (NULL elements kept as NULL). */
static char **
texts_of(ArrayType *a, int *n)
{
	Datum	   *elems;
	bool	   *nulls;
	char	  **out;
	int			i;

	deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, n);
	out = palloc(sizeof(char *) * Max(*n, 1));
	for (i = 0; i < *n; i++)
		out[i] = nulls[i] ? NULL : TextDatumGetCString(elems[i]);
	return out;
}

static void
load_cache(void)
{
	Oid			f;
	MemoryContext old;

	if (cache_cxt == NULL)
		CacheRegisterSyscacheCallback(PROCOID, cache_cb, (Datum) 0);
	(void) bf_cache_context(&cache_cxt, "backend_framework scopes");
	f = DatumGetObjectId(DirectFunctionCall1(regprocedurein, CStringGetDatum("oauth.scopes_supported()")));
	old = MemoryContextSwitchTo(cache_cxt);
	supported = texts_of(DatumGetArrayTypeP(OidFunctionCall0(f)), &n_supported);
	qsort(supported, n_supported, sizeof(char *), cmp_str);
	MemoryContextSwitchTo(old);
	cache_valid = true;
}

static ArrayType *
text_array(char **s, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));
	int			i;

	for (i = 0; i < n; i++)
		d[i] = CStringGetTextDatum(s[i]);
	return construct_array(d, n, TEXTOID, -1, false, TYPALIGN_INT);
}

/*
 * The scopes of a space-separated string as a sorted, distinct array; NULL
 * when a value is not a known scope (tabs and the like make it unknown). A
 * blank string or NULL gives '{}'.
 */
ArrayType *
bf_scopes(const char *s)
{
	char	   *copy = s ? pstrdup(s) : pstrdup("");
	char	   *p = copy;
	bool	   *given;
	char	  **out;
	int			n = 0,
				i;

	if (!cache_valid)
		load_cache();
	given = palloc0(sizeof(bool) * Max(n_supported, 1));
	while (p != NULL)
	{
		char	   *sp = strchr(p, ' ');
		bool		known = false;

		if (sp)
			*sp = '\0';
		if (*p != '\0')
		{
			for (i = 0; i < n_supported; i++)
				if (strcmp(p, supported[i]) == 0)
					known = given[i] = true;
			if (!known)
				return NULL;
		}
		p = sp ? sp + 1 : NULL;
	}
	out = palloc(sizeof(char *) * Max(n_supported, 1));
	for (i = 0; i < n_supported; i++)
		if (given[i])
			out[n++] = supported[i];
	return text_array(out, n);
}

/* The elements of a, in its order, that are in b (NULL a or b: none). */
static ArrayType *
scope_and(ArrayType *a, ArrayType *b)
{
	char	  **as = NULL,
			  **bs = NULL,
			  **out;
	int			na = 0,
				nb = 0,
				n = 0,
				i,
				j;

	if (a != NULL)
		as = texts_of(a, &na);
	if (b != NULL)
		bs = texts_of(b, &nb);
	out = palloc(sizeof(char *) * Max(na, 1));
	for (i = 0; i < na; i++)
		for (j = 0; j < nb && as[i] != NULL; j++)
			if (bs[j] != NULL && strcmp(as[i], bs[j]) == 0)
			{
				out[n++] = as[i];
				break;
			}
	return text_array(out, n);
}

/* The array as a space-separated string (NULL elements left out). */
char *
bf_scope_text(ArrayType *a)
{
	StringInfoData s;
	char	  **as;
	int			n,
				i;
	bool		first = true;

	as = texts_of(a, &n);
	initStringInfo(&s);
	for (i = 0; i < n; i++)
		if (as[i] != NULL)
		{
			appendStringInfo(&s, "%s%s", first ? "" : " ", as[i]);
			first = false;
		}
	return s.data;
}

/*
 * What a request for the scope string requested may get within ceiling:
 * *scopes, or *err (unknown scope, or nothing left). Blank or NULL
 * requested: the ceiling.
 */
void
bf_grant_scope(const char *requested, ArrayType *ceiling, ArrayType **scopes, char **err)
{
	const char *p = requested;

	*scopes = NULL;
	*err = NULL;
	while (p != NULL && *p == ' ')
		p++;
	if (p == NULL || *p == '\0')
		*scopes = ceiling;
	else
	{
		ArrayType  *r = bf_scopes(requested);

		if (r == NULL)
		{
			Oid			f = DatumGetObjectId(DirectFunctionCall1(regprocedurein,
																 CStringGetDatum("oauth._unknown_scope()")));

			*err = TextDatumGetCString(OidFunctionCall0(f));
			return;
		}
		*scopes = scope_and(r, ceiling);
	}
	if (*scopes != NULL && ArrayGetNItems(ARR_NDIM(*scopes), ARR_DIMS(*scopes)) == 0)
		*err = "none of the requested scopes can be granted";
}

/* SQL: oauth._scopes(s text) → text[]. */
PG_FUNCTION_INFO_V1(bf_scopes_sql);
Datum
bf_scopes_sql(PG_FUNCTION_ARGS)
{
	ArrayType  *r = bf_scopes(PG_ARGISNULL(0) ? NULL : TextDatumGetCString(PG_GETARG_DATUM(0)));

	if (r == NULL)
		PG_RETURN_NULL();
	PG_RETURN_ARRAYTYPE_P(r);
}

/* SQL: oauth._scope_and(a text[], b text[]) → text[]. */
PG_FUNCTION_INFO_V1(bf_scope_and_sql);
Datum
bf_scope_and_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_ARRAYTYPE_P(scope_and(PG_ARGISNULL(0) ? NULL : PG_GETARG_ARRAYTYPE_P(0),
									PG_ARGISNULL(1) ? NULL : PG_GETARG_ARRAYTYPE_P(1)));
}

/* SQL: oauth._scope_text(a text[]) → text (STRICT). */
PG_FUNCTION_INFO_V1(bf_scope_text_sql);
Datum
bf_scope_text_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(bf_scope_text(PG_GETARG_ARRAYTYPE_P(0))));
}

/* SQL: oauth._grant_scope(requested text, ceiling text[], OUT scopes text[], OUT err text). */
PG_FUNCTION_INFO_V1(bf_grant_scope_sql);
Datum
bf_grant_scope_sql(PG_FUNCTION_ARGS)
{
	TupleDesc	td;
	ArrayType  *scopes;
	char	   *err;
	Datum		v[2];
	bool		n[2];

	if (get_call_result_type(fcinfo, NULL, &td) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "oauth._grant_scope must return (scopes, err)");
	bf_grant_scope(PG_ARGISNULL(0) ? NULL : TextDatumGetCString(PG_GETARG_DATUM(0)),
				   PG_ARGISNULL(1) ? NULL : PG_GETARG_ARRAYTYPE_P(1), &scopes, &err);
	v[0] = PointerGetDatum(scopes);
	n[0] = scopes == NULL;
	v[1] = err ? CStringGetTextDatum(err) : (Datum) 0;
	n[1] = err == NULL;
	return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(td), v, n));
}
