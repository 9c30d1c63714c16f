/** The ticket's symbol field: searches `market/contracts?q=` as the user types and lists the
 * matches (arrow keys, Enter, click). */

import { fill, h } from '../dom.js';

const DEBOUNCE_MS = 200;
const MAX_RESULTS = 10;

export class SymbolSearch {
  /** search(text) → Promise of contracts; onPick(contract) when one is chosen. */
  constructor({ input, list, search, onPick }) {
    this.input = input;
    this.list = list;
    this.search = search;
    this.onPick = onPick;
    this.results = [];
    this.active = -1;
    this.timer = null;
    input.addEventListener('input', () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.lookUp(), DEBOUNCE_MS);
    });
    input.addEventListener('keydown', (event) => this.key(event));
    input.addEventListener('change', () => this.pickExact());
    input.addEventListener('blur', () => setTimeout(() => this.close(), 150));
  }

  async lookUp() {
    const text = this.input.value.trim();
    if (!text) {
      this.close();
      return;
    }
    const found = await this.search(text).catch(() => []);
    if (this.input.value.trim() !== text) return; // the user typed on meanwhile
    this.show(found.slice(0, MAX_RESULTS));
  }

  /** Typed a whole symbol and left the field: take it if it is one. */
  async pickExact() {
    const text = this.input.value.trim().toUpperCase();
    if (!text) return;
    const found = await this.search(text).catch(() => []);
    const exact = found.find((c) => c.symbol.toUpperCase() === text);
    if (exact && this.input.value.trim().toUpperCase() === text) this.pick(exact);
  }

  show(results) {
    this.results = results;
    this.active = results.length ? 0 : -1;
    this.render();
  }

  render() {
    const items = this.results.map((contract, index) =>
      h(
        'li',
        {
          role: 'option',
          id: `symbol-option-${index}`,
          'aria-selected': String(index === this.active),
          onmousedown: (event) => {
            event.preventDefault(); // keep the focus in the input
            this.pick(contract);
          },
        },
        h('strong', {}, contract.symbol),
        h('span', { class: 'muted' }, contract.name ?? ''),
      ),
    );
    fill(this.list, items);
    this.list.hidden = !items.length;
    this.input.setAttribute('aria-expanded', String(!this.list.hidden));
    if (this.active >= 0)
      this.input.setAttribute('aria-activedescendant', `symbol-option-${this.active}`);
    else this.input.removeAttribute('aria-activedescendant');
  }

  key(event) {
    const open = !this.list.hidden;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      if (!open) return;
      event.preventDefault();
      const step = event.key === 'ArrowDown' ? 1 : -1;
      this.active = (this.active + step + this.results.length) % this.results.length;
      this.render();
    } else if (event.key === 'Enter' && open && this.active >= 0) {
      event.preventDefault();
      this.pick(this.results[this.active]);
    } else if (event.key === 'Escape' && open) {
      event.preventDefault();
      this.close();
    }
  }

  pick(contract) {
    clearTimeout(this.timer);
    this.input.value = contract.symbol;
    this.close();
    this.onPick(contract);
  }

  close() {
    this.results = [];
    this.active = -1;
    this.render();
  }
}
