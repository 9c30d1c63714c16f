/**
 * The live stream (`api/v1/stream`, docs/README.md "WebSocket stream").
 *
 * Follows one account's events in `seq` order and the quotes of chosen symbols. After a
 * reconnect it sends `resume` with the last `seq` applied, so the account's tables go on with
 * no gap and no duplicate; only when the server cannot resume (or at the start) does the page
 * reload the account over REST (`onReload`).
 */

const ACCOUNT_CHANNELS = ['orders', 'trades', 'positions', 'account'];
const RETRY_START_MS = 500;
const RETRY_MAX_MS = 8000;
const PING_EVERY_MS = 20000;
/** Silence after which the connection is taken as dead (the server pings every 15 s). */
const SILENCE_MS = 50000;
const ACCOUNT_EVENTS = new Set(['order', 'trade', 'position', 'account']);
/** Answers that mean the events from our `seq` on are gone: start over from REST. */
const START_OVER = new Set(['resume_too_old', 'resume_invalid', 'history_reset']);

export class Stream {
  /**
   * handlers: onLink(up), onEngine('up'|'down'|'unknown'), onBroker(account, data),
   * onEvent(message), onQuote(quote), onReload(account), onUnauthorized()
   */
  constructor(token, handlers) {
    this.token = token;
    this.on = handlers;
    this.account = null;
    this.lastSeq = null; // the `seq` of the last event applied; null until subscribed
    this.symbols = new Set();
    this.socket = null;
    this.ready = false;
    this.stopped = false;
    this.retryMs = RETRY_START_MS;
    this.retryTimer = null;
    this.requestIds = 0;
    this.followId = null;
    this.resumeId = null;
    this.heard = Date.now();
    this.watchdog = setInterval(() => this.checkAlive(), PING_EVERY_MS);
  }

  start() {
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearInterval(this.watchdog);
    clearTimeout(this.retryTimer);
    this.socket?.close(1000, 'logout');
  }

  /** Follow `account` from scratch: subscribe, then `onReload` loads it over REST. */
  follow(account) {
    if (this.account && this.account !== account) {
      this.send({ op: 'unsubscribe', account: this.account, channels: ACCOUNT_CHANNELS });
    }
    this.account = account;
    this.lastSeq = null;
    this.subscribeAccount();
    this.subscribeQuotes([...this.symbols]);
  }

  /** Receive quotes of exactly these symbols from now on. */
  watchQuotes(symbols) {
    const wanted = new Set(symbols);
    const gone = [...this.symbols].filter((s) => !wanted.has(s));
    const added = [...wanted].filter((s) => !this.symbols.has(s));
    this.symbols = wanted;
    if (gone.length) {
      const channels = gone.map((s) => `quotes:${s}`);
      this.send({ op: 'unsubscribe', account: this.account, channels });
    }
    this.subscribeQuotes(added);
  }

  connect() {
    const url = new URL('api/v1/stream', document.baseURI);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = new WebSocket(url);
    this.socket = socket;
    this.ready = false;
    socket.onopen = () => socket.send(JSON.stringify({ op: 'auth', token: this.token }));
    socket.onmessage = (event) => {
      if (socket === this.socket) this.receive(JSON.parse(event.data));
    };
    socket.onclose = (event) => {
      if (socket === this.socket) this.closed(event);
    };
  }

  send(op) {
    if (this.ready) this.socket.send(JSON.stringify(op));
  }

  subscribeAccount() {
    if (!this.account) return;
    this.followId = `follow-${++this.requestIds}`;
    const op = { op: 'subscribe', id: this.followId, account: this.account };
    this.send({ ...op, channels: ACCOUNT_CHANNELS });
  }

  subscribeQuotes(symbols) {
    if (symbols.length && this.account) {
      const channels = symbols.map((s) => `quotes:${s}`);
      this.send({ op: 'subscribe', account: this.account, channels });
    }
  }

  /** Authenticated: pick the account up where we left it, or subscribe afresh. */
  authenticated() {
    this.ready = true;
    this.retryMs = RETRY_START_MS;
    this.on.onLink(true);
    if (this.account && this.lastSeq !== null) {
      this.resume();
    } else {
      this.subscribeAccount();
    }
    this.subscribeQuotes([...this.symbols]);
  }

  receive(message) {
    this.heard = Date.now();
    const { type, data } = message;
    if (!this.ready) {
      if (type === 'status') this.authenticated();
      else return;
    }
    if (type === 'ping') this.send({ op: 'pong' });
    else if (type === 'status') this.status(message);
    else if (type === 'quote') this.on.onQuote(data);
    else if (type === 'subscribed') this.subscribed(message);
    else if (ACCOUNT_EVENTS.has(type)) this.accountEvent(message);
    else if (type === 'error') this.error(message);
  }

  status({ account, data }) {
    if (data.engine) this.on.onEngine(data.engine);
    if (account && data.broker) this.on.onBroker(account, data);
  }

  /** Ask for every event after the last one applied. */
  resume() {
    this.resumeId = `resume-${++this.requestIds}`;
    const op = { op: 'resume', id: this.resumeId, account: this.account };
    this.send({ ...op, since_seq: this.lastSeq });
  }

  subscribed({ id, account, data }) {
    if (id === this.resumeId) this.resumeId = null;
    if (id === this.followId && account === this.account) {
      this.followId = null;
      this.lastSeq = data.since_seq ?? 0;
      this.on.onReload(account);
    }
  }

  accountEvent(message) {
    if (message.account !== this.account || this.lastSeq === null) return;
    if (message.seq <= this.lastSeq) return; // already applied
    if (message.prev_seq !== this.lastSeq) {
      // Should not happen (the server repairs gaps); ask again from what we have.
      if (this.resumeId === null) this.resume();
      return;
    }
    this.lastSeq = message.seq;
    this.on.onEvent(message);
  }

  error({ account, data }) {
    if (START_OVER.has(data.code) && account === this.account) {
      this.lastSeq = null;
      this.subscribeAccount();
    }
  }

  closed(event) {
    this.socket = null;
    this.ready = false;
    this.resumeId = null;
    this.on.onLink(false);
    this.on.onEngine('unknown');
    if (this.stopped) return;
    if (event.code === 4401) {
      this.on.onUnauthorized();
      return;
    }
    const delay = this.retryMs * (0.75 + Math.random() / 2);
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** Keep the server hearing from us, and drop a connection that went silent. */
  checkAlive() {
    if (!this.ready) return;
    if (Date.now() - this.heard > SILENCE_MS) this.socket.close(4000, 'silent');
    else this.send({ op: 'ping' });
  }
}
