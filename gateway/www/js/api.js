// api.js — the HTTP client of the pages: JSON (or form) in, JSON out, every
// failure thrown as an ApiError that carries the server's error and
// error_description. TenantApi adds the tenant prefix (/t/{slug}) and the
// bearer token, refreshing it once when the server says it has expired.
import { API_BASE } from '../config.js';

export class ApiError extends Error {
  constructor(status, code, description) {
    super(description);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.description = description;
  }
}

/** Absolute URL of an API path (API_BASE is '' on the same origin). */
export function apiUrl(path) {
  return `${API_BASE}${path}`;
}

/** URL of a path of one tenant, selected by the /t/{slug} prefix. */
export function tenantUrl(slug, path = '') {
  return `${API_BASE}/t/${encodeURIComponent(slug)}${path}`;
}

/** The origin the API answers on (this page's origin when API_BASE is ''). */
export function apiOrigin() {
  return API_BASE ? new URL(API_BASE, location.href).origin : location.origin;
}

/**
 * One HTTP call. Options: method, json (sent as JSON), form (an object sent
 * as application/x-www-form-urlencoded), token (bearer), signal.
 * Answers the parsed JSON body (null for an empty body).
 */
export async function request(url, { method = 'GET', json, form, token, signal } = {}) {
  const headers = { Accept: 'application/json' };
  let body;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (form) {
    body = new URLSearchParams(form);
  }
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(url, { method, headers, body, signal, credentials: 'omit', cache: 'no-store' });
  } catch (err) {
    if (err?.name === 'AbortError') throw err;
    const where = new URL(url, location.href).origin;
    throw new ApiError(0, 'network_error', `The API at ${where} cannot be reached. Check that the server is running and allows this origin.`);
  }
  const text = response.status === 204 ? '' : await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const code = data?.error ?? `http_${response.status}`;
    const description = data?.error_description || data?.message
      || `The server answered ${response.status}${response.statusText ? ` ${response.statusText}` : ''}.`;
    throw new ApiError(response.status, code, description);
  }
  return data;
}

/**
 * The API of one tenant for a signed-in session. `auth` provides
 * accessToken() (a fresh token or null) and refresh() (true when a new token
 * was obtained); onUnauthorized() is called when the session is over.
 */
export class TenantApi {
  constructor(slug, auth, { onUnauthorized } = {}) {
    this.slug = slug;
    this.auth = auth;
    this.onUnauthorized = onUnauthorized ?? (() => {});
  }

  async call(method, path, json) {
    const url = tenantUrl(this.slug, path);
    const token = await this.auth.accessToken();
    if (!token) return this.#expired();
    try {
      return await request(url, { method, json, token });
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        if (await this.auth.refresh()) return request(url, { method, json, token: await this.auth.accessToken() });
        return this.#expired(err);
      }
      throw err;
    }
  }

  #expired(err) {
    this.onUnauthorized();
    throw err ?? new ApiError(401, 'session_expired', 'Your session has ended. Sign in again.');
  }

  get(path) { return this.call('GET', path); }
  post(path, json = {}) { return this.call('POST', path, json); }
  put(path, json) { return this.call('PUT', path, json); }
  patch(path, json) { return this.call('PATCH', path, json); }
  delete(path) { return this.call('DELETE', path); }
}
