// Application routes (issue 11): a route added from SQL while the gateway
// runs answers at once on the gateway's pooled connections, honours its
// scope, sees only its tenant's rows, appears in /api/v1/openapi.json and
// disappears when dropped; the invoices example of
// docs/FRONTEND_DEVELOPMENT.md works as documented.
import test from 'node:test';
import assert from 'node:assert/strict';
import { skip, call, sql, signUp, unique } from './lib.mjs';

test('a route added from SQL answers at once, with its scope, per tenant, documented', { skip }, async () => {
  const a = await signUp(), b = await signUp();
  const name = unique('r').replace('-', '_');
  const path = `/api/v1/${name}/{id}`;
  // Warm every pooled connection's route cache first: the route must reach them all.
  for (let i = 0; i < 16; i++) assert.equal((await call('GET', `/t/${a.slug}/api/v1/${name}/x`, { token: a.token })).status, 404);
  sql(`CREATE TABLE public.${name} (tenant_id uuid NOT NULL, id text NOT NULL, v text, PRIMARY KEY (tenant_id, id));
       SELECT tenancy.enable_tenant_table('public.${name}');
       GRANT SELECT ON public.${name} TO backend_gateway;
       INSERT INTO public.${name} VALUES ('${a.tenant.id}', 'k', 'of a'), ('${b.tenant.id}', 'k', 'of b');
       CREATE FUNCTION public.${name}_get(r api.request) RETURNS api.response LANGUAGE sql STABLE
         SET search_path = pg_catalog, pg_temp AS $$
         SELECT api.json(200, jsonb_build_object('rows', (SELECT jsonb_agg(v) FROM public.${name} WHERE id = r.id),
                                                 'who', current_user))
       $$;
       SELECT api.add_route('GET', '${path}', 'public.${name}_get(api.request)', 'bearer', 'profile', 'Test route');`);
  try {
    for (let i = 0; i < 16; i++) {
      const r = await call('GET', `/t/${a.slug}/api/v1/${name}/k`, { token: a.token });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body.rows, ['of a'], 'only the tenant\'s own rows');
      assert.notEqual(r.body.who, 'backend_definer');
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    }
    const rb = await call('GET', `/t/${b.slug}/api/v1/${name}/k`, { token: b.token });
    assert.deepEqual(rb.body.rows, ['of b']);
    // Another tenant's token on this tenant: refused.
    assert.equal((await call('GET', `/t/${a.slug}/api/v1/${name}/k`, { token: b.token })).status, 401);
    // No token, and a token without the route's scope.
    assert.equal((await call('GET', `/t/${a.slug}/api/v1/${name}/k`)).status, 401);
    const cc = sql(`BEGIN; SELECT oauth._issue('${a.tenant.id}', 'console', '${a.owner.id}', 'read', gen_random_uuid(), 600, NULL)->>'access_token'; COMMIT;`).split('\n').find((l) => l.startsWith('bfat_'));
    const narrow = await call('GET', `/t/${a.slug}/api/v1/${name}/k`, { token: cc });
    assert.equal(narrow.status, 403);
    assert.equal(narrow.body.error, 'insufficient_scope');
    // 405 with Allow for another method.
    const post = await call('POST', `/t/${a.slug}/api/v1/${name}/k`, { token: a.token, json: {} });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, OPTIONS');
    // In the OpenAPI document.
    const doc = (await call('GET', '/api/v1/openapi.json')).body;
    assert.equal(doc.paths[path]?.get?.summary, 'Test route');
    assert.deepEqual(doc.paths[path].get.security, [{ bearerAuth: ['profile'] }]);
  } finally {
    sql(`SELECT api.drop_route('GET', '${path}')`);
  }
  for (let i = 0; i < 16; i++) assert.equal((await call('GET', `/t/${a.slug}/api/v1/${name}/k`, { token: a.token })).status, 404);
  sql(`DROP FUNCTION public.${name}_get(api.request); DROP TABLE public.${name};`);
});

test('the invoices example: admins add and list, plain users may not, tenants see their own', { skip }, async () => {
  const a = await signUp(), b = await signUp();
  const made = await call('POST', `/t/${a.slug}/api/v1/invoices`, { token: a.token, json: { number: 'INV-1', total: 12.5 } });
  assert.equal(made.status, 201, made.text);
  assert.equal(made.body.number, 'INV-1');
  assert.equal((await call('POST', `/t/${a.slug}/api/v1/invoices`, { token: a.token, json: { number: 'INV-1', total: 1 } })).status, 409);
  assert.equal((await call('POST', `/t/${a.slug}/api/v1/invoices`, { token: a.token, json: { number: 'INV-2', total: 'x' } })).status, 400);
  const list = await call('GET', `/t/${a.slug}/api/v1/invoices`, { token: a.token });
  assert.equal(list.status, 200);
  assert.deepEqual(list.body.invoices.map((i) => i.number), ['INV-1']);
  assert.deepEqual((await call('GET', `/t/${b.slug}/api/v1/invoices`, { token: b.token })).body.invoices, []);
  // A plain user of tenant a.
  const u = await call('POST', `/t/${a.slug}/api/v1/users`, { token: a.token, json: { email: `u@${a.slug}.test`, password: 'user-password-1' } });
  assert.equal(u.status, 201);
  const ut = sql(`BEGIN; SELECT oauth._issue('${a.tenant.id}', 'console', '${u.body.id}', 'read write profile', gen_random_uuid(), 600, NULL)->>'access_token'; COMMIT;`).split('\n').find((l) => l.startsWith('bfat_'));
  assert.equal((await call('GET', `/t/${a.slug}/api/v1/invoices`, { token: ut })).status, 403);
});
