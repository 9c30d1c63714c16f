/**
 * The order ticket: symbol search, side, type, quantity, limit price (with the contract's
 * tick and lot), time in force and, for futures, the offset. The API's errors are shown next
 * to the field they concern; orders with a large notional ask for confirmation first.
 */

import { ApiError } from '../api.js';
import { $, $$ } from '../dom.js';
import { fieldErrors } from '../errors.js';
import { decimalsOf, money, num, price, quantity } from '../format.js';
import { t, term } from '../i18n.js';
import { confirmAction } from './confirm.js';
import { SymbolSearch } from './symbol_search.js';

/** Orders worth more than this (price × qty × multiplier, in the instrument's currency)
 * are confirmed in a dialog before they are sent. */
const LARGE_ORDER_NOTIONAL = 100000;
const FUTURES_VENUES = new Set(['SHFE', 'DCE', 'CZCE', 'CFFEX', 'INE', 'GFEX']);
const WHOLE_NUMBER = /^\d+$/;

const isFutures = (symbol) => FUTURES_VENUES.has(symbol.split('.').pop().toUpperCase());

export class Ticket {
  /** place(body) → Promise of the order; search(text) → Promise of contracts;
   * onSymbol(contract) when the user picks one. */
  constructor({ place, search, onSymbol }) {
    this.place = place;
    this.onSymbol = onSymbol;
    this.form = $('#ticket');
    this.contract = null;
    this.last = null;
    this.symbolSearch = new SymbolSearch({
      input: $('#ticket-symbol'),
      list: $('#symbol-results'),
      search,
      onPick: (contract) => {
        this.setContract(contract);
        this.onSymbol(contract);
      },
    });
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.submit();
    });
    this.form.addEventListener('input', () => this.render());
    this.form.addEventListener('change', () => this.render());
    $('#price-up').addEventListener('click', () => this.step(1));
    $('#price-down').addEventListener('click', () => this.step(-1));
  }

  get field() {
    return this.form.elements;
  }

  /** The picked contract, while the symbol field still names it. */
  get picked() {
    const typed = this.field.symbol.value.trim().toUpperCase();
    return this.contract?.symbol.toUpperCase() === typed ? this.contract : null;
  }

  /** The instrument to trade (picked here, or on a table or position row). */
  setContract(contract) {
    const changed = this.contract?.symbol !== contract.symbol;
    this.contract = contract;
    this.field.symbol.value = contract.symbol;
    if (changed) {
      this.last = null;
      this.field.limit_price.value = '';
      this.field.qty.value = String(contract.min_qty ?? contract.lot_size ?? 1);
      this.clearErrors();
      $('#ticket-result').textContent = '';
    }
    this.render();
  }

  /** The latest quote of the ticket's symbol: the default limit price, the market notional. */
  setQuote(quote) {
    if (quote.symbol !== this.contract?.symbol) return;
    this.last = quote.last;
    if (!this.field.limit_price.value && quote.last != null) this.setPrice(quote.last);
    this.render();
  }

  setPrice(value) {
    const digits = decimalsOf(this.contract?.tick_size);
    this.field.limit_price.value = digits === null ? String(value) : Number(value).toFixed(digits);
    this.render();
  }

  /** Time in force choices: the account's, in the API's order. */
  setTimesInForce(choices) {
    const select = this.field.time_in_force;
    const current = select.value || 'day';
    const ordered = ['day', 'gtc', 'ioc', 'fok'].filter((c) => choices.includes(c));
    select.replaceChildren(
      ...ordered.map((value) => new Option(term('tif', value), value, false, value === current)),
    );
  }

  /** Move the limit price by whole ticks. */
  step(ticks) {
    const tick = Number(this.contract?.tick_size);
    const current = Number(this.field.limit_price.value || this.last);
    if (!tick || !Number.isFinite(current)) return;
    const next = (Math.round(current / tick) + ticks) * tick;
    if (next > 0) this.setPrice(next);
  }

  values() {
    const side = this.form.querySelector('input[name=side]:checked').value;
    const type = this.field.type.value;
    const qtyText = this.field.qty.value.trim();
    const priceText = this.field.limit_price.value.trim();
    const body = {
      symbol: this.field.symbol.value.trim(),
      side,
      type,
      time_in_force: this.field.time_in_force.value,
    };
    if (qtyText) body.qty = WHOLE_NUMBER.test(qtyText) ? Number(qtyText) : qtyText;
    if (type === 'limit' && priceText) body.limit_price = priceText;
    if (body.symbol && isFutures(body.symbol)) body.offset = this.field.offset.value;
    return body;
  }

  /** price × qty × multiplier, at the limit price or (market) the last price. */
  notional(body) {
    const market = body.type === 'market';
    const unitPrice = market ? (this.picked ? this.last : null) : Number(body.limit_price);
    const qty = Number(body.qty);
    if (!Number.isFinite(unitPrice) || !unitPrice || !Number.isFinite(qty)) return null;
    return unitPrice * qty * Number(this.picked?.multiplier ?? 1);
  }

  render() {
    const contract = this.picked;
    const body = this.values();
    const market = body.type === 'market';
    this.field.limit_price.disabled = market;
    $('#price-up').disabled = market;
    $('#price-down').disabled = market;
    $('#offset-field').hidden = !isFutures(body.symbol);
    const details = contract ? [contract.name, contract.currency] : [];
    if (contract?.multiplier > 1) details.push(t('ticket.multiplier', { n: contract.multiplier }));
    if (contract?.t_plus) details.push(`T+${contract.t_plus}`);
    $('#ticket-contract').textContent = details.filter(Boolean).join(' · ');
    $('#ticket-tick-hint').textContent = contract
      ? t('ticket.tick', { tick: num(contract.tick_size) })
      : '';
    $('#ticket-lot-hint').textContent = contract ? this.lotHint(contract) : '';
    const notional = this.notional(body);
    $('#ticket-notional').textContent =
      notional === null
        ? ''
        : t('ticket.notional', { value: money(notional), currency: contract?.currency ?? '' });
    const submit = $('#ticket-submit');
    submit.className = `primary ${body.side}`;
    submit.textContent = `${term('side', body.side)} ${body.symbol}`.trim();
  }

  lotHint(contract) {
    const parts = [t('ticket.lot', { lot: quantity(contract.lot_size) })];
    if (contract.min_qty) parts.push(t('ticket.min', { n: quantity(contract.min_qty) }));
    if (contract.max_qty) parts.push(t('ticket.max', { n: quantity(contract.max_qty) }));
    return parts.join(' · ');
  }

  clearErrors() {
    for (const node of $$('[data-error-for]', this.form)) node.textContent = '';
    for (const node of $$('.field.invalid', this.form)) node.classList.remove('invalid');
  }

  showErrors(error) {
    for (const [field, text] of fieldErrors(error)) {
      const known = field && this.form.querySelector(`[data-error-for="${CSS.escape(field)}"]`);
      const target = known || this.form.querySelector('[data-error-for=""]');
      target.textContent = target.textContent ? `${target.textContent} ${text}` : text;
      if (known) known.closest('.field')?.classList.add('invalid');
    }
  }

  async submit() {
    this.clearErrors();
    const result = $('#ticket-result');
    result.textContent = '';
    const body = this.values();
    const notional = this.notional(body);
    const contract = this.picked;
    if (notional !== null && notional > LARGE_ORDER_NOTIONAL) {
      const confirmed = await confirmAction({
        title: t('ticket.confirm_title'),
        text: t('ticket.confirm_text', {
          side: term('side', body.side),
          qty: quantity(body.qty),
          symbol: body.symbol,
          price:
            body.type === 'market'
              ? term('type', 'market')
              : price(body.limit_price, contract?.tick_size),
          value: money(notional),
          currency: contract?.currency ?? '',
        }),
        ok: t('ticket.confirm_ok'),
      });
      if (!confirmed) return;
    }
    const button = $('#ticket-submit');
    button.disabled = true;
    try {
      const order = await this.place(body);
      result.textContent = t('ticket.placed', {
        side: term('side', order.side),
        qty: quantity(order.qty),
        symbol: order.symbol,
        status: term('status', order.status),
      });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      this.showErrors(error);
    } finally {
      button.disabled = false;
    }
  }
}
