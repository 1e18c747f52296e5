// pages/users.js — the organization's users (admins): a paged list
// (GET /api/v1/users?limit&cursor), adding a user, changing a role,
// disabling or enabling, deleting. Only what the signed-in role may do is
// offered: admins do not manage owners, only owners grant owner, and nobody
// changes themselves here (that is the profile page).
import { busy, field, h, replace, setFieldError } from '../dom.js';
import { confirmDialog } from '../dialog.js';
import { errorText, flash, flashError } from '../flash.js';
import { formatDate } from '../format.js';
import { badge, card, dataTable, statusBadge, viewHeader } from '../ui.js';
import { emailError, passwordError } from '../validate.js';

const PAGE_SIZE = 10;

async function render(ctx, root) {
  const myId = ctx.me.user?.id;
  const roles = ctx.isOwner ? ['user', 'admin', 'owner'] : ['user', 'admin'];
  const cursors = [null]; // cursor of each page seen so far; the last one is shown
  let nextCursor = null;
  const list = h('div', { id: 'users-list' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages of users' });

  const canManage = (u) => u.id !== myId && (ctx.isOwner || u.role !== 'owner');

  async function load() {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    const cursor = cursors[cursors.length - 1];
    if (cursor) query.set('cursor', cursor);
    const page = await ctx.api.get(`/api/v1/users?${query}`);
    nextCursor = page.next_cursor ?? null;
    replace(list, dataTable({
      caption: 'Users',
      empty: 'No users on this page.',
      rows: page.users ?? [],
      rowAttrs: (u) => ({ dataset: { email: u.email, userId: u.id } }),
      columns: [
        { label: 'User', cell: (u) => [h('strong', {}, u.email), u.display_name ? h('div', { class: 'small muted' }, u.display_name) : null] },
        { label: 'Role', cell: (u) => (canManage(u) ? roleSelect(u) : [badge(u.role, u.role === 'owner' ? 'brand' : ''), u.id === myId ? ' (you)' : null]) },
        { label: 'Status', cell: (u) => statusBadge(u.status) },
        { label: 'Created', cell: (u) => formatDate(u.created_at) },
        { label: 'Actions', cell: (u) => (canManage(u) ? actions(u) : h('span', { class: 'muted small' }, u.id === myId ? 'See Profile' : '—')) },
      ],
    }));
    const pageNumber = cursors.length;
    replace(pager,
      h('button', { type: 'button', disabled: pageNumber === 1, onclick: () => { cursors.pop(); reload(); } }, '← Previous'),
      h('span', { class: 'muted', 'aria-live': 'polite' }, `Page ${pageNumber}`),
      h('button', { type: 'button', disabled: !nextCursor, onclick: () => { cursors.push(nextCursor); reload(); } }, 'Next →'));
  }

  async function reload() {
    try {
      await load();
    } catch (err) {
      flashError(err);
    }
  }

  function roleSelect(u) {
    const select = h('select', { 'aria-label': `Role of ${u.email}`, value: u.role },
      [...new Set([...roles, u.role])].map((r) => h('option', { value: r }, r[0].toUpperCase() + r.slice(1))));
    select.addEventListener('change', async () => {
      select.disabled = true;
      try {
        await ctx.api.patch(`/api/v1/users/${u.id}`, { role: select.value });
        u.role = select.value;
        flash(`${u.email} is now ${u.role === 'admin' ? 'an' : 'a'} ${u.role}.`);
      } catch (err) {
        select.value = u.role;
        flashError(err);
      } finally {
        select.disabled = false;
      }
    });
    return select;
  }

  function actions(u) {
    const disabled = u.status === 'disabled';
    const toggle = h('button', { type: 'button', class: 'small' }, disabled ? 'Enable' : 'Disable');
    toggle.setAttribute('aria-label', `${disabled ? 'Enable' : 'Disable'} ${u.email}`);
    toggle.addEventListener('click', () => busy(toggle, async () => {
      try {
        await ctx.api.patch(`/api/v1/users/${u.id}`, { status: disabled ? 'active' : 'disabled' });
        await load();
        flash(disabled ? `${u.email} can sign in again.` : `${u.email} is disabled and cannot sign in.`);
      } catch (err) {
        flashError(err);
      }
    }));
    const remove = h('button', { type: 'button', class: 'small danger', 'aria-label': `Delete ${u.email}` }, 'Delete');
    remove.addEventListener('click', async () => {
      const ok = await confirmDialog({
        title: `Delete ${u.email}?`,
        message: 'The user and everything they own in this organization are removed. This cannot be undone.',
        confirmLabel: 'Delete user',
        danger: true,
      });
      if (!ok) return;
      await busy(remove, async () => {
        try {
          await ctx.api.delete(`/api/v1/users/${u.id}`);
          await load();
          flash(`${u.email} was deleted.`);
        } catch (err) {
          flashError(err);
        }
      });
    });
    // Admins never set another user's password: a reset makes it unusable,
    // signs the user out and sends them a one-time link by mail.
    const reset = h('button', { type: 'button', class: 'small', 'aria-label': `Reset the password of ${u.email}` }, 'Reset password');
    reset.addEventListener('click', async () => {
      const ok = await confirmDialog({
        title: `Reset the password of ${u.email}?`,
        message: 'Their password stops working at once and they are signed out everywhere. They receive a one-time link by e-mail to choose a new one.',
        confirmLabel: 'Reset password',
        danger: true,
      });
      if (!ok) return;
      await busy(reset, async () => {
        try {
          await ctx.api.post(`/api/v1/users/${u.id}/reset-password`, {});
          flash(`${u.email} was signed out; a password reset e-mail is on its way.`);
        } catch (err) {
          flashError(err);
        }
      });
    });
    return h('div', { class: 'row-actions' }, toggle, reset, remove);
  }

  // ----- the "add a user" form -----
  const email = field({ label: 'Email', name: 'email', type: 'email', autocomplete: 'off', required: true });
  const displayName = field({ label: 'Display name', name: 'display_name', autocomplete: 'off', hint: 'Optional.' });
  const password = field({ label: 'Initial password', name: 'password', type: 'password', autocomplete: 'new-password', required: true, hint: 'At least 8 characters; they can change it on their profile.' });
  const role = field({ label: 'Role', name: 'role', tag: 'select', value: 'user', options: roles.map((r) => ({ value: r, label: r[0].toUpperCase() + r.slice(1) })) });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Add user');
  const form = h('form', { novalidate: true, id: 'user-create-form' },
    h('div', { class: 'form-grid' }, email, displayName, password, role),
    h('div', { class: 'actions' }, submit));
  const input = (f) => f.querySelector('input, select');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const problems = [[email, emailError(input(email).value)], [password, passwordError(input(password).value)]];
    for (const [f, message] of problems) setFieldError(input(f), message);
    const first = problems.find(([, message]) => message);
    if (first) {
      input(first[0]).focus();
      return;
    }
    await busy(submit, async () => {
      try {
        const body = { email: input(email).value.trim(), password: input(password).value, role: input(role).value };
        if (input(displayName).value.trim()) body.display_name = input(displayName).value.trim();
        const user = await ctx.api.post('/api/v1/users', body);
        flash(`${user.email} was added as ${user.role}.`);
        form.reset();
        input(role).value = 'user';
        cursors.splice(1);
        await load();
      } catch (err) {
        // A taken e-mail is said at its field; anything else as a notice.
        if (err.status === 409) setFieldError(input(email), errorText(err));
        else flashError(err);
      }
    });
  });

  await load();
  root.append(
    viewHeader('Users'),
    card('People in this organization', list, pager),
    card('Add a user', form));
}

export default { id: 'users', title: 'Users', admin: true, render };
