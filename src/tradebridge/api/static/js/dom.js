/** Small DOM helpers. Elements are built from data with `h`, never from HTML strings, so
 * nothing a server or user sends can become markup. */

/**
 * Create an element: `h('button', {class: 'x', onclick: fn, dataset: {id: 1}}, 'text')`.
 * Attributes that are `null`, `undefined` or `false` are left out; `true` sets an empty one.
 */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

export const $ = (selector, root = document) => root.querySelector(selector);

export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

/** Replace the children of `node`. */
export function fill(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
}

/** A table row saying there is nothing (or nothing yet) to show. */
export function emptyRow(columns, text) {
  return h('tr', { class: 'empty' }, h('td', { colspan: columns }, text));
}

/** `up`/`down` class for a signed amount or change. */
export const trend = (value) => (value > 0 ? 'up' : value < 0 ? 'down' : null);
