// /api/v1/openapi.json: a valid OpenAPI 3.1 document (checked by an OpenAPI
// validator from npm), and true to the router — every documented operation
// is routed (never the router's 404/405), every operation's handler exists
// (never a 500), and undocumented paths are not routed.
import test from 'node:test';
import assert from 'node:assert/strict';
import { Validator } from '@seriousme/openapi-schema-validator';
import { skip, call, signUp } from './lib.mjs';

test('the OpenAPI document is valid OpenAPI 3.1', { skip }, async () => {
  const r = await call('GET', '/api/v1/openapi.json');
  assert.equal(r.status, 200);
  assert.equal(r.body.openapi, '3.1.0');
  const v = new Validator();
  const res = await v.validate(r.body);
  assert.equal(res.valid, true, JSON.stringify(res.errors, null, 1)?.slice(0, 2000));
  // Every $ref resolves.
  for (const m of r.text.matchAll(/"#\/components\/schemas\/([A-Za-z]+)"/g)) {
    assert.ok(r.body.components.schemas[m[1]], `missing schema ${m[1]}`);
  }
});

test('every documented operation is routed and has a handler', { skip }, async () => {
  const doc = (await call('GET', '/api/v1/openapi.json')).body;
  const t = await signUp();
  let n = 0;
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const method of Object.keys(ops)) {
      const concrete = path.replace('{id}', '00000000-0000-0000-0000-000000000000');
      const tenantPath = path.startsWith('/api/v1/tenants') && path !== '/api/v1/tenants' ? concrete.replace('00000000-0000-0000-0000-000000000000', t.tenant.id) : concrete;
      const r = await call(method.toUpperCase(), `/t/${t.slug}${tenantPath}`, { token: t.token, json: method === 'get' || method === 'delete' ? undefined : {} });
      n++;
      assert.ok(r.status < 500, `${method} ${path}: ${r.status} ${r.text.slice(0, 200)}`);
      assert.ok(!(r.status === 404 && /No such route/.test(r.text)), `${method} ${path} is documented but not routed`);
      assert.notEqual(r.status, 405, `${method} ${path} is documented but its method is not routed`);
    }
  }
  assert.ok(n >= 35, `only ${n} operations documented`);
});

test('paths outside the document are not routed', { skip }, async () => {
  for (const p of ['/api/v1', '/api/v1/', '/api/v2/ping', '/api/v1/users/x/y', '/oauth', '/oauth/tokens', '/api/v1/me/']) {
    const r = await call('GET', p, { tenant: 'demo' });
    assert.equal(r.status, 404, p);
    assert.equal(r.body.error, 'not_found', p);
  }
});

test('docs/API_DOCUMENTATION.md lists every operation of the document', { skip }, async () => {
  const { readFileSync } = await import('node:fs');
  const md = readFileSync(new URL('../../docs/API_DOCUMENTATION.md', import.meta.url), 'utf8');
  const doc = (await call('GET', '/api/v1/openapi.json')).body;
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const method of Object.keys(ops)) {
      assert.ok(md.includes(`| \`${method.toUpperCase()}\` | \`${path}\` |`), `${method.toUpperCase()} ${path} missing from the guide`);
    }
  }
});
