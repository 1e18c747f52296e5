// OpenID Connect (issue 12) driven by outside libraries against the real
// gateway: openid-client with its default discovery (code + PKCE + nonce,
// id_token validated by the library, userinfo, refresh, prompt=none with and
// without a session, max_age, RP-initiated logout), jose for RFC 9068 JWT
// access tokens and key rotation, and the interop fixes (WWW-Authenticate
// challenges, loopback ports, duplicate client names, password grant
// advertising, sessions and consents).
import test from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import * as jose from 'jose';
import { BASE, skip, call, signUp, createClient, parseForm, sql, unique } from './lib.mjs';

const REDIRECT = 'http://127.0.0.1:9999/cb';
const BYE = 'http://127.0.0.1:9999/bye';

// A browser: a cookie jar and the sign-in/consent forms of the authorize page.
class Browser {
  jar = new Map();
  keep(res) {
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim(); const value = pair.slice(i + 1).trim();
      if (attrs.some((a) => /max-age=0/i.test(a)) || value === '') this.jar.delete(name); else this.jar.set(name, value);
    }
  }
  get cookie() { return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; '); }
  async get(url) {
    const res = await fetch(url, { redirect: 'manual', headers: { cookie: this.cookie } });
    this.keep(res);
    return { status: res.status, location: res.headers.get('location'), html: await res.text() };
  }
  // Follows the authorize page until it redirects: signs in and allows when asked.
  async authorize(url, email, password) {
    let r = await this.get(url);
    for (let step = 0; step < 3 && r.status === 200; step++) {
      const form = parseForm(r.html);
      if (form.fields.has('email')) form.fields.set('email', email);
      if (form.fields.has('password')) form.fields.set('password', password);
      if (form.submit) form.fields.set(form.submit.name, form.submit.value);
      const res = await fetch(new URL(form.action, url), {
        method: 'POST', redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: this.cookie },
        body: new URLSearchParams([...form.fields]).toString(),
      });
      this.keep(res);
      r = { status: res.status, location: res.headers.get('location'), html: await res.text() };
    }
    return r;
  }
}

let t; let rp; let config; let issuer;
// The JWKS (application/jwk-set+json).
const getJwks = async () => {
  const r = await call('GET', `/t/${t.slug}/oauth/jwks`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'application/jwk-set+json');
  return JSON.parse(r.text);
};
const insecure = { execute: [client.allowInsecureRequests] };

test.before(async () => {
  if (skip) return;
  t = await signUp({ plan: 'premium' });
  issuer = `${BASE}/t/${t.slug}`;
  rp = await createClient(t, { client_name: 'Relying Party', redirect_uris: [REDIRECT], post_logout_redirect_uris: [BYE],
    grant_types: ['authorization_code', 'refresh_token'], scope: 'openid email profile read',
    token_endpoint_auth_method: 'client_secret_basic' });
  // Default discovery: {issuer}/.well-known/openid-configuration.
  config = await client.discovery(new URL(issuer), rp.client_id, undefined, client.ClientSecretBasic(rp.client_secret), insecure);
});

async function signIn(browser, extra = {}, checks = {}) {
  const code_verifier = client.randomPKCECodeVerifier();
  const nonce = client.randomNonce();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid email profile read', nonce, state,
    code_challenge: await client.calculatePKCECodeChallenge(code_verifier), code_challenge_method: 'S256', ...extra });
  const r = await browser.authorize(url, t.email, t.password);
  assert.equal(r.status, 303, r.html);
  return { location: r.location, grant: () => client.authorizationCodeGrant(config, new URL(r.location),
    { pkceCodeVerifier: code_verifier, expectedNonce: nonce, expectedState: state, idTokenExpected: true, ...checks }) };
}

test('discovery: the OpenID Provider configuration and RFC 8414 come from one source', { skip }, async () => {
  const m = config.serverMetadata();
  assert.equal(m.issuer, issuer);
  assert.equal(m.jwks_uri, `${issuer}/oauth/jwks`);
  assert.equal(m.end_session_endpoint, `${issuer}/oauth/logout`);
  assert.deepEqual(m.subject_types_supported, ['public']);
  assert.deepEqual(m.id_token_signing_alg_values_supported, ['RS256', 'ES256']);
  assert.ok(m.scopes_supported.includes('openid') && m.claims_supported.includes('email_verified'));
  const rfc8414 = await call('GET', `/t/${t.slug}/.well-known/oauth-authorization-server`);
  assert.deepEqual(rfc8414.body, m);
  // Path-inserted forms (RFC 8414 section 3, and the same for OIDC and RFC 9728).
  assert.deepEqual((await call('GET', `/.well-known/openid-configuration/t/${t.slug}`)).body, m);
  const pr = await call('GET', `/.well-known/oauth-protected-resource/t/${t.slug}`);
  assert.equal(pr.status, 200);
  assert.equal(pr.body.resource, issuer);
  assert.deepEqual(pr.body.authorization_servers, [issuer]);
  const jwks = await getJwks();
  assert.ok(jwks.keys.length >= 4);
  for (const k of jwks.keys) assert.ok(!('d' in k) && !('p' in k), 'no private member');
});

test('code + PKCE + nonce: id_token validated by openid-client, userinfo, refresh', { skip }, async () => {
  const browser = new Browser();
  const tokens = await (await signIn(browser)).grant();
  const claims = tokens.claims();
  assert.equal(claims.iss, issuer);
  assert.equal(claims.aud, rp.client_id);
  assert.equal(claims.azp, rp.client_id);
  assert.equal(claims.sub, t.owner.id);
  assert.equal(claims.email, t.email);
  assert.equal(typeof claims.auth_time, 'number');
  assert.ok(claims.at_hash);
  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.equal(info.sub, claims.sub);
  assert.equal(info.email, t.email);
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  assert.equal(refreshed.claims().sub, claims.sub);
  assert.equal(refreshed.claims().auth_time, claims.auth_time);
  assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
});

test('prompt=none with and without a session; max_age; RP-initiated logout ends the session', { skip }, async () => {
  const browser = new Browser();
  const first = await (await signIn(browser)).grant();
  // With the session: no page, a code at once.
  const again = await signIn(browser, { prompt: 'none' });
  assert.ok(new URL(again.location).searchParams.get('code'));
  await again.grant();
  // Without a session (another browser): login_required.
  const other = await signIn(new Browser(), { prompt: 'none' });
  assert.equal(new URL(other.location).searchParams.get('error'), 'login_required');
  await assert.rejects(other.grant(), (e) => e.error === 'login_required');
  // max_age: a fresh enough sign-in passes the library's auth_time check.
  const aged = await (await signIn(browser, { max_age: '300' }, { maxAge: 300 })).grant();
  assert.ok(aged.claims().auth_time >= first.claims().auth_time);
  // Logout with id_token_hint, a registered post_logout_redirect_uri and state.
  const end = client.buildEndSessionUrl(config, { id_token_hint: first.id_token, post_logout_redirect_uri: BYE, state: 'bye-1' });
  const out = await browser.get(end.href);
  assert.equal(out.status, 303);
  assert.equal(out.location, `${BYE}?state=bye-1`);
  assert.equal(browser.jar.has('bf_session'), false);
  const after = await signIn(browser, { prompt: 'none' });
  assert.equal(new URL(after.location).searchParams.get('error'), 'login_required');
  // An unregistered post_logout_redirect_uri is never followed.
  const bad = await browser.get(client.buildEndSessionUrl(config, { id_token_hint: first.id_token, post_logout_redirect_uri: 'https://evil.example/' }).href);
  assert.equal(bad.status, 400);
  assert.equal(bad.location, null);
});

test('sessions and consents: listed, revoked; revoking consent revokes the tokens', { skip }, async () => {
  const browser = new Browser();
  const tokens = await (await signIn(browser)).grant();
  const sessions = await call('GET', `/t/${t.slug}/api/v1/me/sessions`, { token: tokens.access_token });
  assert.equal(sessions.status, 200);
  assert.ok(sessions.body.sessions.length >= 1);
  const consents = await call('GET', `/t/${t.slug}/api/v1/me/consents`, { token: t.token });
  assert.ok(consents.body.consents.some((c) => c.client_id === rp.client_id));
  // End one session: prompt=none in that browser now needs a sign-in.
  for (const s of sessions.body.sessions) {
    assert.equal((await call('DELETE', `/t/${t.slug}/api/v1/me/sessions/${s.id}`, { token: t.token })).status, 204);
  }
  const none = await signIn(browser, { prompt: 'none' });
  assert.equal(new URL(none.location).searchParams.get('error'), 'login_required');
  assert.equal((await call('DELETE', `/t/${t.slug}/api/v1/me/consents/${rp.client_id}`, { token: t.token })).status, 204);
  const me = await call('GET', `/t/${t.slug}/api/v1/me`, { token: tokens.access_token });
  assert.equal(me.status, 401);
  await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token));
});

test('JWT access tokens (RFC 9068): verified with jose against the JWKS; revoked ones are refused', { skip }, async () => {
  const svc = await createClient(t, { client_name: 'JWT service', grant_types: ['client_credentials'], scope: 'read',
    access_token_format: 'jwt', token_endpoint_auth_method: 'client_secret_basic' });
  const basic = 'Basic ' + Buffer.from(`${svc.client_id}:${svc.client_secret}`).toString('base64');
  const tok = await call('POST', `/t/${t.slug}/oauth/token`, { form: { grant_type: 'client_credentials' }, headers: { authorization: basic } });
  assert.equal(tok.status, 200);
  const jwks = jose.createRemoteJWKSet(new URL(`${issuer}/oauth/jwks`));
  const { payload, protectedHeader } = await jose.jwtVerify(tok.body.access_token, jwks, { issuer, audience: issuer, typ: 'at+jwt' });
  assert.equal(protectedHeader.alg, 'RS256');
  assert.equal(payload.client_id, svc.client_id);
  assert.equal(payload.scope, 'read');
  assert.ok(payload.jti && payload.exp > payload.iat);
  assert.equal((await call('GET', `/t/${t.slug}/api/v1/me`, { token: tok.body.access_token })).status, 200);
  assert.equal((await call('POST', `/t/${t.slug}/oauth/revoke`, { form: { token: tok.body.access_token }, headers: { authorization: basic } })).status, 200);
  const intro = await call('POST', `/t/${t.slug}/oauth/introspect`, { form: { token: tok.body.access_token }, headers: { authorization: basic } });
  assert.deepEqual(intro.body, { active: false });
  const me = await call('GET', `/t/${t.slug}/api/v1/me`, { token: tok.body.access_token });
  assert.equal(me.status, 401);
  // Resource indicators: an unknown resource is invalid_target.
  const bad = await call('POST', `/t/${t.slug}/oauth/token`, { form: { grant_type: 'client_credentials', resource: 'https://nowhere.example/' }, headers: { authorization: basic } });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error, 'invalid_target');
});

test('key rotation: a token signed before still verifies while its key is published, never after', { skip }, async () => {
  const tokens = await (await signIn(new Browser())).grant();
  const kid = jose.decodeProtectedHeader(tokens.id_token).kid;
  const jwksNow = async () => jose.createLocalJWKSet((await getJwks()));
  const before = (await getJwks()).keys.map((k) => k.kid);
  sql(`SELECT oauth.rotate_signing_keys('${t.tenant.id}')`);
  const keys = (await getJwks()).keys.map((k) => k.kid);
  assert.ok(keys.includes(kid), 'the retired key stays published');
  await jose.jwtVerify(tokens.id_token, await jwksNow(), { issuer, audience: rp.client_id });
  // The key that signs now was published before the rotation.
  const fresh = await (await signIn(new Browser())).grant();
  const newKid = jose.decodeProtectedHeader(fresh.id_token).kid;
  assert.notEqual(newKid, kid);
  assert.ok(before.includes(newKid), 'published before it signed');
  // Once the last token it signed has expired, the scheduled job unpublishes it.
  sql(`UPDATE oauth.signing_keys SET published_until = now() - interval '1 second' WHERE tenant_id = '${t.tenant.id}' AND kid = '${kid}'`);
  sql('SELECT oauth.rotate_keys_if_due()');
  assert.ok(!(await getJwks()).keys.some((k) => k.kid === kid));
  await assert.rejects(jose.jwtVerify(tokens.id_token, await jwksNow(), { issuer, audience: rp.client_id }));
});

test('interop: WWW-Authenticate challenges follow the scheme the client used', { skip }, async () => {
  // userinfo with a client credentials token: 401 invalid_token with a Bearer challenge.
  const svc = await createClient(t, { client_name: 'CC', grant_types: ['client_credentials'], scope: 'read profile' });
  const basic = 'Basic ' + Buffer.from(`${svc.client_id}:${svc.client_secret}`).toString('base64');
  const cc = await call('POST', `/t/${t.slug}/oauth/token`, { form: { grant_type: 'client_credentials' }, headers: { authorization: basic } });
  const ui = await call('GET', `/t/${t.slug}/oauth/userinfo`, { token: cc.body.access_token });
  assert.equal(ui.status, 401);
  assert.match(ui.headers.get('www-authenticate'), /^Bearer .*error="invalid_token"/);
  // Registration without a token: Bearer realm, no error code.
  const reg = await call('POST', `/t/${t.slug}/oauth/register`, { json: { redirect_uris: ['https://x.example/cb'] } });
  assert.equal(reg.status, 401);
  assert.match(reg.headers.get('www-authenticate'), /^Bearer realm="[^"]+"$/);
  // Token endpoint: client_secret_post failures carry no Basic challenge; Basic ones do.
  const post = await call('POST', `/t/${t.slug}/oauth/token`, { form: { grant_type: 'client_credentials', client_id: svc.client_id, client_secret: 'wrong' } });
  assert.equal(post.status, 401);
  assert.equal(post.headers.get('www-authenticate'), null);
  const none = await call('POST', `/t/${t.slug}/oauth/token`, { form: { grant_type: 'client_credentials', client_id: 'nobody' } });
  assert.equal(none.headers.get('www-authenticate'), null);
  const wrongBasic = await call('POST', `/t/${t.slug}/oauth/token`, { form: { grant_type: 'client_credentials' },
    headers: { authorization: 'Basic ' + Buffer.from(`${svc.client_id}:wrong`).toString('base64') } });
  assert.match(wrongBasic.headers.get('www-authenticate'), /^Basic realm=/);
});

test('interop: duplicate client_name, loopback ports, password grant advertised only when enabled', { skip }, async () => {
  const meta = { client_name: 'Twice Installed App', redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none', application_type: 'native' };
  const a = await call('POST', `/t/${t.slug}/oauth/register`, { token: t.token, json: meta });
  const b = await call('POST', `/t/${t.slug}/oauth/register`, { token: t.token, json: meta });
  assert.equal(a.status, 201);
  assert.equal(b.status, 201);
  assert.notEqual(a.body.client_id, b.body.client_id);
  // A native app listening on any port of the loopback address.
  const verifier = client.randomPKCECodeVerifier();
  const url = new URL(`${issuer}/oauth/authorize`);
  url.search = new URLSearchParams({ response_type: 'code', client_id: a.body.client_id, redirect_uri: 'http://127.0.0.1:53682/cb',
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', scope: 'openid' });
  const page = await fetch(url, { redirect: 'manual' });
  assert.equal(page.status, 200, 'the sign-in page, not an error page');
  // Private-use URI scheme redirect of a native app.
  const native = await call('POST', `/t/${t.slug}/oauth/register`, { token: t.token,
    json: { client_name: 'Mobile', redirect_uris: ['com.example.mobile:/oauth2redirect'], token_endpoint_auth_method: 'none', application_type: 'native' } });
  assert.equal(native.status, 201, native.text);
  // The password grant appears in metadata only once the tenant enables it.
  assert.ok(!config.serverMetadata().grant_types_supported.includes('password'));
  const s = await call('PUT', `/t/${t.slug}/api/v1/tenants/${t.tenant.id}/settings`, { token: t.token, json: { password_grant: true } });
  assert.equal(s.status, 200, s.text);
  const m = await call('GET', `/t/${t.slug}/.well-known/openid-configuration`);
  assert.ok(m.body.grant_types_supported.includes('password'));
});
