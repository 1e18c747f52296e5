// pages/profile.js — the signed-in user's own account (everyone): who they
// are, their display name and a new password (PATCH /api/v1/me; the password
// needs the current one, and a new one signs the user out everywhere).
import { signOut } from '../auth.js';
import { busy, field, h, setFieldError } from '../dom.js';
import { flash, flashError, flashNext } from '../flash.js';
import { formatDate } from '../format.js';
import { badge, card, facts, statusBadge, viewHeader } from '../ui.js';
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
      card('Password', passwordForm)));
}

export default { id: 'profile', title: 'Profile', admin: false, render };
