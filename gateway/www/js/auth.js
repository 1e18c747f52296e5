// auth.js — how the console signs in: OAuth 2.0 authorization code with PKCE
// (S256) as the tenant's built-in public client "console". Owns the session
// (tokens in sessionStorage, never localStorage), the pending sign-in, token
// refresh with rotation (one refresh at a time; the newest refresh token
// always replaces the old one) and sign-out, which revokes both tokens.
import { ApiError, apiOrigin, request, tenantUrl } from './api.js';
import { sha256 } from './sha256.js';

export const CLIENT_ID = 'console';
export const SCOPE = 'read write profile admin';

const SESSION_KEY = 'bf.session';
const PENDING_KEY = 'bf.pending';
const LAST_TENANT_KEY = 'bf.lastTenant';
// Set by sign-out: the server's sign-in page keeps its own session (a
// cookie on the API's origin the console cannot clear), so the next sign-in
// asks for the password again (prompt=login) instead of silently signing
// the previous user back in.
const PROMPT_LOGIN_KEY = 'bf.promptLogin';
const REFRESH_MARGIN_MS = 30_000;
const PENDING_MAX_AGE_MS = 15 * 60_000;

/** The console's redirect URI: console/callback.html beside these scripts. */
export function redirectUri() {
  return new URL('../console/callback.html', import.meta.url).href;
}

/** The console's own URL. */
export function consoleUrl(hash = '') {
  return new URL(`../console/${hash}`, import.meta.url).href;
}

/** The issuer a tenant's tokens come from: the API origin plus /t/{slug}. */
export function expectedIssuer(slug) {
  return `${apiOrigin()}/t/${slug}`;
}

// ---------- PKCE ----------

function base64url(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A random URL-safe string from n random bytes. */
export function randomString(n = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(n)));
}

/** The S256 code challenge of a verifier (RFC 7636 §4.2). */
export async function codeChallenge(verifier) {
  const bytes = new TextEncoder().encode(verifier);
  const digest = globalThis.crypto?.subtle
    ? new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))
    : sha256(bytes);
  return base64url(digest);
}

// ---------- session ----------

function readJson(storage, key) {
  try {
    return JSON.parse(storage.getItem(key) ?? 'null');
  } catch {
    return null;
  }
}

/** The signed-in session of this tab, or null. */
export function getSession() {
  return readJson(sessionStorage, SESSION_KEY);
}

function saveSession(session) {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  rememberTenant(session.slug);
}

function storeFlag(key, on) {
  try {
    if (on) localStorage.setItem(key, '1');
    else localStorage.removeItem(key);
  } catch {
    /* storage may be disabled */
  }
}

function flag(key) {
  try {
    return localStorage.getItem(key) === '1';
  } catch {
    return false;
  }
}

/** Remembers only the slug (not a secret), to prefill the sign-in form. */
function rememberTenant(slug) {
  try {
    localStorage.setItem(LAST_TENANT_KEY, slug);
  } catch {
    /* storage may be disabled */
  }
}

export function clearSession() {
  sessionStorage.removeItem(SESSION_KEY);
}

/** The tenant this browser signed in to last (a slug, not a secret). */
export function lastTenant() {
  try {
    return localStorage.getItem(LAST_TENANT_KEY) ?? '';
  } catch {
    return '';
  }
}

function sessionFromTokens(slug, endpoints, tokens) {
  return {
    slug,
    issuer: endpoints.issuer,
    token_endpoint: endpoints.token_endpoint,
    revocation_endpoint: endpoints.revocation_endpoint,
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token ?? null,
    scope: tokens.scope ?? '',
    expires_at: Date.now() + (Number(tokens.expires_in) || 3600) * 1000,
  };
}

function defaultEndpoints(slug) {
  return {
    issuer: expectedIssuer(slug),
    token_endpoint: tenantUrl(slug, '/oauth/token'),
    revocation_endpoint: tenantUrl(slug, '/oauth/revoke'),
  };
}

/** Starts a session from the answer of tenant registration (its first token). */
export function startSessionFromRegistration(registration) {
  const slug = registration.tenant.slug;
  saveSession(sessionFromTokens(slug, defaultEndpoints(slug), registration));
}

// ---------- sign-in ----------

/** The tenant's authorization server metadata (RFC 8414), checked. */
export async function discover(slug) {
  const meta = await request(tenantUrl(slug, '/.well-known/oauth-authorization-server'));
  const issuer = expectedIssuer(slug);
  if (meta?.issuer !== issuer) {
    throw new ApiError(0, 'issuer_mismatch', `The server names its issuer "${meta?.issuer}", expected "${issuer}". Check the API address in config.js.`);
  }
  if (!meta.authorization_endpoint || !meta.token_endpoint) {
    throw new ApiError(0, 'invalid_metadata', 'The server did not name its authorization and token endpoints.');
  }
  return meta;
}

/**
 * Sends the browser to the tenant's sign-in page. The verifier and state
 * stay in this tab's sessionStorage until the callback.
 */
export async function beginSignIn(slug, { returnTo = '' } = {}) {
  const meta = await discover(slug);
  const verifier = randomString(48);
  const state = randomString(24);
  const pending = {
    slug,
    state,
    verifier,
    redirect_uri: redirectUri(),
    issuer: meta.issuer,
    iss_required: meta.authorization_response_iss_parameter_supported === true,
    token_endpoint: meta.token_endpoint,
    revocation_endpoint: meta.revocation_endpoint ?? tenantUrl(slug, '/oauth/revoke'),
    return_to: returnTo,
    started_at: Date.now(),
  };
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  rememberTenant(slug);
  const url = new URL(meta.authorization_endpoint);
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: CLIENT_ID,
    redirect_uri: pending.redirect_uri,
    scope: SCOPE,
    state,
    code_challenge: await codeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  if (flag(PROMPT_LOGIN_KEY)) query.set('prompt', 'login');
  url.search = query.toString();
  location.assign(url.href);
}

/**
 * Finishes the sign-in on the callback page: checks state and issuer,
 * exchanges the code, stores the session. Answers the console hash to open.
 */
export async function completeSignIn(params) {
  const pending = readJson(sessionStorage, PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  if (!pending || Date.now() - pending.started_at > PENDING_MAX_AGE_MS) {
    throw new Error('This sign-in was not started in this tab, or it took too long. Please sign in again.');
  }
  if (params.get('state') !== pending.state) {
    throw new Error('The sign-in answer does not belong to the sign-in started here (state mismatch). Please sign in again.');
  }
  const iss = params.get('iss');
  if ((iss !== null || pending.iss_required) && iss !== pending.issuer) {
    throw new Error('The sign-in answer comes from another issuer than expected. Please sign in again.');
  }
  if (params.get('error')) {
    const description = params.get('error_description');
    if (params.get('error') === 'access_denied') throw new Error(description || 'Sign-in was cancelled.');
    throw new Error(description || `Sign-in failed (${params.get('error')}).`);
  }
  const code = params.get('code');
  if (!code) throw new Error('The sign-in answer has no authorization code.');
  const tokens = await request(pending.token_endpoint, {
    method: 'POST',
    form: {
      grant_type: 'authorization_code',
      code,
      redirect_uri: pending.redirect_uri,
      client_id: CLIENT_ID,
      code_verifier: pending.verifier,
    },
  });
  saveSession(sessionFromTokens(pending.slug, pending, tokens));
  storeFlag(PROMPT_LOGIN_KEY, false);
  return pending.return_to ?? '';
}

// ---------- tokens ----------

let refreshing = null;

/** Gets a new access token with the refresh token; true when it worked. */
export function refresh() {
  refreshing ??= doRefresh().finally(() => { refreshing = null; });
  return refreshing;
}

async function doRefresh() {
  const session = getSession();
  if (!session?.refresh_token) return false;
  try {
    const tokens = await request(session.token_endpoint, {
      method: 'POST',
      form: { grant_type: 'refresh_token', refresh_token: session.refresh_token, client_id: CLIENT_ID },
    });
    saveSession({
      ...sessionFromTokens(session.slug, session, tokens),
      refresh_token: tokens.refresh_token ?? session.refresh_token,
      scope: tokens.scope ?? session.scope,
    });
    return true;
  } catch (err) {
    if (err instanceof ApiError && (err.status === 400 || err.status === 401)) {
      clearSession();
      return false;
    }
    throw err;
  }
}

/** A valid access token (refreshed shortly before it expires), or null. */
export async function accessToken() {
  let session = getSession();
  if (!session) return null;
  if (session.expires_at - Date.now() < REFRESH_MARGIN_MS) {
    if (!session.refresh_token || !(await refresh())) {
      if (session.expires_at > Date.now()) return session.access_token;
      clearSession();
      return null;
    }
    session = getSession();
  }
  return session?.access_token ?? null;
}

/**
 * Revokes the session's tokens (RFC 7009) and forgets them; the next
 * sign-in in this browser asks for the password again.
 */
export async function signOut() {
  const session = getSession();
  clearSession();
  storeFlag(PROMPT_LOGIN_KEY, true);
  if (!session) return;
  const revoke = session.revocation_endpoint ?? tenantUrl(session.slug, '/oauth/revoke');
  const tokens = [[session.refresh_token, 'refresh_token'], [session.access_token, 'access_token']];
  for (const [token, hint] of tokens) {
    if (!token) continue;
    try {
      await request(revoke, { method: 'POST', form: { token, token_type_hint: hint, client_id: CLIENT_ID } });
    } catch {
      /* the tokens are forgotten here either way; they expire on their own */
    }
  }
}
