// pages/clients.js — the organization's OAuth clients (admins): the list
// (GET /api/v1/clients), registering a confidential or public client, the
// secret shown once with copy buttons, editing a client's name, redirect URIs,
// grants and scopes (PATCH /api/v1/clients/{id}, in the same form), rotating a
// secret, deleting. The built-in console client is listed but not changed here.
import { busy, field, h, nextId, replace, setFieldError } from '../dom.js';
import { confirmDialog } from '../dialog.js';
import { flash, flashError } from '../flash.js';
import { badge, card, dataTable, viewHeader } from '../ui.js';
import { lines, nameError, redirectUriError } from '../validate.js';

const GRANTS = [
  { value: 'authorization_code', label: 'Authorization code (users sign in)', checked: true },
  { value: 'refresh_token', label: 'Refresh token', checked: true },
  { value: 'client_credentials', label: 'Client credentials (the app acts as itself)', confidentialOnly: true },
];
const SCOPES = [
  { value: 'read', checked: true },
  { value: 'write', checked: true },
  { value: 'profile', checked: true },
  { value: 'admin' },
];

/** Copies text to the clipboard (with a fallback for older browsers). */
async function copy(text, input) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    input.select();
    document.execCommand('copy');
  }
}

function copyField(label, value, id) {
  const input = h('input', { type: 'text', id, readOnly: true, value, class: 'mono', spellcheck: 'false' });
  const button = h('button', { type: 'button', 'aria-label': `Copy ${label.toLowerCase()}` }, 'Copy');
  button.addEventListener('click', async () => {
    await copy(value, input);
    flash(`${label} copied to the clipboard.`, 'info');
  });
  return h('div', { class: 'field' }, h('label', { for: id }, label), h('div', { class: 'input-with-button' }, input, button));
}

async function render(ctx, root) {
  const secretPanel = h('div', { id: 'secret-panel', hidden: true });
  const list = h('div', { id: 'clients-list' });

  /** The secret, once: the server never shows it again. */
  function showSecret(name, clientId, secret) {
    const titleId = nextId('secret-title');
    replace(secretPanel, h('section', { class: 'secret-panel', 'aria-labelledby': titleId },
      h('h3', { id: titleId }, `Secret of "${name}"`),
      h('p', {}, 'Copy the secret now and keep it somewhere safe: it is shown only this once. If it is lost, rotate it.'),
      copyField('Client ID', clientId, 'new-client-id'),
      copyField('Client secret', secret, 'new-client-secret'),
      h('button', { type: 'button', onclick: () => { secretPanel.hidden = true; replace(secretPanel); } }, 'I have stored it')));
    secretPanel.hidden = false;
    secretPanel.querySelector('#new-client-secret').focus();
  }

  async function load() {
    const { clients = [] } = await ctx.api.get('/api/v1/clients');
    replace(list, dataTable({
      caption: 'OAuth clients',
      empty: 'No clients yet.',
      rows: clients,
      rowAttrs: (c) => ({ dataset: { clientId: c.client_id } }),
      columns: [
        { label: 'Name', cell: (c) => [h('strong', {}, c.client_name || c.client_id), c.builtin ? [' ', badge('built-in', 'brand')] : null] },
        { label: 'Client ID', cell: (c) => h('code', {}, c.client_id) },
        { label: 'Type', cell: (c) => (c.token_endpoint_auth_method === 'none'
          ? badge('public')
          : [badge('confidential', 'ok'), c.resource_server ? [' ', badge('resource server', 'brand')] : null,
             h('div', { class: 'small muted' }, c.token_endpoint_auth_method)]) },
        { label: 'Grants', cell: (c) => h('span', { class: 'small' }, (c.grant_types ?? []).join(', ')) },
        { label: 'Redirect URIs', cell: (c) => ((c.redirect_uris ?? []).length
          ? h('ul', { class: 'list-plain small' }, c.redirect_uris.map((u) => h('li', {}, h('code', {}, u))))
          : h('span', { class: 'muted' }, '—')) },
        { label: 'Actions', cell: (c) => actions(c) },
      ],
    }));
  }

  function actions(c) {
    if (c.builtin) return h('span', { class: 'small muted' }, 'Used by this console');
    const buttons = [];
    const name = c.client_name || c.client_id;
    if (c.token_endpoint_auth_method !== 'none') {
      const rotate = h('button', { type: 'button', class: 'small', 'aria-label': `Rotate the secret of ${name}` }, 'Rotate secret');
      rotate.addEventListener('click', async () => {
        const ok = await confirmDialog({
          title: `Rotate the secret of "${name}"?`,
          message: 'A new secret is issued and the current one stops working at once.',
          confirmLabel: 'Rotate secret',
        });
        if (!ok) return;
        await busy(rotate, async () => {
          try {
            const rotated = await ctx.api.post(`/api/v1/clients/${encodeURIComponent(c.client_id)}/rotate-secret`);
            showSecret(name, rotated.client_id ?? c.client_id, rotated.client_secret);
            flash(`The secret of "${name}" was rotated.`);
          } catch (err) {
            flashError(err);
          }
        });
      });
      buttons.push(rotate);
      // A resource server may introspect every token of the organization;
      // other clients only their own (never settable by self-registration).
      const rs = h('button', { type: 'button', class: 'small', 'aria-label': `${c.resource_server ? 'Unmark' : 'Mark'} ${name} as a resource server` },
        c.resource_server ? 'Not a resource server' : 'Make resource server');
      rs.addEventListener('click', () => busy(rs, async () => {
        try {
          await ctx.api.patch(`/api/v1/clients/${encodeURIComponent(c.client_id)}`, { resource_server: !c.resource_server });
          await load();
          flash(c.resource_server ? `"${name}" may now introspect only its own tokens.` : `"${name}" may now introspect every token of this organization.`);
        } catch (err) {
          flashError(err);
        }
      }));
      buttons.push(rs);
    }
    const edit = h('button', { type: 'button', class: 'small', 'aria-label': `Edit ${name}` }, 'Edit');
    edit.addEventListener('click', () => startEdit(c));
    buttons.unshift(edit);
    const remove = h('button', { type: 'button', class: 'small danger', 'aria-label': `Delete ${name}` }, 'Delete');
    remove.addEventListener('click', async () => {
      const ok = await confirmDialog({
        title: `Delete "${name}"?`,
        message: 'The client is removed and every token it holds is revoked. This cannot be undone.',
        confirmLabel: 'Delete client',
        danger: true,
      });
      if (!ok) return;
      await busy(remove, async () => {
        try {
          await ctx.api.delete(`/api/v1/clients/${encodeURIComponent(c.client_id)}`);
          await load();
          flash(`"${name}" was deleted.`);
        } catch (err) {
          flashError(err);
        }
      });
    });
    buttons.push(remove);
    return h('div', { class: 'row-actions' }, buttons);
  }

  // ----- registering a client -----
  const nameField = field({ label: 'Name', name: 'client_name', required: true, autocomplete: 'off', hint: 'Shown to users on the sign-in page.' });
  const typeId = nextId('type');
  const typeRadios = ['confidential', 'public'].map((value) => h('label', { class: 'check' },
    h('input', { type: 'radio', name: 'client_type', value, checked: value === 'confidential' }),
    h('span', {}, value === 'confidential'
      ? [h('strong', {}, 'Confidential'), ' — a server-side app that can keep a secret']
      : [h('strong', {}, 'Public'), ' — a browser or mobile app; no secret, PKCE instead'])));
  const authMethod = field({
    label: 'Client authentication', name: 'token_endpoint_auth_method', tag: 'select', value: 'client_secret_basic',
    options: [
      { value: 'client_secret_basic', label: 'HTTP Basic (client_secret_basic)' },
      { value: 'client_secret_post', label: 'In the form body (client_secret_post)' },
    ],
  });
  const grantChecks = GRANTS.map((g) => h('label', { class: 'check', dataset: { confidentialOnly: String(Boolean(g.confidentialOnly)) } },
    h('input', { type: 'checkbox', name: 'grant_types', value: g.value, checked: Boolean(g.checked) }), h('span', {}, g.label)));
  const scopeChecks = SCOPES.map((s) => h('label', { class: 'check' },
    h('input', { type: 'checkbox', name: 'scope', value: s.value, checked: Boolean(s.checked) }), h('span', {}, s.value)));
  const redirects = field({
    label: 'Redirect URIs', name: 'redirect_uris', tag: 'textarea', rows: 3, spellcheck: 'false',
    hint: 'One per line, matched exactly. Needed for the authorization code grant.',
  });
  const resourceServer = h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'resource_server' }),
    h('span', {}, 'Resource server: may introspect every token of this organization (other clients: only their own)'));
  const grantsError = h('span', { class: 'field-error', id: nextId('grants-error') });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Register client');
  const cancel = h('button', { type: 'button', hidden: true }, 'Cancel');
  const form = h('form', { novalidate: true, id: 'client-create-form' },
    nameField,
    h('fieldset', { 'aria-describedby': typeId }, h('legend', {}, 'Type'), typeRadios),
    h('span', { id: typeId, class: 'visually-hidden' }, 'Confidential clients get a secret; public clients do not.'),
    authMethod,
    resourceServer,
    h('div', { class: 'form-grid' },
      h('fieldset', {}, h('legend', {}, 'Grant types'), grantChecks, grantsError),
      h('fieldset', {}, h('legend', {}, 'Scopes'), scopeChecks)),
    redirects,
    h('div', { class: 'actions' }, submit, cancel));
  const formCard = card('Register a client', form);
  let editing = null; // the client being edited, or null when registering

  const control = (f) => f.querySelector('input, select, textarea');
  const isConfidential = () => form.querySelector('input[name="client_type"]:checked').value === 'confidential';
  function syncType() {
    const confidential = isConfidential();
    authMethod.hidden = !confidential;
    resourceServer.hidden = !confidential;
    if (!confidential) resourceServer.querySelector('input').checked = false;
    for (const label of grantChecks) {
      if (label.dataset.confidentialOnly !== 'true') continue;
      const box = label.querySelector('input');
      box.disabled = !confidential;
      if (!confidential) box.checked = false;
    }
  }
  for (const radio of form.querySelectorAll('input[name="client_type"]')) radio.addEventListener('change', syncType);
  syncType();

  /** The form edits a client: its values filled in, its type fixed. */
  function startEdit(c) {
    editing = c;
    control(nameField).value = c.client_name ?? '';
    const type = c.token_endpoint_auth_method === 'none' ? 'public' : 'confidential';
    for (const radio of form.querySelectorAll('input[name="client_type"]')) {
      radio.checked = radio.value === type;
      radio.disabled = true;
    }
    syncType();
    if (type === 'confidential') control(authMethod).value = c.token_endpoint_auth_method;
    resourceServer.querySelector('input').checked = Boolean(c.resource_server);
    for (const box of form.querySelectorAll('input[name="grant_types"]')) box.checked = (c.grant_types ?? []).includes(box.value);
    const scopes = (c.scope ?? '').split(' ');
    for (const box of form.querySelectorAll('input[name="scope"]')) box.checked = scopes.includes(box.value);
    control(redirects).value = (c.redirect_uris ?? []).join('\n');
    formCard.querySelector('h2').textContent = `Edit "${c.client_name || c.client_id}"`;
    submit.textContent = 'Save changes';
    cancel.hidden = false;
    control(nameField).focus();
  }
  function stopEdit() {
    editing = null;
    form.reset();
    for (const radio of form.querySelectorAll('input[name="client_type"]')) radio.disabled = false;
    syncType();
    formCard.querySelector('h2').textContent = 'Register a client';
    submit.textContent = 'Register client';
    cancel.hidden = true;
  }
  cancel.addEventListener('click', stopEdit);

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const name = control(nameField).value.trim();
    const grants = [...form.querySelectorAll('input[name="grant_types"]:checked')].map((b) => b.value);
    const scopes = [...form.querySelectorAll('input[name="scope"]:checked')].map((b) => b.value);
    const uris = lines(control(redirects).value);
    const nameProblem = nameError(name);
    const grantsProblem = grants.length ? '' : 'Choose at least one grant type.';
    let uriProblem = uris.map(redirectUriError).find(Boolean) ?? '';
    if (!uriProblem && grants.includes('authorization_code') && !uris.length) uriProblem = 'The authorization code grant needs at least one redirect URI.';
    setFieldError(control(nameField), nameProblem);
    grantsError.textContent = grantsProblem;
    setFieldError(control(redirects), uriProblem);
    if (nameProblem || grantsProblem || uriProblem) {
      (nameProblem ? control(nameField) : uriProblem ? control(redirects) : form.querySelector('input[name="grant_types"]')).focus();
      return;
    }
    const confidential = isConfidential();
    const body = {
      client_name: name,
      grant_types: grants,
      token_endpoint_auth_method: confidential ? control(authMethod).value : 'none',
      scope: scopes.join(' '),
    };
    if (uris.length || editing) body.redirect_uris = uris;
    if (confidential && (editing || resourceServer.querySelector('input').checked)) body.resource_server = resourceServer.querySelector('input').checked;
    body.response_types = grants.includes('authorization_code') ? ['code'] : [];
    if (!editing && !body.response_types.length) delete body.response_types;
    await busy(submit, async () => {
      if (editing) {
        try {
          const saved = await ctx.api.patch(`/api/v1/clients/${encodeURIComponent(editing.client_id)}`, body);
          flash(`"${saved.client_name ?? name}" was saved.`);
          stopEdit();
          await load();
        } catch (err) {
          flashError(err);
        }
        return;
      }
      try {
        const created = await ctx.api.post('/api/v1/clients', body);
        if (created.client_secret) {
          showSecret(created.client_name ?? name, created.client_id, created.client_secret);
          flash(`"${created.client_name ?? name}" was registered. Copy its secret now.`);
        } else {
          flash(`"${created.client_name ?? name}" was registered as a public client (client ID ${created.client_id}).`);
        }
        form.reset();
        syncType();
        await load();
      } catch (err) {
        flashError(err);
      }
    });
  });

  await load();
  root.append(
    viewHeader('OAuth clients'),
    secretPanel,
    card('Registered clients', list),
    formCard);
}

export default { id: 'clients', title: 'OAuth clients', admin: true, render };
