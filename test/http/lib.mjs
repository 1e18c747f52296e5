// Shared helpers of the HTTP suites: the gateway's base URL, JSON requests,
// tenant sign-up, superuser SQL for set-up that no HTTP route offers
// (e.g. lowering a tenant's limits), and the HTML sign-in of the authorize page.
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { randomBytes } from 'node:crypto';

export const BASE = process.env.BF_URL;
export const skip = BASE ? false : 'BF_URL is not set (run through make test)';
// Why some malformed requests cannot get the gateway's JSON answer (issue 14,
// item 1): libmicrohttpd refuses them in its own parser, before any callback
// of the gateway runs, and answers with a fixed HTML page of its own (0.9.75,
// Debian 12, also writes the answer head twice for a malformed
// Content-Length). No public API of libmicrohttpd changes those answers.
export const MHD_OWN_ANSWER = "libmicrohttpd's own parser answers this (fixed HTML page; 0.9.75 writes a malformed "
  + "Content-Length's head twice) before the gateway sees the request; no public API changes it";

export const unique = (prefix) => `${prefix}-${randomBytes(4).toString('hex')}`;

// fetch with JSON in/out; returns {status, headers, body (parsed when JSON), text}.
export async function call(method, path, { token, tenant, json, form, headers = {}, body, redirect = 'manual' } = {}) {
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  if (tenant) h['x-tenant'] = tenant;
  let payload = body;
  if (json !== undefined) { h['content-type'] = 'application/json'; payload = JSON.stringify(json); }
  if (form !== undefined) { h['content-type'] = 'application/x-www-form-urlencoded'; payload = new URLSearchParams(form).toString(); }
  // fetch may not set Host (a forbidden header): use node:http for that.
  const res = h.host ? await viaHttp(method, path, h, payload) : await fetch(BASE + path, { method, headers: h, body: payload, redirect });
  const text = await res.text();
  let parsed = null;
  if ((res.headers.get('content-type') || '').includes('application/json') && text) parsed = JSON.parse(text);
  return { status: res.status, headers: res.headers, body: parsed, text };
}

function viaHttp(method, path, headers, payload) {
  const u = new URL(BASE + path);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const hdrs = new Headers();
        for (const [k, v] of Object.entries(res.headers)) hdrs.set(k, Array.isArray(v) ? v.join(', ') : v);
        const body = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode, headers: hdrs, text: async () => body });
      });
    });
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

// Registers a tenant through the API; returns {slug, tenant, owner, token, password, email}.
// Sign-up always gets the default plan: another plan ({plan: 'premium'}) is
// then set as a platform operator would, in SQL.
export async function signUp({ plan, ...overrides } = {}) {
  const slug = overrides.slug || unique('t');
  const email = overrides.owner_email || `owner@${slug}.test`;
  const password = overrides.owner_password || 'owner-password-1';
  const r = await call('POST', '/api/v1/tenants', { json: { slug, name: `Tenant ${slug}`, owner_email: email, owner_password: password, ...overrides } });
  if (r.status !== 201) throw new Error(`sign-up failed: ${r.status} ${r.text}`);
  const tenant = r.body.tenant;
  if (plan) {
    sql(`UPDATE tenancy.tenants SET plan = '${plan}' WHERE id = '${tenant.id}'`);
    tenant.plan = plan;
  }
  return { slug, tenant, owner: r.body.owner, token: r.body.access_token, email, password };
}

// Runs SQL as the superuser on the test cluster (PG* variables come from scripts/env.sh).
export function sql(query) {
  return execFileSync('psql', ['-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', query], { encoding: 'utf8' }).trim();
}

// Creates a confidential client for a tenant through the REST API (owner token).
export async function createClient(t, metadata) {
  const r = await call('POST', `/t/${t.slug}/api/v1/clients`, { token: t.token, json: metadata });
  if (r.status !== 201) throw new Error(`client creation failed: ${r.status} ${r.text}`);
  return r.body;
}

// Signs in through the server-rendered authorize page like a browser would:
// GET the page (cookies, CSRF token, hidden fields), POST the form with the
// credentials (and consent), follow to the 303 Location. Returns the final
// redirect URL (to the client's redirect_uri) and the page HTML seen.
export async function browserAuthorize(authorizeUrl, email, password) {
  const jar = new Map();
  const keep = (res) => {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      jar.set(pair.slice(0, i).trim(), pair.slice(i + 1).trim());
    }
  };
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  let res = await fetch(authorizeUrl, { redirect: 'manual' });
  keep(res);
  let html = await res.text();
  const pages = [html];
  for (let step = 0; step < 3 && res.status === 200; step++) {
    const form = parseForm(html);
    if (form.fields.has('email')) form.fields.set('email', email);
    if (form.fields.has('password')) form.fields.set('password', password);
    if (form.submit) form.fields.set(form.submit.name, form.submit.value);
    const action = new URL(form.action || authorizeUrl, authorizeUrl);
    res = await fetch(action, {
      method: 'POST', redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookie() },
      body: new URLSearchParams([...form.fields]).toString(),
    });
    keep(res);
    html = await res.text();
    pages.push(html);
  }
  return { status: res.status, location: res.headers.get('location'), pages };
}

// A small HTML form reader: the first <form>'s action, its inputs and the
// "allow" submit button (consent) if any.
export function parseForm(html) {
  const formM = /<form\b[^>]*>([\s\S]*?)<\/form>/i.exec(html);
  if (!formM) throw new Error('no form in page:\n' + html.slice(0, 500));
  const attr = (tag, name) => {
    const m = new RegExp(`\\b${name}\\s*=\\s*("([^"]*)"|'([^']*)')`, 'i').exec(tag);
    return m ? decodeEntities(m[2] ?? m[3]) : null;
  };
  const action = attr(formM[0].slice(0, formM[0].indexOf('>') + 1), 'action');
  const fields = new Map();
  let submit = null;
  for (const m of formM[1].matchAll(/<(input|button)\b[^>]*>/gi)) {
    const type = (attr(m[0], 'type') || (m[1].toLowerCase() === 'button' ? 'submit' : 'text')).toLowerCase();
    const name = attr(m[0], 'name');
    if (!name) continue;
    if (type === 'submit') {
      const value = attr(m[0], 'value');
      if (!submit || value === 'allow') submit = { name, value };
    } else {
      fields.set(name, attr(m[0], 'value') ?? '');
    }
  }
  return { action, fields, submit };
}

export function decodeEntities(s) {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|amp|lt|gt|quot|apos|#39);/gi, (m, e) => {
    const k = e.toLowerCase();
    if (k === 'amp') return '&';
    if (k === 'lt') return '<';
    if (k === 'gt') return '>';
    if (k === 'quot') return '"';
    if (k === 'apos' || k === '#39') return "'";
    if (k.startsWith('#x')) return String.fromCodePoint(parseInt(k.slice(2), 16));
    return String.fromCodePoint(parseInt(k.slice(1), 10));
  });
}
