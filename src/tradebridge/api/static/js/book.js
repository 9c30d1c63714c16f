/**
 * One account as the page shows it: a REST snapshot, then the stream's events applied in
 * order. Each event carries the whole resource, so one the snapshot already reflects is
 * harmless to apply again; events that arrive while a snapshot loads wait for it (in order,
 * so the last version of each position or order wins).
 */

const OPEN_STATUSES = new Set(['pending_new', 'new', 'partially_filled', 'pending_cancel']);
const KEEP_CLOSED_ORDERS = 500;
const KEEP_TRADES = 500;

const isOpen = (order) => OPEN_STATUSES.has(order.status);

/** An ISO time as microseconds since the epoch, to tell which of two versions is newer. */
function instant(iso) {
  const fraction = /\.(\d+)/.exec(iso);
  const micros = fraction ? Number(fraction[1].padEnd(6, '0').slice(3, 6)) : 0;
  return Date.parse(iso) * 1000 + micros;
}

const positionKey = (position) => `${position.symbol}/${position.direction ?? ''}`;

/** Newest first: ids are ULIDs, which sort by creation time. */
const newestFirst = (a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

export class Book {
  constructor(account) {
    this.account = account;
    this.balance = null;
    this.positions = new Map();
    this.orders = new Map();
    this.trades = new Map();
    this.loaded = false;
    this.waiting = [];
    this.loads = 0;
  }

  /** A snapshot is being read: hold events until it is in. Returns the load's number. */
  beginLoad() {
    this.loaded = false;
    this.loads += 1;
    return this.loads;
  }

  /** Take the snapshot of load `number`, then the events that came meanwhile. A snapshot
   * overtaken by a later load is dropped: events wait for the later one. */
  load(number, { balance, positions, orders, trades }) {
    if (number !== this.loads) return;
    this.balance = balance;
    this.positions = new Map(positions.map((p) => [positionKey(p), p]));
    this.orders = new Map(orders.map((o) => [o.id, o]));
    this.trades = new Map(trades.map((t) => [t.id, t]));
    this.loaded = true;
    const waiting = this.waiting;
    this.waiting = [];
    for (const event of waiting) this.apply(event);
  }

  /** Apply one stream event (`{type, data}`). */
  apply(event) {
    if (!this.loaded) {
      this.waiting.push(event);
      return;
    }
    const { type, data } = event;
    if (type === 'order') this.putOrder(data);
    else if (type === 'trade') this.trades.set(data.id, data);
    else if (type === 'position') this.putPosition(data);
    else if (type === 'account') this.balance = data;
    this.trim();
  }

  putOrder(order) {
    const known = this.orders.get(order.id);
    if (!known || instant(order.updated_at) >= instant(known.updated_at)) {
      this.orders.set(order.id, order);
    }
  }

  putPosition(position) {
    if (position.qty === 0) this.positions.delete(positionKey(position));
    else this.positions.set(positionKey(position), position);
  }

  /** Forget the oldest finished orders and trades beyond what the tables show. */
  trim() {
    if (this.orders.size > KEEP_CLOSED_ORDERS) {
      for (const order of this.closedOrders().slice(KEEP_CLOSED_ORDERS)) {
        this.orders.delete(order.id);
      }
    }
    if (this.trades.size > KEEP_TRADES) {
      for (const trade of this.tradeList().slice(KEEP_TRADES)) this.trades.delete(trade.id);
    }
  }

  positionList() {
    return [...this.positions.values()].sort((a, b) =>
      positionKey(a).localeCompare(positionKey(b)),
    );
  }

  openOrders() {
    return [...this.orders.values()].filter(isOpen).sort(newestFirst);
  }

  closedOrders() {
    return [...this.orders.values()].filter((o) => !isOpen(o)).sort(newestFirst);
  }

  tradeList() {
    return [...this.trades.values()].sort(newestFirst);
  }
}
