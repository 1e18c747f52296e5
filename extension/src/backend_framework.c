/*
 * backend_framework.c — module entry: _PG_init and the backend_framework.*
 * settings (GUCs).
 *
 * The request context (tenant, user, role, scopes, client) is kept in
 * superuser-only (PGC_SUSET) settings under a reserved prefix. Only the
 * extension's SECURITY DEFINER entry points change them, with SET LOCAL, so
 * the context is transaction-scoped and Citus can propagate it. The library
 * must be preloaded: loaded lazily, an unprivileged role could have created
 * a placeholder setting of the same name first.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/uuid.h"

#include "backend_framework.h"

PG_MODULE_MAGIC;

static char *ctx_tenant_id;
static char *ctx_user_id;
static char *ctx_user_role;
static char *ctx_scopes;
static char *ctx_client_id;
static char *cfg_base_domain;
static char *cfg_tenant_strategies;
static char *cfg_public_urls;
static char *cfg_cors_origins;
static char *cfg_console_redirect_uris;
static char *cfg_default_plan;
static int	cfg_signup_mode;
static int	cfg_signup_per_hour;
/* The settings' defaults are those of the DefineCustom*Variable calls below. */
int			bf_password_min_length;
int			bf_bcrypt_cost;
char	   *bf_kek;
char	   *bf_kek_file;
int			bf_key_rotation_days;

/* Who may register a tenant without being a platform operator. */
static const struct config_enum_entry signup_modes[] = {
	{"open", 0, false},
	{"invite", 1, false},
	{"closed", 2, false},
	{NULL, 0, false}
};

/* A context id is either empty (unset) or a well-formed uuid. */
static bool
check_uuid_or_empty(char **newval, void **extra, GucSource source)
{
	const char *s = *newval;
	int			hex = 0;

	if (s == NULL || s[0] == '\0')
		return true;
	for (; *s; s++)
	{
		if (*s == '-')
			continue;
		if (!isxdigit((unsigned char) *s))
			break;
		hex++;
	}
	if (*s != '\0' || hex != 32 || strlen(*newval) != 36)
	{
		GUC_check_errdetail("\"%s\" is not a uuid.", *newval);
		return false;
	}
	return true;
}

static shmem_request_hook_type prev_shmem_request = NULL;
static shmem_startup_hook_type prev_shmem_startup = NULL;

/* Shared memory: the API call counters and the workers' slots (meter.c). */
static void
bf_shmem_request(void)
{
	if (prev_shmem_request)
		prev_shmem_request();
	RequestAddinShmemSpace(bf_meter_shmem_size());
	RequestNamedLWLockTranche("backend_framework", 1);
}

static void
bf_shmem_startup(void)
{
	if (prev_shmem_startup)
		prev_shmem_startup();
	bf_meter_shmem_startup();
}

static bool
check_role(char **newval, void **extra, GucSource source)
{
	const char *s = *newval;

	if (s == NULL || s[0] == '\0' || strcmp(s, "user") == 0 ||
		strcmp(s, "admin") == 0 || strcmp(s, "owner") == 0)
		return true;
	GUC_check_errdetail("Role must be user, admin or owner.");
	return false;
}

/*
 * backend_framework.public_urls: a comma-separated list of scheme://host[:port]
 * (http or https; a DNS name, an IPv4 address or a bracketed IPv6 literal;
 * no path, no user info; a trailing slash is allowed), at least one. The
 * issuer and every URL the API builds come from here, never from a header.
 */
static bool
check_public_urls(char **newval, void **extra, GucSource source)
{
	const char *s = *newval;
	int			n = 0;

	if (s == NULL)
		s = "";
	for (;;)
	{
		const char *p;
		const char *host;
		size_t		hlen;

		while (*s == ' ' || *s == '\t')
			s++;
		p = s;
		if (pg_strncasecmp(p, "https://", 8) == 0)
			p += 8;
		else if (pg_strncasecmp(p, "http://", 7) == 0)
			p += 7;
		else
			goto bad;
		host = p;
		if (*p == '[')
		{
			p++;
			while (isxdigit((unsigned char) *p) || *p == ':' || *p == '.')
				p++;
			if (*p != ']' || p == host + 1)
				goto bad;
			p++;
		}
		else
			while (isalnum((unsigned char) *p) || *p == '-' || *p == '.')
				p++;
		hlen = p - host;
		if (hlen == 0 || hlen > 253 || host[0] == '.' || host[0] == '-' ||
			p[-1] == '.' || p[-1] == '-')
			goto bad;
		if (*p == ':')
		{
			long		port = 0;
			int			digits = 0;

			for (p++; isdigit((unsigned char) *p) && digits < 6; p++, digits++)
				port = port * 10 + (*p - '0');
			if (digits == 0 || port < 1 || port > 65535)
				goto bad;
		}
		if (*p == '/')
			p++;
		while (*p == ' ' || *p == '\t')
			p++;
		n++;
		if (*p == '\0')
			break;
		if (*p != ',')
			goto bad;
		s = p + 1;
	}
	return n > 0;

bad:
	GUC_check_errdetail("List one or more base URLs such as http://localhost:8080 or https://api.example.com "
						"(http or https, a host, an optional port; no path).");
	return false;
}

static void
define_context_setting(const char *name, const char *desc, char **var,
					   GucStringCheckHook check)
{
	DefineCustomStringVariable(name, desc,
							   "Set only by the extension's entry points, with SET LOCAL.",
							   var, "", PGC_SUSET,
							   GUC_NOT_IN_SAMPLE | GUC_NO_SHOW_ALL,
							   check, NULL, NULL);
}

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("backend_framework must be loaded via shared_preload_libraries"),
				 errhint("Add backend_framework to shared_preload_libraries in postgresql.conf "
						 "(shared_preload_libraries = 'backend_framework') and restart PostgreSQL.")));

	define_context_setting("backend_framework.tenant_id",
						   "Tenant of the current transaction.", &ctx_tenant_id, check_uuid_or_empty);
	define_context_setting("backend_framework.user_id",
						   "Authenticated user of the current transaction.", &ctx_user_id, check_uuid_or_empty);
	define_context_setting("backend_framework.user_role",
						   "Role (user, admin, owner) of the current user.", &ctx_user_role, check_role);
	define_context_setting("backend_framework.scopes",
						   "Space-separated OAuth scopes granted to the current transaction.", &ctx_scopes, NULL);
	define_context_setting("backend_framework.client_id",
						   "OAuth client of the current access token.", &ctx_client_id, NULL);

	DefineCustomStringVariable("backend_framework.base_domain",
							   "Base domain whose subdomains name tenants (acme.<base_domain>).",
							   NULL, &cfg_base_domain, "localhost", PGC_SUSET, 0,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("backend_framework.tenant_strategies",
							   "Tenant identification strategies, in order: header, path, subdomain, domain.",
							   NULL, &cfg_tenant_strategies, "header,path,subdomain,domain",
							   PGC_SUSET, GUC_LIST_INPUT, NULL, NULL, NULL);
	DefineCustomStringVariable("backend_framework.public_urls",
							   "Public base URLs of the deployment (comma-separated scheme://host[:port]); the first is the canonical one.",
							   "Only these hosts, subdomains of base_domain and approved custom domains are served; "
							   "the issuer and every URL the API builds come from here, never from a request header.",
							   &cfg_public_urls, "http://localhost:8080,http://127.0.0.1:8080",
							   PGC_SUSET, GUC_LIST_INPUT, check_public_urls, NULL, NULL);
	DefineCustomStringVariable("backend_framework.cors_origins",
							   "Origins allowed cross-origin on every tenant and on platform routes (comma-separated), e.g. the console's.",
							   NULL, &cfg_cors_origins, "", PGC_SUSET, GUC_LIST_INPUT,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("backend_framework.console_redirect_uris",
							   "Redirect URIs of every tenant's built-in console client (comma-separated; the deployment's console URLs, none by default).",
							   NULL, &cfg_console_redirect_uris, "",
							   PGC_SUSET, GUC_LIST_INPUT, NULL, NULL, NULL);
	DefineCustomStringVariable("backend_framework.default_plan",
							   "Plan of every tenant registered by sign-up; only platform operators choose or change a plan.",
							   NULL, &cfg_default_plan, "free", PGC_SUSET, 0,
							   NULL, NULL, NULL);
	DefineCustomEnumVariable("backend_framework.signup",
							 "Tenant sign-up: open (anyone), invite (with an invitation from a platform operator) or closed.",
							 NULL, &cfg_signup_mode, 0, signup_modes, PGC_SUSET, 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("backend_framework.signup_per_hour",
							"Tenant sign-ups accepted per client address and hour over HTTP (0: none).",
							NULL, &cfg_signup_per_hour, 10, 0, 100000, PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("backend_framework.password_min_length",
							"Minimum length of a user password, in characters.",
							NULL, &bf_password_min_length, 8, 1, 72, PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("backend_framework.bcrypt_cost",
							"bcrypt cost factor for new password hashes.",
							NULL, &bf_bcrypt_cost, 10, 4, 16, PGC_SUSET, 0,
							NULL, NULL, NULL);

	/*
	 * The key-encryption key of the tenants' signing keys (keys.c): hidden
	 * from non-superusers (GUC_SUPERUSER_ONLY), never in a dump. The file
	 * form keeps it out of postgresql.conf.
	 */
	DefineCustomStringVariable("backend_framework.key_encryption_key",
							   "Key-encryption key of the signing keys: 64 hex digits (prefer key_encryption_key_file).",
							   NULL, &bf_kek, "", PGC_SUSET,
							   GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   bf_check_kek, NULL, NULL);
	DefineCustomStringVariable("backend_framework.key_encryption_key_file",
							   "File holding the key-encryption key of the signing keys (64 hex digits; mode 0600).",
							   NULL, &bf_kek_file, "", PGC_SUSET,
							   GUC_SUPERUSER_ONLY | GUC_NOT_IN_SAMPLE,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("backend_framework.key_rotation_days",
							"Age in days after which oauth.rotate_keys_if_due() rotates a tenant's signing keys (0: never).",
							NULL, &bf_key_rotation_days, 90, 0, 3650, PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("backend_framework.purge_interval",
							"Seconds between two runs of oauth.purge_expired() by the extension's worker (0: never).",
							"Each database where the extension serves requests has a worker; it also writes the API call counts every second.",
							&bf_purge_interval, 600, 0, 7 * 86400, PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("backend_framework");

	prev_shmem_request = shmem_request_hook;
	shmem_request_hook = bf_shmem_request;
	prev_shmem_startup = shmem_startup_hook;
	shmem_startup_hook = bf_shmem_startup;
	bf_meter_init();
	bf_tenant_init();

	bf_router_init();
	bf_request_init();
	bf_handlers_init();
	bf_lookup_init();
}
