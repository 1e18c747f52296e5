// lib.mjs — shared parts of the browser suites: launching Debian's Chromium
// through playwright-core, watching a page for console errors, page errors
// and failed requests, screenshots of failures, a second origin served by
// nginx (the cross-origin set-up Docker uses), and small API helpers.
//   BF_URL         the gateway (required), e.g. http://127.0.0.1:55329
//   BF_OUT         where failure screenshots go (default test/output)
//   FRONTEND_PORT  port of the second origin (default: BF_URL's port + 1000)
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '../..');
export const WWW = path.join(ROOT, 'gateway/www');
export const BF_URL = process.env.BF_URL?.replace(/\/+$/, '');
export const OUT = process.env.BF_OUT || path.join(ROOT, 'test/output');
export const FRONTEND_PORT = Number(process.env.FRONTEND_PORT || (BF_URL ? Number(new URL(BF_URL).port) + 1000 : 0));
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/**
 * Watches a page: every console error, uncaught page error, failed request
 * and HTTP answer >= 400 is a problem, unless expect() announced it first
 * (e.g. a 409 the test provokes on purpose). `problems` lists them.
 */
export function watch(page) {
  const problems = [];
  const expected = []; // [{re, left}]
  const requests = []; // every request URL, to see which origin answered
  const isExpected = (text) => {
    const e = expected.find((x) => x.left > 0 && x.re.test(text));
    if (e) e.left -= 1;
    return Boolean(e);
  };
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = `console error: ${msg.text()} (${msg.location()?.url ?? ''})`;
    if (!isExpected(text)) problems.push(text);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('request', (req) => requests.push(`${req.method()} ${req.url()}`));
  page.on('requestfailed', (req) => {
    const failure = req.failure()?.errorText ?? '';
    // A fetch cut short because the page navigated away is not a failure.
    if (failure === 'net::ERR_ABORTED') return;
    const text = `request failed: ${req.method()} ${req.url()} ${failure}`;
    if (!isExpected(text)) problems.push(text);
  });
  page.on('response', (res) => {
    if (res.status() < 400) return;
    const text = `HTTP ${res.status()}: ${res.request().method()} ${res.url()}`;
    if (!isExpected(text)) problems.push(text);
  });
  return {
    problems,
    requests,
    /** Allows `count` problems matching re (a console message and a response each count). */
    expect(re, count = 1) { expected.push({ re, left: count }); },
  };
}

/** Saves a full-page screenshot of a failure under BF_OUT. */
export async function screenshotFailure(page, name) {
  if (!page || page.isClosed()) return null;
  fs.mkdirSync(OUT, { recursive: true });
  const file = path.join(OUT, `browser-${name}-failure.png`);
  try {
    await page.screenshot({ path: file, fullPage: true });
    return file;
  } catch {
    return null;
  }
}

function waitForPort(port, host = '127.0.0.1', timeoutMs = 10000) {
  const until = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const sock = net.connect(port, host);
      sock.once('connect', () => { sock.destroy(); resolve(); });
      sock.once('error', () => {
        sock.destroy();
        if (Date.now() > until) reject(new Error(`nothing listens on ${host}:${port}`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

/**
 * Serves gateway/www from a second origin (http://127.0.0.1:port) with nginx,
 * run as a child process with its configuration in a temporary directory.
 * config.js there points the pages at apiBase, so every API call is
 * cross-origin (CORS). The Content-Security-Policy is the Docker frontend's,
 * so a page that breaks it fails here. stop() ends that nginx by its PID.
 */
export async function startFrontend({ port = FRONTEND_PORT, apiBase = BF_URL, root = WWW } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bf-frontend-'));
  fs.chmodSync(dir, 0o755);
  const configJs = `// config.js served by the cross-origin test: the API is on another origin.\nexport const API_BASE = ${JSON.stringify(apiBase)};\n`;
  fs.writeFileSync(path.join(dir, 'config.js'), configJs);
  const csp = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    + "font-src 'self' data:; connect-src 'self' http: https:; object-src 'none'; base-uri 'self'; "
    + "form-action 'self' http: https:; frame-ancestors 'none'";
  const conf = `
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
${process.getuid?.() === 0 ? 'user root;' : ''}
events { worker_connections 256; }
http {
  types {
    text/html html; text/css css; text/javascript js mjs; image/svg+xml svg;
    image/png png; application/json json; image/x-icon ico;
  }
  default_type application/octet-stream;
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    server_name _;
    root ${root};
    index index.html;
    add_header X-Content-Type-Options nosniff always;
    add_header X-Frame-Options DENY always;
    add_header Referrer-Policy no-referrer always;
    add_header Content-Security-Policy "${csp}" always;
    add_header Cache-Control no-cache;
    location = /config.js { alias ${dir}/config.js; }
    location ~ /\\. { return 404; }
    location / { try_files $uri $uri/ =404; }
  }
}
`;
  const confFile = path.join(dir, 'nginx.conf');
  fs.writeFileSync(confFile, conf);
  const child = spawn('nginx', ['-p', dir, '-c', confFile, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    await Promise.race([
      waitForPort(port),
      exited.then((code) => { throw new Error(`nginx exited (${code}): ${stderr}`); }),
    ]);
  } catch (err) {
    child.kill('SIGTERM');
    throw err;
  }
  return {
    origin: `http://127.0.0.1:${port}`,
    dir,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGQUIT'); // graceful: the master stops its workers
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
        if (child.exitCode === null) {
          child.kill('SIGKILL');
          await exited;
        }
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A JSON call to the API from Node (not through the browser). */
export async function api(method, urlPath, { json, form, token, basic } = {}) {
  const headers = { Accept: 'application/json' };
  let body;
  if (json !== undefined) { headers['Content-Type'] = 'application/json'; body = JSON.stringify(json); }
  if (form) { headers['Content-Type'] = 'application/x-www-form-urlencoded'; body = new URLSearchParams(form).toString(); }
  if (token) headers.Authorization = `Bearer ${token}`;
  if (basic) headers.Authorization = `Basic ${Buffer.from(`${encodeURIComponent(basic[0])}:${encodeURIComponent(basic[1])}`).toString('base64')}`;
  const res = await fetch(`${BF_URL}${urlPath}`, { method, headers, body });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  return { status: res.status, data, headers: res.headers };
}

/** A slug nobody has used: prefix, time and randomness. */
export function uniqueSlug(prefix) {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
}
