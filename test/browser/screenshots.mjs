// screenshots.mjs — makes the screenshots of docs/FRONTEND_DEVELOPMENT.md
// (welcome page, sign-in page, dashboard; desktop 1280×800 and phone
// 390×844) against a running gateway. Not a test; run it by hand:
//   BF_URL=http://127.0.0.1:8080 node test/browser/screenshots.mjs [out-dir]
// It registers a fresh organization through the API (its slug starts with
// "acme-"), gives it a brand colour and a few users, and signs in through
// the real authorize page. BF_TENANT=slug BF_OWNER=email:password take an
// existing organization instead.
import path from 'node:path';
import fs from 'node:fs';
import { BF_URL, DESKTOP, PHONE, ROOT, api, launchBrowser, uniqueSlug } from './lib.mjs';

if (!BF_URL) {
  console.error('Set BF_URL to the gateway, e.g. BF_URL=http://127.0.0.1:8080');
  process.exit(2);
}
const out = path.resolve(process.argv[2] ?? path.join(ROOT, 'docs/images'));
fs.mkdirSync(out, { recursive: true });

// BF_TENANT=slug BF_OWNER=email:password use an existing organization as it is.
let slug = process.env.BF_TENANT;
let owner;
if (slug) {
  const [email, ...rest] = (process.env.BF_OWNER ?? '').split(':');
  owner = { email, password: rest.join(':') };
} else {
  slug = uniqueSlug('acme');
  owner = { email: 'jane@acme.example', password: 'screenshot-password' };
  await seed(slug, owner);
}

/** A fresh organization with a brand colour and a few users. */
async function seed(tenantSlug, who) {
  const reg = await api('POST', '/api/v1/tenants', {
    json: { slug: tenantSlug, name: 'Acme Corporation', owner_email: who.email, owner_password: who.password },
  });
  if (reg.status !== 201) throw new Error(`registration failed: ${reg.status} ${JSON.stringify(reg.data)}`);
  const token = reg.data.access_token;
  const base = `/t/${tenantSlug}/api/v1`;
  const put = await api('PUT', `${base}/tenants/${reg.data.tenant.id}/settings`, { token, json: { brand_color: '#0f766e', allowed_origins: [] } });
  if (put.status !== 200) console.warn('brand colour not set:', put.status, put.data);
  const people = [['omar@acme.example', 'admin', 'Omar Admin'], ['lin@acme.example', 'user', 'Lin Liu'], ['sam@acme.example', 'user', 'Sam Berg']];
  for (const [email, role, name] of people) {
    await api('POST', `${base}/users`, { token, json: { email, password: 'member-password', role, display_name: name } });
  }
  await api('PATCH', `${base}/users/${reg.data.owner.id}`, { token, json: { display_name: 'Jane Doe' } });
}

const browser = await launchBrowser();
try {
  for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    const context = await browser.newContext({ viewport, colorScheme: 'light' });
    const page = await context.newPage();
    const shot = (name) => page.screenshot({ path: path.join(out, `${name}-${size}.png`) });

    await page.goto(`${BF_URL}/`);
    await page.locator('#health-pill[data-state="up"]').waitFor();
    await shot('welcome');

    await page.goto(`${BF_URL}/console/?tenant=${slug}`);
    await page.getByRole('button', { name: 'Continue to sign-in' }).click();
    await page.waitForURL((u) => u.pathname.endsWith('/oauth/authorize'));
    await page.locator('#email').fill(owner.email);
    await shot('signin');

    await page.locator('#password').fill(owner.password);
    await page.getByRole('button', { name: /Sign in/ }).click();
    await page.locator('[data-view="dashboard"] [data-usage]').first().waitFor();
    await page.locator('#flash .notice button').first().click().catch(() => {});
    await page.mouse.move(1, 1);
    await page.waitForTimeout(600); // the bars' transition
    await shot('dashboard');
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(`screenshots in ${out} (organization ${slug})`);
