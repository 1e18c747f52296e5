// pages/settings.js — the organization's settings (admins): name and custom
// domain with its pending/approved state (PATCH /api/v1/tenants/{id}; the plan is shown, platform operators change it),
// and sign-in settings (PUT /api/v1/tenants/{id}/settings, which replaces the
// whole document, so the keys this page does not edit are sent back as read).
import { busy, field, h, nextId, setFieldError } from '../dom.js';
import { flash, flashError } from '../flash.js';
import { card, facts, badge, viewHeader } from '../ui.js';
import { colorError, lines, nameError, originError } from '../validate.js';

const DEFAULT_COLOR = '#4f46e5';

async function render(ctx, root) {
  const id = ctx.me.tenant.id;
  let [tenant, settings] = await Promise.all([
    ctx.api.get(`/api/v1/tenants/${id}`),
    ctx.api.get(`/api/v1/tenants/${id}/settings`),
  ]);
  settings ??= {};
  const control = (f) => f.querySelector('input, select, textarea');

  // ----- organization -----
  const nameField = field({ label: 'Name', name: 'name', required: true, value: tenant.name, maxlength: 200 });
  const domainField = field({
    label: 'Custom domain', name: 'custom_domain', value: tenant.custom_domain ?? '', spellcheck: 'false',
    autocapitalize: 'none', hint: 'A domain of yours that points at this service, e.g. auth.example.com. Leave empty for none.',
  });
  // A custom domain works only once a platform operator approved it.
  const domainStatus = h('p', { class: 'small', id: 'custom-domain-status', 'aria-live': 'polite' });
  const showDomainStatus = () => {
    domainStatus.replaceChildren(...(!tenant.custom_domain ? [] : tenant.custom_domain_status === 'approved'
      ? [badge('approved', 'ok'), ' ', h('span', { class: 'muted' }, `${tenant.custom_domain} identifies this organization.`)]
      : [badge('pending', 'warn'), ' ', h('span', { class: 'muted' }, `${tenant.custom_domain} works once a platform operator approves it.`)]));
  };
  showDomainStatus();
  const planField = h('div', { class: 'field' }, h('span', { class: 'label' }, 'Plan'),
    h('span', {}, badge(tenant.plan, 'brand'), ' ', h('span', { class: 'small muted' }, 'The platform operator changes the plan.')));
  const orgSubmit = h('button', { type: 'submit', class: 'primary' }, 'Save organization');
  const orgForm = h('form', { novalidate: true, id: 'tenant-form' }, nameField, domainField, domainStatus, planField, h('div', { class: 'actions' }, orgSubmit));
  orgForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const name = control(nameField).value.trim();
    const problem = nameError(name);
    setFieldError(control(nameField), problem);
    if (problem) {
      control(nameField).focus();
      return;
    }
    const domain = control(domainField).value.trim().toLowerCase();
    const body = {};
    if (name !== tenant.name) body.name = name;
    if (domain !== (tenant.custom_domain ?? '')) body.custom_domain = domain || null;
    if (!Object.keys(body).length) {
      flash('Nothing changed.', 'info');
      return;
    }
    await busy(orgSubmit, async () => {
      try {
        tenant = await ctx.api.patch(`/api/v1/tenants/${id}`, body);
        showDomainStatus();
        flash('The organization was saved.');
        await ctx.reloadMe();
      } catch (err) {
        flashError(err);
      }
    });
  });

  // ----- sign-in and security -----
  const originsField = field({
    label: 'Allowed origins (CORS)', name: 'allowed_origins', tag: 'textarea', rows: 3, spellcheck: 'false',
    hint: 'Web apps at these origins may call the API from the browser. One per line, like https://app.example.com.',
  });
  control(originsField).value = (settings.allowed_origins ?? []).join('\n');
  const colorId = nextId('brand-color');
  const useColor = h('input', { type: 'checkbox', name: 'use_brand_color', checked: Boolean(settings.brand_color) });
  const color = h('input', { type: 'color', id: colorId, name: 'brand_color', value: settings.brand_color ?? DEFAULT_COLOR, 'aria-describedby': `${colorId}-error` });
  const colorField = h('div', { class: 'field' },
    h('span', { class: 'label' }, 'Brand colour'),
    h('span', { class: 'hint' }, 'Used on your sign-in page.'),
    h('div', { class: 'inline-fields' },
      h('label', { class: 'check' }, useColor, h('span', {}, 'Use a brand colour')),
      h('label', { for: colorId, class: 'visually-hidden' }, 'Brand colour'),
      color),
    h('span', { class: 'field-error', id: `${colorId}-error` }));
  const syncColor = () => { color.disabled = !useColor.checked; };
  useColor.addEventListener('change', syncColor);
  syncColor();
  const openRegistration = h('input', { type: 'checkbox', name: 'open_registration', checked: settings.open_registration === true });
  const registrationField = h('div', { class: 'field' },
    h('span', { class: 'label' }, 'Dynamic client registration'),
    h('label', { class: 'check' }, openRegistration,
      h('span', {}, 'Open: anyone may register an OAuth client at /oauth/register (RFC 7591). Off: only admins can.')));
  const settingsSubmit = h('button', { type: 'submit', class: 'primary' }, 'Save sign-in settings');
  const settingsForm = h('form', { novalidate: true, id: 'settings-form' },
    originsField, colorField, registrationField, h('div', { class: 'actions' }, settingsSubmit));
  settingsForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const origins = lines(control(originsField).value);
    const originProblem = origins.map(originError).find(Boolean) ?? '';
    const colorProblem = useColor.checked ? colorError(color.value) : '';
    setFieldError(control(originsField), originProblem);
    setFieldError(color, colorProblem);
    if (originProblem || colorProblem) {
      (originProblem ? control(originsField) : color).focus();
      return;
    }
    const next = { ...settings, allowed_origins: origins, open_registration: openRegistration.checked };
    if (useColor.checked) next.brand_color = color.value.toLowerCase();
    else delete next.brand_color;
    await busy(settingsSubmit, async () => {
      try {
        settings = (await ctx.api.put(`/api/v1/tenants/${id}/settings`, next)) ?? next;
        flash('The sign-in settings were saved.');
      } catch (err) {
        flashError(err);
      }
    });
  });

  root.append(
    viewHeader('Settings'),
    h('div', { class: 'grid-2' },
      card('Organization', orgForm),
      card('Sign-in and security', settingsForm)),
    card('About these settings', facts([
      ['Short name', h('code', {}, tenant.slug)],
      ['Token lifetimes', 'Access tokens, refresh tokens and codes use the server\'s defaults unless set through the API (access_token_ttl, refresh_token_ttl, code_ttl).'],
    ])));
}

export default { id: 'settings', title: 'Settings', admin: true, render };
