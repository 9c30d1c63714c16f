/** The account panel: totals in the base currency and the balance of each currency. */

import { $, emptyRow, fill, h } from '../dom.js';
import { money } from '../format.js';
import { t } from '../i18n.js';

const TOTALS = {
  equity: '#account-equity',
  cash: '#account-cash',
  available: '#account-available',
  frozen: '#account-frozen',
  market_value: '#account-market-value',
  realized_pnl: '#account-realized',
  unrealized_pnl: '#account-unrealized',
};

export function renderAccount(account, balance) {
  $('#account-id').textContent = account ? `${account.id} · ${account.base_currency}` : '';
  for (const [field, selector] of Object.entries(TOTALS)) {
    const node = $(selector);
    const value = balance?.[field];
    const pnl = field.endsWith('_pnl');
    node.textContent = money(value, { sign: pnl });
    node.classList.toggle('up', pnl && value > 0);
    node.classList.toggle('down', pnl && value < 0);
  }
  const rows = (balance?.balances ?? []).map((b) =>
    h(
      'tr',
      { dataset: { currency: b.currency } },
      h('td', {}, b.currency),
      h('td', { class: 'num' }, money(b.cash)),
      h('td', { class: 'num' }, money(b.available)),
      h('td', { class: 'num' }, money(b.frozen)),
    ),
  );
  if (!rows.length) rows.push(emptyRow(4, balance ? t('empty.balances') : t('loading')));
  fill($('#balances-table tbody'), rows);
}
