/** Market status per venue (`market/status`), and the account's broker connection. */

import { $, fill, h } from '../dom.js';
import { t, term } from '../i18n.js';

export function renderMarket(venues, broker) {
  const items = venues.map((v) =>
    h(
      'li',
      { dataset: { venue: v.venue, status: v.status }, title: v.broker_status ?? '' },
      h('span', { class: 'venue' }, v.venue),
      h('span', { class: 'venue-status' }, term('market', v.status)),
    ),
  );
  fill($('#market-status'), items.length ? items : [h('li', { class: 'muted' }, t('loading'))]);
  const state = $('#broker-state');
  state.dataset.state = broker?.broker ?? '';
  state.textContent = broker ? t('broker.state', { state: term('broker', broker.broker) }) : '';
  state.title = broker?.message ?? '';
}
