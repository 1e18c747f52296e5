// Load generator of test/sh/faults.sh (no dependencies, Node >= 20).
//   node faults-load.mjs write URL DIR WORKERS   durable writes until DIR/stop exists;
//        writes DIR/ready after sign-up, DIR/write.jsonl (one line per request)
//        and DIR/verify.sql (acknowledged keys, for the check after recovery)
//   node faults-load.mjs term URL DIR WORKERS    POST notes on persistent
//        keep-alive connections until the gateway is gone; DIR/term.jsonl
import http from 'node:http';
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';

const [mode, URL_, DIR, W] = process.argv.slice(2);
const workers = Number(W || 4);
const u = new URL(URL_);
const rnd = () => randomBytes(5).toString('hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const stopped = () => fs.existsSync(`${DIR}/stop`);

// One request on the given agent; records when the request was fully written.
function request(agent, method, path, { token, json } = {}) {
  return new Promise((resolve) => {
    const body = json === undefined ? undefined : JSON.stringify(json);
    const headers = {};
    if (body !== undefined) { headers['content-type'] = 'application/json'; headers['content-length'] = Buffer.byteLength(body); }
    if (token) headers.authorization = `Bearer ${token}`;
    const rec = { method, path, t0: Date.now(), sent: null, t1: null, status: null, err: null, retry_after: null, body: null };
    const req = http.request({ host: u.hostname, port: u.port, path, method, headers, agent, timeout: 30000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        rec.t1 = Date.now(); rec.status = res.statusCode; rec.retry_after = res.headers['retry-after'] ?? null;
        const text = Buffer.concat(chunks).toString('utf8');
        try { rec.body = JSON.parse(text); } catch { rec.body = null; }
        resolve(rec);
      });
      res.on('error', (e) => { rec.t1 = Date.now(); rec.err = e.code || e.message; resolve(rec); });
    });
    req.on('finish', () => { rec.sent = Date.now(); });
    req.on('timeout', () => req.destroy(Object.assign(new Error('client timeout'), { code: 'CLIENT_TIMEOUT' })));
    req.on('error', (e) => { rec.t1 = Date.now(); rec.err = e.code || e.message; resolve(rec); });
    req.end(body);
  });
}

async function signUp(agent) {
  const slug = `f-${rnd()}`;
  let r;
  for (let i = 0; i < 20; i++) {
    r = await request(agent, 'POST', '/api/v1/tenants', { json: { slug, name: `Faults ${slug}`, owner_email: `owner@${slug}.test`, owner_password: 'owner-password-1' } });
    if (r.status === 201) return { slug, token: r.body.access_token };
    await sleep(200);
  }
  throw new Error(`sign-up failed: ${r.status} ${JSON.stringify(r.body)}`);
}

async function writeMode() {
  const out = fs.createWriteStream(`${DIR}/write.jsonl`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: workers });
  const tenants = await Promise.all(Array.from({ length: workers }, () => signUp(agent)));
  fs.writeFileSync(`${DIR}/ready`, '');
  const acked = { tenant: [], user: [], client: [], note: [] };
  const ops = ['tenant', 'user', 'client', 'note', 'note', 'client'];
  await Promise.all(tenants.map(async (t, w) => {
    for (let n = 0; !stopped(); n++) {
      const kind = ops[(n + w) % ops.length];
      const p = `/t/${t.slug}/api/v1`;
      let r, key;
      if (kind === 'tenant') { key = `f-${rnd()}`; r = await request(agent, 'POST', '/api/v1/tenants', { json: { slug: key, name: `Faults ${key}`, owner_email: `owner@${key}.test`, owner_password: 'owner-password-1' } }); }
      else if (kind === 'user') { key = `u-${rnd()}@${t.slug}.test`; r = await request(agent, 'POST', `${p}/users`, { token: t.token, json: { email: key, password: 'password123' } }); }
      else if (kind === 'client') { r = await request(agent, 'POST', `${p}/clients`, { token: t.token, json: { client_name: `c-${rnd()}`, grant_types: ['client_credentials'], scope: 'read' } }); key = r.body?.client_id; }
      else { r = await request(agent, 'POST', `${p}/notes`, { token: t.token, json: { title: `n-${rnd()}`, body: 'x' } }); key = r.body?.id; }
      const ok = r.status >= 200 && r.status < 300;
      if (ok) acked[kind].push(key);
      out.write(JSON.stringify({ kind, key: key ?? null, status: r.status, err: r.err, retry_after: r.retry_after, t0: r.t0, t1: r.t1 }) + '\n');
      if (!ok) await sleep(100);   // a client backing off during the outage
    }
  }));
  out.end();
  const q = (a) => a.length ? a.map((k) => `('${String(k).replace(/'/g, "''")}')`).join(',') : `(NULL)`;
  const lost = (kind, vals, cond) => `SELECT '${kind}', ${vals.length}, count(*) FILTER (WHERE v.k IS NOT NULL AND NOT EXISTS (${cond})) FROM (VALUES ${q(vals)}) v(k);`;
  fs.writeFileSync(`${DIR}/verify.sql`, [
    lost('tenant', acked.tenant, 'SELECT 1 FROM tenancy.tenants x WHERE x.slug = v.k'),
    lost('user', acked.user, 'SELECT 1 FROM tenancy.users x WHERE lower(x.email) = lower(v.k)'),
    lost('client', acked.client, 'SELECT 1 FROM oauth.clients x WHERE x.client_id = v.k'),
    lost('note', acked.note, 'SELECT 1 FROM app.notes x WHERE x.id::text = v.k'),
  ].join('\n') + '\n');
  agent.destroy();
}

async function termMode() {
  const out = fs.createWriteStream(`${DIR}/term.jsonl`);
  const t = JSON.parse(fs.readFileSync(`${DIR}/term-tenant.json`, 'utf8'));
  await Promise.all(Array.from({ length: workers }, async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });   // one persistent connection per worker
    for (;;) {
      const r = await request(agent, 'POST', `/t/${t.slug}/api/v1/notes`, { token: t.token, json: { title: `t-${rnd()}`, body: 'x'.repeat(2000) } });
      out.write(JSON.stringify({ status: r.status, err: r.err, sent: r.sent, t0: r.t0, t1: r.t1 }) + '\n');
      if (r.err === 'ECONNREFUSED' || stopped()) break;
      if (r.err) await sleep(20);
    }
    agent.destroy();
  }));
  out.end();
}

if (mode === 'signup') { const a = new http.Agent({ keepAlive: false }); fs.writeFileSync(`${DIR}/term-tenant.json`, JSON.stringify(await signUp(a))); }
else if (mode === 'write') await writeMode();
else if (mode === 'term') await termMode();
else { console.error('usage: faults-load.mjs write|term|signup URL DIR WORKERS'); process.exit(2); }
