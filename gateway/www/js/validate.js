// validate.js — the server's input rules, repeated in the browser so that a
// form says what is wrong before sending it. The server checks them again;
// each function answers an error message, or '' when the value is fine.

export const RESERVED_SLUGS = new Set([
  'admin', 'api', 'app', 'assets', 'auth', 'billing', 'cdn', 'console', 'dashboard', 'docs', 'ftp',
  'health', 'help', 'login', 'logout', 'mail', 'metrics', 'oauth', 'public', 'root', 'signup', 'static',
  'status', 'support', 'system', 't', 'www', 'localhost', 'default', 'tenant', 'tenants',
]);
export const ROLES = ['user', 'admin', 'owner'];
const SLUG_RE = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const COLOR_RE = /^#[0-9a-fA-F]{6}$/;

export function slugError(slug) {
  if (!slug) return 'Choose a short name for the address of your organization.';
  if (slug.length < 3 || slug.length > 63) return 'Use 3 to 63 characters.';
  if (!SLUG_RE.test(slug)) return 'Use lowercase letters, digits and hyphens; start and end with a letter or digit.';
  if (RESERVED_SLUGS.has(slug)) return `"${slug}" is reserved; choose another.`;
  return '';
}

export function nameError(name) {
  const n = (name ?? '').trim();
  if (!n) return 'Enter a name.';
  if ([...n].length > 200) return 'Use at most 200 characters.';
  return '';
}

export function emailError(email) {
  const e = (email ?? '').trim();
  if (!e) return 'Enter an email address.';
  if (!EMAIL_RE.test(e)) return 'Enter an email address like name@example.com.';
  return '';
}

export function passwordError(password) {
  if (!password) return 'Enter a password.';
  if ([...password].length < 8) return 'Use at least 8 characters.';
  if (new TextEncoder().encode(password).length > 72) return 'Use at most 72 bytes (fewer characters when they are not plain ASCII).';
  return '';
}

export function confirmError(password, confirmation) {
  return password === confirmation ? '' : 'The two passwords differ.';
}

export function colorError(color) {
  return !color || COLOR_RE.test(color) ? '' : 'Use a colour like #4f46e5.';
}

/** An origin such as https://app.example.com or http://localhost:3000 (no path). */
export function originError(value) {
  let url;
  try {
    url = new URL(value);
  } catch {
    return `"${value}" is not a URL.`;
  }
  if (!['http:', 'https:'].includes(url.protocol)) return `"${value}" must start with http:// or https://.`;
  if (url.origin !== value) return `"${value}" must be an origin only, like ${url.origin}.`;
  return '';
}

/** A redirect URI: absolute, no fragment. */
export function redirectUriError(value) {
  let url;
  try {
    url = new URL(value);
  } catch {
    return `"${value}" is not an absolute URL.`;
  }
  if (url.hash || value.includes('#')) return `"${value}" must not contain a fragment (#).`;
  return '';
}

/** Suggests a slug from an organization's name: "Acme Ltd." → "acme-ltd". */
export function slugFromName(name) {
  return (name ?? '')
    .normalize('NFKD').replace(/[\u0300-\u036f]/g, '')
    .toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '')
    .slice(0, 63).replace(/-+$/, '');
}

/** Lines of a textarea, trimmed, without empty ones. */
export function lines(text) {
  return (text ?? '').split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
}
