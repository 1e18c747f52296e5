/* backend_framework.h — declarations shared by the extension's C files. */
#ifndef BACKEND_FRAMEWORK_H
#define BACKEND_FRAMEWORK_H

#include "fmgr.h"

extern int	bf_password_min_length;
extern int	bf_bcrypt_cost;

/* keys.c: the key-encryption key of the signing keys (superuser-only settings). */
#include "utils/guc.h"
extern char *bf_kek;
extern char *bf_kek_file;
extern int	bf_key_rotation_days;
bool		bf_check_kek(char **newval, void **extra, GucSource source);

void		_PG_init(void);

/* SQLSTATEs of the extension (class TB). */
#define BF_ERRCODE_API_LIMIT	MAKE_SQLSTATE('T','B','0','0','2')
#define BF_ERRCODE_SUSPENDED	MAKE_SQLSTATE('T','B','0','0','3')
#define BF_ERRCODE_SCOPE		MAKE_SQLSTATE('T','B','0','0','4')
#define BF_ERRCODE_UNAUTHENTICATED	MAKE_SQLSTATE('T','B','4','0','1')
#define BF_ERRCODE_TOO_MANY		MAKE_SQLSTATE('T','B','4','2','9')
#define BF_ERRCODE_MISDIRECTED	MAKE_SQLSTATE('T','B','4','2','1')

/* tenant.c: a plan prepared once per backend (executor/spi.h's SPIPlanPtr). */
struct _SPI_plan;
extern struct _SPI_plan *bf_kept_plan(struct _SPI_plan **plan, const char *sql, int nargs, Oid *types);
void		bf_run_as_definer(void (*fn) (void *arg), void *arg);
MemoryContext bf_cache_context(MemoryContext *cxt, const char *name);

/* crypto.c: text in UTF-8 and back (converted if the database is not UTF-8). */
const char *bf_text_utf8(text *t, size_t *len);
void		bf_sha256(const void *data, size_t len, unsigned char out[32]);
text	   *bf_utf8_text(const char *s, size_t len);

/* context.c, crypto.c: called directly by the request path. */
extern Datum bf_has_scope(PG_FUNCTION_ARGS);
bool		bf_role_is_admin(const char *role);
const char *bf_setting(const char *name);
extern Datum oauth_form_decode_text(PG_FUNCTION_ARGS);

/* router.c: the cached route table. */
#define BF_MAX_ALLOW 5
typedef struct bf_match
{
	bool		found;			/* a pattern matched the path */
	char	   *pattern;
	char	   *id;				/* the {id} segment's value, or NULL */
	int			nallow;			/* methods of the pattern, sorted */
	char	   *allow[BF_MAX_ALLOW];
	bool		has_route;		/* the method is one of them */
	Oid			handler;
	FmgrInfo	finfo;			/* the handler, ready to call */
	bool		tenant;
	char		auth;			/* n(one), b(earer), o(ptional), c(lient) */
	char	   *scope;
	bool		api;			/* pattern under /api/: metered */
} bf_match;

void		bf_router_init(void);
void		bf_route_find(const char *method, const char *path, bf_match *m);
Oid			bf_definer_oid(void);

/* request.c */
void		bf_request_init(void);
Datum		bf_headers_object(int n, const char *const *kv);
char	   *bf_json_text(Datum doc, const char *key, bool strings_only);

/* handlers.c: the hot handlers in C, and the jsonb members they build. */
#include "utils/jsonb.h"
void		bf_handlers_init(void);
Datum		bf_response(int status, Datum headers, Datum body, bool body_null);
void		bf_push_key(JsonbParseState **st, const char *key);
void		bf_push_string(JsonbParseState **st, const char *key, const char *val);
Datum		bf_error_decision(const char *error, const char *description);

/* hosts.c, tenant.c: Host, public URLs and the tenant of a request. */
char	   *bf_lower(const char *s);
void		bf_request_host(Datum headers, char **host, int *port);
bool		bf_is_public_host(const char *h);
char	   *bf_public_base_url(const char *host, int port, bool tenant_host, bool any_host);
typedef struct bf_resolved
{
	bool		found;
	Datum		tenant_id;		/* uuid, when found */
	char	   *slug;
	const char *strategy;
	char	   *prefix;
	char	   *path;
	bool		by_host;
} bf_resolved;
void		bf_resolve_tenant(const char *host, const char *path, Datum headers, bf_resolved *r);
void		bf_set_local(const char *name, const char *value);
void		bf_tenant_init(void);

/* lookup.c: direct index lookups (equality keys on index columns 1..n). */
#include "access/genam.h"
#include "executor/tuptable.h"
#include "access/skey.h"
typedef struct bf_scan
{
	Relation	heap;
	Relation	index;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	int			nkeys;
	ScanKeyData keys[2];
} bf_scan;
enum
{
	BF_TOK_TENANT, BF_TOK_CLIENT, BF_TOK_USER, BF_TOK_SCOPE, BF_TOK_KIND, BF_TOK_EXPIRES,
	BF_TOK_REVOKED, BF_TOK_AUDIENCE, BF_TOK_ROTATED, BF_TOK_CREATED, BF_TOK__N
};
enum
{
	BF_CL_METHOD, BF_CL_SECRET, BF_CL_GRANTS, BF_CL_SCOPE, BF_CL_ACCESS_TTL, BF_CL_REFRESH_TTL,
	BF_CL_RESOURCE_SERVER, BF_CL_FORMAT, BF_CL__N
};
typedef struct bf_relations
{
	bool		valid;
	Oid			tokens,
				tokens_pkey,
				tokens_digest,
				users,
				users_pkey,
				tenants,
				tenants_pkey;
	AttrNumber	tok[BF_TOK__N];
	Oid			clients,
				clients_pkey;
	AttrNumber	client_cols[BF_CL__N];
	AttrNumber	tenant_settings;
	AttrNumber	user_role,
				user_status,
				user_email,
				tenant_status,
				tenant_slug,
				tenant_name,
				tenant_plan;
} bf_relations;
extern bf_relations bf_rel;
void		bf_lookup_init(void);
void		bf_relations_load(void);
Oid			bf_relation_oid(const char *nsp, const char *name);
AttrNumber	bf_column(Oid relid, const char *name);
void		bf_scan_begin(bf_scan *s, Oid heap, Oid index, Snapshot snap, int n, const RegProcedure *eq, const Datum *vals);
bool		bf_scan_next(bf_scan *s);
void		bf_scan_end(bf_scan *s);
char	   *bf_slot_text(TupleTableSlot *slot, AttrNumber a);

/* client_auth.c: the one client authentication (oauth.authenticate_client). */
typedef struct bf_client_auth
{
	const char *error;			/* NULL when authenticated */
	const char *error_description;
	const char *client_id;
	const char *auth_method;
	Datum		grant_types;	/* text[] */
	bool		grant_types_null;
	const char *scope;
	int32		access_ttl;
	bool		access_ttl_null;
	int32		refresh_ttl;
	bool		refresh_ttl_null;
	bool		resource_server;
	const char *access_token_format;
	Datum		settings;		/* the tenant's, jsonb */
	bool		settings_null;
} bf_client_auth;
bool		bf_authenticate_client(Datum tenant, Jsonb *params, const char *authorization, bf_client_auth *a);
bool		bf_form_client(Jsonb *params, const char *authorization, Datum *tenant, bf_client_auth *a);
Datum		bf_client_auth_datum(TupleDesc td, bool ok, const bf_client_auth *a);
void		bf_client_auth_from_datum(HeapTupleHeader t, bf_client_auth *a);

/* scopes.c: the scope rules (oauth._scopes, _scope_text, _grant_scope). */
struct ArrayType;
struct ArrayType *bf_scopes(const char *s);
char	   *bf_scope_text(struct ArrayType *a);
void		bf_grant_scope(const char *requested, struct ArrayType *ceiling, struct ArrayType **scopes, char **err);

/* token_endpoint.c: the decision on a token request (jsonb). */
Datum		bf_token_endpoint(Jsonb *params, const char *authorization, const char *client_addr, const char *issuer);

/* introspect.c: the decision on an introspection request (jsonb). */
Datum		bf_introspect(Jsonb *params, const char *authorization, const char *issuer);
extern Datum oauth_form_decode_bytea(PG_FUNCTION_ARGS);

/* token.c: the one access-token check. */
void		bf_authenticate_token(const char *token);
bool		bf_request_authenticate(Datum headers, Datum query, bool required);

/* meter.c, worker.c: API call counters in shared memory and their worker. */
#include "storage/lwlock.h"
#include "utils/timestamp.h"
#define BF_MAX_WORKERS 16
typedef struct BfWorkerSlot
{
	Oid			db;				/* InvalidOid: free */
	int			pid;			/* 0: asked for, not running */
	TimestampTz asked_at;
} BfWorkerSlot;
typedef struct BfShared
{
	LWLock	   *lock;			/* the counters and the slots */
	uint64		flush_seq;		/* odd while a flush is writing */
	BfWorkerSlot workers[BF_MAX_WORKERS];
} BfShared;
extern BfShared *bf_shared;
extern int	bf_purge_interval;

Size		bf_meter_shmem_size(void);
void		bf_meter_shmem_startup(void);
void		bf_meter_init(void);
int32		bf_month_start(void);
int64		bf_meter_charge(Datum tenant);
void		bf_meter_write(Datum tenants, Datum months, Datum calls, int shard);
bool		bf_meter_take(Datum *tenants, Datum *months, Datum *calls, int *n);
void		bf_meter_done(Datum tenants, Datum months, Datum calls, int n, bool ok);
bool		bf_worker_serving(Oid db, bool *start);
void		bf_worker_start(Oid db);

#endif
