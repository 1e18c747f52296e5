// pages/signin.js — the console's sign-in form: asks which organization, then
// hands over to its sign-in page (authorization code + PKCE, see auth.js).
import { beginSignIn, lastTenant } from '../auth.js';
import { busy, field, h, replace, setFieldError } from '../dom.js';
import { clearFlash, flashError } from '../flash.js';
import { slugError } from '../validate.js';

export function renderSignIn(root, { slug } = {}) {
  const slugField = field({
    label: 'Organization',
    name: 'tenant',
    hint: 'The short name of your organization, as in its address /t/short-name.',
    autocomplete: 'organization',
    autocapitalize: 'none',
    spellcheck: 'false',
    required: true,
    value: slug || lastTenant(),
  });
  const input = slugField.querySelector('input');
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Continue to sign-in');
  const form = h('form', { class: 'card', novalidate: true, 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title', tabindex: '-1' }, 'Sign in to the console'),
    h('p', { class: 'muted' }, 'You will sign in on your organization\'s own page and come back here.'),
    slugField,
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const value = input.value.trim().toLowerCase();
    const problem = slugError(value);
    setFieldError(input, problem);
    if (problem) {
      input.focus();
      return;
    }
    clearFlash();
    await busy(submit, async () => {
      submit.textContent = 'Opening sign-in…';
      try {
        await beginSignIn(value, { returnTo: location.hash.startsWith('#/') ? location.hash : '' });
      } catch (err) {
        flashError(err);
      }
    });
  });
  replace(root, h('div', { class: 'page page-narrow' }, form,
    h('p', { class: 'muted' }, 'No organization yet? ', h('a', { href: '../signup.html' }, 'Create one'), '.')));
  if (!input.value) input.focus();
}
