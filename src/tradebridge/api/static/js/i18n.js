/** Chinese and English labels. The choice is remembered in localStorage; the first visit
 * follows the browser's language. */

import { MESSAGES } from './messages.js';

const LANG_KEY = 'tradebridge.lang';
const listeners = new Set();
let lang = initialLang();

function initialLang() {
  const stored = localStorage.getItem(LANG_KEY);
  if (stored === 'zh' || stored === 'en') return stored;
  return (navigator.language ?? '').toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

export const currentLang = () => lang;

/** The label of `key`, with `{name}` placeholders filled from `params`. */
export function t(key, params = {}) {
  const text = MESSAGES[lang][key] ?? MESSAGES.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ''));
}

/** The label of an enum value of the API, e.g. `term('status', 'filled')`; the value itself
 * when there is none. */
export function term(kind, value) {
  if (value === null || value === undefined || value === '') return '';
  return MESSAGES[lang][`${kind}.${value}`] ?? MESSAGES.en[`${kind}.${value}`] ?? String(value);
}

export function setLang(next) {
  lang = next;
  localStorage.setItem(LANG_KEY, next);
  translatePage();
  for (const listener of listeners) listener();
}

export function onLangChange(listener) {
  listeners.add(listener);
}

/**
 * Label the page's fixed text (`data-i18n`, `data-i18n-placeholder`, `data-i18n-title`).
 * Chinese markets show rises in red and falls in green; `data-updown` tells the CSS which.
 */
export function translatePage(root = document) {
  const html = document.documentElement;
  html.lang = lang === 'zh' ? 'zh-CN' : 'en';
  html.dataset.updown = lang === 'zh' ? 'red-up' : 'green-up';
  for (const node of root.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll('[data-i18n-placeholder]')) {
    node.placeholder = t(node.dataset.i18nPlaceholder);
  }
  for (const node of root.querySelectorAll('[data-i18n-title]')) {
    node.title = t(node.dataset.i18nTitle);
    node.setAttribute('aria-label', node.title);
  }
}
