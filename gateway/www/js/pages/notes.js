// pages/notes.js — the example application resource (everyone): notes, your
// own or, for admins, everyone's (GET/POST /api/v1/notes, DELETE
// /api/v1/notes/{id}). A template for pages of your own tables.
import { busy, field, h, replace, setFieldError } from '../dom.js';
import { confirmDialog } from '../dialog.js';
import { flash, flashError } from '../flash.js';
import { formatDate } from '../format.js';
import { card, viewHeader } from '../ui.js';

const PAGE_SIZE = 20;

async function render(ctx, root) {
  const myId = ctx.me.user?.id;
  const list = h('ul', { class: 'list-plain', id: 'notes-list' });
  const more = h('button', { type: 'button', hidden: true }, 'Load more');
  const empty = h('p', { class: 'empty', hidden: true }, 'No notes yet. Write the first one.');
  let cursor = null;

  function noteItem(n) {
    const remove = h('button', { type: 'button', class: 'small danger', 'aria-label': `Delete note ${n.title}` }, 'Delete');
    const item = h('li', { class: 'note-item', dataset: { noteId: n.id } },
      h('div', {},
        h('h3', {}, n.title),
        h('div', { class: 'small muted' }, `${n.author_id === myId ? 'By you' : 'By another user'} · ${formatDate(n.created_at)}`),
        n.body ? h('p', {}, n.body) : null),
      remove);
    remove.addEventListener('click', async () => {
      if (!await confirmDialog({ title: `Delete "${n.title}"?`, confirmLabel: 'Delete note', danger: true })) return;
      await busy(remove, async () => {
        try {
          await ctx.api.delete(`/api/v1/notes/${n.id}`);
          item.remove();
          empty.hidden = list.children.length > 0;
          flash('The note was deleted.');
        } catch (err) {
          flashError(err);
        }
      });
    });
    return item;
  }

  async function loadPage(reset) {
    if (reset) {
      cursor = null;
      replace(list);
    }
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (cursor) query.set('cursor', cursor);
    const page = await ctx.api.get(`/api/v1/notes?${query}`);
    list.append(...(page.notes ?? []).map(noteItem));
    cursor = page.next_cursor ?? null;
    more.hidden = !cursor;
    empty.hidden = list.children.length > 0;
  }
  more.addEventListener('click', () => busy(more, () => loadPage(false).catch(flashError)));

  const titleField = field({ label: 'Title', name: 'title', required: true, maxlength: 200, autocomplete: 'off' });
  const bodyField = field({ label: 'Text', name: 'body', tag: 'textarea', rows: 3 });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Add note');
  const form = h('form', { novalidate: true, id: 'note-form' }, titleField, bodyField, h('div', { class: 'actions' }, submit));
  const title = titleField.querySelector('input');
  const body = bodyField.querySelector('textarea');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const t = title.value.trim();
    const problem = !t ? 'Give the note a title.' : [...t].length > 200 ? 'Use at most 200 characters.' : '';
    setFieldError(title, problem);
    if (problem) {
      title.focus();
      return;
    }
    await busy(submit, async () => {
      try {
        await ctx.api.post('/api/v1/notes', { title: t, body: body.value });
        form.reset();
        flash('The note was added.');
        await loadPage(true);
      } catch (err) {
        flashError(err);
      }
    });
  });

  await loadPage(true);
  root.append(
    viewHeader('Notes'),
    h('p', { class: 'muted' }, ctx.isAdmin ? 'The example application: notes of everyone in the organization.' : 'The example application: your own notes, visible to you and the organization\'s admins.'),
    h('div', { class: 'grid-2' },
      card('New note', form),
      card('Notes', list, empty, more)));
}

export default { id: 'notes', title: 'Notes', admin: false, render };
