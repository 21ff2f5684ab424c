'use strict';
/*
 * What the browser scenarios share: opening pages in fresh contexts, watching everything they do
 * (requests, console, page errors), reading the page's state, and waiting on it with deadlines.
 *
 * Every page is watched from the moment it opens:
 * - every request and WebSocket must stay on the server's origin;
 * - console errors and uncaught exceptions are failures, except the connection errors Chromium logs
 *   while the test has stopped the server on purpose (see Run.outage), matched exactly;
 * - the page document must carry a Content-Security-Policy that forbids inline script and foreign
 *   origins.
 * Those findings are collected and reported at the end, so one run shows all of them.
 */

/** How long one wait for the page to reach a state may take. Chat events arrive in milliseconds. */
const WAIT_MS = 10000;
/**
 * How long a reconnect may take after the server is back: the client's backoff is capped at 5 s
 * (reconnectionDelayMax), plus a connection attempt and the join.
 */
const RECONNECT_MS = 20000;
/** How often a wait reads the page's state again. */
const POLL_MS = 50;

/** Whether url is an Engine.IO request that opens a session (a handshake: no sid yet). */
function isHandshake(url) {
  const u = new URL(url);
  return u.pathname === '/socket.io/' && u.searchParams.has('EIO') && !u.searchParams.has('sid');
}

/** The two screens the page is tested on: a laptop and a 390-pixel-wide phone. */
const DEVICES = {
  desktop: { viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 },
  phone: { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true }
};

/** A check that did not hold; the scenario stops there. */
class Failure extends Error {}

/** Prints one result line for the Go test. */
function report(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The page's state as the tests see it, read inside the page. It uses only what a person sees
 * (and the attributes the page documents for tests), never the page script's internals.
 */
function readState() {
  const byId = (id) => document.getElementById(id);
  const status = byId('status');
  return {
    phase: byId('app').dataset.phase,
    me: byId('me_button').hidden ? '' : byId('me_name').textContent,
    status: status.dataset.state,
    statusText: status.textContent,
    statusDetail: status.title,
    chatters: Array.from(document.querySelectorAll('#chatters li')).map((li) => li.dataset.name),
    messages: Array.from(document.querySelectorAll('#messages li.msg')).map((li) => ({
      id: li.dataset.id || null,
      name: li.dataset.name,
      text: li.querySelector('.msg-text').textContent,
      own: li.classList.contains('own'),
      pending: li.classList.contains('pending'),
      failed: li.classList.contains('failed')
    })),
    system: Array.from(document.querySelectorAll('#messages li.sys .sys-text')).map((s) => s.textContent),
    joinError: byId('join_error').textContent,
    title: document.title,
    focused: document.activeElement ? document.activeElement.id : '',
    room: byId('app').dataset.room,
    topic: byId('room_topic').textContent,
    notice: byId('room_notice').textContent,
    hash: location.hash,
    rooms: Array.from(document.querySelectorAll('#rooms li')).map((li) => {
      const badge = li.querySelector('.room-badge');
      return {
        name: li.querySelector('.room-name').textContent,
        unread: badge && !badge.hidden ? Number(badge.textContent) : 0,
        current: li.querySelector('a').getAttribute('aria-current') === 'page'
      };
    })
  };
}

/**
 * Runs in a cuttable page before its scripts: window.WebSocket becomes one that the test can cut
 * (window.__testNetwork). While cut, a new WebSocket throws at once, as one refused by the
 * browser does, and the page's client tries again later.
 */
function cuttableNetwork() {
  const Native = window.WebSocket;
  const open = new Set();
  let blocked = false;
  class CuttableWebSocket extends Native {
    constructor(url, protocols) {
      if (blocked) throw new DOMException('the test took the network away', 'NetworkError');
      super(url, protocols);
      open.add(this);
      this.addEventListener('close', () => open.delete(this));
    }
  }
  window.WebSocket = CuttableWebSocket;
  window.__testNetwork = {
    block() { blocked = true; },
    cut() {
      blocked = true;
      open.forEach((ws) => ws.close());
    },
    restore() { blocked = false; }
  };
}

/** One scenario's browser, pages and findings. */
class Run {
  constructor(browser, base, shotsDir) {
    this.browser = browser;
    this.base = base; // http://127.0.0.1:PORT, no trailing slash
    this.shotsDir = shotsDir;
    this.problems = []; // findings of the watchers, reported at the end
    this.pages = [];
    /** True while the test has stopped the server: connection errors are expected then. */
    this.outage = false;
    this.allowedDuringOutage = 0;
    const origin = escapeRegExp(this.base.replace(/^http:/, 'ws:'));
    // Exactly what Chromium logs when a connection to the stopped server fails, and nothing more.
    this.outageErrors = [
      new RegExp('^WebSocket connection to \'' + origin + '/socket\\.io/\\?[^\']*\' failed: '),
      /^Failed to load resource: net::ERR_CONNECTION_REFUSED$/
    ];
    this.answers = [];
    this.waiters = [];
  }

  /** Logs a line in the Go test's output. */
  log(text) {
    report({ type: 'log', text: text });
  }

  problem(text) {
    if (this.problems.indexOf(text) < 0) this.problems.push(text);
  }

  /**
   * Opens the page in a new browser context (its own storage, like another person's browser).
   * options: noWebSocket (remove window.WebSocket before any script runs), bypassCSP (so that
   * markup inserted as HTML would run instead of being blocked: the page itself must be safe),
   * colorScheme, forwardedFor (an address every request names in X-Forwarded-For, as a reverse
   * proxy would; the server must trust loopback as a proxy), hash (opens /HASH, e.g. "#games"),
   * cuttable (the test can take the page's network away and give it back: see cut).
   */
  async open(label, device, options) {
    options = options || {};
    const context = await this.browser.newContext(Object.assign({
      locale: 'en-US',
      colorScheme: options.colorScheme || 'light',
      bypassCSP: !!options.bypassCSP,
      extraHTTPHeaders: options.forwardedFor ? { 'X-Forwarded-For': options.forwardedFor } : {}
    }, DEVICES[device]));
    context.setDefaultTimeout(WAIT_MS);
    if (options.noWebSocket) {
      await context.addInitScript(() => {
        delete window.WebSocket;
      });
    }
    if (options.cuttable) await context.addInitScript(cuttableNetwork);
    const page = await context.newPage();
    page.label = label;
    page.websockets = [];
    this.pages.push(page);
    context.on('request', (request) => {
      const url = request.url();
      if (!url.startsWith(this.base + '/')) this.problem(label + ' requested ' + url + ', outside the server\'s origin');
    });
    page.framesSent = []; // what the page sent over WebSocket, or in long-polling POST bodies
    page.handshakes = 0; // Engine.IO sessions the page opened, over WebSocket or long-polling
    context.on('request', (request) => {
      if (request.method() === 'POST' && request.url().startsWith(this.base + '/socket.io/')) {
        page.framesSent.push(request.postData() || '');
      }
      if (request.method() === 'GET' && request.url().startsWith(this.base + '/') && isHandshake(request.url())) {
        page.handshakes++;
      }
    });
    page.on('websocket', (ws) => {
      page.websockets.push(ws.url());
      if (isHandshake(ws.url().replace(/^ws/, 'http'))) page.handshakes++;
      ws.on('framesent', (frame) => page.framesSent.push(String(frame.payload)));
      if (!ws.url().startsWith(this.base.replace(/^http:/, 'ws:') + '/socket.io/')) {
        this.problem(label + ' opened a WebSocket to ' + ws.url());
      }
    });
    page.on('pageerror', (err) => this.problem(label + ': uncaught ' + (err.stack || err.message || err)));
    page.on('crash', () => this.problem(label + ': the page crashed'));
    page.on('console', (message) => {
      if (message.type() !== 'error' && message.type() !== 'assert') return;
      const text = message.text();
      const location = message.location().url || '';
      const network = this.outageErrors.some((re) => re.test(text)) &&
        (location === '' || location.startsWith(this.base + '/'));
      if (this.outage && network) {
        this.allowedDuringOutage++;
        return;
      }
      this.problem(label + ': console error: ' + text + (location ? ' (' + location + ')' : ''));
    });
    const response = await page.goto(this.base + '/' + (options.hash || ''), { waitUntil: 'load' });
    const csp = (response && response.headers()['content-security-policy']) || '';
    this.checkCSP(label, csp);
    // A new page waits on its welcome screen without a connection (it connects on joining).
    await this.until(page, 'the welcome screen, not connected', (s) => s.phase === 'welcome' && s.status === 'idle');
    return page;
  }

  checkCSP(label, csp) {
    const directives = {};
    csp.split(';').forEach((part) => {
      const words = part.trim().split(/\s+/);
      if (words[0]) directives[words[0]] = words.slice(1);
    });
    const script = directives['script-src'] || directives['default-src'];
    const ok = script && script.length === 1 && script[0] === '\'self\'' &&
      (directives['default-src'] || []).join(' ') === '\'self\'' &&
      (directives['connect-src'] || ['\'self\'']).join(' ') === '\'self\'';
    if (!ok) this.problem(label + ': the page\'s Content-Security-Policy does not limit scripts and connections to its own origin: "' + csp + '"');
  }

  /** The page's state now (see readState). */
  async state(page) {
    return page.evaluate(readState);
  }

  /**
   * Waits until test(state) holds on page, reading the state every POLL_MS; fails with the last
   * state seen otherwise.
   */
  async until(page, what, test, timeoutMs) {
    const deadline = Date.now() + (timeoutMs || WAIT_MS);
    let last = null;
    for (;;) {
      last = await this.state(page);
      if (test(last)) return last;
      if (Date.now() > deadline) {
        throw new Failure(page.label + ': ' + what + ' did not happen within ' + (timeoutMs || WAIT_MS) +
          ' ms; the page shows ' + JSON.stringify(last));
      }
      await page.waitForTimeout(POLL_MS);
    }
  }

  /**
   * Checks that test(state) holds on page for the next ms milliseconds, reading the state every
   * POLL_MS; fails with the first state for which it does not.
   */
  async holds(page, what, test, ms) {
    const end = Date.now() + ms;
    for (;;) {
      const s = await this.state(page);
      if (!test(s)) throw new Failure(page.label + ': ' + what + ' did not hold for ' + ms + ' ms; the page shows ' + JSON.stringify(s));
      if (Date.now() >= end) return s;
      await page.waitForTimeout(POLL_MS);
    }
  }

  /** Fails the scenario with text unless ok. */
  expect(ok, text) {
    if (!ok) throw new Failure(text);
  }

  /**
   * Joins with the keyboard alone: the page puts the focus in the nickname box, we type and
   * press Enter. Waits until the page shows us in the room (within timeoutMs, WAIT_MS if not
   * given).
   */
  async join(page, name, timeoutMs) {
    await this.until(page, 'focus in the nickname box', (s) => s.focused === 'nick_input');
    await page.keyboard.press('Control+A');
    await page.keyboard.type(name);
    await page.keyboard.press('Enter');
    return this.until(page, 'joining as ' + name, (s) => s.phase === 'chat' && s.me === name &&
      s.chatters.indexOf(name) >= 0 && s.focused === 'chat_input', timeoutMs);
  }

  /**
   * Sends text with the keyboard alone (the message box has the focus; Enter sends) and waits
   * until the server confirmed it: the own message has an id and is no longer pending.
   */
  async say(page, text) {
    this.expect((await this.state(page)).focused === 'chat_input', page.label + ': the message box does not have the focus');
    await page.keyboard.type(text);
    await page.keyboard.press('Enter');
    await this.until(page, 'own message "' + text + '" confirmed', (s) =>
      s.messages.some((m) => m.own && m.text === text && m.id && !m.pending && !m.failed));
  }

  /** Waits until page shows a message of name with text from someone else. */
  async sees(page, name, text) {
    return this.until(page, 'message from ' + name + ': "' + text + '"', (s) =>
      s.messages.some((m) => !m.own && m.name === name && m.text === text));
  }

  /** Waits until page's chatter list is exactly names (in any order). */
  async chattersAre(page, names) {
    const want = names.slice().sort().join('\n');
    return this.until(page, 'chatter list ' + JSON.stringify(names), (s) => s.chatters.slice().sort().join('\n') === want);
  }

  /** Tells the page it is hidden or visible again, the way a browser does when the tab changes. */
  async setHidden(page, hidden) {
    await page.evaluate((h) => {
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => h });
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') });
      document.dispatchEvent(new Event('visibilitychange'));
    }, hidden);
  }

  /**
   * Takes a cuttable page's network away: its open WebSockets close, as a connection lost to the
   * network does for the server, and no new one opens (each try fails at once) until restore.
   */
  async cut(page) {
    await page.evaluate(() => window.__testNetwork.cut());
  }

  /** Keeps a cuttable page from opening WebSockets, without closing the open ones. */
  async block(page) {
    await page.evaluate(() => window.__testNetwork.block());
  }

  /** Gives a cut page its network back, and says so (see online). */
  async restore(page) {
    await page.evaluate(() => window.__testNetwork.restore());
    await this.online(page);
  }

  /**
   * Tells the page its network is back, as a browser does ("online"): a client waiting to
   * reconnect tries at once instead of when its backoff ends.
   */
  async online(page) {
    await page.evaluate(() => window.dispatchEvent(new Event('online')));
  }

  async screenshot(page, name) {
    const path = require('path').join(this.shotsDir, name + '.png');
    await page.screenshot({ path: path });
    report({ type: 'shot', name: name, path: path });
  }

  /**
   * Asks the Go test to stop ("stop") or start again ("start") the server, or to run
   * `chatserver room ARGS` against it ("room", args), and waits until done.
   */
  async ask(op, args) {
    report(args ? { type: 'ask', op: op, args: args } : { type: 'ask', op: op });
    const answer = await new Promise((resolve) => {
      if (this.answers.length > 0) resolve(this.answers.shift());
      else this.waiters.push(resolve);
    });
    this.expect(answer.op === op && answer.ok, 'the Go test answered ' + JSON.stringify(answer) + ' to ' + op + (args ? ' ' + args.join(' ') : ''));
  }

  /** Hands a line from the Go test to whoever waits for one. */
  answer(obj) {
    if (this.waiters.length > 0) this.waiters.shift()(obj);
    else this.answers.push(obj);
  }
}

module.exports = { Run, Failure, report, RECONNECT_MS, WAIT_MS };
