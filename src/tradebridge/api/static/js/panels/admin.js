/**
 * The paper market controls, for admins on a paper account: set a quote (resting orders
 * that now cross fill at once), advance the clock, reset the account.
 */

import { ApiError } from '../api.js';
import { $ } from '../dom.js';
import { describeError } from '../errors.js';
import { t } from '../i18n.js';
import { confirmAction } from './confirm.js';
import { toast } from './toast.js';

const PRICES = ['last', 'bid', 'ask', 'pre_close'];
const SIZES = ['bid_size', 'ask_size'];
const WHOLE_NUMBER = /^\d+$/;

export class AdminStrip {
  /** paper(path, body) → Promise: POST `paper/{account}/{path}`; onReset() after a reset. */
  constructor({ paper, onReset }) {
    this.paper = paper;
    this.form = $('#admin-quote');
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.run(
        () => this.paper('quotes', this.quoteBody()),
        () => t('admin.quote_set'),
      );
    });
    $('#clock-session').addEventListener('click', () =>
      this.run(
        () => this.paper('clock', { advance: 'next_session' }),
        () => t('admin.clock_moved'),
      ),
    );
    $('#clock-day').addEventListener('click', () =>
      this.run(
        () => this.paper('clock', { advance: 'next_day' }),
        () => t('admin.clock_moved'),
      ),
    );
    $('#paper-reset').addEventListener('click', async () => {
      const confirmed = await confirmAction({
        title: t('admin.reset'),
        text: t('admin.reset_confirm'),
        ok: t('admin.reset'),
        danger: true,
      });
      if (confirmed) {
        await this.run(
          () => this.paper('reset'),
          () => t('admin.reset_done'),
        );
        onReset();
      }
    });
  }

  /** Shown for admins on paper accounts only (the API refuses everyone else anyway). */
  show(visible) {
    $('#admin-panel').hidden = !visible;
  }

  /** Follow the selected symbol unless the admin typed another one. */
  setSymbol(symbol) {
    this.form.elements.symbol.value = symbol;
  }

  quoteBody() {
    const field = this.form.elements;
    const body = { symbol: field.symbol.value.trim() };
    for (const name of PRICES) {
      const text = field[name].value.trim();
      if (text) body[name] = text;
    }
    for (const name of SIZES) {
      const text = field[name].value.trim();
      if (text) body[name] = WHOLE_NUMBER.test(text) ? Number(text) : text;
    }
    return body;
  }

  async run(action, done) {
    const error = $('#admin-error');
    error.textContent = '';
    try {
      await action();
      toast(done());
    } catch (failure) {
      if (!(failure instanceof ApiError)) throw failure;
      error.textContent = describeError(failure);
    }
  }
}
