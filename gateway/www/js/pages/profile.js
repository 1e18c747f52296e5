// pages/profile.js — the signed-in user's own account (everyone): who they
// are, their display name and a new password (PATCH /api/v1/me; the password
// needs the current one, and a new one signs the user out everywhere), their
// browser sign-in sessions and the applications they allowed, each of which
// they can end or withdraw (GET/DELETE /api/v1/me/sessions, /api/v1/me/consents;
// withdrawing a consent revokes that application's tokens).
import { signOut } from '../auth.js';
import { confirmDialog } from '../dialog.js';
import { busy, field, h, replace, setFieldError } from '../dom.js';
import { flash, flashError, flashNext } from '../flash.js';
import { formatDate } from '../format.js';
import { badge, card, dataTable, facts, statusBadge, viewHeader } from '../ui.js';
import { confirmError, passwordError } from '../validate.js';

async function render(ctx, root) {
  const user = ctx.me.user;
  const control = (f) => f.querySelector('input');
  if (!user) {
    root.append(viewHeader('Profile'), card('Session', h('p', {}, 'This session belongs to an application, not to a user.')));
    return;
  }

  const nameField = field({ label: 'Display name', name: 'display_name', value: user.display_name ?? '', autocomplete: 'name', maxlength: 200, hint: 'How you appear to others; may be empty.' });
  const nameSubmit = h('button', { type: 'submit', class: 'primary' }, 'Save name');
  const nameForm = h('form', { novalidate: true, id: 'profile-name-form' }, nameField, h('div', { class: 'actions' }, nameSubmit));
  nameForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    await busy(nameSubmit, async () => {
      try {
        await ctx.api.patch('/api/v1/me', { display_name: control(nameField).value.trim() });
        flash('Your display name was saved.');
        await ctx.reloadMe();
      } catch (err) {
        flashError(err);
      }
    });
  });

  const hidden = h('input', { type: 'text', name: 'username', autocomplete: 'username', value: user.email, hidden: true });
  const currentField = field({ label: 'Current password', name: 'current_password', type: 'password', autocomplete: 'current-password', required: true });
  const passwordField = field({ label: 'New password', name: 'new_password', type: 'password', autocomplete: 'new-password', required: true, hint: 'At least 8 characters.' });
  const confirmField = field({ label: 'Repeat the new password', name: 'confirm_password', type: 'password', autocomplete: 'new-password', required: true });
  const passwordSubmit = h('button', { type: 'submit', class: 'primary' }, 'Change password');
  const passwordForm = h('form', { novalidate: true, id: 'profile-password-form' }, hidden, currentField, passwordField, confirmField, h('div', { class: 'actions' }, passwordSubmit));
  passwordForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const password = control(passwordField).value;
    const current = control(currentField).value;
    setFieldError(control(currentField), current ? '' : 'Enter your current password.');
    if (!current) { control(currentField).focus(); return; }
    const p1 = passwordError(password);
    const p2 = p1 ? '' : confirmError(password, control(confirmField).value);
    setFieldError(control(passwordField), p1);
    setFieldError(control(confirmField), p2);
    if (p1 || p2) {
      (p1 ? control(passwordField) : control(confirmField)).focus();
      return;
    }
    await busy(passwordSubmit, async () => {
      try {
        await ctx.api.patch('/api/v1/me', { current_password: current, password });
        // Every sign-in of this user ended with the change, this one too.
        await signOut().catch(() => {});
        flashNext('Your password was changed and you were signed out everywhere. Sign in with the new password.', 'info');
        location.assign(`./?tenant=${encodeURIComponent(ctx.slug)}`);
      } catch (err) {
        flashError(err);
      }
    });
  });

  const sessionsList = h('div', { id: 'profile-sessions' });
  const consentsList = h('div', { id: 'profile-consents' });
  async function loadSessions() {
    const { sessions } = await ctx.api.get('/api/v1/me/sessions');
    replace(sessionsList, dataTable({
      caption: 'Sign-in sessions',
      empty: 'No browser is signed in.',
      rows: sessions ?? [],
      rowAttrs: (s) => ({ dataset: { sessionId: s.id } }),
      columns: [
        { label: 'Signed in', cell: (s) => formatDate(s.created_at) },
        { label: 'From', cell: (s) => s.client_addr ?? '—' },
        { label: 'Ends', cell: (s) => formatDate(s.expires_at) },
        { label: 'Actions', cell: (s) => h('button', { type: 'button', class: 'small danger', 'aria-label': 'End this browser session', onclick: () => endSession(s) }, 'End session') },
      ],
    }));
  }
  async function endSession(s) {
    try {
      await ctx.api.delete(`/api/v1/me/sessions/${encodeURIComponent(s.id)}`);
      flash('That browser was signed out; it needs your password again.');
      await loadSessions();
    } catch (err) {
      flashError(err);
    }
  }
  async function loadConsents() {
    const { consents } = await ctx.api.get('/api/v1/me/consents');
    replace(consentsList, dataTable({
      caption: 'Applications you allowed',
      empty: 'You have not allowed any application.',
      rows: consents ?? [],
      rowAttrs: (c) => ({ dataset: { clientId: c.client_id } }),
      columns: [
        { label: 'Application', cell: (c) => [h('strong', {}, c.client_name), h('div', { class: 'small muted' }, c.client_id)] },
        { label: 'May', cell: (c) => h('code', {}, c.scope) },
        { label: 'Since', cell: (c) => formatDate(c.granted_at) },
        { label: 'Actions', cell: (c) => h('button', { type: 'button', class: 'small danger', 'aria-label': `Withdraw access of ${c.client_name}`, onclick: () => withdraw(c) }, 'Withdraw') },
      ],
    }));
  }
  async function withdraw(c) {
    const ok = await confirmDialog({
      title: `Withdraw access of ${c.client_name}?`,
      message: 'Its tokens for your account stop working at once; it asks for your consent again next time.',
      confirmLabel: 'Withdraw', danger: true,
    });
    if (!ok) return;
    try {
      await ctx.api.delete(`/api/v1/me/consents/${encodeURIComponent(c.client_id)}`);
      flash(`${c.client_name} no longer has access.`);
      await loadConsents();
    } catch (err) {
      flashError(err);
    }
  }
  await Promise.all([loadSessions(), loadConsents()]).catch(flashError);

  root.append(
    viewHeader('Profile'),
    card('Your account', facts([
      ['Email', user.email],
      ['Display name', user.display_name],
      ['Role', badge(ctx.me.role ?? user.role, ctx.isAdmin ? 'brand' : '')],
      ['Status', statusBadge(user.status)],
      ['Organization', ctx.me.tenant?.name],
      ['Granted scopes', h('code', {}, ctx.scopes.join(' '))],
      ['Member since', formatDate(user.created_at)],
    ])),
    h('div', { class: 'grid-2' },
      card('Display name', nameForm),
      card('Password', passwordForm)),
    card('Sign-in sessions', sessionsList),
    card('Applications', consentsList));
}

export default { id: 'profile', title: 'Profile', admin: false, render };
