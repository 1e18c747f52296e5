// HTTP tests of backend-gateway's own behaviour (not of the SQL routes behind
// it): request ids, /metrics, body and header limits, refusal of NUL/control
// characters/invalid UTF-8, static files and path traversal, HEAD, keep-alive,
// slow clients. Runs against a real gateway and database:
//   BF_URL      base URL of the gateway (required), e.g. http://127.0.0.1:55329
//   BF_WWW      the gateway's --www directory (default: gateway/www)
//   BF_TIMEOUT  the gateway's --timeout in seconds (default 10)
//   BF_MAX_BODY the gateway's --max-body in bytes (default 1048576)
// Only these routes are assumed to exist: GET /health, GET /api/v1/ping, and a
// JSON 404 with an "error" field for unknown paths.
import test from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MHD_OWN_ANSWER } from './lib.mjs';

const BASE = process.env.BF_URL;
const here = path.dirname(fileURLToPath(import.meta.url));
const WWW = process.env.BF_WWW || path.resolve(here, '../../gateway/www');
const TIMEOUT_S = Number(process.env.BF_TIMEOUT || 10);
const MAX_BODY = Number(process.env.BF_MAX_BODY || 1048576);
const skip = BASE ? false : 'BF_URL is not set';
const url = BASE ? new URL(BASE) : null;
const ID_RE = /^[A-Za-z0-9._-]{1,128}$/;

// ---- a raw HTTP/1.1 client, for what fetch refuses to send ----------------

function parseResponse(buf) {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
  if (!m) return { status: 0, headers: {}, body: buf, complete: true };
  const headers = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const len = Number(headers['content-length'] ?? 0);
  const body = buf.subarray(end + 4, end + 4 + len);
  return {
    status: Number(m[1]), headers, body: body.toString('utf8'),
    complete: body.length === len, rest: buf.subarray(end + 4 + len),
  };
}

// Sends `chunks` (Buffers/strings, written in order) and resolves with the
// first response, or with {status: 0, closed: true} if the gateway closed the
// connection without one. `head` = the request is HEAD (no body expected).
function raw(chunks, { timeout = 5000, head = false } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(url.port), url.hostname);
    let data = Buffer.alloc(0);
    let done = false;
    const finish = (v) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => finish({ status: 0, timedOut: true }), timeout);
    sock.on('error', () => finish(parseResponse(data) || { status: 0, closed: true }));
    sock.on('data', (d) => {
      data = Buffer.concat([data, d]);
      const r = parseResponse(data);
      if (r && (r.complete || head)) finish(r);
    });
    sock.on('end', () => finish(parseResponse(data) || { status: 0, closed: true }));
    sock.on('connect', async () => {
      for (const c of [].concat(chunks)) {
        if (done || sock.destroyed) return;
        if (!sock.write(c)) await new Promise((r) => sock.once('drain', r));
      }
    });
    sock.on('timeout', () => reject(new Error('socket timeout')));
  });
}

const host = () => `Host: ${url.host}\r\n`;
const get = (target, extra = '') =>
  Buffer.concat([Buffer.from(`GET `), Buffer.from(target, 'latin1'),
    Buffer.from(` HTTP/1.1\r\n${host()}${extra}Connection: close\r\n\r\n`)]);

function assertJsonError(r, status) {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.body}`);
  assert.match(r.headers['content-type'] || '', /^application\/json/);
  const j = JSON.parse(r.body);
  assert.equal(typeof j.error, 'string');
  assert.equal(typeof j.error_description, 'string');
  return j;
}

async function metrics() {
  const res = await fetch(`${BASE}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/plain/);
  const text = await res.text();
  const values = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    assert.ok(m, `malformed metrics line: ${line}`);
    values[m[1]] = Number(m[2]);
  }
  return { text, values };
}

// ---- request ids ------------------------------------------------------------

test('health answers 200 JSON with a generated X-Request-Id', { skip }, async () => {
  const res = await fetch(`${BASE}/health`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /json/);
  await res.json();
  const id = res.headers.get('x-request-id');
  assert.match(id, ID_RE);
  const again = await fetch(`${BASE}/health`);
  assert.notEqual(again.headers.get('x-request-id'), id, 'ids must be unique');
});

test('a sane X-Request-Id is echoed, an insane one replaced', { skip }, async () => {
  const mine = 'test-Req_1.2-' + Date.now();
  let res = await fetch(`${BASE}/api/v1/ping`, { headers: { 'X-Request-Id': mine } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-request-id'), mine);
  for (const bad of ['has space', 'a'.repeat(129), 'semi;colon', 'slash/x', '']) {
    res = await fetch(`${BASE}/api/v1/ping`, { headers: { 'X-Request-Id': bad } });
    assert.equal(res.status, 200);
    await res.text();
    const id = res.headers.get('x-request-id');
    assert.match(id, ID_RE);
    assert.notEqual(id, bad);
  }
  // the id is also on error responses the gateway makes itself
  const r = await raw(get('/api/v1/ping\x01'));
  assertJsonError(r, 400);
  assert.match(r.headers['x-request-id'], ID_RE);
});

test('unknown routes get the JSON 404 of the database, with an id', { skip }, async () => {
  const res = await fetch(`${BASE}/api/v1/no-such-route`);
  assert.equal(res.status, 404);
  assert.equal(typeof (await res.json()).error, 'string');
  assert.match(res.headers.get('x-request-id'), ID_RE);
});

// ---- HEAD and keep-alive ------------------------------------------------------

test('HEAD answers headers only', { skip }, async () => {
  const res = await fetch(`${BASE}/api/v1/ping`, { method: 'HEAD' });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), '');
  assert.match(res.headers.get('x-request-id'), ID_RE);
  const r = await raw(`HEAD /health HTTP/1.1\r\n${host()}Connection: close\r\n\r\n`, { head: true });
  assert.equal(r.status, 200);
  assert.equal(r.body, '');
});

test('pipelined keep-alive requests are answered in order', { skip }, async () => {
  const one = (id) => `GET /api/v1/ping HTTP/1.1\r\n${host()}X-Request-Id: order-${id}\r\n\r\n`;
  const data = await new Promise((resolve, reject) => {
    const sock = net.connect(Number(url.port), url.hostname);
    let buf = Buffer.alloc(0);
    const t = setTimeout(() => { sock.destroy(); reject(new Error('timeout')); }, 5000);
    sock.on('connect', () => sock.write(one(1) + one(2) + one(3)));
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const ids = [...buf.toString().matchAll(/X-Request-Id: (order-\d)/gi)];
      if (ids.length === 3) { clearTimeout(t); sock.destroy(); resolve(ids.map((m) => m[1])); }
    });
    sock.on('error', reject);
  });
  assert.deepEqual(data, ['order-1', 'order-2', 'order-3']);
});

// ---- /metrics -----------------------------------------------------------------

test('/metrics is Prometheus text and its counters move', { skip }, async () => {
  const before = await metrics();
  for (const t of ['# TYPE backend_gateway_requests_total counter',
    '# TYPE backend_gateway_request_duration_seconds histogram',
    '# TYPE backend_gateway_pool_connections_in_use gauge',
    '# TYPE backend_gateway_db_errors_total counter']) {
    assert.ok(before.text.includes(t), `missing "${t}"`);
  }
  await (await fetch(`${BASE}/api/v1/ping`)).text();
  await (await fetch(`${BASE}/api/v1/no-such-route`)).text();
  const after = await metrics();
  const k2 = 'backend_gateway_requests_total{class="2xx"}';
  const k4 = 'backend_gateway_requests_total{class="4xx"}';
  assert.ok(after.values[k2] >= before.values[k2] + 2, '2xx counter did not move');
  assert.ok(after.values[k4] >= before.values[k4] + 1, '4xx counter did not move');
  const count = 'backend_gateway_request_duration_seconds_count';
  assert.ok(after.values[count] > before.values[count]);
  // buckets are cumulative and +Inf equals the count
  const buckets = Object.entries(after.values)
    .filter(([k]) => k.startsWith('backend_gateway_request_duration_seconds_bucket'));
  assert.ok(buckets.length >= 5);
  for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i][1] >= buckets[i - 1][1]);
  assert.equal(after.values['backend_gateway_request_duration_seconds_bucket{le="+Inf"}'], after.values[count]);
  assert.ok('backend_gateway_pool_connections_in_use' in after.values);
  assert.ok(Object.keys(after.values).some((k) => k.startsWith('backend_gateway_db_errors_total')));
  const res = await fetch(`${BASE}/metrics`, { method: 'POST', body: 'x' });
  assert.equal(res.status, 405);
});

// ---- body limits --------------------------------------------------------------

test('413 when Content-Length announces too much, without reading it', { skip }, async () => {
  const big = MAX_BODY + 1;
  const r = await raw(`POST /api/v1/ping HTTP/1.1\r\n${host()}Content-Type: application/json\r\nContent-Length: ${big}\r\n\r\n{"a":`);
  assertJsonError(r, 413);
  // with Expect: 100-continue the client is refused before it sends anything
  const e = await raw(`POST /api/v1/ping HTTP/1.1\r\n${host()}Expect: 100-continue\r\nContent-Length: ${big}\r\n\r\n`);
  assertJsonError(e, 413);
});

test('413 for a chunked body that grows too large', { skip, timeout: 30000 }, async () => {
  const piece = Buffer.alloc(64 * 1024, 'a');
  const chunks = [`POST /api/v1/ping HTTP/1.1\r\n${host()}Transfer-Encoding: chunked\r\n\r\n`];
  for (let sent = 0; sent <= MAX_BODY; sent += piece.length) {
    chunks.push(`${piece.length.toString(16)}\r\n`, piece, '\r\n');
  }
  chunks.push('0\r\n\r\n');
  const r = await raw(chunks, { timeout: 20000 });
  assertJsonError(r, 413);
});

test('a body within the limit is accepted', { skip }, async () => {
  const res = await fetch(`${BASE}/api/v1/no-such-route`, { method: 'POST', body: 'x'.repeat(1000) });
  assert.equal(res.status, 404);
  await res.json();
});

// ---- request heads the gateway refuses ------------------------------------------

// Beyond libmicrohttpd's connection memory (a 64 KB field; 300 fields,
// whose records do not fit): refused by libmicrohttpd's own parser.
test('oversized header section gets 431 (or 413) JSON from the gateway', { skip, todo: MHD_OWN_ANSWER }, async () => {
  const r = await raw(`GET /api/v1/ping HTTP/1.1\r\n${host()}X-Big: ${'b'.repeat(64 * 1024)}\r\n\r\n`);
  assert.ok([431, 413].includes(r.status), `got ${r.status}`);
  assertJsonError(r, r.status);
  const many = Array.from({ length: 300 }, (_, i) => `X-H${i}: v\r\n`).join('');
  const m = await raw(`GET /api/v1/ping HTTP/1.1\r\n${host()}${many}\r\n`);
  assert.ok([431, 413].includes(m.status), `got ${m.status}`);
  assertJsonError(m, m.status);
  assert.ok(r.headers['x-request-id'] && m.headers['x-request-id'], 'answered by the gateway, not by libmicrohttpd');
});

const badHeads = {
  'NUL in a header value': Buffer.from(`GET /api/v1/ping HTTP/1.1\r\n${'Host: h'}\r\nX-A: a\0b\r\nX-B: c\r\n\r\n`, 'latin1'),
  'NUL in the last header value': Buffer.from(`GET /api/v1/ping HTTP/1.1\r\nHost: h\r\nX-A: a\0b\r\n\r\n`, 'latin1'),
  'control character in a header value': Buffer.from(`GET /api/v1/ping HTTP/1.1\r\nHost: h\r\nX-A: a\x07b\r\n\r\n`, 'latin1'),
  'DEL in a header value': Buffer.from(`GET /api/v1/ping HTTP/1.1\r\nHost: h\r\nX-A: a\x7fb\r\n\r\n`, 'latin1'),
  'invalid UTF-8 in a header value': Buffer.concat([Buffer.from('GET /api/v1/ping HTTP/1.1\r\nHost: h\r\nX-A: '), Buffer.from([0xc0, 0xaf, 0xff]), Buffer.from('\r\n\r\n')]),
  'invalid header name': Buffer.from(`GET /api/v1/ping HTTP/1.1\r\nHost: h\r\nX(A): 1\r\n\r\n`, 'latin1'),
  'NUL in the path': Buffer.from(`GET /api/v1/ping\0x HTTP/1.1\r\nHost: h\r\n\r\n`, 'latin1'),
  'control character in the path': Buffer.from(`GET /api/v1/\x01ping HTTP/1.1\r\nHost: h\r\n\r\n`, 'latin1'),
  'invalid UTF-8 in the path': Buffer.concat([Buffer.from('GET /api/v1/'), Buffer.from([0xfe, 0x80]), Buffer.from(' HTTP/1.1\r\nHost: h\r\n\r\n')]),
  'NUL in the query': Buffer.from(`GET /api/v1/ping?a=\0 HTTP/1.1\r\nHost: h\r\n\r\n`, 'latin1'),
  'control character in the query': Buffer.from(`GET /api/v1/ping?a=\x1b HTTP/1.1\r\nHost: h\r\n\r\n`, 'latin1'),
  'NUL in the method': Buffer.from(`GE\0T /api/v1/ping HTTP/1.1\r\nHost: h\r\n\r\n`, 'latin1'),
  'invalid method': Buffer.from(`G{T /api/v1/ping HTTP/1.1\r\nHost: h\r\n\r\n`, 'latin1'),
  'unsupported transfer coding': Buffer.from(`POST /api/v1/ping HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n`, 'latin1'),
  'two spaces after the colon': Buffer.from(`GET /api/v1/ping HTTP/1.1\r\nHost: h\r\nX-A:  a\r\n\r\n`, 'latin1'),
};
// Refused by libmicrohttpd's own parser before the gateway sees them.
const libraryHeads = {
  'header line without a colon': Buffer.from(`GET /api/v1/ping HTTP/1.1\r\nHost: h\r\nnonsense\r\n\r\n`, 'latin1'),
  'unsupported HTTP version': Buffer.from(`GET /api/v1/ping HTTP/3.7\r\nHost: h\r\n\r\n`, 'latin1'),
  'broken chunked body': Buffer.from(`POST /api/v1/ping HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n`, 'latin1'),
};

for (const [name, req] of Object.entries(badHeads)) {
  test(`400 JSON for ${name}`, { skip }, async () => {
    const r = await raw(req);
    const j = assertJsonError(r, r.status);
    assert.equal(j.error, 'invalid_request');
  });
}
for (const [name, req] of Object.entries(libraryHeads)) {
  test(`4xx JSON for ${name}`, { skip, todo: MHD_OWN_ANSWER }, async () => {
    const r = await raw(req);
    assert.ok(r.status >= 400 && r.status < 500, `${r.status}`);
    assertJsonError(r, r.status);
  });
}

test('a request head or target beyond the gateway\'s limits gets its own 431 / 414 JSON', { skip }, async () => {
  const head = await raw(`GET /api/v1/ping HTTP/1.1\r\n${host()}X-Big: ${'b'.repeat(8 * 1024)}\r\n\r\n`);
  assertJsonError(head, 431);
  assert.ok(head.headers['x-request-id'], 'answered by the gateway, not by libmicrohttpd');
  const target = await raw(`GET /api/v1/ping?q=${'t'.repeat(4 * 1024)} HTTP/1.1\r\n${host()}\r\n`);
  assertJsonError(target, 414);
  assert.ok(target.headers['x-request-id']);
});

test('valid UTF-8 and tabs pass through to the database', { skip }, async () => {
  const r = await raw(Buffer.concat([
    Buffer.from(`GET /api/v1/no-such-route/é?q=ü HTTP/1.1\r\n${host()}X-Tab: a\tb\r\n`, 'utf8'),
    Buffer.from('X-Utf: 日本\r\nConnection: close\r\n\r\n', 'utf8'),
  ]));
  assert.equal(r.status, 404);
  assert.equal(typeof JSON.parse(r.body).error, 'string');
});

// ---- static files -------------------------------------------------------------

const hasIndex = fs.existsSync(path.join(WWW, 'index.html'));

test('/ serves index.html with validators', { skip: skip || (!hasIndex && `no ${WWW}/index.html`) }, async () => {
  const res = await fetch(`${BASE}/`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/html/);
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  const etag = res.headers.get('etag');
  assert.ok(etag);
  assert.ok(res.headers.get('last-modified'));
  const body = await res.text();
  assert.equal(body, fs.readFileSync(path.join(WWW, 'index.html'), 'utf8'));
  const again = await fetch(`${BASE}/`, { headers: { 'If-None-Match': etag } });
  assert.equal(again.status, 304);
  const since = await fetch(`${BASE}/`, { headers: { 'If-Modified-Since': res.headers.get('last-modified') } });
  assert.equal(since.status, 304);
  const head = await fetch(`${BASE}/index.html`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), '');
});

// The headers docker/nginx/frontend adds to the files it serves itself
// (the maps of $upstream_http_* to $bf_* in its nginx.conf and nginx.prod.conf):
// the gateway must send the same on the console's files it serves directly.
function nginxFrontendHeaders(file) {
  const conf = fs.readFileSync(path.resolve(here, '../../docker/nginx/frontend', file), 'utf8');
  const out = {};
  for (const m of conf.matchAll(/map \$upstream_http_([a-z_]+) \$bf_[a-z_]+ \{\s*""\s+"([^"]+)";/g))
    out[m[1].replace(/_/g, '-')] = m[2];
  return out;
}

test('console files served by the gateway carry the frontend nginx\'s security headers', { skip: skip || (!hasIndex && `no ${WWW}/index.html`) }, async () => {
  const want = nginxFrontendHeaders('nginx.conf');
  assert.deepEqual(nginxFrontendHeaders('nginx.prod.conf'), want, 'dev and prod frontend configs differ');
  for (const h of ['content-security-policy', 'x-frame-options', 'x-content-type-options', 'referrer-policy'])
    assert.ok(want[h], `docker/nginx/frontend/nginx.conf sets no ${h}`);
  assert.match(want['content-security-policy'], /frame-ancestors 'none'/);
  const files = ['/', '/index.html', '/signup.html', '/console/'];
  for (const dir of ['js', 'css']) {
    const f = fs.readdirSync(path.join(WWW, dir)).find((n) => !n.startsWith('.') && fs.statSync(path.join(WWW, dir, n)).isFile());
    if (f) files.push(`/${dir}/${f}`);
  }
  for (const f of files) {
    if (!fs.existsSync(path.join(WWW, f.endsWith('/') ? f + 'index.html' : f))) continue;
    const res = await fetch(BASE + f);
    assert.equal(res.status, 200, f);
    for (const [name, value] of Object.entries(want))
      assert.equal(res.headers.get(name), value, `${f}: ${name}`);
    // a revalidation (304) keeps them too
    const again = await fetch(BASE + f, { headers: { 'If-None-Match': res.headers.get('etag') } });
    assert.equal(again.status, 304, f);
    for (const [name, value] of Object.entries(want))
      assert.equal(again.headers.get(name), value, `${f} (304): ${name}`);
  }
});

test('a browser asking for a mistyped console page gets an HTML 404 page, not the API\'s JSON', { skip: skip || (!hasIndex && `no ${WWW}/index.html`) }, async () => {
  const want = nginxFrontendHeaders('nginx.conf');
  for (const p of ['/console/nope', '/console/no/such/page.html', '/css/missing.css']) {
    const res = await fetch(BASE + p, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    assert.equal(res.status, 404, p);
    assert.match(res.headers.get('content-type'), /^text\/html/, p);
    assert.equal(res.headers.get('cache-control'), 'no-store', p);
    const html = await res.text();
    assert.match(html, /<h1[^>]*>Page not found<\/h1>/, p);
    assert.match(html, /href="\/console\/"/, `${p}: a way back`);
    for (const [name, value] of Object.entries(want)) assert.equal(res.headers.get(name), value, `${p}: ${name}`);
  }
  // Outside the site's folders, or for a client that does not ask for HTML,
  // the API answers as before (JSON).
  for (const [p, accept] of [['/nope', 'text/html'], ['/console/nope', 'application/json'], ['//etc/passwd', 'text/html']]) {
    const api = await fetch(BASE + p, { headers: { accept } });
    assert.equal(api.status, 404, p);
    assert.match(api.headers.get('content-type'), /json/, p);
  }
});

test('path traversal never returns files outside the web root', { skip }, async () => {
  const targets = [
    '/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/..%2f..%2f..%2fetc/passwd',
    '/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd', '/a/../../../../etc/passwd',
    '/%252e%252e/%252e%252e/etc/passwd', '/.%2e/.%2e/.%2e/etc/passwd',
    '/..\\..\\..\\etc\\passwd', '//etc/passwd', '/etc/passwd%00.html',
  ];
  for (const t of targets) {
    const r = await raw(get(t));
    assert.notEqual(r.status, 200, `${t} answered 200`);
    assert.ok(!/root:.*:0:0:/.test(r.body || ''), `${t} leaked /etc/passwd`);
    assert.ok(r.status >= 400 && r.status < 500, `${t}: ${r.status}`);
  }
});

// ---- slow clients -------------------------------------------------------------

test('slow and idle clients are cut off after the timeout; others are served meanwhile', { skip, timeout: (TIMEOUT_S + 20) * 1000 }, async () => {
  const started = Date.now();
  const open = (first) => {
    const s = net.connect(Number(url.port), url.hostname);
    const closed = new Promise((resolve) => {
      s.on('close', () => resolve(Date.now() - started));
      s.on('error', () => {});
    });
    if (first) s.write(first);
    return { s, closed };
  };
  // slowloris: a request head that never ends; and a connection that never speaks
  const slow = open(`GET /api/v1/ping HTTP/1.1\r\n${host()}X-Slow: `);
  const idle = open(null);
  for (let i = 0; i < 5; i++) {
    const res = await fetch(`${BASE}/health`);
    assert.equal(res.status, 200);
    await res.text();
  }
  const limit = new Promise((r) => setTimeout(() => r(-1), (TIMEOUT_S + 10) * 1000));
  const [ms1, ms2] = await Promise.all([Promise.race([slow.closed, limit]), Promise.race([idle.closed, limit])]);
  slow.s.destroy();
  idle.s.destroy();
  assert.notEqual(ms1, -1, 'the slow connection was never closed');
  assert.notEqual(ms2, -1, 'the idle connection was never closed');
  assert.ok(ms1 >= TIMEOUT_S * 1000 - 1000, `closed too early (${ms1} ms)`);
});

// ---- still alive ----------------------------------------------------------------

test('the gateway is still up after all of it', { skip }, async () => {
  // fresh connections: a pooled keep-alive socket may just have hit the
  // gateway's idle timeout, which is not what this test is about
  const h = await raw(get('/health'));
  assert.equal(h.status, 200);
  JSON.parse(h.body);
  const p = await raw(get('/api/v1/ping'));
  assert.equal(p.status, 200);
  JSON.parse(p.body);
});
