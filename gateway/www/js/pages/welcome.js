// pages/welcome.js — the welcome page: points its API links at the configured
// API and keeps the status card current with GET /health every 15 seconds.
import { apiUrl, request } from '../api.js';
import { $ } from '../dom.js';
import { showQueuedFlash } from '../flash.js';
import { formatTime } from '../format.js';
import { pointApiLinks } from '../links.js';

const INTERVAL_MS = 15_000;
let lastState = null;

async function checkHealth() {
  const started = performance.now();
  let health = null;
  let problem = '';
  try {
    health = await request(apiUrl('/health'));
  } catch (err) {
    problem = err.description ?? err.message;
  }
  const ms = Math.round(performance.now() - started);
  const up = health?.status === 'ok';
  const state = up ? 'up' : 'down';
  const pill = $('#health-pill');
  pill.dataset.state = state;
  pill.textContent = up ? 'Operational' : 'Unavailable';
  $('#health-api').textContent = up ? 'Answering' : (problem || 'Not answering');
  $('#health-database').textContent = health?.database === 'up' ? 'Up' : (health?.database ?? 'Unknown');
  $('#health-version').textContent = health?.version ?? '—';
  $('#health-latency').textContent = health ? `${ms} ms` : '—';
  $('#health-checked').textContent = formatTime(new Date());
  if (state !== lastState) {
    // Announce changes only, not every poll.
    if (lastState !== null) $('#health-announce').textContent = up ? 'The service is operational again.' : 'The service is unavailable.';
    lastState = state;
  }
}

pointApiLinks();
showQueuedFlash();
$('#tenant-url-example').textContent = apiUrl('/t/your-organization').replace(/^https?:\/\//, '') || '/t/your-organization';
$('#health-refresh').addEventListener('click', checkHealth);
checkHealth();
setInterval(() => {
  if (document.visibilityState === 'visible') checkHealth();
}, INTERVAL_MS);
