/**
 * The trading screen of a logged-in session: the selected account and symbol, the REST API
 * and the stream wired to the panels. Built once; `start` and `stop` follow login and logout.
 */

import { Api, seg } from './api.js';
import { Book } from './book.js';
import { $ } from './dom.js';
import { describeError } from './errors.js';
import { onLangChange, t, term } from './i18n.js';
import { price, quantity } from './format.js';
import { renderAccount } from './panels/account.js';
import { AdminStrip } from './panels/admin.js';
import { confirmAction } from './panels/confirm.js';
import { renderMarket } from './panels/market.js';
import { QuotePanel } from './panels/quote.js';
import { StatusBar } from './panels/status_bar.js';
import { Tables } from './panels/tables.js';
import { Ticket } from './panels/ticket.js';
import { toast } from './panels/toast.js';
import { forgetToken } from './session.js';
import { Stream } from './stream.js';

const ACCOUNT_KEY = 'tradebridge.account';
const SYMBOL_KEY = 'tradebridge.symbol';
const DEFAULT_SYMBOL = '600519.SH';
const BARS = 240;
const MARKET_REFRESH_MS = 30000;
const PAGE = 1000;
const START_RETRY_MS = 3000;

export class TradingApp {
  /** onSignedOut(reason) shows the login form again. */
  constructor({ onSignedOut }) {
    this.onSignedOut = onSignedOut;
    this.session = null;
    this.api = null;
    this.stream = null;
    this.accounts = [];
    this.account = null;
    this.book = null;
    this.contracts = new Map();
    this.contract = null;
    this.venues = [];
    this.brokers = new Map();
    this.link = false;
    this.framePending = false;
    this.bar = new StatusBar({
      onAccount: (id) => this.selectAccount(id),
      onLogout: () => this.stop(''),
    });
    this.tables = new Tables({
      contracts: this.contracts,
      onSymbol: (symbol) => this.selectSymbol(symbol),
      onCancel: (order) => this.cancel(order),
      onCancelAll: () => this.cancelAll(),
    });
    this.ticket = new Ticket({
      place: (body) => this.api.post(`/accounts/${seg(this.account.id)}/orders`, body),
      search: (text) => this.searchContracts(text),
      onSymbol: (contract) => this.selectContract(contract),
    });
    this.quote = new QuotePanel({
      loadBars: (symbol, interval) =>
        this.api.get('/market/bars', { symbol, interval, limit: BARS, account: this.account.id }),
      onPrice: (value) => this.ticket.setPrice(value),
    });
    this.admin = new AdminStrip({
      paper: (path, body) => this.api.post(`/paper/${seg(this.account.id)}/${path}`, body),
      onReset: () => this.reload(),
    });
    onLangChange(() => this.languageChanged());
  }

  async start(session) {
    this.session = session;
    this.api = new Api(session.token, () => this.stop(t('login.expired')));
    this.bar.show(session.username, session.role);
    document.body.dataset.role = session.role; // a viewer gets no ticket and no cancel buttons
    $('#login-view').hidden = true;
    $('#trade-view').hidden = false;
    this.render();
    try {
      this.accounts = await this.api.get('/accounts');
    } catch (error) {
      if (error.status === 401) return; // back at the login form
      toast(describeError(error), 'error');
      setTimeout(() => this.session === session && this.start(session), START_RETRY_MS);
      return;
    }
    if (this.session !== session) return;
    this.stream = new Stream(session.token, {
      onLink: (up) => this.setLink(up),
      onEngine: (state) => this.bar.setEngine(state),
      onBroker: (account, data) => this.setBroker(account, data),
      onEvent: (event) => this.applyEvent(event),
      onQuote: (quote) => this.applyQuote(quote),
      onReload: () => this.reload(),
      onUnauthorized: () => this.stop(t('login.expired')),
    });
    this.stream.start();
    this.marketTimer = setInterval(() => this.refreshMarket(), MARKET_REFRESH_MS);
    const stored = localStorage.getItem(ACCOUNT_KEY);
    const first = this.accounts.find((a) => a.id === stored) ?? this.accounts[0];
    this.bar.setAccounts(this.accounts, first?.id);
    if (first) await this.selectAccount(first.id);
  }

  /** Log out (reason '') or end an expired session. */
  stop(reason) {
    this.stream?.stop();
    this.stream = null;
    clearInterval(this.marketTimer);
    forgetToken();
    this.session = null;
    this.account = null;
    this.book = null;
    this.contract = null;
    this.onSignedOut(reason);
  }

  async selectAccount(id) {
    this.account = this.accounts.find((a) => a.id === id);
    localStorage.setItem(ACCOUNT_KEY, id);
    this.book = new Book(id);
    this.contracts.clear();
    this.ticket.setTimesInForce(this.account.capabilities?.time_in_force ?? ['day']);
    this.admin.show(this.session.role === 'admin' && this.account.broker === 'paper');
    this.stream.follow(id);
    this.render();
    this.reload();
    this.refreshMarket();
    try {
      const contracts = await this.api.get('/market/contracts', { account: id });
      for (const contract of contracts) this.contracts.set(contract.symbol, contract);
    } catch (error) {
      toast(describeError(error), 'error');
    }
    if (this.account?.id !== id) return; // logged out or switched meanwhile
    const stored = localStorage.getItem(SYMBOL_KEY);
    const symbol = [stored, DEFAULT_SYMBOL].find((s) => this.contracts.has(s));
    const contract = this.contracts.get(symbol) ?? this.contracts.values().next().value;
    if (contract) this.selectContract(contract, { force: true });
    this.render();
  }

  /** Read the account over REST; stream events meanwhile are applied after it. */
  async reload() {
    const book = this.book;
    if (!book) return;
    const load = book.beginLoad();
    const path = `/accounts/${seg(book.account)}`;
    try {
      const [balance, positions, open, closed, trades] = await Promise.all([
        this.api.get(path),
        this.api.get(`${path}/positions`),
        this.api.get(`${path}/orders`, { status: 'open', limit: PAGE }),
        this.api.get(`${path}/orders`, { status: 'closed', limit: 200 }),
        this.api.get(`${path}/trades`, { limit: 200 }),
      ]);
      book.load(load, { balance, positions, orders: [...open, ...closed], trades });
    } catch (error) {
      if (error.status !== 401) toast(describeError(error), 'error');
    }
    this.scheduleRender();
  }

  async refreshMarket() {
    if (!this.account) return;
    try {
      this.venues = await this.api.get('/market/status', { account: this.account.id });
    } catch {
      this.venues = [];
    }
    this.scheduleRender();
  }

  async searchContracts(text) {
    const found = await this.api.get('/market/contracts', { account: this.account.id, q: text });
    for (const contract of found) this.contracts.set(contract.symbol, contract);
    return found;
  }

  async selectSymbol(symbol) {
    const contract =
      this.contracts.get(symbol) ??
      (await this.searchContracts(symbol)).find((c) => c.symbol === symbol);
    if (contract) this.selectContract(contract);
  }

  async selectContract(contract, { force = false } = {}) {
    if (!force && this.contract?.symbol === contract.symbol) return;
    this.contract = contract;
    localStorage.setItem(SYMBOL_KEY, contract.symbol);
    this.ticket.setContract(contract);
    this.quote.setContract(contract);
    this.admin.setSymbol(contract.symbol);
    this.stream?.watchQuotes([contract.symbol]);
    try {
      const quotes = await this.api.get('/market/quotes', {
        symbols: contract.symbol,
        account: this.account.id,
      });
      for (const quote of quotes) this.applyQuote(quote);
    } catch (error) {
      toast(describeError(error), 'error');
    }
  }

  applyEvent(event) {
    if (event.account !== this.book?.account) return;
    this.book.apply(event);
    if (event.type === 'trade' && this.book.loaded) {
      const trade = event.data;
      toast(
        t('toast.filled', {
          side: term('side', trade.side),
          qty: quantity(trade.qty),
          symbol: trade.symbol,
          price: price(trade.price, this.contracts.get(trade.symbol)?.tick_size),
        }),
      );
    }
    this.scheduleRender();
  }

  applyQuote(quote) {
    this.quote.setQuote(quote);
    this.ticket.setQuote(quote);
  }

  setLink(up) {
    this.link = up;
    this.bar.setLink(up);
    if (up) this.refreshMarket();
  }

  setBroker(account, data) {
    this.brokers.set(account, data);
    this.scheduleRender();
  }

  async cancel(order) {
    try {
      await this.api.delete(`/accounts/${seg(this.account.id)}/orders/${seg(order.id)}`);
    } catch (error) {
      toast(describeError(error), 'error');
    }
  }

  async cancelAll() {
    const open = this.book?.openOrders().length ?? 0;
    const confirmed = await confirmAction({
      title: t('orders.cancel_all'),
      text: t('orders.cancel_all_confirm', { n: open, account: this.account.id }),
      ok: t('orders.cancel_all'),
      danger: true,
    });
    if (!confirmed) return;
    try {
      const canceled = await this.api.delete(`/accounts/${seg(this.account.id)}/orders`);
      toast(t('orders.canceled_n', { n: canceled.length }));
    } catch (error) {
      toast(describeError(error), 'error');
    }
  }

  languageChanged() {
    if (this.account) {
      this.ticket.setTimesInForce(this.account.capabilities?.time_in_force ?? ['day']);
    }
    this.render();
  }

  /** Draw at the next frame: a burst of events draws once. */
  scheduleRender() {
    if (this.framePending) return;
    this.framePending = true;
    requestAnimationFrame(() => {
      this.framePending = false;
      this.render();
    });
  }

  render() {
    this.bar.render();
    renderAccount(this.account, this.book?.balance);
    this.tables.render(this.book);
    this.quote.render();
    this.ticket.render();
    renderMarket(this.venues, this.brokers.get(this.account?.id));
  }
}
