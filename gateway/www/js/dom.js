// dom.js — building the page safely: h() creates elements whose text is
// always set as text (never parsed as HTML), plus small helpers for lists of
// children, form fields and their error messages.

const PROPERTIES = new Set(['value', 'checked', 'disabled', 'hidden', 'selected', 'required', 'readOnly', 'multiple']);

/**
 * h('button', {class: 'primary', onclick: fn, 'aria-label': 'Delete'}, 'Delete')
 * Strings and numbers among the children become text nodes; null, undefined
 * and false are skipped; arrays are flattened. Properties (value, checked...)
 * are set after the children, so a <select>'s value can pick an option.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  append(el, children);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'class') {
      el.className = value;
    } else if (key === 'text') {
      el.textContent = String(value);
    } else if (key === 'dataset') {
      for (const [k, v] of Object.entries(value)) el.dataset[k] = String(v);
    } else if (key === 'checked') {
      el.checked = el.defaultChecked = Boolean(value); // defaultChecked: form.reset() returns to it
    } else if (PROPERTIES.has(key)) {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  return el;
}

/** Appends children (text, nodes, arrays of them) to a node. */
export function append(node, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Replaces every child of a node. */
export function replace(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

let uid = 0;
/** A unique id for label/aria wiring. */
export function nextId(prefix = 'f') {
  uid += 1;
  return `${prefix}-${uid}`;
}

/**
 * A labelled form field: field({label, name, type, hint, ...inputProps}).
 * The input is wired to its hint and its error message (aria-describedby),
 * and setFieldError() shows a message on it.
 */
export function field({ label, hint, tag = 'input', options, ...inputProps }) {
  const id = inputProps.id ?? nextId(inputProps.name ?? 'f');
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const describedBy = [hint ? hintId : null, errorId].filter(Boolean).join(' ');
  const control = tag === 'select'
    ? h('select', { ...inputProps, id, 'aria-describedby': describedBy },
        (options ?? []).map((o) => h('option', { value: o.value }, o.label)))
    : h(tag, { type: tag === 'input' ? 'text' : undefined, ...inputProps, id, 'aria-describedby': describedBy });
  if (tag === 'select' && inputProps.value !== undefined) control.value = inputProps.value;
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    hint ? h('span', { class: 'hint', id: hintId }, hint) : null,
    control,
    h('span', { class: 'field-error', id: errorId }));
}

/** Shows (or with '' clears) the error message of a field's control. */
export function setFieldError(control, message) {
  const errorEl = document.getElementById(`${control.id}-error`);
  if (errorEl) errorEl.textContent = message || '';
  if (message) control.setAttribute('aria-invalid', 'true');
  else control.removeAttribute('aria-invalid');
}

/** Marks a button busy while a promise runs; returns the promise's value. */
export async function busy(button, work) {
  const label = button.textContent;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    button.textContent = label;
  }
}
