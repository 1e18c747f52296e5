// REST API under /api/v1 through the real gateway: meta routes, tenant
// registration and management, users, me, clients, notes; tenant selection
// by every strategy; plan limits; RFC 6750 answers.
import test from 'node:test';
import assert from 'node:assert/strict';
import { BASE, skip, call, signUp, sql, unique } from './lib.mjs';

test('GET /health and /api/v1/ping answer without a tenant', { skip }, async () => {
  const h = await call('GET', '/health');
  assert.equal(h.status, 200);
  assert.equal(h.body.status, 'ok');
  assert.equal(h.body.database, 'up');
  const p = await call('GET', '/api/v1/ping');
  assert.equal(p.status, 200);
  assert.equal(p.body.pong, true);
  assert.equal(p.headers.get('x-content-type-options'), 'nosniff');
  assert.match(p.headers.get('content-security-policy'), /frame-ancestors 'none'/);
});

test('GET /api/v1/status shows no server version and no platform figures, to anyone', { skip }, async () => {
  const anon = await call('GET', '/api/v1/status');
  assert.equal(anon.status, 200);
  assert.match(anon.body.version, /^\d+\.\d+\.\d+$/);
  assert.deepEqual(Object.keys(anon.body).sort(), ['status', 'version']);
  const serverVersion = sql('SHOW server_version');
  assert.ok(!anon.text.includes(serverVersion));
  const t = await signUp();
  const admin = await call('GET', `/t/${t.slug}/api/v1/status`, { token: t.token });
  assert.equal(admin.body.tenant_count, undefined);
  assert.ok(!admin.text.includes(serverVersion));
});

test('sign-up gets the default plan; the plan is not the tenant\'s to choose or change', { skip }, async () => {
  const slug = unique('plan');
  const asked = await call('POST', '/api/v1/tenants', { json: { slug, name: 'Plan', owner_email: `o@${slug}.test`, owner_password: 'owner-password-1', plan: 'enterprise' } });
  assert.equal(asked.status, 403);
  assert.equal(asked.body.error, 'forbidden');
  const policy = await call('GET', '/api/v1/signup');
  assert.equal(policy.status, 200);
  assert.equal(policy.body.signup, 'open');
  const t = await signUp();
  assert.equal(t.tenant.plan, policy.body.plan);
  const patch = await call('PATCH', `/t/${t.slug}/api/v1/tenants/${t.tenant.id}`, { token: t.token, json: { plan: 'enterprise' } });
  assert.equal(patch.status, 400);
  assert.equal(sql(`SELECT plan FROM tenancy.tenants WHERE id = '${t.tenant.id}'`), policy.body.plan);
});

test('anonymous and bogus-token requests never burn a tenant\'s monthly quota', { skip }, async () => {
  const t = await signUp();
  sql(`SELECT tenancy.set_limit_overrides('${t.tenant.id}', '{"max_api_calls_per_month": 5}')`);
  // Written to tenancy.api_usage by the extension's worker, or still counted in shared memory.
  const used = () => Number(sql(`SELECT tenancy.api_calls_this_month('${t.tenant.id}')`));
  for (let i = 0; i < 30; i++) {
    const r = await call('GET', `/t/${t.slug}/api/v1/me`, { headers: { authorization: `Bearer bfat_${unique('x')}` } });
    assert.equal(r.status, 401);
  }
  for (let i = 0; i < 5; i++) await call('GET', `/t/${t.slug}/oauth/authorize?client_id=console`);
  assert.equal(used(), 0);
  for (let i = 0; i < 5; i++) assert.equal((await call('GET', `/t/${t.slug}/api/v1/me`, { token: t.token })).status, 200);
  assert.equal(used(), 5);
  assert.equal((await call('GET', `/t/${t.slug}/api/v1/me`, { token: t.token })).status, 429);
  // Over quota, signing in still works: OAuth endpoints are not metered.
  assert.equal((await call('GET', `/t/${t.slug}/.well-known/oauth-authorization-server`)).status, 200);
  assert.notEqual((await call('GET', `/t/${t.slug}/oauth/authorize?client_id=console`)).status, 429);
});

test('sign-ups are limited per client address', { skip }, async () => {
  sql(`ALTER SYSTEM SET backend_framework.signup_per_hour = 3`);
  sql(`SELECT pg_reload_conf()`);
  try {
    sql(`DELETE FROM tenancy.signup_attempts`);
    await new Promise((r) => setTimeout(r, 300));
    const statuses = [];
    for (let i = 0; i < 5; i++) {
      const slug = unique('flood');
      const r = await call('POST', '/api/v1/tenants', { json: { slug, name: 'F', owner_email: `o@${slug}.test`, owner_password: 'owner-password-1' } });
      statuses.push(r.status);
      if (r.status === 429) {
        assert.equal(r.body.error, 'too_many_requests');
        assert.ok(Number(r.headers.get('retry-after')) > 0);
      }
    }
    assert.deepEqual(statuses, [201, 201, 201, 429, 429]);
  } finally {
    sql(`ALTER SYSTEM RESET backend_framework.signup_per_hour`);
    sql(`SELECT pg_reload_conf()`);
    sql(`DELETE FROM tenancy.signup_attempts`);
    await new Promise((r) => setTimeout(r, 300));
  }
});

test('POST /api/v1/tenants registers a tenant, its owner and a first token', { skip }, async () => {
  const t = await signUp({ plan: 'basic' });
  assert.equal(t.tenant.slug, t.slug);
  assert.equal(t.tenant.plan, 'basic');
  assert.equal(t.owner.role, 'owner');
  assert.equal(t.owner.email, t.email);
  assert.equal(t.owner.password_hash, undefined);
  const me = await call('GET', `/t/${t.slug}/api/v1/me`, { token: t.token });
  assert.equal(me.status, 200);
  assert.equal(me.body.user.email, t.email);
  assert.equal(me.body.tenant.slug, t.slug);
  for (const s of ['admin', 'profile', 'read', 'write']) assert.ok(me.body.scope.split(' ').includes(s), s);
});

test('registration errors are 4xx JSON with a clear description, and write nothing', { skip }, async () => {
  const slug = unique('dup');
  await signUp({ slug });
  const cases = [
    [{ slug }, 409],
    [{ slug: 'ab' }, 400],
    [{ slug: 'api' }, 400],
    [{ slug: 'Bad_Slug' }, 400],
    [{ owner_email: 'nope' }, 400],
    [{ owner_password: 'short' }, 400],
    [{ owner_password: 'x'.repeat(73) }, 400],
    [{ plan: 'gold' }, 400],
    [{ extra: 1 }, 400],
    [{ name: 42 }, 400],
  ];
  for (const [patch, status] of cases) {
    const s = patch.slug ?? unique('bad');
    const body = { slug: s, name: 'X', owner_email: `o@${s}.test`, owner_password: 'password123', ...patch };
    const r = await call('POST', '/api/v1/tenants', { json: body });
    assert.equal(r.status, status, JSON.stringify(patch) + ' → ' + r.text);
    assert.equal(typeof r.body.error, 'string');
    assert.ok(r.body.error_description.length > 5);
    if (status === 400 && patch.slug === undefined) {
      assert.equal(sql(`SELECT count(*) FROM tenancy.tenants WHERE slug = '${s}'`), '0');
    }
  }
  const missing = await call('POST', '/api/v1/tenants', { json: { slug: unique('m') } });
  assert.equal(missing.status, 400);
  assert.match(missing.body.error_description, /required/);
});

test('tenant read, update, settings, stats and delete', { skip }, async () => {
  const t = await signUp();
  const base = `/t/${t.slug}/api/v1/tenants/${t.tenant.id}`;
  const got = await call('GET', base, { token: t.token });
  assert.equal(got.status, 200);
  assert.equal(got.body.limits.max_users, 5);
  const upd = await call('PATCH', base, { token: t.token, json: { name: 'Renamed', custom_domain: `${t.slug}.example.com` } });
  assert.equal(upd.status, 200, upd.text);
  assert.equal(upd.body.name, 'Renamed');
  assert.equal(upd.body.custom_domain, `${t.slug}.example.com`);
  const cleared = await call('PATCH', base, { token: t.token, json: { custom_domain: null } });
  assert.equal(cleared.body.custom_domain, null);
  const bad = await call('PATCH', base, { token: t.token, json: { status: 'suspended' } });
  assert.equal(bad.status, 400);
  const put = await call('PUT', `${base}/settings`, { token: t.token, json: { brand_color: '#123456', allowed_origins: ['https://app.example.com'] } });
  assert.equal(put.status, 200, put.text);
  assert.deepEqual(put.body, { brand_color: '#123456', allowed_origins: ['https://app.example.com'] });
  const put2 = await call('PUT', `${base}/settings`, { token: t.token, json: { open_registration: true } });
  assert.deepEqual(put2.body, { open_registration: true });
  const badSettings = await call('PUT', `${base}/settings`, { token: t.token, json: { brand_color: 'red' } });
  assert.equal(badSettings.status, 400);
  const stats = await call('GET', `${base}/stats`, { token: t.token });
  assert.equal(stats.status, 200);
  assert.equal(stats.body.users.used, 1);
  assert.equal(stats.body.users.limit, 5);
  assert.ok(stats.body.api_calls.used >= 5);
  assert.ok(stats.body.storage_bytes.used > 0);
  // Another tenant's id under this tenant: not found.
  const other = await signUp();
  const cross = await call('GET', `/t/${t.slug}/api/v1/tenants/${other.tenant.id}`, { token: t.token });
  assert.equal(cross.status, 404);
  const del = await call('DELETE', base, { token: t.token });
  assert.equal(del.status, 204);
  assert.equal(sql(`SELECT count(*) FROM tenancy.tenants WHERE id = '${t.tenant.id}'`), '0');
  const after = await call('GET', `/t/${t.slug}/api/v1/me`, { token: t.token });
  assert.equal(after.status, 404);
});

test('users: create, list with paging, read, update, delete; roles enforced', { skip }, async () => {
  const t = await signUp({ plan: 'premium' });
  const p = `/t/${t.slug}/api/v1/users`;
  const made = [];
  for (let i = 0; i < 5; i++) {
    const r = await call('POST', p, { token: t.token, json: { email: `user${i}@${t.slug}.test`, password: 'password123', display_name: `User ${i}` } });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.body.role, 'user');
    made.push(r.body);
  }
  const dup = await call('POST', p, { token: t.token, json: { email: `USER0@${t.slug}.test`, password: 'password123' } });
  assert.equal(dup.status, 409);
  // Paging: 6 users in pages of 4.
  const page1 = await call('GET', `${p}?limit=4`, { token: t.token });
  assert.equal(page1.body.users.length, 4);
  assert.ok(page1.body.next_cursor);
  const page2 = await call('GET', `${p}?limit=4&cursor=${encodeURIComponent(page1.body.next_cursor)}`, { token: t.token });
  assert.equal(page2.body.users.length, 2);
  assert.equal(page2.body.next_cursor, null);
  const all = [...page1.body.users, ...page2.body.users].map((u) => u.email);
  assert.equal(new Set(all).size, 6);
  assert.equal((await call('GET', `${p}?limit=0`, { token: t.token })).status, 400);
  assert.equal((await call('GET', `${p}?cursor=%%%`, { token: t.token })).status, 400);
  // Read, update, delete.
  const u = made[0];
  assert.equal((await call('GET', `${p}/${u.id}`, { token: t.token })).body.email, u.email);
  assert.equal((await call('GET', `${p}/not-a-uuid`, { token: t.token })).status, 404);
  const upd = await call('PATCH', `${p}/${u.id}`, { token: t.token, json: { role: 'admin', display_name: 'Boss' } });
  assert.equal(upd.status, 200, upd.text);
  assert.equal(upd.body.role, 'admin');
  const dis = await call('PATCH', `${p}/${made[1].id}`, { token: t.token, json: { status: 'disabled' } });
  assert.equal(dis.body.status, 'disabled');
  assert.equal((await call('DELETE', `${p}/${made[2].id}`, { token: t.token })).status, 204);
  assert.equal((await call('GET', `${p}/${made[2].id}`, { token: t.token })).status, 404);
  // The last owner cannot be demoted; deleting yourself is refused.
  const demote = await call('PATCH', `${p}/${t.owner.id}`, { token: t.token, json: { role: 'user' } });
  assert.equal(demote.status, 403);
  assert.match(demote.body.error_description, /owner/);
  assert.equal((await call('DELETE', `${p}/${t.owner.id}`, { token: t.token })).status, 403);
});

test('tenant selection works by header, path, subdomain and custom domain', { skip }, async () => {
  const t = await signUp();
  const port = new URL(BASE).port;
  const viaHeader = await call('GET', '/api/v1/me', { token: t.token, tenant: t.slug });
  const viaId = await call('GET', '/api/v1/me', { token: t.token, tenant: t.tenant.id });
  const viaPath = await call('GET', `/t/${t.slug}/api/v1/me`, { token: t.token });
  const viaSub = await call('GET', '/api/v1/me', { token: t.token, headers: { host: `${t.slug}.localhost:${port}` } });
  const domain = `${t.slug}.example.org`;
  const set = await call('PATCH', `/t/${t.slug}/api/v1/tenants/${t.tenant.id}`, { token: t.token, json: { custom_domain: domain } });
  assert.equal(set.status, 200, set.text);
  // Pending until a platform operator approves it: the domain names nobody yet.
  assert.equal(set.body.custom_domain_status, 'pending');
  assert.equal((await call('GET', '/api/v1/me', { token: t.token, headers: { host: domain } })).status, 421);
  sql(`SELECT tenancy.approve_custom_domain('${t.slug}', '${domain}')`);
  const viaDomain = await call('GET', '/api/v1/me', { token: t.token, headers: { host: domain } });
  for (const [name, r] of Object.entries({ viaHeader, viaId, viaPath, viaSub, viaDomain })) {
    assert.equal(r.status, 200, `${name}: ${r.text}`);
    assert.equal(r.body.tenant.slug, t.slug, name);
  }
  // Conflicting strategies and unknown tenants.
  const other = await signUp();
  assert.equal((await call('GET', `/t/${t.slug}/api/v1/me`, { token: t.token, tenant: other.slug })).status, 400);
  assert.equal((await call('GET', '/t/no-such-tenant-x/api/v1/me', { token: t.token })).status, 404);
  assert.equal((await call('GET', '/api/v1/me', { token: t.token })).status, 404);
  // A token of one tenant is no good in another.
  const wrong = await call('GET', `/t/${other.slug}/api/v1/me`, { token: t.token });
  assert.equal(wrong.status, 401);
  assert.match(wrong.headers.get('www-authenticate'), /invalid_token/);
});

test('RFC 6750: missing, malformed and query-string tokens', { skip }, async () => {
  const t = await signUp();
  const none = await call('GET', `/t/${t.slug}/api/v1/me`);
  assert.equal(none.status, 401);
  assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="backend_framework"');
  const bad = await call('GET', `/t/${t.slug}/api/v1/me`, { token: 'bfat_not-a-real-token' });
  assert.equal(bad.status, 401);
  assert.match(bad.headers.get('www-authenticate'), /error="invalid_token"/);
  const malformed = await call('GET', `/t/${t.slug}/api/v1/me`, { headers: { authorization: 'Basic abc' } });
  assert.equal(malformed.status, 401);
  const query = await call('GET', `/t/${t.slug}/api/v1/me?access_token=${t.token}`);
  assert.equal(query.status, 400);
  assert.match(query.body.error_description, /query string/);
});

test('a plain user is refused admin routes (403) and sees only themself', { skip }, async () => {
  const t = await signUp();
  const email = `plain@${t.slug}.test`;
  await call('POST', `/t/${t.slug}/api/v1/users`, { token: t.token, json: { email, password: 'password123' } });
  const token = await userToken(t, email, 'password123');
  const me = await call('GET', `/t/${t.slug}/api/v1/me`, { token });
  assert.equal(me.body.role, 'user');
  assert.ok(!me.body.scope.split(' ').includes('admin'));
  const list = await call('GET', `/t/${t.slug}/api/v1/users`, { token });
  assert.deepEqual(list.body.users.map((u) => u.email), [email]);
  for (const [m, p, json] of [['POST', 'users', { email: 'x@y.test', password: 'password123' }], ['GET', 'clients'], ['GET', `tenants/${t.tenant.id}/stats`],
                              ['PATCH', `tenants/${t.tenant.id}`, { name: 'x' }], ['DELETE', `tenants/${t.tenant.id}`]]) {
    const r = await call(m, `/t/${t.slug}/api/v1/${p}`, { token, json });
    assert.equal(r.status, 403, `${m} ${p}: ${r.text}`);
  }
  const self = await call('PATCH', `/t/${t.slug}/api/v1/users/${me.body.user.id}`, { token, json: { display_name: 'Me myself' } });
  assert.equal(self.status, 200, self.text);
  const promote = await call('PATCH', `/t/${t.slug}/api/v1/users/${me.body.user.id}`, { token, json: { role: 'admin' } });
  assert.equal(promote.status, 403);
});

// A user's token by the password grant of a client made for the test.
export async function userToken(t, email, password) {
  const c = await call('POST', `/t/${t.slug}/api/v1/clients`, { token: t.token, json: {
    client_name: unique('pw'), grant_types: ['password', 'refresh_token'], scope: 'read write profile admin', token_endpoint_auth_method: 'client_secret_post' } });
  assert.equal(c.status, 201, c.text);
  const r = await call('POST', `/t/${t.slug}/oauth/token`, { form: {
    grant_type: 'password', username: email, password, scope: 'read write profile admin', client_id: c.body.client_id, client_secret: c.body.client_secret } });
  assert.equal(r.status, 200, r.text);
  return r.body.access_token;
}

test('notes: full CRUD, authors see their own, admins all, other tenants nothing', { skip }, async () => {
  const t = await signUp();
  const p = `/t/${t.slug}/api/v1/notes`;
  const made = await call('POST', p, { token: t.token, json: { title: 'First', body: 'Hello' } });
  assert.equal(made.status, 201, made.text);
  assert.equal(made.body.title, 'First');
  assert.equal(made.body.author_id, t.owner.id);
  assert.match(made.headers.get('location'), new RegExp(`/api/v1/notes/${made.body.id}$`));
  const got = await call('GET', `${p}/${made.body.id}`, { token: t.token });
  assert.equal(got.body.body, 'Hello');
  const upd = await call('PATCH', `${p}/${made.body.id}`, { token: t.token, json: { body: 'Changed' } });
  assert.equal(upd.body.body, 'Changed');
  assert.equal(upd.body.title, 'First');
  for (let i = 0; i < 3; i++) await call('POST', p, { token: t.token, json: { title: `n${i}` } });
  const page = await call('GET', `${p}?limit=3`, { token: t.token });
  assert.equal(page.body.notes.length, 3);
  const rest = await call('GET', `${p}?limit=3&cursor=${page.body.next_cursor}`, { token: t.token });
  assert.equal(rest.body.notes.length, 1);
  assert.equal((await call('POST', p, { token: t.token, json: { title: '' } })).status, 400);
  assert.equal((await call('POST', p, { token: t.token, json: { title: 'x', color: 'red' } })).status, 400);
  // A plain user sees only their notes; the owner sees theirs too.
  const email = `writer@${t.slug}.test`;
  await call('POST', `/t/${t.slug}/api/v1/users`, { token: t.token, json: { email, password: 'password123' } });
  const ut = await userToken(t, email, 'password123');
  assert.equal((await call('GET', p, { token: ut })).body.notes.length, 0);
  assert.equal((await call('GET', `${p}/${made.body.id}`, { token: ut })).status, 404);
  assert.equal((await call('DELETE', `${p}/${made.body.id}`, { token: ut })).status, 404);
  const mine = await call('POST', p, { token: ut, json: { title: 'Mine' } });
  assert.equal(mine.status, 201);
  assert.equal((await call('GET', p, { token: t.token, headers: {} })).body.notes.length, 5);
  // Another tenant cannot reach it by any id.
  const other = await signUp();
  assert.equal((await call('GET', `/t/${other.slug}/api/v1/notes/${made.body.id}`, { token: other.token })).status, 404);
  assert.equal((await call('GET', `/t/${other.slug}/api/v1/notes`, { token: other.token })).body.notes.length, 0);
  assert.equal((await call('DELETE', `${p}/${made.body.id}`, { token: t.token })).status, 204);
  assert.equal((await call('GET', `${p}/${made.body.id}`, { token: t.token })).status, 404);
});

test('clients: create (secret once), list without secrets, rotate, delete; console client stays', { skip }, async () => {
  const t = await signUp();
  const p = `/t/${t.slug}/api/v1/clients`;
  const c = await call('POST', p, { token: t.token, json: { client_name: 'Backend job', grant_types: ['client_credentials'], scope: 'read' } });
  assert.equal(c.status, 201, c.text);
  assert.match(c.body.client_secret, /^bfcs_/);
  const list = await call('GET', p, { token: t.token });
  assert.ok(list.body.clients.some((x) => x.client_id === c.body.client_id));
  assert.ok(!list.text.includes(c.body.client_secret));
  const console_ = list.body.clients.find((x) => x.client_id === 'console');
  assert.ok(console_, 'the built-in console client is listed');
  assert.equal((await call('DELETE', `${p}/console`, { token: t.token })).status, 403);
  const rot = await call('POST', `${p}/${c.body.client_id}/rotate-secret`, { token: t.token });
  assert.equal(rot.status, 200);
  assert.notEqual(rot.body.client_secret, c.body.client_secret);
  const old = await call('POST', `/t/${t.slug}/oauth/token`, { form: { grant_type: 'client_credentials' },
    headers: { authorization: 'Basic ' + Buffer.from(`${c.body.client_id}:${c.body.client_secret}`).toString('base64') } });
  assert.equal(old.status, 401);
  const fresh = await call('POST', `/t/${t.slug}/oauth/token`, { form: { grant_type: 'client_credentials' },
    headers: { authorization: 'Basic ' + Buffer.from(`${c.body.client_id}:${rot.body.client_secret}`).toString('base64') } });
  assert.equal(fresh.status, 200, fresh.text);
  assert.equal((await call('DELETE', `${p}/${c.body.client_id}`, { token: t.token })).status, 204);
  const gone = await call('GET', `/t/${t.slug}/api/v1/me`, { token: fresh.body.access_token });
  assert.equal(gone.status, 401, 'tokens of a deleted client stop working');
});

test('limits: max_users gives 403, the monthly API quota 429 with Retry-After', { skip }, async () => {
  const t = await signUp();
  for (let i = 0; i < 4; i++) {
    const r = await call('POST', `/t/${t.slug}/api/v1/users`, { token: t.token, json: { email: `u${i}@${t.slug}.test`, password: 'password123' } });
    assert.equal(r.status, 201);
  }
  const over = await call('POST', `/t/${t.slug}/api/v1/users`, { token: t.token, json: { email: `u5@${t.slug}.test`, password: 'password123' } });
  assert.equal(over.status, 403);
  assert.equal(over.body.error, 'limit_exceeded');
  assert.match(over.body.error_description, /users/);
  // The month's calls so far (written and counted in shared memory), then room for two more.
  const used = Number(sql(`SELECT tenancy.api_calls_this_month('${t.tenant.id}')`));
  sql(`SELECT tenancy.set_limit_overrides('${t.tenant.id}', '{"max_api_calls_per_month": ${used + 2}}')`);
  assert.equal((await call('GET', `/t/${t.slug}/api/v1/me`, { token: t.token })).status, 200);
  assert.equal((await call('GET', `/t/${t.slug}/api/v1/me`, { token: t.token })).status, 200);
  const quota = await call('GET', `/t/${t.slug}/api/v1/me`, { token: t.token });
  assert.equal(quota.status, 429);
  assert.equal(quota.body.error, 'quota_exceeded');
  assert.ok(Number(quota.headers.get('retry-after')) > 0);
});

test('a suspended tenant answers 403 tenant_suspended', { skip }, async () => {
  const t = await signUp();
  sql(`SELECT tenancy.suspend_tenant('${t.tenant.id}')`);
  const r = await call('GET', `/t/${t.slug}/api/v1/me`, { token: t.token });
  assert.equal(r.status, 403);
  assert.equal(r.body.error, 'tenant_suspended');
  sql(`SELECT tenancy.activate_tenant('${t.tenant.id}')`);
  assert.equal((await call('GET', `/t/${t.slug}/api/v1/me`, { token: t.token })).status, 200);
});

test('CORS: allowed origins get headers, others none, never on /oauth/authorize', { skip }, async () => {
  const t = await signUp();
  const origin = 'https://app.cors-test.example';
  await call('PUT', `/t/${t.slug}/api/v1/tenants/${t.tenant.id}/settings`, { token: t.token, json: { allowed_origins: [origin] } });
  const pre = await call('OPTIONS', `/t/${t.slug}/api/v1/me`, { headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get('access-control-allow-origin'), origin);
  assert.match(pre.headers.get('access-control-allow-headers'), /Authorization/);
  const get = await call('GET', `/t/${t.slug}/api/v1/me`, { token: t.token, headers: { origin } });
  assert.equal(get.headers.get('access-control-allow-origin'), origin);
  const evil = await call('GET', `/t/${t.slug}/api/v1/me`, { token: t.token, headers: { origin: 'https://evil.example' } });
  assert.equal(evil.headers.get('access-control-allow-origin'), null);
  const authz = await call('GET', `/t/${t.slug}/oauth/authorize?client_id=console`, { headers: { origin } });
  assert.equal(authz.headers.get('access-control-allow-origin'), null);
});

test('unknown routes are 404 JSON, wrong methods 405 with Allow', { skip }, async () => {
  const r = await call('GET', '/api/v1/nothing-here');
  assert.equal(r.status, 404);
  assert.equal(r.body.error, 'not_found');
  const m = await call('DELETE', '/api/v1/ping');
  assert.equal(m.status, 405);
  assert.match(m.headers.get('allow'), /GET/);
  assert.equal(m.body.error, 'method_not_allowed');
});
