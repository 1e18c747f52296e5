// dialog.js — a modal confirmation built on <dialog>: focus moves into it,
// Escape cancels, and focus returns to where it was. Answers true or false.
import { h } from './dom.js';

export function confirmDialog({ title, message, confirmLabel = 'Confirm', danger = false }) {
  return new Promise((resolve) => {
    const previous = document.activeElement;
    const titleId = `dialog-title-${Date.now()}`;
    const cancel = h('button', { type: 'button', value: 'cancel' }, 'Cancel');
    const confirm = h('button', { type: 'button', class: danger ? 'danger solid' : 'primary', value: 'confirm' }, confirmLabel);
    const dialog = h('dialog', { 'aria-labelledby': titleId },
      h('h2', { id: titleId }, title),
      message ? h('p', {}, message) : null,
      h('div', { class: 'actions' }, cancel, confirm));
    const close = (answer) => {
      dialog.close();
      dialog.remove();
      if (previous instanceof HTMLElement && previous.isConnected) previous.focus();
      resolve(answer);
    };
    cancel.addEventListener('click', () => close(false));
    confirm.addEventListener('click', () => close(true));
    dialog.addEventListener('cancel', (event) => {
      event.preventDefault();
      close(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    (danger ? cancel : confirm).focus();
  });
}
