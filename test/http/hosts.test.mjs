// The deployment names its own hosts (issue 10, items 8 and 9): a forged
// Host gets a 421 JSON answer and never an issuer of its own, two Host
// fields are a 400, X-Forwarded-Host/Proto never reach a URL, metadata says
// Vary: Host, and a tenant's custom domain names it only once a platform
// operator approved it; the platform's own hosts cannot be claimed.
// Expects the gateway's URL (BF_URL) among backend_framework.public_urls, as
// scripts/cluster.sh and test/sh/deploy_nginx.sh configure it.
import test from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { BASE, skip, call, signUp, sql } from './lib.mjs';

let t;
test.before(async () => { if (!skip) t = await signUp(); });

const noEvil = (r, what) => {
  const all = r.text + JSON.stringify([...r.headers]);
  assert.ok(!/evil/i.test(all), `${what}: "evil" in the answer: ${all.slice(0, 300)}`);
};
const assertJsonError = (r, status, what) => {
  assert.equal(r.status, status, `${what}: ${r.status} ${r.text.slice(0, 200)}`);
  assert.equal(typeof r.body?.error, 'string', `${what}: JSON error`);
  assert.equal(typeof r.body?.error_description, 'string', `${what}: error_description`);
};

// One request over a raw socket (fetch and node:http refuse two Host fields).
function raw(head) {
  const u = new URL(BASE);
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(u.port), u.hostname);
    const chunks = [];
    s.setTimeout(10000, () => { s.destroy(); reject(new Error('timeout')); });
    s.on('data', (c) => chunks.push(c));
    s.on('error', reject);
    s.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const i = text.indexOf('\r\n\r\n');
      const headers = text.slice(0, i);
      resolve({ status: Number(headers.split(' ')[1]), headers, body: text.slice(i + 4) });
    });
    s.write(head);
  });
}

test('a forged Host gets 421 JSON on every kind of route, and no evil URL anywhere', { skip }, async () => {
  const routes = [
    ['GET', `/t/${t.slug}/.well-known/oauth-authorization-server`, {}],
    ['GET', '/.well-known/oauth-authorization-server', { 'x-tenant': t.slug }],
    ['GET', '/api/v1/openapi.json', {}],
    ['GET', '/api/v1/ping', {}],
    ['GET', `/t/${t.slug}/api/v1/me`, { authorization: `Bearer ${t.token}` }],
    ['GET', `/t/${t.slug}/oauth/authorize?client_id=x&response_type=code`, {}],
    ['POST', '/api/v1/tenants', { 'content-type': 'application/json' }],
  ];
  for (const host of ['evil.example', 'evil.example:443', `evil.${new URL(BASE).hostname}`, `${t.slug}.localhost.evil.example`]) {
    for (const [method, path, headers] of routes) {
      const r = await call(method, path, { headers: { ...headers, host }, body: method === 'POST' ? '{}' : undefined });
      assertJsonError(r, 421, `${host} ${method} ${path}`);
      assert.equal(r.body.error, 'misdirected_request');
      noEvil(r, `${host} ${path}`);
    }
  }
});

test('the issuer comes from the configuration, never from X-Forwarded-Host/Proto', { skip }, async () => {
  const r = await call('GET', `/t/${t.slug}/.well-known/oauth-authorization-server`,
    { headers: { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https', forwarded: 'host=evil.example;proto=https' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.issuer, `${BASE}/t/${t.slug}`);
  for (const [k, v] of Object.entries(r.body)) if (typeof v === 'string' && v.includes('://')) assert.ok(v.startsWith(BASE), `${k}: ${v}`);
  noEvil(r, 'X-Forwarded-Host');
  const o = await call('GET', '/api/v1/openapi.json', { headers: { 'x-forwarded-host': 'evil.example' } });
  assert.equal(o.body.servers[0].url, BASE);
  noEvil(o, 'openapi X-Forwarded-Host');
});

test('metadata and the OpenAPI document say Vary: Host (they are cached publicly)', { skip }, async () => {
  const m = await call('GET', `/t/${t.slug}/.well-known/oauth-authorization-server`);
  assert.match(m.headers.get('cache-control'), /public/);
  assert.match(m.headers.get('vary') || '', /\bHost\b/);
  assert.match(m.headers.get('vary') || '', /\bX-Tenant\b/);
  const o = await call('GET', '/api/v1/openapi.json');
  assert.match(o.headers.get('vary') || '', /\bHost\b/);
  // With CORS, Origin is added to Vary, not put in its place.
  const c = await call('GET', `/t/${t.slug}/.well-known/oauth-authorization-server`, { headers: { origin: 'http://localhost:1' } });
  assert.match(c.headers.get('vary') || '', /\bHost\b/);
});

test('two Host header fields are a 400 JSON answer', { skip }, async () => {
  const u = new URL(BASE);
  for (const hosts of [[u.host, 'evil.example'], ['evil.example', u.host], [u.host, u.host]]) {
    const r = await raw(`GET /t/${t.slug}/.well-known/oauth-authorization-server HTTP/1.1\r\n`
      + hosts.map((h) => `Host: ${h}\r\n`).join('') + 'Connection: close\r\n\r\n');
    assert.equal(r.status, 400, `${hosts}: ${r.headers}`);
    assert.match(r.headers, /content-type: application\/json/i);
    const j = JSON.parse(r.body);
    assert.equal(j.error, 'invalid_request');
    assert.equal(typeof j.error_description, 'string');
    assert.ok(!r.body.includes('issuer'));
  }
});

test('a custom domain names its tenant only once a platform operator approved it', { skip }, async () => {
  const domain = `login.${t.slug}.example.net`;
  const p = `/t/${t.slug}/api/v1/tenants/${t.tenant.id}`;
  const set = await call('PATCH', p, { token: t.token, json: { custom_domain: domain } });
  assert.equal(set.status, 200, set.text);
  assert.equal(set.body.custom_domain, domain);
  assert.equal(set.body.custom_domain_status, 'pending');
  assertJsonError(await call('GET', '/.well-known/oauth-authorization-server', { headers: { host: domain } }), 421, 'pending domain');
  // Another tenant's claim on the same domain stays pending and takes nothing.
  const squatter = await signUp();
  const claim = await call('PATCH', `/t/${squatter.slug}/api/v1/tenants/${squatter.tenant.id}`, { token: squatter.token, json: { custom_domain: domain } });
  assert.equal(claim.body.custom_domain_status, 'pending');
  sql(`SELECT tenancy.approve_custom_domain('${t.slug}', '${domain}')`);
  assert.equal((await call('GET', p, { token: t.token })).body.custom_domain_status, 'approved');
  const m = await call('GET', '/.well-known/oauth-authorization-server', { headers: { host: domain } });
  assert.equal(m.status, 200, m.text);
  const u = new URL(m.body.issuer);
  assert.equal(u.hostname, domain);
  assert.equal(u.protocol, new URL(BASE).protocol);
  // The approved domain is the tenant's, whatever the squatter asked for.
  assert.throws(() => sql(`SELECT tenancy.approve_custom_domain('${squatter.slug}', '${domain}')`), /already approved/);
  const me = await call('GET', '/api/v1/me', { token: t.token, headers: { host: domain } });
  assert.equal(me.body.tenant.slug, t.slug);
  // Changing it makes it pending again.
  const again = await call('PATCH', p, { token: t.token, json: { custom_domain: `id.${t.slug}.example.net` } });
  assert.equal(again.body.custom_domain_status, 'pending');
  assertJsonError(await call('GET', '/api/v1/ping', { headers: { host: domain } }), 421, 'domain given up');
});

test('the platform\'s own hosts cannot be a custom domain', { skip }, async () => {
  const p = `/t/${t.slug}/api/v1/tenants/${t.tenant.id}`;
  const other = await signUp();
  const own = sql("SELECT string_agg(host, ' ') FROM tenancy.public_urls() WHERE host ~ '^[a-z0-9.-]+\\.[a-z]{2,}$'").split(' ').filter(Boolean);
  for (const domain of [`${other.slug}.localhost`, 'www.localhost', ...own]) {
    const r = await call('PATCH', p, { token: t.token, json: { custom_domain: domain } });
    assertJsonError(r, 400, domain);
    assert.equal(r.body.error, 'invalid_request');
  }
  // The other tenant's subdomain still names it.
  const u = new URL(BASE);
  const sub = await call('GET', '/api/v1/me', { token: other.token, headers: { host: `${other.slug}.localhost:${u.port}` } });
  assert.equal(sub.status, 200, sub.text);
});
