// ui.js — building blocks of the console's pages: page header, cards,
// badges, fact lists, tables that turn into cards on phones, usage bars.
import { h } from './dom.js';

/** The page's title row; the h1 takes focus after navigation. */
export function viewHeader(title, ...actions) {
  return h('div', { class: 'view-header' },
    h('h1', { tabindex: '-1' }, title),
    actions.length ? h('div', { class: 'actions' }, actions) : null);
}

let cardCount = 0;
/** A titled section. */
export function card(title, ...children) {
  cardCount += 1;
  const id = `card-${cardCount}`;
  return h('section', { class: 'card', 'aria-labelledby': id },
    h('h2', { id }, title),
    children);
}

export function badge(text, kind = '') {
  return h('span', { class: `badge ${kind}`.trim() }, text);
}

const STATUS_KINDS = { active: 'ok', disabled: 'danger', suspended: 'warn' };
export function statusBadge(status) {
  return badge(status ?? 'unknown', STATUS_KINDS[status] ?? '');
}

/** <dl> of [term, description] pairs; descriptions may be nodes. */
export function facts(pairs) {
  return h('dl', { class: 'facts' }, pairs.filter(Boolean).map(([term, value]) => [
    h('dt', {}, term),
    h('dd', {}, value === null || value === undefined || value === '' ? '—' : value),
  ]));
}

export function loading(text = 'Loading…') {
  return h('p', { class: 'loading', role: 'status' }, text);
}

/**
 * A table of rows: columns = [{label, cell(row) → text or node}]. On phones
 * each row becomes a card whose cells are labelled (data-label).
 */
export function dataTable({ caption, columns, rows, empty = 'Nothing here yet.', rowAttrs }) {
  if (!rows.length) return h('p', { class: 'empty' }, empty);
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'responsive' },
      h('caption', { class: 'visually-hidden' }, caption),
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c.label)))),
      h('tbody', {}, rows.map((row) => h('tr', rowAttrs?.(row) ?? {},
        columns.map((c) => h('td', { 'data-label': c.label }, h('div', { class: 'cell' }, c.cell(row)))))))));
}

/**
 * A usage bar: used against limit (null = unlimited). data-used and
 * data-limit carry the numbers; role="meter" with a spoken value.
 */
export function usageBar({ key, label, used, limit, format }) {
  const unlimited = limit === null || limit === undefined;
  const pct = unlimited ? 0 : limit <= 0 ? 100 : Math.min(100, (used / limit) * 100);
  const level = unlimited ? 'ok' : pct >= 100 ? 'full' : pct >= 80 ? 'warn' : 'ok';
  const valueText = unlimited ? `${format(used)} used, no limit` : `${format(used)} of ${format(limit)}`;
  const labelId = `usage-${key}-label`;
  const fill = h('div', { class: 'bar-fill' });
  fill.style.setProperty('--pct', `${pct.toFixed(1)}%`);
  return h('div', { class: 'usage-item', dataset: { usage: key, used: used ?? 0, limit: unlimited ? 'unlimited' : limit } },
    h('header', {},
      h('span', { class: 'usage-label', id: labelId }, label),
      h('span', { class: 'usage-value' }, valueText)),
    h('div', {
      class: 'bar',
      role: 'meter',
      'aria-labelledby': labelId,
      'aria-valuemin': 0,
      'aria-valuemax': unlimited ? Math.max(used ?? 0, 1) : Math.max(limit, 0),
      'aria-valuenow': unlimited ? (used ?? 0) : Math.min(used ?? 0, Math.max(limit, 0)),
      'aria-valuetext': valueText,
      dataset: { level, unlimited: String(unlimited) },
    }, fill));
}
