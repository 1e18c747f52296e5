// format.js — numbers, byte sizes and dates for people to read.

const numberFormat = new Intl.NumberFormat();

export function formatNumber(n) {
  return n === null || n === undefined ? '—' : numberFormat.format(n);
}

export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let value = Number(bytes);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${units[unit]}`;
}

export function formatDate(value) {
  if (!value) return '—';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? String(value) : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function formatTime(value) {
  const d = value instanceof Date ? value : new Date(value);
  return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** "YYYY-MM" → "November 2026". */
export function formatMonth(value) {
  if (!value) return 'this month';
  const d = new Date(`${String(value).slice(0, 7)}-01T00:00:00`);
  return Number.isNaN(d.getTime()) ? String(value) : d.toLocaleDateString(undefined, { month: 'long', year: 'numeric' });
}
