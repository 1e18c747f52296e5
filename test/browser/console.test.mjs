// console.test.mjs — the web console in real Chromium, same origin: the
// gateway serves gateway/www and the API. The whole flow (flow.mjs) at desktop
// width, plus the pages on their own: welcome, sign-up and console at phone
// width, the callback page refusing a forged answer, and the PKCE helpers.
import test from 'node:test';
import assert from 'node:assert/strict';
import { consoleFlow, waitText } from './flow.mjs';
import { BF_URL, DESKTOP, PHONE, launchBrowser, screenshotFailure, watch } from './lib.mjs';

const skip = BF_URL ? false : 'BF_URL is not set';

test('browser, same origin: sign up, manage, sign out, sign in as a user (desktop)', { skip, timeout: 180_000 }, async () => {
  const browser = await launchBrowser();
  try {
    const { requests } = await consoleFlow({ browser, front: BF_URL, viewport: DESKTOP, name: 'same' });
    assert.ok(requests.some((r) => r.includes(`${BF_URL}/t/`)), 'the console called the tenant API');
  } finally {
    await browser.close();
  }
});

test('browser, same origin: pages at phone width, forged callback, PKCE', { skip, timeout: 120_000 }, async () => {
  const browser = await launchBrowser();
  const context = await browser.newContext({ viewport: PHONE });
  const page = await context.newPage();
  const watcher = watch(page);
  try {
    for (const path of ['/', '/signup.html', '/console/']) {
      await page.goto(`${BF_URL}${path}`);
      await page.locator('main h1').first().waitFor();
      const { scroll, inner } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
      assert.ok(scroll <= inner + 1, `${path} fits a phone: ${scroll}px in ${inner}px`);
      assert.equal(await page.locator('main').count(), 1, `${path} has one main landmark`);
      // Every form control has a label.
      const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
        .filter((el) => !el.hidden && !el.labels?.length && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
        .map((el) => el.id || el.name));
      assert.deepEqual(unlabelled, [], `${path}: unlabelled controls`);
    }
    // The console without a session asks for the organization.
    await page.getByRole('heading', { name: 'Sign in to the console' }).waitFor();
    await page.getByRole('button', { name: 'Continue to sign-in' }).click();
    await waitText(page.locator('.field-error'), /short name/);

    // An answer on the callback page that this tab did not ask for is refused.
    await page.goto(`${BF_URL}/console/callback.html?code=forged&state=forged&iss=x`);
    await waitText(page.locator('#callback-title'), /did not complete/);
    assert.doesNotMatch(page.url(), /code=/, 'the code leaves the address bar');

    // The PKCE challenge is RFC 7636's, with and without crypto.subtle.
    const pkce = await page.evaluate(async () => {
      const auth = await import('/js/auth.js');
      const { sha256 } = await import('/js/sha256.js');
      const verifier = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
      const fallback = btoa(String.fromCharCode(...sha256(new TextEncoder().encode(verifier))))
        .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
      return { subtle: await auth.codeChallenge(verifier), fallback, redirect: auth.redirectUri(), random: auth.randomString(32).length };
    });
    assert.equal(pkce.subtle, 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
    assert.equal(pkce.fallback, pkce.subtle);
    assert.equal(pkce.redirect, `${BF_URL}/console/callback.html`);
    assert.equal(pkce.random, 43);
    assert.deepEqual(watcher.problems, []);
  } catch (err) {
    await screenshotFailure(page, 'pages');
    throw err;
  } finally {
    await context.close();
    await browser.close();
  }
});
