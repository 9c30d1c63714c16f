/** The top bar once logged in: account switcher, connection indicators, user, logout. */

import { $, fill, h } from '../dom.js';
import { t } from '../i18n.js';

export class StatusBar {
  constructor({ onAccount, onLogout }) {
    this.link = false;
    this.engine = 'unknown';
    this.select = $('#account-select');
    this.select.addEventListener('change', () => onAccount(this.select.value));
    $('#logout').addEventListener('click', onLogout);
  }

  show(username, role) {
    this.username = username;
    this.role = role;
    $('#session-bar').hidden = false;
    this.render();
  }

  setAccounts(accounts, selected) {
    const options = accounts.map((a) =>
      h('option', { value: a.id, selected: a.id === selected }, `${a.id} · ${a.broker}`),
    );
    fill(this.select, options);
  }

  /** The stream's connection: up while the WebSocket is open and authenticated. */
  setLink(up) {
    this.link = up;
    this.render();
  }

  /** The engine, as the stream reports it: up, down, or unknown while disconnected. */
  setEngine(state) {
    this.engine = state;
    this.render();
  }

  render() {
    const link = $('#link-state');
    link.dataset.state = this.link ? 'up' : 'down';
    $('#link-label').textContent = t(this.link ? 'link.up' : 'link.down');
    const engine = $('#engine-state');
    engine.dataset.state = this.engine;
    $('#engine-label').textContent = t(`engine.${this.engine}`);
    $('#user-name').textContent = `${this.username ?? ''} · ${t(`role.${this.role}`)}`;
  }
}
