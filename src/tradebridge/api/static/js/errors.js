/** API errors as the page shows them, and the form field each concerns. */

import { t, term } from './i18n.js';

/** Which order ticket field an `order_rejected` reason is about ('' for the whole form). */
const FIELD_OF_REASON = {
  invalid_lot_size: 'qty',
  insufficient_funds: 'qty',
  insufficient_position: 'qty',
  invalid_tick_size: 'limit_price',
  price_out_of_limits: 'limit_price',
  unknown_symbol: 'symbol',
  not_supported: 'type',
};

/** One line for the user: the translated reason or code, then the server's message. */
export function describeError(error) {
  if (error.code === 'network_error') return t('error.network');
  if (error.code === 'order_rejected' && error.details.reason) {
    return `${term('reason', error.details.reason)}: ${error.message}`;
  }
  const known = term('error', error.code);
  return known && known !== error.code ? `${known}: ${error.message}` : error.message;
}

/**
 * `[field, text]` pairs: each field named by `details.errors`, `details.field` or the reject
 * reason gets its message; the field is '' when the error names none.
 */
export function fieldErrors(error) {
  const listed = error.details.errors;
  if (error.code === 'validation_error' && Array.isArray(listed) && listed.length) {
    return listed.map((item) => [String(item.field ?? ''), item.message ?? error.message]);
  }
  const field = error.details.field ?? FIELD_OF_REASON[error.details.reason] ?? '';
  return [[String(field), describeError(error)]];
}
