/** The selected instrument: last price, change vs the previous close, bid/ask with sizes,
 * daily limits, and its chart. */

import { $, $$ } from '../dom.js';
import { percent, price, quantity, time } from '../format.js';
import { t } from '../i18n.js';
import { CandleChart } from './chart.js';

const BARS = 240;

/** The daily limit prices from the previous close, on the tick (none without a limit). */
function dailyLimits(contract, preClose) {
  const pct = contract?.price_limit_pct;
  const tick = Number(contract?.tick_size);
  if (pct === null || pct === undefined || !preClose || !tick) return [null, null];
  const onTick = (value) => Math.round(value / tick + 1e-9) * tick;
  return [onTick(preClose * (1 + pct / 100)), onTick(preClose * (1 - pct / 100))];
}

export class QuotePanel {
  /** loadBars(symbol, interval) → Promise of bars; onPrice(value) when bid or ask is clicked. */
  constructor({ loadBars, onPrice }) {
    this.loadBars = loadBars;
    this.contract = null;
    this.quote = null;
    this.interval = '1m';
    this.chart = new CandleChart($('#chart'));
    $('#quote-bid').addEventListener('click', () => this.quote?.bid && onPrice(this.quote.bid));
    $('#quote-ask').addEventListener('click', () => this.quote?.ask && onPrice(this.quote.ask));
    for (const button of $$('#chart-intervals button')) {
      button.addEventListener('click', () => this.setInterval(button.dataset.interval));
    }
  }

  setContract(contract) {
    this.contract = contract;
    this.quote = null;
    this.render();
    this.reloadBars();
  }

  setInterval(interval) {
    this.interval = interval;
    for (const button of $$('#chart-intervals button')) {
      button.setAttribute('aria-pressed', String(button.dataset.interval === interval));
    }
    this.reloadBars();
  }

  async reloadBars() {
    const contract = this.contract;
    if (!contract) return;
    const interval = this.interval;
    $('#chart-note').textContent = '';
    try {
      const bars = await this.loadBars(contract.symbol, interval);
      if (this.contract !== contract || this.interval !== interval) return;
      this.chart.setBars(bars, interval, contract.tick_size);
    } catch {
      $('#chart-note').textContent = t('chart.unavailable');
      this.chart.setBars([], interval, contract.tick_size);
    }
  }

  setQuote(quote) {
    if (quote.symbol !== this.contract?.symbol) return;
    this.quote = quote;
    this.chart.addPrice(quote.time, quote.last);
    this.render();
  }

  render() {
    const contract = this.contract;
    const quote = this.quote;
    const tick = contract?.tick_size;
    $('#quote-symbol').textContent = contract?.symbol ?? t('quote.pick');
    $('#quote-name').textContent = contract?.name ?? '';
    const last = $('#quote-last');
    last.textContent = price(quote?.last, tick);
    const preClose = quote?.pre_close ?? contract?.pre_close;
    const change = quote?.last != null && preClose ? quote.last - preClose : null;
    const direction = change > 0 ? 'up' : change < 0 ? 'down' : '';
    last.className = `big ${direction}`;
    const changeNode = $('#quote-change');
    changeNode.className = direction;
    changeNode.textContent =
      change === null
        ? ''
        : `${price(change, tick, { sign: true })} (${percent((change / preClose) * 100)})`;
    $('#quote-bid').textContent = price(quote?.bid, tick);
    $('#quote-ask').textContent = price(quote?.ask, tick);
    $('#quote-bid-size').textContent =
      quote?.bid_size != null ? `× ${quantity(quote.bid_size)}` : '';
    $('#quote-ask-size').textContent =
      quote?.ask_size != null ? `× ${quantity(quote.ask_size)}` : '';
    $('#quote-pre-close').textContent = price(preClose, tick);
    const [up, down] = dailyLimits(contract, preClose);
    $('#quote-limit-up').textContent = up === null ? t('quote.no_limit') : price(up, tick);
    $('#quote-limit-down').textContent = down === null ? t('quote.no_limit') : price(down, tick);
    $('#quote-time').textContent = time(quote?.time);
  }
}
