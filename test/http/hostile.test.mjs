// Hostile and malformed requests against the SQL routes: every one gets a 4xx
// JSON answer (OAuth endpoints with RFC 6749 error names), never a 5xx, and
// nothing is half-written. Raw-socket cases of the gateway itself are in
// gateway.test.mjs.
import test from 'node:test';
import assert from 'node:assert/strict';
import { skip, call, signUp, sql, unique } from './lib.mjs';

let t;
test.before(async () => { if (!skip) t = await signUp(); });

const assertClean4xx = (r, what) => {
  assert.ok(r.status >= 400 && r.status < 500, `${what}: ${r.status} ${r.text.slice(0, 200)}`);
  assert.equal(typeof r.body?.error, 'string', `${what}: JSON error body`);
  assert.equal(typeof r.body?.error_description, 'string', `${what}: error_description`);
};

test('malformed JSON bodies, wrong types and content types', { skip }, async () => {
  const p = `/t/${t.slug}/api/v1/notes`;
  const bodies = ['{', '[]', '"x"', '{"title": }', '{"title": "a", "title": "b"', 'null', '{"title": 1}', '{"title": ["a"]}',
                  '{"title": "\\u0000"}', '{"title": "a"}x', ' ', '{"title": {"$gt": ""}}', '1e999999'];
  for (const body of bodies) {
    const r = await call('POST', p, { token: t.token, body, headers: { 'content-type': 'application/json' } });
    assertClean4xx(r, body);
  }
  const ct = await call('POST', p, { token: t.token, body: '{"title":"x"}', headers: { 'content-type': 'text/plain' } });
  assert.equal(ct.status, 415);
  const none = await call('POST', p, { token: t.token, body: '{"title":"x"}' });
  assertClean4xx(none, 'no content type');
});

test('invalid UTF-8 and NUL bytes in bodies and forms', { skip }, async () => {
  const bad = Buffer.from([0x7b, 0x22, 0x74, 0x69, 0x74, 0x6c, 0x65, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]);
  assertClean4xx(await call('POST', `/t/${t.slug}/api/v1/notes`, { token: t.token, body: bad, headers: { 'content-type': 'application/json' } }), 'invalid UTF-8 JSON');
  const nul = Buffer.from('{"title":"a\u0000b"}');
  assertClean4xx(await call('POST', `/t/${t.slug}/api/v1/notes`, { token: t.token, body: nul, headers: { 'content-type': 'application/json' } }), 'raw NUL in JSON');
  for (const body of ['grant_type=client_credentials&grant_type=password', 'grant_type=%zz', 'grant_type=%00', '=x', Buffer.from([0x61, 0x3d, 0xc3, 0x28])]) {
    const r = await call('POST', `/t/${t.slug}/oauth/token`, { body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assertClean4xx(r, String(body));
    assert.equal(r.body.error, 'invalid_request', String(body));
  }
});

test('SQL injection strings are data, not code', { skip }, async () => {
  const evil = ["'; DROP TABLE tenancy.users; --", "' OR '1'='1", '"; SELECT pg_sleep(5); --', '\\x27', "$$; DROP SCHEMA api; $$"];
  for (const e of evil) {
    const n = await call('POST', `/t/${t.slug}/api/v1/notes`, { token: t.token, json: { title: e, body: e } });
    assert.equal(n.status, 201);
    assert.equal(n.body.title, e);
    assertClean4xx(await call('GET', `/t/${t.slug}/api/v1/users/${encodeURIComponent(e)}`, { token: t.token }), 'id ' + e);
    assertClean4xx(await call('GET', '/api/v1/me', { token: t.token, tenant: e }), 'tenant ' + e);
    const r = await call('POST', '/api/v1/tenants', { json: { slug: e, name: e, owner_email: e, owner_password: e } });
    assertClean4xx(r, 'signup ' + e);
  }
  assert.ok(Number(sql('SELECT count(*) FROM tenancy.users')) > 0);
});

test('huge and empty values', { skip }, async () => {
  assertClean4xx(await call('POST', `/t/${t.slug}/api/v1/notes`, { token: t.token, json: { title: 'x'.repeat(100000) } }), 'huge title');
  assertClean4xx(await call('POST', `/t/${t.slug}/api/v1/notes`, { token: t.token, json: { title: '' } }), 'empty title');
  assertClean4xx(await call('POST', `/t/${t.slug}/api/v1/notes`, { token: t.token, json: {} }), 'no title');
  assertClean4xx(await call('POST', '/api/v1/tenants', { json: { slug: unique('h'), name: 'x'.repeat(500), owner_email: 'a@b.test', owner_password: 'password123' } }), 'huge name');
  assertClean4xx(await call('GET', `/t/${t.slug}/api/v1/users?limit=${'9'.repeat(50)}`, { token: t.token }), 'huge limit');
  assertClean4xx(await call('GET', `/t/${t.slug}/api/v1/users?cursor=${'A'.repeat(5000)}`, { token: t.token }), 'huge cursor');
  assertClean4xx(await call('GET', '/api/v1/me', { token: 'x'.repeat(5000), tenant: t.slug }), 'huge token');
});

test('duplicate and conflicting headers, bad Host', { skip }, async () => {
  const r = await call('GET', `/t/${t.slug}/api/v1/me`, { token: t.token, headers: { 'x-tenant': `${t.slug}, other` } });
  assertClean4xx(r, 'two tenants in one header');
  assertClean4xx(await call('GET', '/api/v1/me', { token: t.token, headers: { host: 'bad host!' } }), 'bad host');
  const ok = await call('GET', `/t/${t.slug}/api/v1/me`, { token: t.token, headers: { 'x-forwarded-host': 'evil.example' } });
  assert.equal(ok.status, 200, 'X-Forwarded-* ignored without --trust-proxy');
});

test('a failed call writes nothing', { skip }, async () => {
  const before = sql(`SELECT count(*) FROM app.notes WHERE tenant_id = '${t.tenant.id}'`);
  const r = await call('POST', `/t/${t.slug}/api/v1/users`, { token: t.token, json: { email: `x@${t.slug}.test`, password: 'short' } });
  assert.equal(r.status, 400);
  assert.equal(sql(`SELECT count(*) FROM tenancy.users WHERE email = 'x@${t.slug}.test'`), '0');
  assert.equal(sql(`SELECT count(*) FROM app.notes WHERE tenant_id = '${t.tenant.id}'`), before);
});
