// HTTP fuzzing of the gateway and the SQL routes behind it (issue 7, item 3).
// 1. Generated from /api/v1/openapi.json with a seeded PRNG (BF_FUZZ_SEED to
//    replay; the seed is printed): for every operation, wrong JSON types for
//    every schema property, missing and extra fields, huge (100 KB) and empty
//    values, invalid UTF-8, NUL bytes, SQL injection, unicode edge cases,
//    deeply nested JSON, out-of-range numbers, arrays for objects, wrong
//    content types, repeated/malformed query parameters, hostile ids and
//    Authorization/X-Tenant headers; then random stacks of those until at
//    least BF_FUZZ_COUNT (10,000) requests. Sent 16 at a time over keep-alive.
// 2. By hand over raw sockets: path traversal on static files, duplicate and
//    conflicting headers, request smuggling shapes (Content-Length with
//    Transfer-Encoding, two Content-Lengths, "chunked, identity", obs-fold,
//    bare LF), odd request lines, pipelining, slow and vanishing clients.
// Never a 5xx, never a connection dropped without an answer (except the
// smuggling shapes, where closing is acceptable), every 4xx a JSON body with
// "error" (the /oauth/authorize endpoint answers errors with an HTML page, by
// design), /health 200 at the end, and the gateway's open file descriptors
// and RSS back to their baseline.
//
// This suite is about the gateway itself (its parser, its process): with
// BF_VIA_NGINX set (test/sh/deploy_nginx.sh replays the HTTP suites through
// nginx) each test is skipped with that reason — nginx answers many of these
// shapes itself, and its hostile access-log lines are not the gateway's.
// Requests libmicrohttpd refuses in its own parser (its answers carry no
// X-Request-Id) are asserted apart, as `todo` (MHD_OWN_ANSWER in lib.mjs).
import test from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
import { BASE, skip, call, signUp, createClient, MHD_OWN_ANSWER } from './lib.mjs';
import { operations, sample, prng, pool } from './fuzzgen.mjs';

const SEED = Number(process.env.BF_FUZZ_SEED || (Date.now() % 2147483647));
const TARGET = Number(process.env.BF_FUZZ_COUNT || 10000);
const CONCURRENCY = 16;
const url = BASE ? new URL(BASE) : null;
const VIA_NGINX = !!process.env.BF_VIA_NGINX;
const viaNginx = (t) => { if (VIA_NGINX) t.skip('BF_VIA_NGINX: gateway-level fuzzing runs against the gateway directly only'); return VIA_NGINX; };

// ---- hostile values -------------------------------------------------------------

const HUGE = 'A'.repeat(100 * 1024);
const SQLI = ["'; DROP TABLE tenancy.users; --", "' OR '1'='1", "1; SELECT pg_sleep(10)--", "$$; DROP SCHEMA api CASCADE; $$",
  "') UNION SELECT email, password_hash FROM tenancy.users --", '\\x27\\x3b', "%27%20OR%201=1", "admin'--", '"; COPY x TO PROGRAM \'id\'; --'];
const UNICODE = ['\u0000', 'a\u0000b', '\ud800', '\udfff', '\ufeff', '\u202e', '\uffff', '\u200b\u200c\u200d', 'e\u0301',
  '𝕏'.repeat(500), '\u0085\u2028\u2029', 'Ａｄｍｉｎ', 'İı', '\x7f\x01\x1b[31m', '<script>alert(1)</script>', '../../etc/passwd'];
const STRINGS = ['', ' ', HUGE, ...SQLI, ...UNICODE, '%00', '%zz', '\r\nX-Injected: 1', 'null', 'true', '0', '-1'];
const WRONG_TYPES = [0, -1, 1.5, -0, 2 ** 53 + 1, 1e308, true, false, null, [], ['a', 1, null], {}, { $gt: '' }, { a: { b: { c: [] } } }, 'string'];
// Raw JSON number texts JSON.stringify cannot produce.
const RAW_NUMBERS = ['1e999', '-1e999', '9'.repeat(400), '-' + '9'.repeat(400), '0.' + '0'.repeat(400) + '1', '1e-999', '18446744073709551616', '-9223372036854775809', 'NaN', 'Infinity', '0x10', '01', '+1', '.5'];
const DEEP = (n) => '['.repeat(n) + ']'.repeat(n);
const DEEP_OBJ = (n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
const INVALID_UTF8 = [[0xff], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80], [0xc3], [0xf8, 0x88, 0x80, 0x80, 0x80]];
const IDS = ["' OR 1=1 --", '%00', '%2e%2e%2f%2e%2e', '..', '%FF%FE', 'a'.repeat(5000), '00000000-0000-0000-0000-000000000000', '-1',
  '1e9', '%E2%80%AE', 'null', '%', '%25', '{id}', 'x%0d%0aSet-Cookie:%20a=b', '%C0%AF'];
const QUERIES = ['?limit=1&limit=2', '?limit=-1', '?limit=0', '?limit=1e999', '?limit=abc', `?limit=${'9'.repeat(100)}`, '?cursor=%zz',
  '?cursor=%00', '?cursor=!!!', `?cursor=${'A'.repeat(4000)}`, '?a[b]=1&a[]=2', '?%=', '?&&==&', '?=x', '?limit', '?limit=%', '?access_token=x',
  '?cursor=eyJpZCI6IicgT1IgMT0xIn0', '?limit=5&cursor=', `?${'x=1&'.repeat(2000)}`, '?%FF=%FE', '?q=%C0%AF', '?limit=%2B5', '?limit= 5'];
const CONTENT_TYPES = ['text/plain', 'application/x-www-form-urlencoded', 'application/json', 'multipart/form-data; boundary=x',
  'application/json; charset=latin1', 'application/json, text/plain', 'application/jsonx', 'APPLICATION/JSON', 'application/json;',
  'application/xml', '*/*', 'application/json; charset=utf-16', 'application/x-www-form-urlencoded; charset=utf-8', ''];

// ---- sending ------------------------------------------------------------------

const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });

// One request over node:http (keep-alive). Resolves {status, headers, text} or {error}.
function send({ method, path, headers = {}, body }) {
  return new Promise((resolve) => {
    let req;
    try {
      req = http.request({ host: url.hostname, port: url.port, path, method, headers, agent }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (e) => resolve({ error: e.message }));
      });
    } catch (e) {
      resolve({ skipped: e.message });   // node:http refused to send it (not a gateway matter)
      return;
    }
    req.setTimeout(20000, () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ error: e.message }));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

// Raw socket: writes `chunks` (with optional delays), half-closes when asked,
// collects everything until the gateway closes or `timeout`. Returns
// {responses: [{status, headers, body}], closed, timedOut}.
function raw(chunks, { timeout = 8000, delay = 0, end = false } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect(Number(url.port), url.hostname);
    let data = Buffer.alloc(0);
    let done = false;
    const finish = (how) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ responses: parseAll(data), [how]: true });
    };
    const timer = setTimeout(() => finish('timedOut'), timeout);
    sock.on('error', () => finish('closed'));
    sock.on('end', () => finish('closed'));
    sock.on('close', () => finish('closed'));
    sock.on('data', (d) => { data = Buffer.concat([data, d]); });
    sock.on('connect', async () => {
      for (const c of [].concat(chunks)) {
        if (done) return;
        sock.write(c);
        if (delay) await new Promise((r) => setTimeout(r, delay));
      }
      if (end && !done) sock.end();
    });
  });
}

function parseAll(buf) {
  const out = [];
  while (buf.length) {
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) { out.push({ status: 0, garbage: buf.toString('latin1').slice(0, 200) }); break; }
    const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
    const headers = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    let len = Number(headers['content-length'] ?? 0);
    let body;
    if (/chunked/i.test(headers['transfer-encoding'] || '')) {
      // Our answers are never chunked in practice; take the rest.
      body = buf.subarray(end + 4); len = body.length;
    } else body = buf.subarray(end + 4, end + 4 + len);
    out.push({ status: m ? Number(m[1]) : 0, headers, body: body.toString('utf8') });
    buf = buf.subarray(end + 4 + len);
  }
  return out;
}

// ---- the gateway process: fds and RSS ---------------------------------------------

function gatewayPid() {
  if (process.env.BF_GATEWAY_PID) return Number(process.env.BF_GATEWAY_PID);
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'latin1').split('\0');
      if (cmd.some((a) => a.endsWith('backend-gateway')) && cmd.some((a) => a.endsWith(`:${url.port}`))) return Number(d);
    } catch { /* gone or not ours */ }
  }
  return null;
}
function gatewayStats(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]);
    const fds = fs.readdirSync(`/proc/${pid}/fd`).length;
    return { rss, fds };
  } catch { return null; }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- generation from the OpenAPI document ---------------------------------------------

let T; let doc; let ops; let victims;
const statuses = {};
const problems = [];
let sent = 0;

// Answers of libmicrohttpd's own parser (MHD_OWN_ANSWER): matching problems
// are set aside and asserted by the `todo` test below.
const KNOWN = {
  // libmicrohttpd 0.9.75 loses its own 431 when the record of a query
  // parameter, a field or the Cookie copy does not fit in the connection's
  // memory (more than ~130 parameters; a 5,000-byte path plus a 50-part
  // Cookie): no answer at all.
  poolExhausted: {
    match: (req, r) => r.error && !/Data after/.test(r.error) && ((String(req.path).split('?')[1] || '').split('&').length > 100
      || String(req.path).length + Object.entries(req.headers || {}).reduce((n, [k, v]) => n + k.length + String(v).length + 4, 0) > 4500),
  },
  // A head beyond the connection's memory: libmicrohttpd's HTML 431/414.
  libraryAnswer: { match: (req, r) => !r.error && !r.headers['x-request-id'] },
  // Node's parser sees the second head as "data after Connection: close".
  duplicateHead: { match: (req, r) => r.error && /Data after .Connection: close/.test(r.error) },
};
const knownHits = Object.fromEntries(Object.keys(KNOWN).map((k) => [k, []]));

function check(req, r, { allowClose = false } = {}) {
  sent++;
  const what = `${req.method} ${String(req.path).slice(0, 120)} ${req.label || ''}`;
  if (r.skipped) return;
  const problem = (text) => {
    const k = Object.keys(KNOWN).find((key) => KNOWN[key].match(req, r));
    (k ? knownHits[k] : problems).push(text);
  };
  if (r.error) { if (!allowClose) problem(`no answer (${r.error}): ${what}`); return; }
  statuses[r.status] = (statuses[r.status] || 0) + 1;
  if (r.status >= 500) problem(`${r.status}: ${what} → ${r.text.slice(0, 200)}`);
  if (r.status >= 400 && r.status < 500 && req.method !== 'HEAD' && !/\/oauth\/authorize/.test(req.path)) {
    let j = null;
    try { j = JSON.parse(r.text); } catch { /* below */ }
    if (!/application\/json/.test(r.headers['content-type'] || '') || typeof j?.error !== 'string') {
      problem(`${r.status} without a JSON error body: ${what} → ${r.headers['content-type']} ${r.text.slice(0, 120)}`);
    }
  }
}

function concretePath(o, rnd, hostileId) {
  if (!o.path.includes('{id}')) return o.path;
  let id;
  if (hostileId) id = rnd.pick(IDS);
  else if (o.method === 'DELETE' && o.path.startsWith('/api/v1/tenants/')) id = rnd.pick(IDS);   // never delete the fuzzed tenant
  else if (o.path.startsWith('/api/v1/tenants/')) id = T.tenant.id;
  else if (o.path.startsWith('/api/v1/users/')) id = victims.user.id;      // never the owner: a password change would end our token
  else if (o.path.startsWith('/api/v1/notes/')) id = victims.note.id;
  else id = victims.client.client_id;
  return o.path.replace('{id}', id);
}

function baseRequest(o, rnd) {
  const strategy = rnd.int(3);
  const headers = { authorization: `Bearer ${T.token}` };
  let prefix = '';
  if (strategy === 0) prefix = `/t/${T.slug}`;
  else if (strategy === 1) headers['x-tenant'] = T.slug;
  else headers.host = `${T.slug}.localhost:${url.port}`;
  if (/^\/oauth\/(token|introspect|revoke)$/.test(o.path)) headers.authorization = 'Basic ' + Buffer.from(`${T.client.client_id}:${T.client.client_secret}`).toString('base64');
  return { method: o.method, prefix, path: concretePath(o, rnd, false), headers, query: '' };
}

// Percent-encodes like encodeURIComponent, but a lone surrogate becomes its
// (invalid) CESU-8 bytes instead of throwing.
const pct = (s) => [...s].map((ch) => {
  const c = ch.codePointAt(0);
  if (c >= 0xd800 && c <= 0xdfff) return `%${(0xe0 | (c >> 12)).toString(16)}%${(0x80 | ((c >> 6) & 63)).toString(16)}%${(0x80 | (c & 63)).toString(16)}`.toUpperCase();
  return encodeURIComponent(ch);
}).join('');
const encodeForm = (obj) => Object.entries(obj).map(([k, v]) => `${pct(k)}=${pct(typeof v === 'string' ? v : JSON.stringify(v))}`).join('&');

// The base valid-ish body of an operation as a JS object (or null).
function baseBody(o) {
  if (!o.schema) return null;
  const b = sample(o.schema);
  if (o.path === '/oauth/token') Object.assign(b, { grant_type: 'client_credentials', scope: 'read' });
  return b;
}

function serialize(o, obj) {
  if (o.contentType === 'application/x-www-form-urlencoded') return { body: encodeForm(obj), ct: o.contentType };
  return { body: JSON.stringify(obj), ct: 'application/json' };
}

// All body mutations of an operation: [{label, body (string|Buffer), ct}].
function bodyMutations(o) {
  const out = [];
  const base = baseBody(o) || {};
  const props = Object.keys(o.schema?.properties || base);
  const isForm = o.contentType === 'application/x-www-form-urlencoded';
  const put = (label, obj) => { const s = serialize(o, obj); out.push({ label, body: s.body, ct: s.ct }); };
  const rawJson = (label, text) => out.push({ label, body: text, ct: isForm ? o.contentType : 'application/json' });
  for (const k of props) {
    for (const v of WRONG_TYPES) put(`${k}=${JSON.stringify(v)}`, { ...base, [k]: v });
    for (const v of STRINGS) put(`${k}=str(${v.length})`, { ...base, [k]: v });
    const others = JSON.stringify({ ...base, [k]: 0 });
    if (!isForm) {
      for (const n of RAW_NUMBERS) rawJson(`${k}=${n.slice(0, 20)}`, others.replace(`"${k}":0`, `"${k}":${n}`));
      rawJson(`${k}=deep array`, others.replace(`"${k}":0`, `"${k}":${DEEP(5000)}`));
      rawJson(`${k}=deep object`, others.replace(`"${k}":0`, `"${k}":${DEEP_OBJ(5000)}`));
      for (const bytes of INVALID_UTF8) {
        const [pre, post] = others.split(`"${k}":0`);
        out.push({ label: `${k}=invalid utf8 ${bytes}`, ct: 'application/json',
          body: Buffer.concat([Buffer.from(pre + `"${k}":"x`), Buffer.from(bytes), Buffer.from('y"' + post)]) });
      }
      out.push({ label: `${k}=raw NUL`, ct: 'application/json', body: Buffer.from(others.replace(`"${k}":0`, `"${k}":"a\u0000b"`)) });
    } else {
      for (const bytes of INVALID_UTF8) {
        out.push({ label: `${k}=invalid utf8`, ct: o.contentType, body: Buffer.concat([Buffer.from(encodeForm({ ...base, [k]: 'x' }) + '&z='), Buffer.from(bytes)]) });
      }
      out.push({ label: `${k} repeated`, ct: o.contentType, body: encodeForm(base) + `&${k}=again` });
      out.push({ label: `${k} bad escape`, ct: o.contentType, body: encodeForm(base) + `&${k}x=%zz%` });
      out.push({ label: `${k} raw NUL`, ct: o.contentType, body: Buffer.from(encodeForm({ ...base, [k]: 'a' }) + '\u0000') });
    }
    const missing = { ...base }; delete missing[k];
    put(`missing ${k}`, missing);
  }
  put('extra field', { ...base, extra_field: 'x', __proto__x: 1 });
  put('empty object', {});
  for (const t of ['[]', 'null', '"x"', '', ' ', '1', 'true', '{', '{"a":1}x', '{"a":1,"a":2}', '\ufeff{}', DEEP(100000), DEEP_OBJ(20000),
    `[${JSON.stringify(base)}]`, `{"x":"${HUGE}"}`, JSON.stringify(Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, i])))]) {
    rawJson(`top ${t.slice(0, 15)}`, t);
  }
  if (isForm) for (const f of ['&&&', '=', '==x', '%', 'a=%E0%80', 'a=1&a=2', `a=${'%41'.repeat(30000)}`, Array.from({ length: 3000 }, (_, i) => `p${i}=1`).join('&'), 'grant_type=client_credentials;scope=read', '+=+']) {
    out.push({ label: `form ${f.slice(0, 20)}`, ct: o.contentType, body: f });
  }
  const s = serialize(o, base);
  for (const ct of CONTENT_TYPES) out.push({ label: `content-type ${ct}`, ct, body: s.body });
  return out;
}

const HEADER_MUTATIONS = [
  ['no auth', (h) => { delete h.authorization; }],
  ['Bearer empty', (h) => { h.authorization = 'Bearer '; }],
  ['Bearer two words', (h) => { h.authorization = 'Bearer a b'; }],
  ['Bearer huge', (h) => { h.authorization = 'Bearer ' + 'x'.repeat(7000); }],
  ['bearer lowercase', (h) => { h.authorization = h.authorization?.replace('Bearer', 'bearer'); }],
  ['Basic garbage', (h) => { h.authorization = 'Basic !!!'; }],
  ['Basic no colon', (h) => { h.authorization = 'Basic ' + Buffer.from('nocolon').toString('base64'); }],
  ['Basic empty pair', (h) => { h.authorization = 'Basic ' + Buffer.from(':').toString('base64'); }],
  ['Basic bad escapes', (h) => { h.authorization = 'Basic ' + Buffer.from('%zz:%00').toString('base64'); }],
  ['Basic invalid utf8', (h) => { h.authorization = 'Basic ' + Buffer.from([0xff, 0x3a, 0xc0]).toString('base64'); }],
  ['Basic unpadded', (h) => { h.authorization = 'Basic YTpi'; }],
  ['Negotiate', (h) => { h.authorization = 'Negotiate abc'; }],
  ['token SQLi', (h) => { h.authorization = `Bearer ${SQLI[1]}`; }],
  ['X-Tenant SQLi', (h) => { h['x-tenant'] = SQLI[0]; }],
  ['X-Tenant list', (h) => { h['x-tenant'] = `${T.slug}, other`; }],
  ['X-Tenant huge', (h) => { h['x-tenant'] = 'x'.repeat(6000); }],
  ['X-Tenant empty', (h) => { h['x-tenant'] = ''; }],
  ['X-Tenant zero uuid', (h) => { h['x-tenant'] = '00000000-0000-0000-0000-000000000000'; }],
  ['Host odd', (h) => { h.host = `${T.slug}.localhost.:${url.port}`; }],
  ['Host uppercase', (h) => { h.host = `${T.slug.toUpperCase()}.LOCALHOST:${url.port}`; }],
  ['Host bad port', (h) => { h.host = `${T.slug}.localhost:99999`; }],
  ['Host userinfo', (h) => { h.host = `a@${T.slug}.localhost`; }],
  ['Host deep', (h) => { h.host = `x.${T.slug}.localhost`; }],
  ['Origin evil', (h) => { h.origin = 'https://evil.example'; }],
  ['Accept odd', (h) => { h.accept = 'application/xml;q=2, */*;q=-1'; }],
  ['X-Forwarded', (h) => { h['x-forwarded-host'] = 'evil.example'; h['x-forwarded-proto'] = 'gopher'; }],
  ['Cookie junk', (h) => { h.cookie = 'bf_session=' + "'; DROP--".repeat(50) + '; a=%zz'; }],
  ['Content-Encoding gzip', (h) => { h['content-encoding'] = 'gzip'; }],
];

function toReq(b, label, bodyMut) {
  const headers = { ...b.headers };
  let body;
  if (bodyMut) { body = bodyMut.body; if (bodyMut.ct) headers['content-type'] = bodyMut.ct; }
  return { method: b.method, path: b.prefix + b.path + b.query, headers, body, label };
}

function generate(rnd) {
  const reqs = [];
  const muts = new Map(ops.map((o) => [o, o.schema ? bodyMutations(o) : []]));
  const valid = (o) => { const b = baseBody(o); return b ? { ...serialize(o, b) , ct: serialize(o, b).ct } : null; };
  // Systematic: every operation × every body, query, id and header mutation.
  for (const o of ops) {
    for (const m of muts.get(o)) reqs.push(toReq(baseRequest(o, rnd), m.label, m));
    const v = valid(o);
    for (const q of QUERIES) { const b = baseRequest(o, rnd); b.query = q; reqs.push(toReq(b, `query ${q.slice(0, 20)}`, v)); }
    if (o.path.includes('{id}')) {
      for (const id of IDS) { const b = baseRequest(o, rnd); b.path = o.path.replace('{id}', id); reqs.push(toReq(b, `id ${id.slice(0, 20)}`, v)); }
    }
    for (const [label, f] of HEADER_MUTATIONS) { const b = baseRequest(o, rnd); f(b.headers); reqs.push(toReq(b, label, v)); }
    for (const method of ['PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'PROPFIND', 'HEAD']) {
      const b = baseRequest(o, rnd); b.method = method; reqs.push(toReq(b, `method ${method}`, method === 'HEAD' ? undefined : v));
    }
  }
  // Random stacks of mutations until the target.
  while (reqs.length < TARGET) {
    const o = rnd.pick(ops);
    const b = baseRequest(o, rnd);
    if (rnd.chance(0.3)) b.query = rnd.pick(QUERIES);
    if (rnd.chance(0.2) && o.path.includes('{id}')) b.path = concretePath(o, rnd, true);
    const labels = [];
    for (let i = rnd.int(3); i > 0; i--) { const [l, f] = rnd.pick(HEADER_MUTATIONS); f(b.headers); labels.push(l); }
    const list = muts.get(o);
    const m = list.length && rnd.chance(0.85) ? rnd.pick(list) : valid(o);
    reqs.push(toReq(b, `random ${labels.join('+')} ${m?.label || ''}`, m));
  }
  return reqs;
}

// ---- hand-written raw cases ---------------------------------------------------------

function rawCases() {
  const H = `Host: ${url.host}\r\n`;
  const ping = (extra, body = '') => `POST /api/v1/ping HTTP/1.1\r\n${H}${extra}Connection: close\r\n\r\n${body}`;
  const getp = (target, extra = '') => Buffer.concat([Buffer.from('GET '), Buffer.from(target, 'latin1'), Buffer.from(` HTTP/1.1\r\n${H}${extra}Connection: close\r\n\r\n`)]);
  const me = (extra) => `GET /api/v1/me HTTP/1.1\r\n${H}${extra}Connection: close\r\n\r\n`;
  const cases = [];
  const add = (label, chunks, opts = {}) => cases.push({ label, chunks, ...opts });
  // Path traversal on static files (must answer, never a file outside the root).
  const trav = ['/../../etc/passwd', '/console/../../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/console/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
    '/..%2f..%2f..%2fetc%2fpasswd', '/console/..%2f..%2f..%2fetc/passwd', '/%252e%252e/%252e%252e/etc/passwd', '/console/%252e%252e%252f%252e%252e%252fetc/passwd',
    '/.%2e/.%2e/etc/passwd', '/%2e./%2e./etc/passwd', '/..\\..\\..\\etc\\passwd', '/console/..%5c..%5cetc%5cpasswd', '//etc/passwd', '/etc/passwd%00.html',
    '/console/index.html%00', '/console/%00/../../etc/passwd', '/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd', '/%e0%80%ae%e0%80%ae/etc/passwd',
    '/console/....//....//etc/passwd', '/console/..;/..;/etc/passwd', '/./././../etc/passwd', '/console/./../../proc/self/environ',
    '/css/../../../../../../proc/self/cmdline', '/js/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc/hostname', '/console/callback.html/..', '/console/.',
    '/%2f%2f..%2f..%2fetc/passwd', '/console/%2E%2E/%2E%2E/etc/passwd', '/console/index.html/../../../etc/passwd', '/.git/config', '/../.git/HEAD',
    '/console/..%252f..%252fetc/passwd', '/console%2f..%2f..%2fetc/passwd', '/favicon.ico/../../../etc/passwd', '/ /../etc/passwd'];
  for (const p of trav) add(`traversal ${p}`, getp(p), { traversal: true });
  // Duplicate and conflicting headers.
  add('two X-Tenant', me(`X-Tenant: ${T.slug}\r\nX-Tenant: other-tenant\r\nAuthorization: Bearer ${T.token}\r\n`));
  add('two X-Tenant same', me(`X-Tenant: ${T.slug}\r\nX-Tenant: ${T.slug}\r\nAuthorization: Bearer ${T.token}\r\n`));
  add('two Authorization', me(`X-Tenant: ${T.slug}\r\nAuthorization: Bearer ${T.token}\r\nAuthorization: Bearer other\r\n`));
  add('Bearer and Basic', me(`X-Tenant: ${T.slug}\r\nAuthorization: Bearer ${T.token}\r\nAuthorization: Basic YTpi\r\n`));
  add('two Host', `GET /api/v1/me HTTP/1.1\r\n${H}Host: ${T.slug}.localhost:${url.port}\r\nAuthorization: Bearer ${T.token}\r\nConnection: close\r\n\r\n`, { smuggling: true });
  add('no Host (HTTP/1.1)', 'GET /api/v1/ping HTTP/1.1\r\nConnection: close\r\n\r\n', { smuggling: true });
  add('HTTP/1.0 no Host', 'GET /api/v1/ping HTTP/1.0\r\n\r\n');
  add('two Content-Type', `POST /t/${T.slug}/api/v1/notes HTTP/1.1\r\n${H}Authorization: Bearer ${T.token}\r\nContent-Type: application/json\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: close\r\n\r\n{"title":"x"}`);
  add('Content-Type list', `POST /t/${T.slug}/api/v1/notes HTTP/1.1\r\n${H}Authorization: Bearer ${T.token}\r\nContent-Type: application/json, application/x-www-form-urlencoded\r\nContent-Length: 13\r\nConnection: close\r\n\r\n{"title":"x"}`);
  add('two Cookie', me(`X-Tenant: ${T.slug}\r\nCookie: a=1\r\nCookie: bf_session=x\r\n`));
  add('two X-Request-Id', me(`X-Request-Id: a\r\nX-Request-Id: b\r\n`));
  add('header name with space', `GET /api/v1/ping HTTP/1.1\r\n${H}X-Tenant : ${T.slug}\r\nConnection: close\r\n\r\n`, { smuggling: true });
  add('header leading space line', `GET /api/v1/ping HTTP/1.1\r\n ${H}Connection: close\r\n\r\n`, { smuggling: true });
  add('100 X-Tenant headers', me(`X-Tenant: ${T.slug}\r\n`.repeat(100)));
  // Request smuggling shapes (closing the connection is acceptable).
  const smuggled = `GET /api/v1/me HTTP/1.1\r\n${H}X-Tenant: ${T.slug}\r\n\r\n`;
  const S = (label, text) => add(label, text, { smuggling: true, end: true });
  S('CL and TE', `POST /api/v1/ping HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`);
  S('TE and CL', `POST /api/v1/ping HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n${smuggled}`);
  S('two CL differing', `POST /api/v1/ping HTTP/1.1\r\n${H}Content-Length: 2\r\nContent-Length: 30\r\n\r\n{}${smuggled}`);
  S('two CL same', `POST /api/v1/ping HTTP/1.1\r\n${H}Content-Length: 2\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`);
  S('CL list', `POST /api/v1/ping HTTP/1.1\r\n${H}Content-Length: 2, 2\r\nConnection: close\r\n\r\n{}`);
  S('CL list differing', `POST /api/v1/ping HTTP/1.1\r\n${H}Content-Length: 2, 30\r\n\r\n{}${smuggled}`);
  S('CL negative', `POST /api/v1/ping HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n{}`);
  S('CL plus sign', `POST /api/v1/ping HTTP/1.1\r\n${H}Content-Length: +2\r\n\r\n{}`);
  S('CL hex', `POST /api/v1/ping HTTP/1.1\r\n${H}Content-Length: 0x2\r\n\r\n{}`);
  S('CL huge', `POST /api/v1/ping HTTP/1.1\r\n${H}Content-Length: 99999999999999999999999\r\n\r\n{}`);
  S('CL empty', `POST /api/v1/ping HTTP/1.1\r\n${H}Content-Length: \r\n\r\n{}`);
  S('CL with space inside', `POST /api/v1/ping HTTP/1.1\r\n${H}Content-Length: 1 2\r\n\r\n{}`);
  for (const te of ['chunked, identity', 'identity, chunked', 'chunked, chunked', 'xchunked', 'chunked ', ' chunked', 'Chunked', 'chunkedx', 'identity', 'gzip, chunked', '\tchunked', 'chunked;q=1']) {
    S(`TE "${te}"`, `POST /api/v1/ping HTTP/1.1\r\n${H}Transfer-Encoding: ${te}\r\n\r\n2\r\n{}\r\n0\r\n\r\n${smuggled}`);
  }
  S('two TE headers', `POST /api/v1/ping HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n2\r\n{}\r\n0\r\n\r\n`);
  S('TE with space before colon', `POST /api/v1/ping HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\nContent-Length: 2\r\n\r\n{}`);
  S('TE on HTTP/1.0', `POST /api/v1/ping HTTP/1.0\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n{}`);
  S('obs-fold on a header', `GET /api/v1/ping HTTP/1.1\r\n${H}X-A: a\r\n b\r\nConnection: close\r\n\r\n`);
  S('obs-fold on TE', `POST /api/v1/ping HTTP/1.1\r\n${H}Transfer-Encoding:\r\n chunked\r\nContent-Length: 2\r\n\r\n{}`);
  S('obs-fold on CL', `POST /api/v1/ping HTTP/1.1\r\n${H}Content-Length:\r\n 2\r\n\r\n{}`);
  S('obs-fold on X-Tenant', `GET /api/v1/me HTTP/1.1\r\n${H}X-Tenant: other\r\n\t${T.slug}\r\nAuthorization: Bearer ${T.token}\r\n\r\n`);
  S('bare LF everywhere', `GET /api/v1/ping HTTP/1.1\n${H.replace('\r\n', '\n')}Connection: close\n\n`);
  S('bare LF in headers', `GET /api/v1/ping HTTP/1.1\r\n${H}X-A: 1\nX-B: 2\r\nConnection: close\r\n\r\n`);
  S('bare CR in headers', `GET /api/v1/ping HTTP/1.1\r\n${H}X-A: 1\rX-B: 2\r\nConnection: close\r\n\r\n`);
  S('bare LF then CL', `POST /api/v1/ping HTTP/1.1\r\n${H}X-A: 1\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`);
  S('chunk size overflow', `POST /api/v1/ping HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n{}\r\n0\r\n\r\n`);
  S('chunk size negative', `POST /api/v1/ping HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n-2\r\n{}\r\n0\r\n\r\n`);
  S('chunk size with plus', `POST /api/v1/ping HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n+2\r\n{}\r\n0\r\n\r\n`);
  S('chunk extension huge', `POST /api/v1/ping HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n2;${'e'.repeat(20000)}\r\n{}\r\n0\r\n\r\n`);
  S('chunk data longer than size', `POST /api/v1/ping HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n1\r\n{}\r\n0\r\n\r\n`);
  S('chunk with bare LF', `POST /api/v1/ping HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n2\n{}\n0\n\n`);
  S('chunk trailer smuggles CL', `POST /api/v1/ping HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nContent-Length: 50\r\n\r\n`);
  S('absolute-form target', `GET http://evil.example/api/v1/ping HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
  S('asterisk target', `OPTIONS * HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
  S('CONNECT', `CONNECT 127.0.0.1:22 HTTP/1.1\r\n${H}\r\n`);
  S('HTTP/0.9', 'GET /api/v1/ping\r\n\r\n');
  S('HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
  S('lowercase method', `get /api/v1/ping HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
  S('long method', `${'GET'.repeat(5000)} /api/v1/ping HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
  S('double space request line', `GET  /api/v1/ping  HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
  S('tab in request line', `GET\t/api/v1/ping\tHTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
  S('no version', `GET /api/v1/ping\r\n${H}Connection: close\r\n\r\n`);
  S('version HTTP/1.10', `GET /api/v1/ping HTTP/1.10\r\n${H}Connection: close\r\n\r\n`);
  S('empty lines first', `\r\n\r\nGET /api/v1/ping HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
  // Not HTTP at all and no line end: waiting for more (until --timeout) or closing are both fine.
  add('garbage', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)), { vanishing: true, end: true, timeout: 2000 });
  add('TLS hello', Buffer.from('160301020001000200', 'hex'), { vanishing: true, end: true, timeout: 2000 });
  // Pipelining: two answers, in order.
  add('pipelined three', `GET /api/v1/ping HTTP/1.1\r\n${H}\r\nGET /health HTTP/1.1\r\n${H}\r\nGET /api/v1/ping HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, { pipelined: 3 });
  // Slow clients: headers and body a byte at a time.
  add('slow headers', [...`GET /api/v1/ping HTTP/1.1\r\n${H}Connection: close\r\n\r\n`].map((c) => c), { delay: 2, timeout: 8000 });
  add('slow body', [`POST /api/v1/ping HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 20\r\nConnection: close\r\n\r\n`, ...'{"a":"bbbbbbbbbbbb"}'], { delay: 20, timeout: 8000 });
  // Vanishing clients: the connection closes mid-request (no answer possible).
  for (const [label, text] of [['mid headers', `GET /api/v1/ping HTTP/1.1\r\n${H}X-A: `], ['mid body', ping('Content-Length: 100\r\n', '{"a":')],
    ['mid chunk', `POST /api/v1/ping HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n10\r\nabc`], ['mid request line', 'GET /api/v1/pi']]) {
    add(`vanishing ${label}`, text, { vanishing: true, end: true, timeout: 2000 });
  }
  return cases;
}

// ---- the tests -------------------------------------------------------------------

let pid; let baseline;

test.before(async () => {
  if (skip || VIA_NGINX) return;
  doc = (await call('GET', '/api/v1/openapi.json')).body;
  ops = operations(doc);
  T = await signUp({ plan: 'enterprise' });
  T.client = await createClient(T, { client_name: 'fuzz', grant_types: ['client_credentials', 'password', 'refresh_token', 'authorization_code'],
    redirect_uris: ['https://a.example/cb'], scope: 'read write profile admin' });
  const p = `/t/${T.slug}`;
  const u = await call('POST', `${p}/api/v1/users`, { token: T.token, json: { email: `victim@${T.slug}.test`, password: 'victim-password-1' } });
  const n = await call('POST', `${p}/api/v1/notes`, { token: T.token, json: { title: 'victim', body: 'note' } });
  const c = await createClient(T, { client_name: 'victim', grant_types: ['client_credentials'], scope: 'read' });
  victims = { user: u.body, note: n.body, client: c };
  pid = gatewayPid();
  // Warm-up with 2,000 requests of the same kind (another seed) at full
  // concurrency, so the database pool and the allocator reach their working
  // size; close our connections, settle, then take the baseline.
  const warm = generate(prng(SEED ^ 0x5bd1e995)).filter((_, i) => i % 5 === 0).slice(0, 2000);
  await pool(warm, CONCURRENCY, async (req) => check(req, await send(req)));
  agent.destroy();
  await sleep(500);
  baseline = pid && gatewayStats(pid);
});

test('generated hostile requests from the OpenAPI document: never a 5xx, always a JSON error', { skip, timeout: 180000 }, async (t) => {
  if (viaNginx(t)) return;
  t.diagnostic(`fuzz seed ${SEED} (replay with BF_FUZZ_SEED=${SEED})`);
  const rnd = prng(SEED);
  const reqs = generate(rnd);
  const started = Date.now();
  await pool(reqs, CONCURRENCY, async (req) => check(req, await send(req)));
  t.diagnostic(`fuzz: ${reqs.length} generated requests over ${ops.length} operations in ${((Date.now() - started) / 1000).toFixed(1)} s; statuses ${JSON.stringify(statuses)}`);
  assert.ok(reqs.length >= TARGET);
  assert.deepEqual(problems.slice(0, 40), [], `${problems.length} problems`);
});

// Raw-level known bugs, by symptom or by case.
const RAW_KNOWN = {
  libraryAnswer: 'an answer of libmicrohttpd\'s own parser (no X-Request-Id): its fixed HTML page',
  duplicateHead: 'an error libmicrohttpd detects while parsing the head — a malformed or oversized Content-Length ("-1", "+2", '
    + '"0x2", "", "1 2", "2, 2", "2, 30", 23 digits), or a 431 for ~7.5 KB of headers including a Cookie — is answered '
    + 'with the status line and headers written twice: the first head announces Content-Length: 72 and its 72 body bytes are '
    + 'the start of the second head ("HTTP/1.1 400 Bad Request\\r\\nDate: ..."), so a client reads a corrupt answer',
};
const rawKnownHits = Object.fromEntries(Object.keys(RAW_KNOWN).map((k) => [k, []]));

test('hand-written raw requests: traversal, duplicate headers, smuggling shapes, slow and vanishing clients', { skip, timeout: 60000 }, async (t) => {
  if (viaNginx(t)) return;
  const cases = rawCases();
  const bad = [];
  const closedShapes = [];
  const outcome = {};
  await pool(cases, CONCURRENCY, async (c) => {
    const r = await raw(c.chunks, { timeout: c.timeout || 4000, delay: c.delay || 0, end: c.end });
    sent++;
    const first = r.responses[0];
    const tag = first ? String(first.status) : r.timedOut ? 'timeout' : 'closed';
    outcome[tag] = (outcome[tag] || 0) + 1;
    if (!first && !c.vanishing) closedShapes.push(c.label);
    if (c.vanishing) return;   // nothing to answer; the gateway must simply survive
    const found = [];
    if (!first) { if (!c.smuggling || r.timedOut) found.push(`${c.label}: ${tag} without an answer`); }
    else if (/^HTTP\/1\.[01] \d{3}/.test(first.body)) {
      rawKnownHits.duplicateHead.push(`${c.label}: ${first.status} whose body is another response head`);
      return;
    } else if (!first.headers['x-request-id']) {
      rawKnownHits.libraryAnswer.push(`${c.label}: ${first.status} ${first.body.slice(0, 60)}`);
      return;
    }
    for (const resp of r.responses) {
      if (resp.status === 0) { found.push(`${c.label}: unparsable answer ${JSON.stringify(resp.garbage)}`); continue; }
      if (resp.status >= 500) found.push(`${c.label}: ${resp.status} ${resp.body.slice(0, 150)}`);
      if (resp.status >= 400 && resp.status < 500) {
        let j = null;
        try { j = JSON.parse(resp.body); } catch { /* below */ }
        if (typeof j?.error !== 'string') found.push(`${c.label}: ${resp.status} without JSON error: ${resp.body.slice(0, 100)}`);
      }
    }
    if (c.traversal && first) {
      if (first.status === 200 && !/^\/(console\/?|console\/\.|console\/callback\.html\/\.\.)$/.test(c.label.slice(10))) found.push(`${c.label}: 200`);
      if (/root:.*:0:0:|\[core\]|PATH=|backend-gateway/.test(first.body)) found.push(`${c.label}: leaked a file outside the web root`);
    }
    if (c.pipelined && r.responses.length !== c.pipelined) found.push(`${c.label}: ${r.responses.length} answers`);
    (c.bug ? rawKnownHits[c.bug] : bad).push(...found);
  });
  t.diagnostic(`raw: ${cases.length} hand-written requests; first answers ${JSON.stringify(outcome)}`);
  t.diagnostic(`raw: closed without an answer (smuggling shapes, acceptable): ${closedShapes.sort().join('; ')}`);
  t.diagnostic(`raw: answered by libmicrohttpd itself (asserted by the todo test below): ${rawKnownHits.libraryAnswer.length + rawKnownHits.duplicateHead.length}`);
  assert.deepEqual(bad, []);
});

test('a request head that exhausts the connection memory gets one answer: many query parameters, a long path with a long Cookie', { skip, todo: MHD_OWN_ANSWER }, async (t) => {
  if (viaNginx(t)) return;
  const clean = (r, what) => {
    assert.ok(!r.error, `${what}: no answer: ${r.error}`);
    assert.ok(r.status < 500, `${what}: ${r.status} ${r.text}`);
    if (r.status >= 400) assert.equal(typeof JSON.parse(r.text).error, 'string', `${what}: ${r.text}`);
    assert.ok(r.headers['x-request-id'], `${what}: answered by the gateway`);
  };
  const params = (n) => Array.from({ length: n }, (_, i) => `p${i}=1`).join('&');
  clean(await send({ method: 'GET', path: `/api/v1/ping?${params(200)}` }), '200 parameters');
  clean(await send({ method: 'GET', path: `/api/v1/ping?${'x=1&'.repeat(2000)}` }), '2,000 parameters');
  clean(await send({ method: 'GET', path: `/api/v1/${'a'.repeat(5000)}`, headers: { cookie: Array.from({ length: 50 }, (_, i) => `c${i}=${'v'.repeat(20)}`).join('; ') } }),
    '5,000-byte path and a 50-part Cookie');
  const over = await send({ method: 'GET', path: `/api/v1/ping?${params(500)}` });   // 4.4 KB: beyond the target limit
  assert.equal(over.status, 414, over.text);
  assert.equal(JSON.parse(over.text).error, 'invalid_request');
  assert.deepEqual(knownHits.poolExhausted.slice(0, 10), [], `${knownHits.poolExhausted.length} generated requests hit it`);
  assert.deepEqual(knownHits.libraryAnswer.slice(0, 10), [], `${knownHits.libraryAnswer.length} generated requests hit it`);
});

test('answers of libmicrohttpd\'s own parser: one 4xx JSON answer each', { skip, todo: MHD_OWN_ANSWER }, async (t) => {
  if (viaNginx(t)) return;
  const r = await raw(`POST /api/v1/ping HTTP/1.1\r\nHost: ${url.host}\r\nContent-Length: -1\r\n\r\n{}`, { end: true });
  assert.equal(r.responses.length, 1, JSON.stringify(r.responses).slice(0, 400));
  assert.equal(JSON.parse(r.responses[0].body).error, 'invalid_request');
  const chunk = await raw(`POST /api/v1/ping HTTP/1.1\r\nHost: ${url.host}\r\nTransfer-Encoding: chunked\r\n\r\n2;${'e'.repeat(20000)}\r\n{}\r\n0\r\n\r\n`, { end: true });
  assert.ok(chunk.responses[0], 'oversized chunk-size line: no answer');
  assert.ok(chunk.responses[0].status >= 400 && chunk.responses[0].status < 500, `${chunk.responses[0].status}`);
  assert.deepEqual(rawKnownHits.duplicateHead, []);
  assert.deepEqual(rawKnownHits.libraryAnswer, []);
  assert.deepEqual(knownHits.duplicateHead.slice(0, 10), [], `${knownHits.duplicateHead.length} generated requests hit it`);
});

test('the gateway is up, and its file descriptors and memory are back to the baseline', { skip, timeout: 30000 }, async (t) => {
  if (viaNginx(t)) return;
  agent.destroy();
  const h = await call('GET', '/health');
  assert.equal(h.status, 200, h.text);
  t.diagnostic(`fuzz total: ${sent} hostile requests`);
  if (!pid || !baseline) { t.skip('gateway process not found or not readable: fd/RSS not measured'); return; }
  let now;
  for (let i = 0; i < 20; i++) {   // settle: closed connections and idle pool slots go away
    await sleep(250);
    now = gatewayStats(pid);
    if (now && Math.abs(now.fds - baseline.fds) <= 5) break;
  }
  assert.ok(now, 'gateway process gone');
  t.diagnostic(`gateway pid ${pid}: fds ${baseline.fds} → ${now.fds}; VmRSS ${baseline.rss} kB → ${now.rss} kB (${(((now.rss / baseline.rss) - 1) * 100).toFixed(1)}%)`);
  assert.ok(Math.abs(now.fds - baseline.fds) <= 5, `fds ${baseline.fds} → ${now.fds}`);
  // Under AddressSanitizer or valgrind the RSS says little (quarantine, shadow memory): reported, not asserted.
  let maps = '';
  try { maps = fs.readFileSync(`/proc/${pid}/maps`, 'utf8'); } catch { /* not readable */ }
  if (/libasan|valgrind|vgpreload/.test(maps)) { t.skip('sanitizer/valgrind build: fds checked, RSS not asserted'); return; }
  assert.ok(now.rss <= baseline.rss * 1.2, `RSS ${baseline.rss} → ${now.rss} kB`);
});
