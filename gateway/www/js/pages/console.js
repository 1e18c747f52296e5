// pages/console.js — the console's shell: finds the session (or shows the
// sign-in form), asks GET /api/v1/me who is signed in, offers in the
// navigation only the pages that role may use, and routes #/page to them.
import { TenantApi, ApiError } from '../api.js';
import { accessToken, clearSession, getSession, refresh, signOut } from '../auth.js';
import { $, busy, h, replace } from '../dom.js';
import { clearNotices, flash, flashError, flashNext, showQueuedFlash } from '../flash.js';
import { pointApiLinks } from '../links.js';
import { loading } from '../ui.js';
import { renderSignIn } from './signin.js';
import dashboard from './dashboard.js';
import users from './users.js';
import clients from './clients.js';
import settings from './settings.js';
import notes from './notes.js';
import profile from './profile.js';

// Each page: { id, title, admin (needs admin role and scope), render(ctx, root) }.
const PAGES = [dashboard, users, clients, settings, notes, profile];

const view = $('#view');
const layout = $('#console-layout');
const nav = $('#console-nav');
let ctx = null;
let renderCount = 0;
let lastPage = null; // id of the page shown last (its notices are cleared on leaving it)

function allowedPages() {
  return PAGES.filter((p) => !p.admin || ctx.isAdmin);
}

function homePage() {
  return ctx.isAdmin ? 'dashboard' : 'profile';
}

function showSignIn(slug) {
  ctx = null;
  layout.classList.add('signed-out');
  nav.hidden = true;
  $('#account').hidden = true;
  document.title = 'Sign in · Backend Framework';
  renderSignIn(view, { slug: slug ?? new URLSearchParams(location.search).get('tenant') ?? undefined });
}

function sessionOver() {
  const slug = ctx?.slug ?? getSession()?.slug;
  clearSession();
  if (ctx) flash('Your session has ended. Please sign in again.', 'info');
  showSignIn(slug);
}

/** Fills the header and the navigation for the signed-in user. */
function renderShell() {
  const { me } = ctx;
  layout.classList.remove('signed-out');
  $('#account').hidden = false;
  $('#account-tenant').textContent = me.tenant?.name ?? ctx.slug;
  $('#account-user').textContent = me.user?.display_name || me.user?.email || 'signed in';
  $('#account-role').textContent = me.role ?? 'user';
  replace($('#console-nav-list'), allowedPages().map((p) =>
    h('li', {}, h('a', { href: `#/${p.id}`, dataset: { page: p.id } }, p.title))));
  nav.hidden = false;
}

/** Renders the page named by the address's #/hash. */
async function route() {
  if (!ctx) return;
  const wanted = location.hash.replace(/^#\/?/, '').split(/[/?]/)[0];
  const page = allowedPages().find((p) => p.id === wanted);
  if (!page) {
    history.replaceState(null, '', `#/${homePage()}`);
    return route();
  }
  // Notices belong to the page they were shown on: a new page starts clean.
  if (lastPage && lastPage !== page.id) clearNotices();
  lastPage = page.id;
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.page === page.id) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `${page.title} · ${ctx.me.tenant?.name ?? ctx.slug} · Backend Framework`;
  const token = ++renderCount;
  const root = h('div', { class: 'view', dataset: { view: page.id } });
  replace(view, loading());
  try {
    await page.render({ ...ctx, isCurrent: () => token === renderCount }, root);
    if (token !== renderCount || !ctx) return; // another page was opened, or the session ended
    replace(view, root);
    if (ctx.focusOnRender) root.querySelector('h1')?.focus();
    ctx.focusOnRender = true;
  } catch (err) {
    if (token !== renderCount || !ctx) return;
    replace(view, root);
    if (!(err instanceof ApiError && err.status === 401)) flashError(err);
  }
}

/** Asks the server who is signed in again (after a profile or name change). */
async function reloadMe() {
  ctx.me = await ctx.api.get('/api/v1/me');
  renderShell();
}

async function boot() {
  pointApiLinks();
  showQueuedFlash();
  const session = getSession();
  if (!session) return showSignIn();
  const api = new TenantApi(session.slug, { accessToken, refresh }, { onUnauthorized: sessionOver });
  let me;
  try {
    me = await api.get('/api/v1/me');
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return showSignIn(session.slug);
    flashError(err);
    replace(view, h('p', { class: 'empty' }, 'The console could not load. ',
      h('button', { type: 'button', class: 'link', onclick: () => location.reload() }, 'Try again')));
    return;
  }
  const scopes = (me.scope ?? session.scope ?? '').split(/\s+/);
  const role = me.role ?? 'user';
  ctx = {
    api,
    me,
    slug: session.slug,
    scopes,
    isAdmin: ['admin', 'owner'].includes(role) && scopes.includes('admin'),
    isOwner: role === 'owner' && scopes.includes('admin'),
    reloadMe,
    navigate: (id) => { location.hash = `#/${id}`; },
    rerender: () => route(),
    focusOnRender: false,
  };
  renderShell();
  route();
}

$('#sign-out').addEventListener('click', (event) => busy(event.currentTarget, async () => {
  const slug = getSession()?.slug ?? ctx?.slug ?? '';
  await signOut();
  ctx = null;
  flashNext('You are signed out.', 'info');
  location.assign(`./${slug ? `?tenant=${encodeURIComponent(slug)}` : ''}`);
}));
window.addEventListener('hashchange', () => route());
window.addEventListener('unhandledrejection', (event) => {
  flashError(event.reason);
  event.preventDefault();
});

boot().catch((err) => flash(err?.message ?? String(err), 'error'));
