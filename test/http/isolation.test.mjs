// Tenant isolation at the HTTP edge, generated from the route table (issue 7,
// item 1). Every operation of /api/v1/openapi.json (read at test time, so a
// new route is covered without anyone remembering) is called against tenant B
// with tenant A's credentials — A's access tokens (owner sign-up, password
// grant, client credentials, console code flow), A's refresh tokens, A's
// registration access tokens, A's confidential client (Basic and post), A's
// authorization codes — by every identification strategy (X-Tenant slug and
// id, /t/<slug>/ path, subdomain, custom domain) and mixed ones (A's path with
// B's header, A's subdomain with B's path, ...). Every answer must be a
// refusal (or one of the listed public answers) and carry none of B's data.
// Afterwards B's data is intact, B's tokens work, and A's tokens were not
// touched by B's endpoints.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { BASE, skip, call, signUp, createClient, browserAuthorize, unique, sql } from './lib.mjs';
import { operations, sample, pool } from './fuzzgen.mjs';

const basic = (id, secret) => 'Basic ' + Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64');
const b64url = (b) => b.toString('base64url');
const pkce = () => {
  const verifier = b64url(randomBytes(32));
  return { verifier, challenge: b64url(createHash('sha256').update(verifier).digest()) };
};

// A tenant with a user, a note, a confidential client, a dynamically
// registered client, password-grant tokens, and (console) code-flow tokens.
async function makeTenant() {
  const t = await signUp({ plan: 'enterprise' });
  const p = `/t/${t.slug}`;
  const u = await call('POST', `${p}/api/v1/users`, { token: t.token, json: { email: `${unique('user')}@${t.slug}.test`, password: 'user-password-1', role: 'user' } });
  assert.equal(u.status, 201, u.text);
  t.user = u.body;
  const n = await call('POST', `${p}/api/v1/notes`, { token: t.token, json: { title: unique('secret-title'), body: unique('secret-body') } });
  assert.equal(n.status, 201, n.text);
  t.note = n.body;
  t.client = await createClient(t, { client_name: unique('conf'), grant_types: ['client_credentials', 'password', 'refresh_token', 'authorization_code'],
    redirect_uris: ['https://a.example/cb'], scope: 'read write profile admin' });
  const reg = await call('POST', `${p}/oauth/register`, { token: t.token, json: { client_name: unique('dyn'), redirect_uris: ['https://a.example/cb'], grant_types: ['authorization_code'], scope: 'read' } });
  assert.equal(reg.status, 201, reg.text);
  t.reg = reg.body;
  const auth = basic(t.client.client_id, t.client.client_secret);
  const pw = await call('POST', `${p}/oauth/token`, { headers: { authorization: auth },
    form: { grant_type: 'password', username: t.email, password: t.password, scope: 'read write profile admin' } });
  assert.equal(pw.status, 200, pw.text);
  t.pw = pw.body;
  const cc = await call('POST', `${p}/oauth/token`, { headers: { authorization: auth }, form: { grant_type: 'client_credentials', scope: 'read write' } });
  assert.equal(cc.status, 200, cc.text);
  t.cc = cc.body;
  // Console (public client) code flow, exchanged: access + refresh token.
  const code = await consoleCode(t);
  const ct = await call('POST', `${p}/oauth/token`, { form: { grant_type: 'authorization_code', client_id: 'console', code: code.code,
    redirect_uri: consoleRedirect(), code_verifier: code.verifier } });
  assert.equal(ct.status, 200, ct.text);
  t.console = ct.body;
  return t;
}

const consoleRedirect = () => `${BASE}/console/callback.html`;

async function authorizeCode(t, clientId, redirectUri, scope) {
  const { verifier, challenge } = pkce();
  const state = b64url(randomBytes(8));
  const url = new URL(`${BASE}/t/${t.slug}/oauth/authorize`);
  url.search = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: redirectUri, scope, state,
    code_challenge: challenge, code_challenge_method: 'S256' }).toString();
  const flow = await browserAuthorize(url.href, t.email, t.password);
  assert.equal(flow.status, 303, flow.pages.at(-1).slice(0, 300));
  const back = new URL(flow.location);
  const code = back.searchParams.get('code');
  assert.ok(code, flow.location);
  return { code, verifier, redirectUri, clientId };
}
const consoleCode = (t) => authorizeCode(t, 'console', consoleRedirect(), 'read profile admin');

// Public answers that carry no tenant data: status allowed besides refusals,
// and an optional check of the body.
const PUBLIC = {
  'GET /health': { ok: [200] },
  'GET /api/v1/ping': { ok: [200] },
  'GET /api/v1/openapi.json': { ok: [200] },
  'GET /.well-known/oauth-authorization-server': { ok: [200] },
  'GET /.well-known/openid-configuration': { ok: [200] },
  'GET /.well-known/oauth-protected-resource': { ok: [200] },
  // Public keys only (never a private member); the sign-out page names no user.
  'GET /oauth/jwks': { ok: [200], body: (r) => JSON.parse(r.text).keys.every((k) => !('d' in k)) },
  'GET /oauth/logout': { ok: [200], body: (r) => r.text.includes('You are signed out') },
  'POST /oauth/logout': { ok: [200], body: (r) => r.text.includes('You are signed out') },
  'GET /api/v1/status': { ok: [200], body: (r) => Object.keys(r.body).sort().join() === 'status,version' }, // anonymous; no platform figures
  'GET /api/v1/signup': { ok: [200], body: (r) => Object.keys(r.body).sort().join() === 'plan,signup' },      // the deployment's sign-up policy
  'POST /api/v1/tenants': { ok: [201] },                    // public sign-up: creates a new, unrelated tenant
  'POST /oauth/revoke': { ok: [200], body: (r) => r.text.trim() === '' || r.text.trim() === '{}' }, // RFC 7009: unknown token → 200
  'POST /oauth/introspect': { ok: [200], body: (r) => r.body?.active === false && Object.keys(r.body).length === 1 },
};
const REFUSALS = [400, 401, 403, 404, 405];

let A; let B; let doc; let port; let bSecrets; let before;

async function snapshot(t) {
  const p = `/t/${t.slug}`;
  const get = async (path) => {
    const r = await call('GET', p + path, { token: t.token });
    assert.equal(r.status, 200, `${path}: ${r.text}`);
    return r.body;
  };
  return {
    tenant: await get(`/api/v1/tenants/${t.tenant.id}`),
    settings: await get(`/api/v1/tenants/${t.tenant.id}/settings`),
    notes: await get('/api/v1/notes'),
    users: await get('/api/v1/users'),
    clients: await get('/api/v1/clients'),
    note: await get(`/api/v1/notes/${t.note.id}`),
    user: await get(`/api/v1/users/${t.user.id}`),
    client: await get(`/api/v1/clients/${t.client.client_id}`),
    reg: (await call('GET', `${p}/oauth/register/${t.reg.client_id}`, { token: t.reg.registration_access_token })).body,
  };
}

test.before(async () => {
  if (skip) return;
  port = new URL(BASE).port;
  doc = (await call('GET', '/api/v1/openapi.json')).body;
  A = await makeTenant();
  B = await makeTenant();
  // Custom domains (each tenant's own owner asks, the platform approves).
  for (const t of [A, B]) {
    t.domain = `${t.slug}.custom.example`;
    const r = await call('PATCH', `/t/${t.slug}/api/v1/tenants/${t.tenant.id}`, { token: t.token, json: { custom_domain: t.domain } });
    assert.equal(r.status, 200, r.text);
    sql(`SELECT tenancy.approve_custom_domain('${t.slug}', '${t.domain}')`);   // a platform operator approves it
  }
  bSecrets = {
    'owner email': B.email, 'user email': B.user.email, 'note title': B.note.title, 'note body': B.note.body,
    'note id': B.note.id, 'owner id': B.owner.id, 'user id': B.user.id,
    'client id': B.client.client_id, 'client secret': B.client.client_secret, 'client rat': B.client.registration_access_token,
    'registered client id': B.reg.client_id, 'registered client secret': B.reg.client_secret, 'registered rat': B.reg.registration_access_token,
    'owner token': B.token, 'pw access token': B.pw.access_token, 'pw refresh token': B.pw.refresh_token,
    'cc access token': B.cc.access_token, 'console access token': B.console.access_token, 'console refresh token': B.console.refresh_token,
  };
  before = await snapshot(B);
});

// The ways of naming B (alone, or mixed with A): {label, prefix, headers}.
function strategies() {
  const sub = (t) => `${t.slug}.localhost:${port}`;
  return [
    { label: 'header slug', prefix: '', headers: { 'x-tenant': B.slug } },
    { label: 'header id', prefix: '', headers: { 'x-tenant': B.tenant.id } },
    { label: 'path', prefix: `/t/${B.slug}`, headers: {} },
    { label: 'subdomain', prefix: '', headers: { host: sub(B) } },
    { label: 'custom domain', prefix: '', headers: { host: B.domain } },
    { label: 'custom domain:port', prefix: '', headers: { host: `${B.domain}:${port}` } },
    { label: 'path A + header B', prefix: `/t/${A.slug}`, headers: { 'x-tenant': B.slug } },
    { label: 'path B + header A', prefix: `/t/${B.slug}`, headers: { 'x-tenant': A.slug } },
    { label: 'path B + header A id', prefix: `/t/${B.slug}`, headers: { 'x-tenant': A.tenant.id } },
    { label: 'subdomain A + path B', prefix: `/t/${B.slug}`, headers: { host: sub(A) } },
    { label: 'subdomain B + path A', prefix: `/t/${A.slug}`, headers: { host: sub(B) } },
    { label: 'subdomain B + header A', prefix: '', headers: { host: sub(B), 'x-tenant': A.slug } },
    { label: 'subdomain A + header B', prefix: '', headers: { host: sub(A), 'x-tenant': B.slug } },
    { label: 'custom domain A + header B', prefix: '', headers: { host: A.domain, 'x-tenant': B.slug } },
    { label: 'custom domain B + path A', prefix: `/t/${A.slug}`, headers: { host: B.domain } },
  ];
}

// The ids to put in {id}: B's real ids and A's.
function idsFor(path) {
  if (!path.includes('{id}')) return [null];
  if (path.startsWith('/api/v1/tenants/')) return [B.tenant.id, A.tenant.id];
  if (path.startsWith('/api/v1/users/')) return [B.user.id, B.owner.id, A.user.id];
  if (path.startsWith('/api/v1/notes/')) return [B.note.id, A.note.id];
  if (path.startsWith('/api/v1/clients/')) return [B.client.client_id, A.client.client_id];
  if (path.startsWith('/oauth/register/')) return [B.reg.client_id, B.client.client_id, A.reg.client_id, A.client.client_id];
  return [B.tenant.id, A.tenant.id];
}

// A's credentials, shaped for the operation: [{label, headers, body, contentType, query}].
function variants(o, codes) {
  const key = `${o.method} ${o.path}`;
  const bearers = [
    ['owner sign-up token', A.token], ['password-grant token', A.pw.access_token], ['client-credentials token', A.cc.access_token],
    ['console token', A.console.access_token], ['refresh token as bearer', A.pw.refresh_token],
    ['client rat', A.client.registration_access_token], ['registered rat', A.reg.registration_access_token],
  ];
  const json = o.schema && o.contentType === 'application/json' ? () => JSON.stringify(sample(o.schema)) : undefined;
  const confBasic = { authorization: basic(A.client.client_id, A.client.client_secret) };
  const confPost = { client_id: A.client.client_id, client_secret: A.client.client_secret };
  const consoleNone = { client_id: 'console' };
  const clientAuths = [['A basic', confBasic, {}], ['A post', {}, confPost], ['console none', {}, consoleNone]];
  const form = (label, headers, fields) => ({ label, headers, body: new URLSearchParams(fields).toString(), contentType: 'application/x-www-form-urlencoded' });
  const out = [];
  if (key === 'POST /oauth/token') {
    const grants = [
      ['client_credentials', { grant_type: 'client_credentials', scope: 'read' }],
      ['password (A owner)', { grant_type: 'password', username: A.email, password: A.password, scope: 'read' }],
      ['password (A user)', { grant_type: 'password', username: A.user.email, password: 'user-password-1' }],
      ['A password refresh', { grant_type: 'refresh_token', refresh_token: A.pw.refresh_token }],
      ['A console refresh', { grant_type: 'refresh_token', refresh_token: A.console.refresh_token }],
      ['A confidential code', { grant_type: 'authorization_code', code: codes.conf.code, redirect_uri: codes.conf.redirectUri, code_verifier: codes.conf.verifier }],
      ['A console code', { grant_type: 'authorization_code', code: codes.console.code, redirect_uri: codes.console.redirectUri, code_verifier: codes.console.verifier }],
    ];
    for (const [al, h, f] of clientAuths) for (const [gl, g] of grants) out.push(form(`${al}, ${gl}`, h, { ...f, ...g }));
    return out;
  }
  if (key === 'POST /oauth/revoke' || key === 'POST /oauth/introspect') {
    const tokens = [['A access', A.pw.access_token], ['A refresh', A.pw.refresh_token], ['A console access', A.console.access_token], ['A console refresh', A.console.refresh_token]];
    for (const [al, h, f] of clientAuths) for (const [tl, tok] of tokens) out.push(form(`${al}, ${tl}`, h, { ...f, token: tok }));
    return out;
  }
  if (key === 'GET /oauth/authorize') {
    const { challenge } = pkce();
    for (const cid of [A.client.client_id, A.reg.client_id]) {
      out.push({ label: `authorize ${cid}`, headers: {}, query: '?' + new URLSearchParams({ response_type: 'code', client_id: cid,
        redirect_uri: 'https://a.example/cb', scope: 'read', state: 's', code_challenge: challenge, code_challenge_method: 'S256' }) });
    }
    return out;
  }
  if (key === 'POST /oauth/authorize') {
    const { challenge } = pkce();
    for (const cid of [A.client.client_id, 'console']) {
      out.push(form(`authorize form ${cid}`, {}, { response_type: 'code', client_id: cid, redirect_uri: cid === 'console' ? consoleRedirect() : 'https://a.example/cb',
        scope: 'read', state: 's', code_challenge: challenge, code_challenge_method: 'S256', csrf_token: 'forged', email: A.email, password: A.password, action: 'allow' }));
    }
    return out;
  }
  // Bearer routes (and the public ones, where a token changes nothing: once
  // with A's owner token, once without).
  const list = o.public ? [bearers[0], ['no credentials', null]] : bearers;
  for (const [label, tok] of list) {
    const headers = tok ? { authorization: `Bearer ${tok}` } : {};
    if (o.contentType === 'application/x-www-form-urlencoded') out.push(form(label, headers, { token: 'x' }));
    else out.push({ label, headers, body: json, contentType: json ? 'application/json' : undefined });
  }
  return out;
}

// DELETEs and revocations run last (the tenant DELETE at the very end), so a
// wrongly accepted one cannot hide what the others would show.
const order = (o) => (o.method === 'DELETE' ? (o.path.startsWith('/api/v1/tenants/') ? 3 : 2) : o.path === '/oauth/revoke' ? 1 : 0);

test('A\'s credentials against B, every operation × every identification strategy', { skip }, async (t) => {
  // Fresh, unexchanged codes of A (they live 60 s): the token endpoint runs first.
  const codes = { conf: await authorizeCode(A, A.client.client_id, 'https://a.example/cb', 'read profile'), console: await consoleCode(A) };
  const ops = operations(doc).sort((x, y) => order(x) - order(y) || (x.path === '/oauth/token' ? -1 : 0) - (y.path === '/oauth/token' ? -1 : 0));
  assert.ok(ops.length >= 30, `only ${ops.length} operations in the document`);
  const attempts = [];
  for (const o of ops) {
    for (const id of idsFor(o.path)) {
      const path = id ? o.path.replace('{id}', id) : o.path;
      for (const v of variants(o, codes)) {
        for (const s of strategies()) attempts.push({ o, path, v, s });
      }
    }
  }
  // Control: each single strategy really reaches B (B's own token is accepted),
  // so the refusals below are refusals of A, not of a wrong address.
  for (const s of strategies().filter((x) => !x.label.includes('+'))) {
    const r = await call('GET', s.prefix + '/api/v1/me', { headers: { ...s.headers, authorization: `Bearer ${B.token}` } });
    assert.equal(r.status, 200, `${s.label}: ${r.text}`);
    assert.equal(r.body.tenant.id, B.tenant.id, s.label);
  }
  const statuses = {};
  // Phases by order so DELETEs really come after everything else.
  const failures = [];
  let count = 0;
  const covered = new Set();
  for (let phase = 0; phase <= 3; phase++) {
    const batch = attempts.filter((a) => order(a.o) === phase);
    await pool(batch, 16, async ({ o, path, v, s }) => {
      const url = s.prefix + path + (v.query || '');
      const headers = { ...s.headers, ...v.headers };
      if (v.contentType) headers['content-type'] = v.contentType;
      const body = typeof v.body === 'function' ? v.body() : v.body;   // a fresh sample (e.g. a new slug for sign-up)
      const r = await call(o.method, url, { headers, body });
      count++;
      statuses[r.status] = (statuses[r.status] || 0) + 1;
      covered.add(`${o.method} ${o.path}`);
      const key = `${o.method} ${o.path}`;
      const what = `${o.method} ${url} [${s.label}; ${v.label}] → ${r.status} ${r.text.slice(0, 160)}`;
      const pub = PUBLIC[key];
      const allowed = REFUSALS.includes(r.status) || (pub && pub.ok.includes(r.status) && (!pub.body || pub.body(r)));
      if (!allowed) failures.push(`status: ${what}`);
      const sent = url + JSON.stringify(headers) + (body || '');
      for (const [name, secret] of Object.entries(bSecrets)) {
        if (secret && r.text.includes(secret) && !sent.includes(secret)) failures.push(`B's ${name} in body: ${what}`);
        const loc = r.headers.get('location') || '';
        if (secret && loc.includes(secret) && !sent.includes(secret)) failures.push(`B's ${name} in Location: ${what}`);
      }
    });
  }
  t.diagnostic(`isolation: ${count} cross-tenant attempts over ${covered.size} operations × ${strategies().length} strategies`);
  t.diagnostic(`isolation: answers by status ${JSON.stringify(statuses)}`);
  assert.equal(covered.size, ops.length);
  assert.ok(count >= 1000, `only ${count} attempts`);
  assert.deepEqual(failures.slice(0, 60), [], `${failures.length} failures`);
});

test('B\'s data is intact and B\'s tokens still work; A\'s tokens were not touched by B\'s endpoints', { skip }, async () => {
  const after = await snapshot(B);
  assert.deepEqual(after, before);
  const p = `/t/${B.slug}`;
  for (const tok of [B.token, B.pw.access_token, B.cc.access_token, B.console.access_token]) {
    const r = await call('GET', `${p}/api/v1/me`, { token: tok });
    assert.equal(r.status, 200, r.text);
  }
  const me = await call('GET', `${p}/api/v1/me`, { token: B.pw.access_token });
  assert.equal(me.body.user.email, B.email);
  const rf = await call('POST', `${p}/oauth/token`, { headers: { authorization: basic(B.client.client_id, B.client.client_secret) },
    form: { grant_type: 'refresh_token', refresh_token: B.pw.refresh_token } });
  assert.equal(rf.status, 200, rf.text);
  const rc = await call('POST', `${p}/oauth/token`, { form: { grant_type: 'refresh_token', client_id: 'console', refresh_token: B.console.refresh_token } });
  assert.equal(rc.status, 200, rc.text);
  // A's own tokens: B's revoke/introspect/token endpoints must not have acted on them.
  const pa = `/t/${A.slug}`;
  for (const tok of [A.token, A.pw.access_token, A.cc.access_token, A.console.access_token]) {
    const r = await call('GET', `${pa}/api/v1/me`, { token: tok });
    assert.equal(r.status, 200, `A's token revoked by B's endpoints? ${r.text}`);
  }
  const ra = await call('POST', `${pa}/oauth/token`, { headers: { authorization: basic(A.client.client_id, A.client.client_secret) },
    form: { grant_type: 'refresh_token', refresh_token: A.pw.refresh_token } });
  assert.equal(ra.status, 200, ra.text);
  const rca = await call('POST', `${pa}/oauth/token`, { form: { grant_type: 'refresh_token', client_id: 'console', refresh_token: A.console.refresh_token } });
  assert.equal(rca.status, 200, rca.text);
});
