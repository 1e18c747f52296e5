// pages/dashboard.js — the organization at a glance (admins): name, plan,
// status, and usage of this month against the plan's limits as bars
// (GET /api/v1/tenants/{id} and /stats), plus the addresses apps need.
import { tenantUrl } from '../api.js';
import { h } from '../dom.js';
import { formatBytes, formatDate, formatMonth, formatNumber } from '../format.js';
import { badge, card, facts, statusBadge, usageBar, viewHeader } from '../ui.js';

async function render(ctx, root) {
  const id = ctx.me.tenant.id;
  const [tenant, stats] = await Promise.all([
    ctx.api.get(`/api/v1/tenants/${id}`),
    ctx.api.get(`/api/v1/tenants/${id}/stats`),
  ]);
  const issuer = new URL(tenantUrl(ctx.slug), location.href).href;
  const refresh = h('button', { type: 'button', onclick: () => ctx.rerender() }, 'Refresh');

  root.append(
    viewHeader('Dashboard', refresh),
    h('div', { class: 'grid-2' },
      card(`Usage in ${formatMonth(stats.month)}`,
        h('div', { class: 'usage', id: 'usage' },
          usageBar({ key: 'users', label: 'Users', ...stats.users, format: formatNumber }),
          usageBar({ key: 'api_calls', label: 'API calls this month', ...stats.api_calls, format: formatNumber }),
          usageBar({ key: 'storage', label: 'Storage', ...stats.storage_bytes, format: formatBytes }))),
      card('Organization', facts([
        ['Name', tenant.name],
        ['Short name', h('code', {}, tenant.slug)],
        ['Plan', badge(tenant.plan, 'brand')],
        ['Status', statusBadge(tenant.status)],
        ['Custom domain', tenant.custom_domain && h('span', {}, tenant.custom_domain, ' ',
          tenant.custom_domain_status === 'approved' ? badge('approved', 'ok') : badge('pending approval', 'warn'))],
        ['Created', formatDate(tenant.created_at)],
      ]))),
    card('Connect an application',
      h('p', { class: 'muted' }, 'Your organization is its own OAuth 2.0 issuer. Register a client under OAuth clients, then use:'),
      facts([
        ['Issuer', h('code', {}, issuer)],
        ['REST API', h('code', {}, `${issuer}/api/v1`)],
        ['Metadata', h('a', { href: `${issuer}/.well-known/oauth-authorization-server` }, 'oauth-authorization-server')],
      ])));
}

export default { id: 'dashboard', title: 'Dashboard', admin: true, render };
