/** A modal question before something that is hard to undo. */

import { $ } from '../dom.js';

/** Resolves true when the user confirms, false when they cancel or press Escape. */
export function confirmAction({ title, text, ok, danger = false }) {
  const dialog = $('#confirm-dialog');
  const okButton = $('#confirm-ok');
  $('#confirm-title').textContent = title;
  $('#confirm-text').textContent = text;
  okButton.textContent = ok;
  okButton.classList.toggle('danger', danger);
  return new Promise((resolve) => {
    let answer = false;
    okButton.onclick = () => {
      answer = true;
      dialog.close();
    };
    $('#confirm-cancel').onclick = () => dialog.close();
    dialog.addEventListener('close', () => resolve(answer), { once: true });
    dialog.showModal();
    $('#confirm-cancel').focus();
  });
}
