// pages/callback.js — the redirect URI's script: completes the code + PKCE
// sign-in (auth.completeSignIn) and replaces itself with the console, so the
// code never stays in the history. A failure is explained here.
import { completeSignIn, consoleUrl, lastTenant } from '../auth.js';
import { $ } from '../dom.js';
import { flashNext } from '../flash.js';

async function main() {
  const params = new URLSearchParams(location.search);
  try {
    const returnTo = await completeSignIn(params);
    flashNext('You are signed in.');
    location.replace(consoleUrl(returnTo || ''));
  } catch (err) {
    $('#callback-title').textContent = 'Sign-in did not complete';
    $('#callback-message').textContent = err?.description ?? err?.message ?? String(err);
    $('#callback-message').setAttribute('role', 'alert');
    $('#callback-spinner').hidden = true;
    const slug = lastTenant();
    $('#callback-retry-link').href = consoleUrl(slug ? `?tenant=${encodeURIComponent(slug)}` : '');
    $('#callback-retry').hidden = false;
    history.replaceState(null, '', location.pathname); // drop the code from the address bar
  }
}

main();
