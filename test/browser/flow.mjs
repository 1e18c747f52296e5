// flow.mjs — the whole console flow, run by both browser suites (same
// origin and cross-origin): sign up → land in the console → add a user →
// register a client and read its secret (and rotate it) → see the usage bars
// move → change settings → page through users, change a role, delete one →
// sign out (tokens revoked) → sign in through the tenant's authorize page as
// the new user → the restricted console (profile, notes).
import assert from 'node:assert/strict';
import { BF_URL, api, screenshotFailure, uniqueSlug, watch } from './lib.mjs';
import { sql } from '../http/lib.mjs';

const STEP_TIMEOUT = 15000;

/** Waits until a locator's text matches re; answers the text. */
export async function waitText(locator, re, timeout = STEP_TIMEOUT) {
  const until = Date.now() + timeout;
  let text = '';
  for (;;) {
    text = (await locator.first().textContent({ timeout }).catch(() => '')) ?? '';
    if (re.test(text)) return text;
    if (Date.now() > until) throw new Error(`text ${JSON.stringify(text)} never matched ${re}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The numbers behind the dashboard's usage bars. */
async function usage(page) {
  await page.locator('[data-view="dashboard"] [data-usage]').first().waitFor();
  return page.locator('[data-usage]').evaluateAll((els) =>
    Object.fromEntries(els.map((e) => [e.dataset.usage, { used: Number(e.dataset.used), limit: e.dataset.limit }])));
}

/** The page is as wide as the window: nothing scrolls sideways. */
async function assertFits(page, where) {
  const { scroll, inner } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
  assert.ok(scroll <= inner + 1, `${where}: the page is ${scroll}px wide in a ${inner}px window`);
}

// The signed-in console's access token.
function ownerTokenNow(page) {
  return page.evaluate(() => JSON.parse(sessionStorage.getItem('bf.session')).access_token);
}

async function openPage(page, label, view) {
  await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: label, exact: true }).click();
  await page.locator(`[data-view="${view}"]`).waitFor({ timeout: STEP_TIMEOUT });
}

async function lastNotice(page, kind = 'success') {
  return page.locator(`#flash .notice.${kind}`).last();
}

/**
 * Runs the flow in a fresh browser context. front: origin serving the pages
 * (the gateway itself, or a second origin); viewport: desktop or phone.
 */
export async function consoleFlow({ browser, front, viewport, name, log = () => {} }) {
  const context = await browser.newContext({ viewport });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: front });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT);
  const watcher = watch(page);
  const slug = uniqueSlug(name);
  const org = `Flow ${name} ${slug.slice(-4)}`;
  const owner = { email: `owner@${slug}.test`, password: 'owner-password-1' };
  const member = { email: `member@${slug}.test`, password: 'member-password-1', name: 'Mia Member' };
  const step = (s) => log(`[${name}] ${s}`);
  try {
    // ----- welcome page -----
    step('welcome page');
    await page.goto(`${front}/`);
    await page.locator('#health-pill[data-state="up"]').waitFor();
    await waitText(page.locator('#health-database'), /Up/);
    await assertFits(page, 'welcome');

    // ----- sign-up: client-side checks, a server refusal, then success -----
    step('sign-up');
    await page.getByRole('link', { name: 'Create an organization' }).click();
    await page.waitForURL(/\/signup\.html$/);
    await page.getByRole('button', { name: 'Create organization' }).click();
    await waitText(page.locator('#name-error'), /Enter a name/);
    await waitText(page.locator('#email-error'), /email/i);
    assert.equal(await page.locator('#name').getAttribute('aria-invalid'), 'true');
    await page.locator('#name').fill(org);
    assert.match(await page.locator('#slug').inputValue(), /^flow-/, 'the slug is suggested from the name');
    await page.locator('#slug').fill('admin');
    await page.locator('#email').fill(owner.email);
    await page.locator('#password').fill('short');
    await page.locator('#confirm').fill('different');
    await page.getByRole('button', { name: 'Create organization' }).click();
    await waitText(page.locator('#slug-error'), /reserved/);
    await waitText(page.locator('#password-error'), /at least 8/);
    await page.locator('#password').fill(owner.password);
    await page.locator('#confirm').fill(owner.password);
    // "demo" exists: the server refuses with 409, and its words are shown.
    await page.locator('#slug').fill('demo');
    watcher.expect(/409/, 2); // the answer, and Chromium's console line about it
    await page.getByRole('button', { name: 'Create organization' }).click();
    // Said once, at the field, as a sentence (not also as a banner).
    const refusal = await waitText(page.locator('#slug-error'), /\S/);
    assert.doesNotMatch(refusal, /^The server answered/, 'the server\'s error_description is shown');
    assert.match(refusal, /^[A-Z].*\.$/, 'capitalised, with a full stop');
    assert.equal(await page.locator('#flash .notice.error').count(), 0, 'no second copy in a banner');
    await page.locator('#slug').fill(slug);
    // The plan is not the tenant's to choose: the page names the default.
    assert.equal(await page.locator('#plan').count(), 0, 'no plan picker on sign-up');
    await waitText(page.locator('#default-plan'), /^free$/);
    await assertFits(page, 'sign-up');
    await page.getByRole('button', { name: 'Create organization' }).click();

    // ----- the console, signed in as the owner -----
    step('dashboard');
    await page.waitForURL(/\/console\/#\/dashboard$/);
    await page.locator('[data-view="dashboard"]').waitFor();
    await waitText(page.locator('#flash .notice.success'), /ready/);
    await waitText(page.locator('#account-tenant'), new RegExp(org));
    await waitText(page.locator('#account-role'), /owner/);
    const before = await usage(page);
    assert.equal(before.users.used, 1, 'one user: the owner');
    assert.notEqual(before.users.limit, '', 'the free plan limits users');
    await assertFits(page, 'dashboard');

    // ----- users: add one -----
    step('users');
    await openPage(page, 'Users', 'users');
    const userForm = page.locator('#user-create-form');
    await userForm.getByLabel('Email').fill(member.email);
    await userForm.getByLabel('Display name').fill(member.name);
    await userForm.getByLabel('Initial password').fill(member.password);
    await userForm.getByLabel('Role').selectOption('user');
    await userForm.getByRole('button', { name: 'Add user' }).click();
    const memberRow = page.locator(`tr[data-email="${member.email}"]`);
    await memberRow.waitFor();
    await waitText(await lastNotice(page), /was added/);
    // The owner's own row offers nothing; the member's row offers role, disable, delete.
    const ownerRow = page.locator(`tr[data-email="${owner.email}"]`);
    assert.equal(await ownerRow.getByRole('button').count(), 0, 'no actions on oneself');
    assert.equal(await memberRow.getByRole('button', { name: `Delete ${member.email}` }).count(), 1);
    // Disable and enable again (the member signs in later).
    await memberRow.getByRole('button', { name: `Disable ${member.email}` }).click();
    await waitText(memberRow.locator('.badge').last(), /disabled/);
    await memberRow.getByRole('button', { name: `Enable ${member.email}` }).click();
    await waitText(memberRow.locator('.badge').last(), /active/);
    await assertFits(page, 'users');

    // ----- OAuth clients: register, read the secret, rotate -----
    step('clients');
    await openPage(page, 'OAuth clients', 'clients');
    const consoleRow = page.locator('tr[data-client-id="console"]');
    await consoleRow.waitFor();
    await waitText(consoleRow, /built-in/);
    assert.equal(await consoleRow.getByRole('button', { name: /Delete/ }).count(), 0, 'the console client cannot be deleted');
    const clientForm = page.locator('#client-create-form');
    await clientForm.getByLabel('Name', { exact: true }).fill('Flow reporting service');
    await clientForm.getByRole('radio', { name: /Confidential/ }).check();
    await clientForm.getByRole('checkbox', { name: /Client credentials/ }).check();
    await clientForm.getByLabel('Redirect URIs').fill('https://reports.example.test/callback');
    await clientForm.getByRole('button', { name: 'Register client' }).click();
    await page.locator('#new-client-secret').waitFor();
    const clientId = await page.locator('#new-client-id').inputValue();
    const secret = await page.locator('#new-client-secret').inputValue();
    assert.ok(clientId && secret.length >= 16, 'a client id and a secret are shown');
    await page.getByRole('button', { name: 'Copy client secret' }).click();
    await waitText(page.locator('#flash .notice.info').last(), /copied/);
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret, 'the copy button copies the secret');
    let token = await api('POST', `/t/${slug}/oauth/token`, { form: { grant_type: 'client_credentials', scope: 'read' }, basic: [clientId, secret] });
    assert.equal(token.status, 200, `the shown secret works: ${JSON.stringify(token.data)}`);
    await page.getByRole('button', { name: 'I have stored it' }).click();
    assert.equal(await page.locator('#new-client-secret').count(), 0, 'the secret is gone once stored');
    const clientRow = page.locator(`tr[data-client-id="${clientId}"]`);
    await clientRow.getByRole('button', { name: /Rotate the secret/ }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Rotate secret' }).click();
    await page.locator('#new-client-secret').waitFor();
    const rotated = await page.locator('#new-client-secret').inputValue();
    assert.notEqual(rotated, secret, 'rotation shows a new secret');
    token = await api('POST', `/t/${slug}/oauth/token`, { form: { grant_type: 'client_credentials', scope: 'read' }, basic: [clientId, secret] });
    assert.equal(token.status, 401, 'the old secret stops working');
    token = await api('POST', `/t/${slug}/oauth/token`, { form: { grant_type: 'client_credentials', scope: 'read' }, basic: [clientId, rotated] });
    assert.equal(token.status, 200, 'the new secret works');
    // Edit: name, redirect URIs and grants, in the same form.
    await page.getByRole('button', { name: 'I have stored it' }).click();
    await clientRow.getByRole('button', { name: /^Edit / }).click();
    assert.equal(await clientForm.getByLabel('Name', { exact: true }).inputValue(), 'Flow reporting service', 'the form shows the client');
    await clientForm.getByLabel('Name', { exact: true }).fill('Flow reports v2');
    await clientForm.getByLabel('Redirect URIs').fill('https://reports.example.test/callback\nhttps://reports.example.test/cb2');
    await clientForm.getByRole('checkbox', { name: /Refresh token/ }).uncheck();
    await clientForm.getByRole('button', { name: 'Save changes' }).click();
    await waitText(await lastNotice(page), /Flow reports v2" was saved/);
    const edited = await api('GET', `/t/${slug}/api/v1/clients/${clientId}`, { token: await ownerTokenNow(page) });
    assert.equal(edited.data.client_name, 'Flow reports v2');
    assert.deepEqual(edited.data.redirect_uris, ['https://reports.example.test/callback', 'https://reports.example.test/cb2']);
    assert.deepEqual([...edited.data.grant_types].sort(), ['authorization_code', 'client_credentials']);
    await waitText(clientRow, /Flow reports v2/);
    await assertFits(page, 'clients');

    // ----- the usage bars moved; the clients page's notices stay behind -----
    step('usage');
    await openPage(page, 'Dashboard', 'dashboard');
    assert.equal(await page.locator('#flash .notice.success').count(), 0, 'success notices do not follow to the next page');
    const after = await usage(page);
    assert.equal(after.users.used, 2, 'two users now');
    assert.ok(after.api_calls.used > before.api_calls.used, `API calls moved: ${before.api_calls.used} → ${after.api_calls.used}`);

    // ----- settings: a brand colour for the sign-in page -----
    step('settings');
    await openPage(page, 'Settings', 'settings');
    const settingsForm = page.locator('#settings-form');
    await settingsForm.getByLabel('Use a brand colour').check();
    await settingsForm.locator('input[type="color"]').fill('#0f766e');
    await settingsForm.getByLabel('Allowed origins (CORS)').fill('https://app.example.test');
    await settingsForm.getByRole('button', { name: 'Save sign-in settings' }).click();
    await waitText(await lastNotice(page), /sign-in settings were saved/);
    await assertFits(page, 'settings');

    // ----- users again: paging, a role change, a deletion -----
    step('users: paging, role, delete');
    const ownerToken = await page.evaluate(() => JSON.parse(sessionStorage.getItem('bf.session')).access_token);
    // Ten more users than the free plan allows: the platform operator moves
    // the organization to a larger plan (tenants cannot).
    sql(`UPDATE tenancy.tenants SET plan = 'basic' WHERE slug = '${slug}'`);
    for (let i = 1; i <= 10; i++) {
      const made = await api('POST', `/t/${slug}/api/v1/users`, {
        token: ownerToken, json: { email: `extra${String(i).padStart(2, '0')}@${slug}.test`, password: 'extra-password-1', role: 'user' },
      });
      assert.equal(made.status, 201, `extra user ${i}: ${JSON.stringify(made.data)}`);
    }
    await openPage(page, 'Users', 'users');
    const pager = page.getByRole('navigation', { name: 'Pages of users' });
    assert.equal(await page.locator('#users-list tbody tr').count(), 10, 'ten users a page');
    const firstPage = await page.locator('#users-list tbody tr').first().getAttribute('data-email');
    await pager.getByRole('button', { name: /Next/ }).click();
    await waitText(pager, /Page 2/);
    assert.equal(await page.locator('#users-list tbody tr').count(), 2, 'twelve users: two on page 2');
    assert.notEqual(await page.locator('#users-list tbody tr').first().getAttribute('data-email'), firstPage);
    await pager.getByRole('button', { name: /Previous/ }).click();
    await waitText(pager, /Page 1/);
    const extra = page.locator(`tr[data-email="extra01@${slug}.test"]`);
    await extra.getByRole('combobox', { name: `Role of extra01@${slug}.test` }).selectOption('admin');
    await waitText(await lastNotice(page), /is now an admin/);
    assert.equal((await api('GET', `/t/${slug}/api/v1/users?limit=100`, { token: ownerToken })).data.users
      .find((u) => u.email === `extra01@${slug}.test`).role, 'admin', 'the role changed on the server');
    await extra.getByRole('button', { name: `Delete extra01@${slug}.test` }).click();
    const dialog = page.getByRole('dialog');
    await waitText(dialog, /cannot be undone/);
    await dialog.getByRole('button', { name: 'Delete user' }).click();
    await waitText(await lastNotice(page), /was deleted/);
    await page.locator(`tr[data-email="extra01@${slug}.test"]`).waitFor({ state: 'detached' });

    // ----- sign out: both tokens revoked -----
    step('sign out');
    assert.equal((await api('GET', `/t/${slug}/api/v1/me`, { token: ownerToken })).status, 200);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to the console' }).waitFor();
    await waitText(page.locator('#flash .notice.info'), /signed out/);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('bf.session')), null, 'no tokens kept');
    assert.equal((await api('GET', `/t/${slug}/api/v1/me`, { token: ownerToken })).status, 401, 'the access token was revoked');

    // ----- sign in again, through the authorize page, as the new user -----
    step('sign in as the member');
    assert.equal(await page.getByLabel('Organization').inputValue(), slug, 'the organization is prefilled');
    await page.getByRole('button', { name: 'Continue to sign-in' }).click();
    await page.waitForURL((u) => u.pathname.endsWith('/oauth/authorize'));
    assert.equal(new URL(page.url()).origin, new URL(BF_URL).origin, 'the sign-in page is the API\'s');
    assert.equal(new URL(page.url()).searchParams.get('prompt'), 'login', 'after a sign-out the password is asked again');
    await waitText(page.locator('body'), new RegExp(org));
    // Before anyone signed in, the admin scope is promised to admins only.
    const scopes = await page.locator('ul.scopes').innerText();
    assert.doesNotMatch(scopes, /^Manage users/m, 'no unconditional promise of managing users');
    if (/users, applications and settings/.test(scopes)) assert.match(scopes, /If you are an admin of/);
    await page.locator('#email').fill(member.email);
    await page.locator('#password').fill(member.password);
    await page.getByRole('button', { name: /Sign in/ }).click();
    await page.waitForURL((u) => u.origin === new URL(front).origin && u.pathname.endsWith('/console/'));
    await page.locator('[data-view="profile"]').waitFor();

    // ----- the restricted console of a plain user -----
    step('restricted console');
    const links = await page.getByRole('navigation', { name: 'Console' }).getByRole('link').allTextContents();
    assert.deepEqual(links, ['Notes', 'Profile'], 'a plain user sees only notes and profile');
    await waitText(page.locator('#account-role'), /^user$/);
    const scope = await page.evaluate(() => JSON.parse(sessionStorage.getItem('bf.session')).scope);
    assert.doesNotMatch(scope, /admin/, 'no admin scope for a plain user');
    await page.evaluate(() => { location.hash = '#/users'; });
    await page.waitForURL(/#\/profile$/);
    await page.locator('[data-view="profile"]').waitFor();
    await waitText(page.locator('[data-view="profile"] .facts'), new RegExp(member.email.replace('.', '\\.')));
    const nameForm = page.locator('#profile-name-form');
    await nameForm.getByLabel('Display name').fill('Mia M.');
    await nameForm.getByRole('button', { name: 'Save name' }).click();
    await waitText(await lastNotice(page), /display name was saved/);
    await waitText(page.locator('#account-user'), /Mia M\./);
    // The user's own sign-in sessions (this browser's among them) and consents.
    await waitText(page.locator('#profile-sessions'), /End session/);
    await waitText(page.locator('#profile-consents'), /Console/);
    await assertFits(page, 'profile');
    await openPage(page, 'Notes', 'notes');
    const noteForm = page.locator('#note-form');
    await noteForm.getByLabel('Title').fill('First note');
    await noteForm.getByLabel('Text').fill('Written by <b>Mia</b> — shown as text, not HTML.');
    await noteForm.getByRole('button', { name: 'Add note' }).click();
    await waitText(page.locator('#notes-list'), /First note/);
    assert.equal(await page.locator('#notes-list b').count(), 0, 'data is inserted as text');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to the console' }).waitFor();

    assert.deepEqual(watcher.problems, [], 'no console errors, page errors or failed requests');
    return { slug, requests: watcher.requests };
  } catch (err) {
    const shot = await screenshotFailure(page, name);
    if (watcher.problems.length) err.message += `\nproblems seen: ${watcher.problems.join('\n  ')}`;
    if (shot) err.message += `\nscreenshot: ${shot}`;
    throw err;
  } finally {
    await context.close();
  }
}
