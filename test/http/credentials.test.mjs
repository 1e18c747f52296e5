// Credentials and introspection through the real gateway (issue 10 items 5
// and 13): an admin can neither set nor learn an owner's password, users
// change their own with the current password, a change or reset ends every
// sign-in (refresh tokens included), resets reach only the mail sender; and
// only resource servers introspect other clients' tokens.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { call, skip, signUp, createClient, sql } from './lib.mjs';

let t, app, admin, user;
const basic = (c) => 'Basic ' + Buffer.from(`${encodeURIComponent(c.client_id)}:${encodeURIComponent(c.client_secret)}`).toString('base64');
const token = (slug, client, form) => call('POST', `/t/${slug}/oauth/token`, { form, headers: { authorization: basic(client) } });
const signIn = (email, password) => token(t.slug, app, { grant_type: 'password', username: email, password });
const introspect = (client, tok) => call('POST', `/t/${t.slug}/oauth/introspect`, { form: { token: tok }, headers: { authorization: basic(client) } });

before(async () => {
  if (skip) return;
  t = await signUp();
  app = await createClient(t, { client_name: 'App', grant_types: ['password', 'refresh_token'], scope: 'read write profile admin' });
  for (const [email, role] of [['admin', 'admin'], ['user', 'user']]) {
    const r = await call('POST', `/t/${t.slug}/api/v1/users`, { token: t.token, json: { email: `${email}@${t.slug}.test`, password: `${email}-password-1`, role } });
    assert.equal(r.status, 201);
  }
  admin = { email: `admin@${t.slug}.test`, password: 'admin-password-1' };
  user = { email: `user@${t.slug}.test`, password: 'user-password-1' };
  const a = await signIn(admin.email, admin.password);
  assert.equal(a.status, 200);
  admin.token = a.body.access_token;
  admin.id = (await call('GET', `/t/${t.slug}/api/v1/me`, { token: admin.token })).body.user.id;
});

test('an admin cannot set the owner\'s password or e-mail, nor reset or disable the owner', { skip }, async () => {
  const base = `/t/${t.slug}/api/v1/users/${t.owner.id}`;
  const pw = await call('PATCH', base, { token: admin.token, json: { password: 'taken-over-123' } });
  assert.equal(pw.status, 403);
  assert.equal(pw.body.error, 'forbidden');
  const em = await call('PATCH', base, { token: admin.token, json: { email: `admin2@${t.slug}.test` } });
  assert.equal(em.status, 403);
  assert.equal((await call('POST', `${base}/reset-password`, { token: admin.token })).status, 403);
  assert.equal((await call('PATCH', base, { token: admin.token, json: { status: 'disabled' } })).status, 403);
  assert.equal((await signIn(t.email, 'taken-over-123')).status, 400);
  assert.equal((await signIn(t.email, t.password)).status, 200);
});

test('PATCH /api/v1/me: the current password is required and checked; a change ends every sign-in', { skip }, async () => {
  const s = await signIn(user.email, user.password);
  assert.equal(s.status, 200);
  const me = `/t/${t.slug}/api/v1/me`;
  assert.equal((await call('PATCH', me, { token: s.body.access_token, json: { password: 'user-password-2' } })).status, 400);
  const wrong = await call('PATCH', me, { token: s.body.access_token, json: { password: 'user-password-2', current_password: 'nope-nope' } });
  assert.equal(wrong.status, 403);
  assert.equal(wrong.body.error, 'invalid_password');
  const ok = await call('PATCH', me, { token: s.body.access_token, json: { password: 'user-password-2', current_password: user.password, display_name: 'User Two' } });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.body.display_name, 'User Two');
  // The old access token and the old refresh token are dead.
  assert.equal((await call('GET', me, { token: s.body.access_token })).status, 401);
  const refresh = await token(t.slug, app, { grant_type: 'refresh_token', refresh_token: s.body.refresh_token });
  assert.equal(refresh.status, 400);
  assert.equal(refresh.body.error, 'invalid_grant');
  assert.equal((await signIn(user.email, user.password)).status, 400);
  assert.equal((await signIn(user.email, 'user-password-2')).status, 200);
  user.password = 'user-password-2';
});

test('an admin reset: no secret for the admin, old password and sessions dead, the mailed secret works once', { skip }, async () => {
  const s = await signIn(user.email, user.password);
  const u = (await call('GET', `/t/${t.slug}/api/v1/me`, { token: s.body.access_token })).body.user;
  const r = await call('POST', `/t/${t.slug}/api/v1/users/${u.id}/reset-password`, { token: admin.token });
  assert.equal(r.status, 202, r.text);
  assert.doesNotMatch(r.text, /bfpr_/);
  assert.equal((await signIn(user.email, user.password)).status, 400);
  assert.equal((await token(t.slug, app, { grant_type: 'refresh_token', refresh_token: s.body.refresh_token })).status, 400);
  // The platform's mail sender (a backend_admin login) takes the secret.
  const secret = sql(`SET ROLE backend_admin; SELECT reset_token FROM tenancy.take_password_reset_mail() WHERE tenant_slug = '${t.slug}'`);
  assert.match(secret, /^bfpr_/);
  const bad = await call('POST', `/t/${t.slug}/api/v1/password-reset`, { json: { token: secret, password: 'short' } });
  assert.equal(bad.status, 400);
  for (const junk of ['x', 'bfpr_' + 'A'.repeat(43)]) {
    const r2 = await call('POST', `/t/${t.slug}/api/v1/password-reset`, { json: { token: junk, password: 'user-password-9' } });
    assert.equal(r2.status, 400);
    assert.equal(r2.body.error, 'invalid_request');
  }
  const good = await call('POST', `/t/${t.slug}/api/v1/password-reset`, { json: { token: secret, password: 'user-password-3' } });
  assert.equal(good.status, 204, good.text);
  assert.equal((await call('POST', `/t/${t.slug}/api/v1/password-reset`, { json: { token: secret, password: 'user-password-4' } })).status, 400);
  assert.equal((await signIn(user.email, 'user-password-3')).status, 200);
});

test('introspection: only resource servers see other clients\' tokens', { skip }, async () => {
  const s = await signIn(t.email, t.password);
  // An anonymous registrant (open registration) gets a confidential client...
  const settings = await call('PUT', `/t/${t.slug}/api/v1/tenants/${t.tenant.id}/settings`, { token: t.token, json: { open_registration: true } });
  assert.equal(settings.status, 200);
  const reg = await call('POST', `/t/${t.slug}/oauth/register`, { json: { client_name: 'Anon', redirect_uris: ['https://anon.example/cb'] } });
  assert.equal(reg.status, 201);
  // ...which learns nothing about the owner's token (before: active, with the owner's e-mail).
  const anon = await introspect(reg.body, s.body.access_token);
  assert.equal(anon.status, 200);
  assert.deepEqual(anon.body, { active: false });
  const wannabe = await call('POST', `/t/${t.slug}/oauth/register`, { json: { client_name: 'RS', redirect_uris: ['https://rs.example/cb'], resource_server: true } });
  assert.equal(wannabe.status, 400);
  // The token's own client may; an admin-marked resource server may.
  assert.equal((await introspect(app, s.body.access_token)).body.active, true);
  const rs = await createClient(t, { client_name: 'API', grant_types: ['client_credentials'], scope: 'read' });
  assert.deepEqual((await introspect(rs, s.body.access_token)).body, { active: false });
  const mark = await call('PATCH', `/t/${t.slug}/api/v1/clients/${rs.client_id}`, { token: t.token, json: { resource_server: true } });
  assert.equal(mark.status, 200, mark.text);
  assert.equal(mark.body.resource_server, true);
  const seen = await introspect(rs, s.body.access_token);
  assert.equal(seen.body.active, true);
  assert.equal(seen.body.username, t.email);
});
