// pages/signup.js — the sign-up form: shows the deployment's sign-up mode
// (GET /api/v1/signup: open, by invitation, or closed), checks each field as
// the server would, registers the tenant with POST /api/v1/tenants, keeps the
// owner's first token as the session and opens the console.
import { apiUrl, request, ApiError } from '../api.js';
import { consoleUrl, startSessionFromRegistration } from '../auth.js';
import { $, busy, setFieldError } from '../dom.js';
import { errorText, flashError, flashNext, showQueuedFlash, clearFlash } from '../flash.js';
import { pointApiLinks } from '../links.js';
import { confirmError, emailError, nameError, passwordError, slugError, slugFromName } from '../validate.js';

const form = $('#signup-form');
const inputs = {
  name: $('#name'),
  slug: $('#slug'),
  email: $('#email'),
  password: $('#password'),
  confirm: $('#confirm'),
  invitation: $('#invitation'),
};
let mode = 'open';
let slugEdited = false;

const checks = {
  name: () => nameError(inputs.name.value),
  slug: () => slugError(inputs.slug.value),
  email: () => emailError(inputs.email.value),
  password: () => passwordError(inputs.password.value),
  confirm: () => (inputs.confirm.value || inputs.password.value ? confirmError(inputs.password.value, inputs.confirm.value) : 'Repeat the password.'),
  invitation: () => (mode === 'invite' && !inputs.invitation.value.trim() ? 'Paste your invitation code.' : ''),
};

// The sign-up mode decides what the page offers.
async function showPolicy() {
  try {
    const policy = await request(apiUrl('/api/v1/signup'));
    mode = policy.signup;
    $('#default-plan').textContent = policy.plan;
  } catch (err) {
    flashError(err);
    return;
  }
  $('#invitation-field').hidden = mode !== 'invite';
  if (mode === 'closed') {
    form.hidden = true;
    $('#signup-closed').hidden = false;
  }
}

function check(name) {
  const message = checks[name]();
  setFieldError(inputs[name], message);
  return message;
}

function updateSlugPreview() {
  $('#slug-preview').textContent = `/t/${inputs.slug.value || '…'}`;
}

inputs.name.addEventListener('input', () => {
  if (!slugEdited) {
    inputs.slug.value = slugFromName(inputs.name.value);
    updateSlugPreview();
  }
});
inputs.slug.addEventListener('input', () => {
  slugEdited = inputs.slug.value !== '';
  updateSlugPreview();
});
for (const name of Object.keys(checks)) {
  // Check a field once the user leaves it, and again as they fix it.
  inputs[name].addEventListener('blur', () => { if (inputs[name].value) check(name); });
  inputs[name].addEventListener('input', () => { if (inputs[name].hasAttribute('aria-invalid')) check(name); });
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearFlash();
  const invalid = Object.keys(checks).filter((name) => check(name));
  if (invalid.length) {
    inputs[invalid[0]].focus();
    return;
  }
  const button = $('#signup-submit');
  await busy(button, async () => {
    button.textContent = 'Creating…';
    try {
      const registration = await request(apiUrl('/api/v1/tenants'), {
        method: 'POST',
        json: {
          slug: inputs.slug.value,
          name: inputs.name.value.trim(),
          owner_email: inputs.email.value.trim(),
          owner_password: inputs.password.value,
          ...(mode === 'invite' ? { invitation: inputs.invitation.value.trim() } : {}),
        },
      });
      startSessionFromRegistration(registration);
      flashNext(`Welcome! ${registration.tenant.name} is ready, and you are signed in as its owner.`);
      location.assign(consoleUrl('#/dashboard'));
    } catch (err) {
      // A taken short name is said at its field; anything else as a notice.
      if (err instanceof ApiError && err.status === 409) {
        setFieldError(inputs.slug, errorText(err));
        inputs.slug.focus();
      } else {
        flashError(err);
      }
    }
  });
});

pointApiLinks();
updateSlugPreview();
showQueuedFlash();
showPolicy();
