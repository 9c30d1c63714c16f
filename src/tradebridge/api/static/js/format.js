/** Numbers and times as the page shows them, in the current language's conventions. */

import { currentLang } from './i18n.js';

const formats = new Map();

function formatter(min, max, sign) {
  const key = `${currentLang()}/${min}/${max}/${sign}`;
  let format = formats.get(key);
  if (!format) {
    const locale = currentLang() === 'zh' ? 'zh-CN' : 'en-US';
    const options = { minimumFractionDigits: min, maximumFractionDigits: max };
    format = new Intl.NumberFormat(locale, {
      ...options,
      signDisplay: sign ? 'exceptZero' : 'auto',
    });
    formats.set(key, format);
  }
  return format;
}

const missing = (value) => value === null || value === undefined || Number.isNaN(Number(value));

/** Decimal places of a step such as a tick size: 0.01 → 2, 0.2 → 1, 10 → 0. */
export function decimalsOf(step) {
  if (missing(step)) return null;
  const text = String(step);
  const exponent = /e-(\d+)$/.exec(text);
  if (exponent) return Number(exponent[1]);
  const dot = text.indexOf('.');
  return dot < 0 ? 0 : text.length - dot - 1;
}

/** A number with `digits` decimals (null: as many as it has, up to 8). */
export function num(value, digits = null, { sign = false } = {}) {
  if (missing(value)) return '—';
  const min = digits ?? 0;
  return formatter(min, digits ?? 8, sign).format(Number(value));
}

export const money = (value, options) => num(value, 2, options);

/** A price on the instrument's tick; `extra` more places (an average fill price); `sign`
 * for a change. */
export function price(value, tick, { extra = 0, sign = false } = {}) {
  const digits = decimalsOf(tick);
  if (digits === null || missing(value)) return num(value, null, { sign });
  return formatter(digits, digits + extra, sign).format(Number(value));
}

export const quantity = (value) => num(value, 0);

export function percent(value) {
  return missing(value) ? '—' : `${num(value, 2, { sign: true })}%`;
}

/** A time of the API: the clock time today, with the date on other days. */
export function time(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  const locale = currentLang() === 'zh' ? 'zh-CN' : 'en-GB';
  const clock = date.toLocaleTimeString(locale, { hour12: false });
  if (date.toDateString() === new Date().toDateString()) return clock;
  return `${date.toLocaleDateString(locale, { month: '2-digit', day: '2-digit' })} ${clock}`;
}
