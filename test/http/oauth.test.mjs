// OAuth 2.0 flows driven by a real client library (oauth4webapi), against
// the real gateway: RFC 8414 discovery, client credentials, password,
// authorization code + PKCE through the HTML sign-in form, refresh with
// rotation and reuse detection, revocation, introspection, userinfo,
// dynamic registration (RFC 7591/7592).
import test from 'node:test';
import assert from 'node:assert/strict';
import * as oauth from 'oauth4webapi';
import { BASE, skip, call, signUp, createClient, browserAuthorize, unique } from './lib.mjs';

const insecure = { [oauth.allowInsecureRequests]: true };

async function discover(slug) {
  const issuer = new URL(`${BASE}/t/${slug}`);
  const res = await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure });
  return oauth.processDiscoveryResponse(issuer, res);
}

let t; let as; let confidential; let pwClient;
test.before(async () => {
  if (skip) return;
  t = await signUp({ plan: 'premium' });
  as = await discover(t.slug);
  confidential = await createClient(t, { client_name: 'Service', grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
    redirect_uris: ['http://127.0.0.1:9999/callback'], scope: 'read write profile', token_endpoint_auth_method: 'client_secret_basic' });
  pwClient = await createClient(t, { client_name: 'Legacy app', grant_types: ['password', 'refresh_token'],
    scope: 'read write profile admin', token_endpoint_auth_method: 'client_secret_post' });
});

test('RFC 8414 metadata: issuer, endpoints, S256, iss parameter', { skip }, async () => {
  assert.equal(as.issuer, `${BASE}/t/${t.slug}`);
  for (const e of ['authorization_endpoint', 'token_endpoint', 'revocation_endpoint', 'introspection_endpoint',
                   'registration_endpoint', 'userinfo_endpoint']) {
    assert.ok(as[e].startsWith(as.issuer + '/'), e);
  }
  assert.deepEqual(as.code_challenge_methods_supported, ['S256']);
  assert.equal(as.authorization_response_iss_parameter_supported, true);
  for (const g of ['authorization_code', 'refresh_token', 'client_credentials']) assert.ok(as.grant_types_supported.includes(g), g);
  // The password grant is advertised only when the tenant enables it (setting password_grant).
  assert.ok(!as.grant_types_supported.includes('password'));
  // The same document by subdomain names the subdomain issuer.
  const port = new URL(BASE).port;
  const sub = await call('GET', '/.well-known/oauth-authorization-server', { headers: { host: `${t.slug}.localhost:${port}` } });
  assert.equal(sub.body.issuer, `http://${t.slug}.localhost:${port}`);
});

test('client credentials grant (client_secret_basic), then introspection and revocation', { skip }, async () => {
  const client = { client_id: confidential.client_id };
  const auth = oauth.ClientSecretBasic(confidential.client_secret);
  const res = await oauth.clientCredentialsGrantRequest(as, client, auth, new URLSearchParams({ scope: 'read' }), insecure);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  const tok = await oauth.processClientCredentialsResponse(as, client, res);
  assert.equal(tok.token_type.toLowerCase(), 'bearer');
  assert.equal(tok.scope, 'read');
  assert.equal(tok.refresh_token, undefined);
  assert.match(tok.access_token, /^bfat_/);
  const info = await oauth.processIntrospectionResponse(as, client,
    await oauth.introspectionRequest(as, client, auth, tok.access_token, insecure));
  assert.equal(info.active, true);
  assert.equal(info.client_id, confidential.client_id);
  assert.equal(info.scope, 'read');
  assert.equal(info.iss, as.issuer);
  await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, auth, tok.access_token, insecure));
  const after = await oauth.processIntrospectionResponse(as, client,
    await oauth.introspectionRequest(as, client, auth, tok.access_token, insecure));
  assert.equal(after.active, false);
  const me = await call('GET', `/t/${t.slug}/api/v1/me`, { token: tok.access_token });
  assert.equal(me.status, 401);
});

test('client credentials: bad secret and unsupported grant are RFC 6749 errors', { skip }, async () => {
  const client = { client_id: confidential.client_id };
  const res = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic('wrong'), new URLSearchParams(), insecure);
  assert.equal(res.status, 401);
  assert.match(res.headers.get('www-authenticate') || '', /^Basic/);
  // oauth4webapi reports the Basic challenge of the 401 first; the body is RFC 6749's.
  await assert.rejects(oauth.processClientCredentialsResponse(as, client, res), (e) => e.status === 401);
  const raw = await call('POST', `/t/${t.slug}/oauth/token`, { form: { grant_type: 'client_credentials' },
    headers: { authorization: 'Basic ' + Buffer.from(`${confidential.client_id}:wrong`).toString('base64') } });
  assert.equal(raw.status, 401);
  assert.equal(raw.body.error, 'invalid_client');
  const res2 = await oauth.genericTokenEndpointRequest(as, client, oauth.ClientSecretBasic(confidential.client_secret), 'urn:example:nope', new URLSearchParams(), insecure);
  await assert.rejects(oauth.processGenericTokenEndpointResponse(as, client, res2), (e) => e.error === 'unsupported_grant_type');
  const res3 = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(confidential.client_secret), new URLSearchParams({ scope: 'admin' }), insecure);
  await assert.rejects(oauth.processClientCredentialsResponse(as, client, res3), (e) => e.error === 'invalid_scope');
});

test('password grant (client_secret_post), refresh rotation and reuse detection', { skip }, async () => {
  const client = { client_id: pwClient.client_id };
  const auth = oauth.ClientSecretPost(pwClient.client_secret);
  const res = await oauth.genericTokenEndpointRequest(as, client, auth, 'password',
    new URLSearchParams({ username: t.email, password: t.password, scope: 'read profile' }), insecure);
  const tok = await oauth.processGenericTokenEndpointResponse(as, client, res);
  assert.deepEqual(tok.scope.split(' ').sort(), ['profile', 'read']);
  assert.ok(tok.refresh_token);
  const info = await oauth.processUserInfoResponse(as, client, oauth.skipSubjectCheck,
    await oauth.userInfoRequest(as, client, tok.access_token, insecure));
  assert.equal(info.email, t.email);
  // Rotation: each refresh gives a new refresh token; the old one is dead and
  // presenting it again revokes the whole family.
  const r1 = await oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, auth, tok.refresh_token, insecure));
  assert.notEqual(r1.refresh_token, tok.refresh_token);
  const reuse = await oauth.refreshTokenGrantRequest(as, client, auth, tok.refresh_token, insecure);
  await assert.rejects(oauth.processRefreshTokenResponse(as, client, reuse), (e) => e.error === 'invalid_grant');
  const family = await oauth.refreshTokenGrantRequest(as, client, auth, r1.refresh_token, insecure);
  await assert.rejects(oauth.processRefreshTokenResponse(as, client, family), (e) => e.error === 'invalid_grant');
  assert.equal((await call('GET', `/t/${t.slug}/api/v1/me`, { token: r1.access_token })).status, 401);
  // Wrong password: invalid_grant.
  const bad = await oauth.genericTokenEndpointRequest(as, client, auth, 'password', new URLSearchParams({ username: t.email, password: 'nope-nope' }), insecure);
  await assert.rejects(oauth.processGenericTokenEndpointResponse(as, client, bad), (e) => e.error === 'invalid_grant');
});

test('password grant refused for clients not registered for it', { skip }, async () => {
  const client = { client_id: confidential.client_id };
  const res = await oauth.genericTokenEndpointRequest(as, client, oauth.ClientSecretBasic(confidential.client_secret), 'password',
    new URLSearchParams({ username: t.email, password: t.password }), insecure);
  await assert.rejects(oauth.processGenericTokenEndpointResponse(as, client, res), (e) => e.error === 'unauthorized_client');
});

test('authorization code + PKCE through the HTML sign-in page (public console client)', { skip }, async () => {
  const client = { client_id: 'console' };
  const redirectUri = as.issuer.replace(/\/t\/[^/]+$/, '') + '/console/callback.html';
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const url = new URL(as.authorization_endpoint);
  url.search = new URLSearchParams({ response_type: 'code', client_id: 'console', redirect_uri: redirectUri, scope: 'read profile admin',
    state, code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' }).toString();
  const flow = await browserAuthorize(url.href, t.email, t.password);
  assert.equal(flow.status, 303, flow.pages.at(-1).slice(0, 300));
  const back = new URL(flow.location);
  assert.equal(back.origin + back.pathname, redirectUri);
  assert.equal(back.searchParams.get('iss'), as.issuer);
  const params = oauth.validateAuthResponse(as, client, back, state);
  const res = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, redirectUri, verifier, insecure);
  const tok = await oauth.processAuthorizationCodeResponse(as, client, res);
  assert.equal(tok.scope.split(' ').sort().join(' '), 'admin profile read');
  assert.ok(tok.refresh_token);
  const me = await call('GET', `/t/${t.slug}/api/v1/me`, { token: tok.access_token });
  assert.equal(me.body.user.email, t.email);
  // The code is single use: a replay fails and revokes what it issued.
  const replay = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, redirectUri, verifier, insecure);
  await assert.rejects(oauth.processAuthorizationCodeResponse(as, client, replay), (e) => e.error === 'invalid_grant');
  assert.equal((await call('GET', `/t/${t.slug}/api/v1/me`, { token: tok.access_token })).status, 401);
});

test('authorization code: wrong verifier, missing PKCE, unregistered redirect URI', { skip }, async () => {
  const redirectUri = as.issuer.replace(/\/t\/[^/]+$/, '') + '/console/callback.html';
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const url = new URL(as.authorization_endpoint);
  url.search = new URLSearchParams({ response_type: 'code', client_id: 'console', redirect_uri: redirectUri, scope: 'read',
    state, code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' }).toString();
  const flow = await browserAuthorize(url.href, t.email, t.password);
  const params = oauth.validateAuthResponse(as, { client_id: 'console' }, new URL(flow.location), state);
  const res = await oauth.authorizationCodeGrantRequest(as, { client_id: 'console' }, oauth.None(), params, redirectUri,
    oauth.generateRandomCodeVerifier(), insecure);
  await assert.rejects(oauth.processAuthorizationCodeResponse(as, { client_id: 'console' }, res), (e) => e.error === 'invalid_grant');
  // A public client without PKCE: the error goes back to the redirect URI.
  const noPkce = new URL(as.authorization_endpoint);
  noPkce.search = new URLSearchParams({ response_type: 'code', client_id: 'console', redirect_uri: redirectUri, state: 'xyz' }).toString();
  const r = await fetch(noPkce, { redirect: 'manual' });
  assert.equal(r.status, 303);
  const loc = new URL(r.headers.get('location'));
  assert.equal(loc.searchParams.get('error'), 'invalid_request');
  assert.equal(loc.searchParams.get('state'), 'xyz');
  // An unregistered redirect URI is never redirected to.
  const evil = new URL(as.authorization_endpoint);
  evil.search = new URLSearchParams({ response_type: 'code', client_id: 'console', redirect_uri: 'https://evil.example/cb', state: 's',
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' }).toString();
  const e = await fetch(evil, { redirect: 'manual' });
  assert.equal(e.status, 400);
  assert.equal(e.headers.get('location'), null);
  assert.match(e.headers.get('content-type'), /text\/html/);
});

test('dynamic registration (RFC 7591) with an admin token, management (RFC 7592)', { skip }, async () => {
  const meta = { client_name: unique('dyn'), redirect_uris: ['https://app.example.com/cb'], grant_types: ['authorization_code'], scope: 'read' };
  const anon = await call('POST', `/t/${t.slug}/oauth/register`, { json: meta });
  assert.equal(anon.status, 401);
  const reg = await call('POST', `/t/${t.slug}/oauth/register`, { token: t.token, json: meta });
  assert.equal(reg.status, 201, reg.text);
  assert.ok(reg.body.client_id && reg.body.client_secret && reg.body.registration_access_token);
  assert.equal(reg.body.registration_client_uri, `${as.issuer}/oauth/register/${reg.body.client_id}`);
  const rat = reg.body.registration_access_token;
  const read = await call('GET', `/t/${t.slug}/oauth/register/${reg.body.client_id}`, { token: rat });
  assert.equal(read.status, 200);
  assert.equal(read.body.client_name, meta.client_name);
  assert.equal((await call('GET', `/t/${t.slug}/oauth/register/${reg.body.client_id}`, { token: 'bfrg_wrong' })).status, 401);
  const put = await call('PUT', `/t/${t.slug}/oauth/register/${reg.body.client_id}`, { token: rat,
    json: { ...meta, client_id: reg.body.client_id, client_name: meta.client_name + '-2' } });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.body.client_name, meta.client_name + '-2');
  const badUri = await call('POST', `/t/${t.slug}/oauth/register`, { token: t.token, json: { ...meta, client_name: unique('x'), redirect_uris: ['http://app.example.com/cb'] } });
  assert.equal(badUri.status, 400);
  assert.equal(badUri.body.error, 'invalid_redirect_uri');
  assert.equal((await call('DELETE', `/t/${t.slug}/oauth/register/${reg.body.client_id}`, { token: rat })).status, 204);
  assert.equal((await call('GET', `/t/${t.slug}/oauth/register/${reg.body.client_id}`, { token: rat })).status, 401);
});

test('introspection: another tenant\'s token is inactive; unauthenticated callers refused', { skip }, async () => {
  const other = await signUp();
  const client = { client_id: confidential.client_id };
  const auth = oauth.ClientSecretBasic(confidential.client_secret);
  const info = await oauth.processIntrospectionResponse(as, client,
    await oauth.introspectionRequest(as, client, auth, other.token, insecure));
  assert.equal(info.active, false);
  const anon = await call('POST', `/t/${t.slug}/oauth/introspect`, { form: { token: t.token } });
  assert.equal(anon.status, 401);
});
