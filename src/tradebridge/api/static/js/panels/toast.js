/** Short notices in a corner: fills, failed cancels, admin actions. */

import { $, h } from '../dom.js';

const SHOW_MS = 6000;
/** At most this many at once (a replay of many fills must not cover the page). */
const MAX_SHOWN = 3;

export function toast(text, kind = 'info') {
  const shelf = $('#toasts');
  const node = h(
    'div',
    { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    text,
  );
  shelf.append(node);
  while (shelf.children.length > MAX_SHOWN) shelf.firstElementChild.remove();
  setTimeout(() => node.remove(), SHOW_MS);
}
