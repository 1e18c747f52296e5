// flash.js — flash notices: success, info and error messages shown at the
// top of the page inside an aria-live region (errors as role="alert"). A
// notice queued with flashNext() is shown after the next page load.
import { h } from './dom.js';

const NEXT_KEY = 'bf.flash';
const MAX_NOTICES = 4;
const SUCCESS_MS = 12000;

function region() {
  let el = document.getElementById('flash');
  if (!el) {
    el = h('div', { id: 'flash', class: 'flash-region', 'aria-live': 'polite' });
    (document.querySelector('main') ?? document.body).prepend(el);
  }
  return el;
}

/** Shows a notice; kind is 'success', 'info' or 'error'. */
export function flash(message, kind = 'success') {
  const list = region();
  const notice = h('div', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status', dataset: { kind } },
    h('p', {}, message),
    h('button', { type: 'button', 'aria-label': 'Dismiss notice', title: 'Dismiss', onclick: () => notice.remove() }, '×'));
  list.append(notice);
  while (list.children.length > MAX_NOTICES) list.firstElementChild.remove();
  if (kind !== 'error') setTimeout(() => notice.remove(), SUCCESS_MS);
  return notice;
}

/** A server's message as a sentence: capital first letter, final stop. */
export function sentence(text) {
  const t = String(text ?? '').trim();
  if (!t) return t;
  return t[0].toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? '' : '.');
}

/** An error's words: an ApiError's error_description, or any Error's message. */
export function errorText(err) {
  return sentence(err?.description ?? err?.message ?? String(err));
}

/** Shows an error as a notice (once: not when a field shows it). */
export function flashError(err) {
  return flash(errorText(err), 'error');
}

export function clearFlash() {
  region().replaceChildren();
}

/** Removes the success and info notices (a new page starts clean). */
export function clearNotices() {
  for (const n of [...region().children]) if (n.dataset.kind !== 'error') n.remove();
}

/** Queues a notice for the next page this tab loads. */
export function flashNext(message, kind = 'success') {
  sessionStorage.setItem(NEXT_KEY, JSON.stringify({ message, kind }));
}

/** Shows the notice queued by the previous page, if any. */
export function showQueuedFlash() {
  const raw = sessionStorage.getItem(NEXT_KEY);
  if (!raw) return;
  sessionStorage.removeItem(NEXT_KEY);
  try {
    const { message, kind } = JSON.parse(raw);
    if (message) flash(message, kind);
  } catch {
    /* a damaged entry is simply dropped */
  }
}
