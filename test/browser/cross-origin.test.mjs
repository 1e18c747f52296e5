// cross-origin.test.mjs — the web console as Docker runs it: the pages come
// from a second origin (nginx on 127.0.0.1:FRONTEND_PORT, started here as a
// child process, with config.js pointing at the gateway and the frontend's
// Content-Security-Policy), the API from the gateway, so every call is
// cross-origin (CORS). The whole flow (flow.mjs) at phone width.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { consoleFlow } from './flow.mjs';
import { BF_URL, FRONTEND_PORT, PHONE, launchBrowser, startFrontend } from './lib.mjs';

function hasNginx() {
  try {
    execFileSync('nginx', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const skip = !BF_URL ? 'BF_URL is not set' : !FRONTEND_PORT ? 'FRONTEND_PORT is not set' : !hasNginx() ? 'nginx is not installed' : false;

test('browser, cross origin (pages on FRONTEND_PORT, API on the gateway): the same flow (phone)', { skip, timeout: 180_000 }, async () => {
  const frontend = await startFrontend({ port: FRONTEND_PORT, apiBase: BF_URL });
  const browser = await launchBrowser();
  try {
    const { requests } = await consoleFlow({ browser, front: frontend.origin, viewport: PHONE, name: 'cross' });
    assert.notEqual(frontend.origin, new URL(BF_URL).origin);
    assert.ok(requests.some((r) => r.includes(`${frontend.origin}/console/`)), 'pages came from the second origin');
    assert.ok(requests.some((r) => r.startsWith('GET ') && r.includes(`${BF_URL}/t/`) && r.includes('/api/v1/me')), 'the API was called cross-origin');
  } finally {
    await browser.close();
    await frontend.stop();
  }
});
