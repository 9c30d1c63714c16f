/** Positions, open orders, order history and trades: one tab each, redrawn from the book. */

import { $, $$, emptyRow, fill, h, trend } from '../dom.js';
import { money, price, quantity, time } from '../format.js';
import { t, term } from '../i18n.js';

const CANCELABLE = new Set(['new', 'partially_filled']);

export class Tables {
  /** contracts: Map symbol → contract (for ticks); onSymbol(symbol); onCancel(order);
   * onCancelAll() */
  constructor({ contracts, onSymbol, onCancel, onCancelAll }) {
    this.contracts = contracts;
    this.onSymbol = onSymbol;
    this.onCancel = onCancel;
    for (const tab of $$('#tables-panel [role=tab]')) {
      tab.addEventListener('click', () => this.showTab(tab));
    }
    $('#cancel-all').addEventListener('click', onCancelAll);
  }

  showTab(selected) {
    for (const tab of $$('#tables-panel [role=tab]')) {
      const on = tab === selected;
      tab.setAttribute('aria-selected', String(on));
      $(`#${tab.getAttribute('aria-controls')}`).hidden = !on;
    }
  }

  tick(symbol) {
    return this.contracts.get(symbol)?.tick_size;
  }

  render(book) {
    const positions = book?.positionList() ?? [];
    const open = book?.openOrders() ?? [];
    $('#count-positions').textContent = String(positions.length);
    $('#count-open').textContent = String(open.length);
    $('#cancel-all').disabled = !open.length;
    const waiting = t('loading');
    const ready = book?.loaded;
    this.fillTable(
      '#positions-table',
      7,
      positions.map((p) => this.positionRow(p)),
      ready ? t('empty.positions') : waiting,
    );
    this.fillTable(
      '#open-orders-table',
      8,
      open.map((o) => this.openOrderRow(o)),
      ready ? t('empty.open_orders') : waiting,
    );
    this.fillTable(
      '#history-table',
      8,
      (book?.closedOrders() ?? []).map((o) => this.historyRow(o)),
      ready ? t('empty.history') : waiting,
    );
    this.fillTable(
      '#trades-table',
      6,
      (book?.tradeList() ?? []).map((x) => this.tradeRow(x)),
      ready ? t('empty.trades') : waiting,
    );
  }

  fillTable(selector, columns, rows, emptyText) {
    fill($(`${selector} tbody`), rows.length ? rows : [emptyRow(columns, emptyText)]);
  }

  symbolCell(symbol, extra = null) {
    const button = h(
      'button',
      { type: 'button', class: 'link', onclick: () => this.onSymbol(symbol) },
      symbol,
    );
    return h('td', { class: 'symbol' }, button, extra);
  }

  sideCell(order) {
    const offset = order.offset ? ` · ${term('offset', order.offset)}` : '';
    return h('td', { class: `side ${order.side}` }, term('side', order.side) + offset);
  }

  positionRow(p) {
    const tick = this.tick(p.symbol);
    const direction = p.direction
      ? h('span', { class: 'badge' }, term('direction', p.direction))
      : null;
    return h(
      'tr',
      { dataset: { symbol: p.symbol } },
      this.symbolCell(p.symbol, direction),
      h('td', { class: 'num' }, quantity(p.qty)),
      h('td', { class: 'num' }, quantity(p.available_qty)),
      h('td', { class: 'num' }, price(p.avg_cost, tick, { extra: 2 })),
      h('td', { class: 'num' }, price(p.last_price, tick)),
      h('td', { class: 'num' }, money(p.market_value)),
      h(
        'td',
        { class: `num ${trend(p.unrealized_pnl) ?? ''}` },
        money(p.unrealized_pnl, { sign: true }),
      ),
    );
  }

  limitPrice(order) {
    return order.type === 'market'
      ? term('type', 'market')
      : price(order.limit_price, this.tick(order.symbol));
  }

  openOrderRow(order) {
    const cancel = h(
      'button',
      {
        type: 'button',
        class: 'danger small',
        disabled: !CANCELABLE.has(order.status),
        onclick: () => this.onCancel(order),
      },
      t('orders.cancel'),
    );
    return h(
      'tr',
      { dataset: { orderId: order.id, status: order.status } },
      h('td', {}, time(order.created_at)),
      this.symbolCell(order.symbol),
      this.sideCell(order),
      h('td', { class: 'num' }, quantity(order.qty)),
      h('td', { class: 'num' }, this.limitPrice(order)),
      h('td', { class: 'num' }, quantity(order.filled_qty)),
      h('td', { class: 'status' }, term('status', order.status)),
      h('td', { class: 'actions' }, cancel),
    );
  }

  historyRow(order) {
    const reason = order.reject_reason ? term('reason', order.reject_reason) : null;
    return h(
      'tr',
      { dataset: { orderId: order.id, status: order.status }, title: reason },
      h('td', {}, time(order.updated_at)),
      this.symbolCell(order.symbol),
      this.sideCell(order),
      h('td', { class: 'num' }, quantity(order.qty)),
      h('td', { class: 'num' }, this.limitPrice(order)),
      h('td', { class: 'num' }, quantity(order.filled_qty)),
      h('td', { class: 'num' }, price(order.avg_fill_price, this.tick(order.symbol), { extra: 2 })),
      h(
        'td',
        { class: `status ${order.status}` },
        term('status', order.status),
        reason && h('small', {}, ` · ${reason}`),
      ),
    );
  }

  tradeRow(trade) {
    return h(
      'tr',
      { dataset: { tradeId: trade.id, orderId: trade.order_id } },
      h('td', {}, time(trade.time)),
      this.symbolCell(trade.symbol),
      this.sideCell(trade),
      h('td', { class: 'num' }, quantity(trade.qty)),
      h('td', { class: 'num' }, price(trade.price, this.tick(trade.symbol))),
      h('td', { class: 'num' }, money(trade.fee)),
    );
  }
}
