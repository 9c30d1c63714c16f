/** Light and dark: the system's preference until the user picks one with the toggle (then
 * remembered). Panels that draw colors themselves listen for `themechange` on document. */

const THEME_KEY = 'tradebridge.theme';
const darkQuery = window.matchMedia('(prefers-color-scheme: dark)');

function currentTheme() {
  return document.documentElement.dataset.theme ?? (darkQuery.matches ? 'dark' : 'light');
}

function announce() {
  document.dispatchEvent(new Event('themechange'));
}

export function setupTheme(toggle) {
  const stored = localStorage.getItem(THEME_KEY);
  if (stored === 'light' || stored === 'dark') document.documentElement.dataset.theme = stored;
  darkQuery.addEventListener('change', announce);
  toggle.addEventListener('click', () => {
    const next = currentTheme() === 'dark' ? 'light' : 'dark';
    document.documentElement.dataset.theme = next;
    localStorage.setItem(THEME_KEY, next);
    announce();
  });
}
