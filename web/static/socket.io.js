/*
 * chatserver's browser Socket.IO client.
 *
 * A small, dependency-free client for Engine.IO protocol 4 / Socket.IO protocol 5 (what socket.io
 * v3/v4 servers speak). Served by chatserver at /socket.io/socket.io.js; defines the global `io`.
 *
 *   const socket = io();                       // same origin, namespace "/", path "/socket.io/"
 *   socket.on('connect', () => socket.emit('join', 'ada', (reply) => { ... }));
 *   socket.timeout(5000).emit('messages', 'hi', (err, reply) => { ... });
 *   const games = io('/games');                // namespace "/games" on the same connection
 *
 * Multiplexing, as with the reference client: io(url) returns the socket of url's namespace on a
 * Manager shared by every io() of the same origin, path and query, so the sockets of several
 * namespaces share one Engine.IO connection. forceNew: true or multiplex: false (or asking io()
 * for a namespace that manager already has) makes a Manager of its own. A Manager can be made
 * directly as well:
 *
 *   const manager = new io.Manager({ autoConnect: false });    // the page's origin
 *   const general = manager.socket('/'), games = manager.socket('/games', { auth: {...} });
 *
 * Options (all optional; all but auth and autoConnect belong to the Manager, and a shared one
 * keeps those of the io() that made it): path ('/socket.io/'), transports (['websocket',
 * 'polling']), query ({}), auth (object, or function(cb) calling cb(object)), autoConnect (true),
 * reconnection (true), reconnectionAttempts (Infinity), reconnectionDelay (500 ms),
 * reconnectionDelayMax (5000 ms), randomizationFactor (0.5), timeout (20000 ms: how long one
 * connection attempt may take), forceNew (false), multiplex (true).
 *
 * Socket events: connect, connect_error (Error), disconnect (reason), reconnect_attempt (attempt),
 * reconnect (attempt), reconnect_error (Error), reconnect_failed, and the extra
 * reconnecting ({attempt, delay}) fired when a retry is scheduled, plus every server event.
 * Manager events: open, close (reason), error (Error: an attempt failed), and the same
 * reconnect_attempt, reconnect, reconnect_error, reconnect_failed and reconnecting, which go to
 * every active socket as well.
 *
 * Behaviour worth knowing:
 * - Each socket has its own auth, connect and disconnect, buffer and acks. The Manager opens the
 *   connection when a socket connects and closes it when the last active socket disconnects;
 *   after a reconnect every active socket sends its own CONNECT again, with its own auth.
 * - WebSocket first. If WebSocket is missing or never managed to open in this page, the same attempt
 *   falls back to HTTP long-polling, and once polling works the page keeps using it.
 * - The server pings; the client answers and treats pingInterval + pingTimeout of silence as a
 *   dead connection ("ping timeout"), then reconnects.
 * - Emits made while disconnected are buffered and sent after the next connect. "connect"
 *   listeners run first, so what they emit (a re-join, say) goes out before the buffered emits.
 * - A timeout() ack starts counting when the packet is written, not while it waits in the buffer,
 *   and fails at once with an Error if the connection drops before the reply.
 * - A DISCONNECT from the server ("io server disconnect") or a CONNECT_ERROR ends that socket
 *   only, and its reconnection, as with the reference client; call connect() to start again.
 *   A CONNECT answered for a socket that has left meanwhile is answered with a DISCONNECT.
 * - Connection state recovery, as with the reference client (4.6 and later): a server that
 *   offers it answers CONNECT with a private session id, {sid, pid}, and ends every event it may
 *   replay with a string, its offset. The socket remembers the pid and the last such string of
 *   an event it received (the event still reaches the listeners with all its arguments; they
 *   read the first ones), and every CONNECT after a lost connection carries
 *   {pid, offset} merged into its auth (the auth's own keys win). When the server answers with
 *   the same pid it has given the socket its state back and sends what it missed:
 *   socket.recovered is true during and after that "connect"; otherwise it is false and the
 *   socket is a new one. disconnect(), or a DISCONNECT from the server, forgets the pid.
 * - Long-polling writes are gathered for the rest of the current task into one POST, so that
 *   the DISCONNECTs of several sockets and the close packet that follows them leave together;
 *   that last POST is sent with keepalive, so it goes out even while the page unloads.
 */
(function (root) {
  'use strict';

  // ------------------------------------------------------------------------------------------
  // Constants

  /** Engine.IO protocol version sent as EIO=. */
  var ENGINE_PROTOCOL = 4;
  /** Socket.IO protocol version, exposed as io.protocol. */
  var SOCKET_PROTOCOL = 5;
  /** Engine.IO packet types, indexed by their wire digit. */
  var ENGINE_TYPES = ['open', 'close', 'ping', 'pong', 'message', 'upgrade', 'noop'];
  var ENGINE_CODES = { open: '0', close: '1', ping: '2', pong: '3', message: '4', upgrade: '5', noop: '6' };
  /** Separator between packets in a long-polling payload (ASCII record separator). */
  var RECORD_SEPARATOR = '\x1e';
  /** Socket.IO packet types. */
  var CONNECT = 0, DISCONNECT = 1, EVENT = 2, ACK = 3, CONNECT_ERROR = 4, BINARY_EVENT = 5, BINARY_ACK = 6;
  /** Names this client fires itself; emit() refuses them so they cannot reach the server. */
  var RESERVED = {
    connect: 1, connect_error: 1, disconnect: 1, disconnecting: 1, newListener: 1, removeListener: 1,
    reconnect: 1, reconnect_attempt: 1, reconnect_error: 1, reconnect_failed: 1, reconnecting: 1
  };
  /** Used until the server's handshake tells us its maxPayload; matches the reference default. */
  var DEFAULT_MAX_PAYLOAD = 1000000;
  /** Largest body a keepalive request may have (the Fetch standard's limit for all of them). */
  var KEEPALIVE_MAX_BYTES = 65536;
  /** Reference server limit on binary attachments in one packet. */
  var MAX_ATTACHMENTS = 10;

  var DEFAULTS = {
    path: '/socket.io/',
    transports: ['websocket', 'polling'],
    query: null,
    auth: null,
    autoConnect: true,
    reconnection: true,
    reconnectionAttempts: Infinity,
    reconnectionDelay: 500,
    reconnectionDelayMax: 5000,
    randomizationFactor: 0.5,
    timeout: 20000
  };

  /** Set once long-polling had to stand in for a WebSocket that never opened; kept for the page. */
  var preferPolling = false;
  /** Set once any WebSocket of this page completed a handshake: then WebSocket failures are outages. */
  var websocketWorked = false;

  // ------------------------------------------------------------------------------------------
  // Small helpers

  function noop() {}

  function isBinary(value) {
    return (typeof ArrayBuffer !== 'undefined' &&
      (value instanceof ArrayBuffer || ArrayBuffer.isView(value))) ||
      (typeof Blob !== 'undefined' && value instanceof Blob);
  }

  function hasBinary(value) {
    if (!value || typeof value !== 'object') return false;
    if (isBinary(value)) return true;
    if (Array.isArray(value)) return value.some(hasBinary);
    if (typeof value.toJSON === 'function') return false;
    return Object.keys(value).some(function (key) { return hasBinary(value[key]); });
  }

  function utf8Length(text) {
    if (typeof TextEncoder !== 'undefined') return new TextEncoder().encode(text).length;
    return unescape(encodeURIComponent(text)).length;
  }

  function toBase64(buffer) {
    var bytes = buffer instanceof ArrayBuffer ? new Uint8Array(buffer)
      : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    var chunks = [];
    for (var i = 0; i < bytes.length; i += 0x8000) {
      chunks.push(String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000)));
    }
    return btoa(chunks.join(''));
  }

  function fromBase64(text) {
    var raw = atob(text);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes.buffer;
  }

  var cacheBusterCount = 0;
  function cacheBuster() {
    cacheBusterCount += 1;
    return Date.now().toString(36) + cacheBusterCount.toString(36);
  }

  function queryString(params) {
    return Object.keys(params).filter(function (key) {
      return params[key] !== undefined && params[key] !== null;
    }).map(function (key) {
      return encodeURIComponent(key) + '=' + encodeURIComponent(String(params[key]));
    }).join('&');
  }

  // ------------------------------------------------------------------------------------------
  // Emitter: the on/once/off/listeners API shared by the socket and the internal layers.

  class Emitter {
    constructor() {
      this._handlers = Object.create(null);
    }

    /** Adds fn for event; returns this for chaining. */
    on(event, fn) {
      (this._handlers[event] || (this._handlers[event] = [])).push(fn);
      return this;
    }

    addEventListener(event, fn) {
      return this.on(event, fn);
    }

    /** Adds fn for the next occurrence of event only. */
    once(event, fn) {
      var self = this;
      function wrapper() {
        self.off(event, wrapper);
        fn.apply(self, arguments);
      }
      wrapper.fn = fn;
      return this.on(event, wrapper);
    }

    /** off() drops everything, off(event) that event's listeners, off(event, fn) one listener. */
    off(event, fn) {
      if (event === undefined) {
        this._handlers = Object.create(null);
      } else if (fn === undefined) {
        delete this._handlers[event];
      } else if (this._handlers[event]) {
        this._handlers[event] = this._handlers[event].filter(function (h) {
          return h !== fn && h.fn !== fn;
        });
      }
      return this;
    }

    removeListener(event, fn) {
      return this.off(event, fn);
    }

    removeAllListeners(event) {
      return this.off(event);
    }

    listeners(event) {
      return (this._handlers[event] || []).slice();
    }

    hasListeners(event) {
      return this.listeners(event).length > 0;
    }

    /** Calls the listeners of event; a throwing listener is reported but does not stop the others. */
    _fire(event) {
      var args = Array.prototype.slice.call(arguments, 1);
      var list = this.listeners(event);
      for (var i = 0; i < list.length; i++) {
        try {
          list[i].apply(this, args);
        } catch (err) {
          setTimeout(function () { throw err; });
        }
      }
      return list.length > 0;
    }
  }

  // ------------------------------------------------------------------------------------------
  // Engine.IO packets. A packet is {type, data}; data is a string, an ArrayBuffer or undefined.

  function decodeEngineText(text) {
    var type = ENGINE_TYPES[text.charCodeAt(0) - 48];
    if (!type || text.length === 0) return null;
    return { type: type, data: text.length > 1 ? text.slice(1) : undefined };
  }

  function decodePollingPayload(payload) {
    var packets = [];
    var parts = payload.split(RECORD_SEPARATOR);
    for (var i = 0; i < parts.length; i++) {
      var part = parts[i];
      var packet;
      if (part.charAt(0) === 'b') {
        try {
          packet = { type: 'message', data: fromBase64(part.slice(1)) };
        } catch (err) {
          packet = null;
        }
      } else {
        packet = decodeEngineText(part);
      }
      if (!packet) return null;
      packets.push(packet);
    }
    return packets;
  }

  function encodePollingPacket(packet) {
    if (packet.type === 'message' && isBinary(packet.data)) return 'b' + toBase64(packet.data);
    return ENGINE_CODES[packet.type] + (packet.data === undefined ? '' : packet.data);
  }

  // ------------------------------------------------------------------------------------------
  // Transports. Both fire 'packet' (packet) and 'close' (reason, error) exactly once when they stop
  // on their own; close() stops them quietly.

  class WebSocketTransport extends Emitter {
    constructor(url) {
      super();
      this.name = 'websocket';
      this._url = url;
      this._ws = null;
      this._closed = false;
    }

    open() {
      var self = this;
      var ws;
      try {
        ws = new WebSocket(this._url);
      } catch (err) {
        // Thrown for a refused URL, e.g. by a Content-Security-Policy. Report asynchronously so
        // the caller's listeners are in place.
        setTimeout(function () { self._stop('websocket error', err); });
        return;
      }
      ws.binaryType = 'arraybuffer';
      ws.onmessage = function (event) {
        if (self._closed) return;
        if (typeof event.data === 'string') {
          var packet = decodeEngineText(event.data);
          if (!packet) {
            self._stop('parse error', new Error('invalid packet'));
            return;
          }
          self._fire('packet', packet);
        } else {
          self._fire('packet', { type: 'message', data: event.data });
        }
      };
      ws.onclose = function (event) {
        self._stop('transport close', new Error('websocket closed with code ' + event.code));
      };
      ws.onerror = noop; // a close event always follows an error event
      this._ws = ws;
    }

    write(packets) {
      if (this._closed || !this._ws || this._ws.readyState !== 1) return;
      for (var i = 0; i < packets.length; i++) {
        var packet = packets[i];
        if (packet.type === 'message' && isBinary(packet.data)) {
          this._ws.send(packet.data);
        } else {
          this._ws.send(ENGINE_CODES[packet.type] + (packet.data === undefined ? '' : packet.data));
        }
      }
    }

    close() {
      if (this._closed) return;
      this._closed = true;
      if (this._ws) {
        this._ws.onmessage = this._ws.onclose = this._ws.onerror = null;
        try {
          this._ws.close();
        } catch (err) {
          // already closing
        }
      }
    }

    _stop(reason, error) {
      if (this._closed) return;
      this.close();
      this._fire('close', reason, error);
    }
  }

  class PollingTransport extends Emitter {
    constructor(url) {
      super();
      this.name = 'polling';
      this._url = url;
      this._sid = null;
      this._closed = false;
      this._queue = []; // encoded packets waiting for a POST
      this._writing = false;
      this._getAbort = null;
      this._closing = false; // closed by us, the close packet still to be posted
      this._flushQueued = false; // a flush waits for the code running now to finish
      this.maxPayload = DEFAULT_MAX_PAYLOAD;
    }

    open() {
      this._poll();
    }

    _requestURL() {
      var url = this._url + '&t=' + cacheBuster();
      return this._sid ? url + '&sid=' + encodeURIComponent(this._sid) : url;
    }

    /** One GET at a time: the next starts when the previous answered. */
    _poll() {
      var self = this;
      var abort = typeof AbortController !== 'undefined' ? new AbortController() : null;
      this._getAbort = abort;
      fetch(this._requestURL(), {
        method: 'GET',
        cache: 'no-store',
        credentials: 'same-origin',
        signal: abort ? abort.signal : undefined
      }).then(function (response) {
        if (!response.ok) throw httpError('poll', response.status);
        return response.text();
      }).then(function (payload) {
        if (self._closed) return;
        var packets = decodePollingPayload(payload);
        if (!packets) {
          self._stop('parse error', new Error('invalid payload'));
          return;
        }
        for (var i = 0; i < packets.length && !self._closed; i++) {
          var packet = packets[i];
          if (packet.type === 'open' && !self._sid) {
            try {
              self._sid = JSON.parse(packet.data).sid;
            } catch (err) {
              self._stop('parse error', err);
              return;
            }
          }
          if (packet.type === 'close') {
            self._stop('transport close', new Error('server closed the session'), true);
            return;
          }
          self._fire('packet', packet);
        }
        if (!self._closed) {
          if (!self._sid) {
            self._stop('parse error', new Error('handshake without a session id'));
            return;
          }
          self._poll();
        }
      }).catch(function (err) {
        // A session the server refused (HTTP 400: it has ended there) needs no close packet.
        self._stop('transport error', err, err.httpStatus === 400);
      });
    }

    write(packets) {
      for (var i = 0; i < packets.length; i++) this._queue.push(encodePollingPacket(packets[i]));
      this._scheduleFlush();
    }

    /**
     * Flushes once the code running now is done, so that what it writes (several sockets'
     * DISCONNECTs and the close packet, say) shares one POST.
     */
    _scheduleFlush() {
      if (this._flushQueued) return;
      this._flushQueued = true;
      var self = this;
      Promise.resolve().then(function () {
        self._flushQueued = false;
        self._flush();
      });
    }

    /**
     * One POST at a time, each kept under the server's maxPayload. After close() the queue is
     * still drained once, ending with the close packet, in POSTs small enough for keepalive.
     */
    _flush() {
      if (this._writing || !this._sid || this._queue.length === 0) return;
      if (this._closed && !this._closing) return;
      var self = this;
      var limit = this._closing ? Math.min(this.maxPayload, KEEPALIVE_MAX_BYTES) : this.maxPayload;
      var parts = [];
      var size = 0;
      while (this._queue.length > 0) {
        var next = utf8Length(this._queue[0]) + (parts.length > 0 ? 1 : 0);
        if (parts.length > 0 && size + next > limit) break;
        parts.push(this._queue.shift());
        size += next;
      }
      this._writing = true;
      fetch(this._requestURL(), {
        method: 'POST',
        cache: 'no-store',
        credentials: 'same-origin',
        // Lets the last packets (DISCONNECTs, the close packet) leave even while the page unloads.
        keepalive: this._closing && size <= KEEPALIVE_MAX_BYTES,
        headers: { 'Content-Type': 'text/plain;charset=UTF-8' },
        body: parts.join(RECORD_SEPARATOR)
      }).then(function (response) {
        if (!response.ok) throw httpError('post', response.status);
        self._writing = false;
        self._flush();
      }).catch(function (err) {
        self._writing = false;
        self._stop('transport error', err, err.httpStatus === 400);
      });
    }

    /** Ends the transport; unless the server has already ended the session, tells it so. */
    close(serverGone) {
      if (this._closed) return;
      this._closed = true;
      if (this._sid && !serverGone) {
        // Tell the server at once rather than leaving it to the ping timeout.
        this._closing = true;
        this._queue.push(ENGINE_CODES.close);
        this._scheduleFlush();
      }
      if (this._getAbort) this._getAbort.abort();
    }

    _stop(reason, error, serverGone) {
      if (this._closed) return;
      this.close(serverGone);
      this._fire('close', reason, error);
    }
  }

  /** An Error for a polling request the server answered with a failing HTTP status. */
  function httpError(what, status) {
    var err = new Error(what + ' failed with HTTP ' + status);
    err.httpStatus = status;
    return err;
  }

  // ------------------------------------------------------------------------------------------
  // Engine: one Engine.IO session over one transport. Fires 'open' (handshake), 'data' (message
  // payload) and 'close' (reason, error) once.

  class Engine extends Emitter {
    constructor(baseURL, transportName, query) {
      super();
      this.transportName = transportName;
      this.sid = null;
      this.opened = false;
      this.closed = false;
      this._pingTimer = null;
      this._pingDeadline = Infinity;
      var params = Object.assign({}, query || {}, { EIO: ENGINE_PROTOCOL, transport: transportName });
      var url = baseURL + '?' + queryString(params);
      if (transportName === 'websocket') {
        this.transport = new WebSocketTransport(url.replace(/^http/, 'ws'));
      } else {
        this.transport = new PollingTransport(url);
      }
      var self = this;
      this.transport.on('packet', function (packet) { self._onPacket(packet); });
      this.transport.on('close', function (reason, error) { self._onClose(reason, error); });
    }

    open() {
      this.transport.open();
    }

    /** Sends one message (string or binary); false when the session is gone. */
    send(data) {
      if (this.closed || !this.opened) return false;
      if (Date.now() > this._pingDeadline) {
        // The timer may have been held back (sleeping laptop, throttled tab): check on use too.
        this._onClose('ping timeout', new Error('no ping from the server'));
        return false;
      }
      this.transport.write([{ type: 'message', data: data }]);
      return true;
    }

    close() {
      if (this.closed) return;
      this.closed = true;
      clearTimeout(this._pingTimer);
      this.transport.close();
    }

    _onPacket(packet) {
      if (this.closed) return;
      switch (packet.type) {
        case 'open':
          if (this.opened) return;
          var handshake;
          try {
            handshake = JSON.parse(packet.data);
          } catch (err) {
            this._onClose('parse error', err);
            return;
          }
          if (!handshake || typeof handshake.sid !== 'string') {
            this._onClose('parse error', new Error('invalid handshake'));
            return;
          }
          this.sid = handshake.sid;
          this.pingInterval = Number(handshake.pingInterval) || 25000;
          this.pingTimeout = Number(handshake.pingTimeout) || 20000;
          this.maxPayload = Number(handshake.maxPayload) || DEFAULT_MAX_PAYLOAD;
          this.transport.maxPayload = this.maxPayload;
          this.opened = true;
          this._armPingTimer();
          this._fire('open');
          break;
        case 'ping':
          this._armPingTimer();
          this.transport.write([{ type: 'pong' }]);
          break;
        case 'message':
          if (this.opened) this._fire('data', packet.data);
          break;
        case 'close':
          this._onClose('transport close', new Error('server closed the session'));
          break;
        default:
          // noop (polling release), pong and upgrade carry nothing for us.
          break;
      }
    }

    _armPingTimer() {
      var self = this;
      var wait = this.pingInterval + this.pingTimeout;
      this._pingDeadline = Date.now() + wait;
      clearTimeout(this._pingTimer);
      this._pingTimer = setTimeout(function () {
        self._onClose('ping timeout', new Error('no ping from the server'));
      }, wait);
    }

    _onClose(reason, error) {
      if (this.closed) return;
      this.close();
      this._fire('close', reason, error);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Socket.IO packets: {type, nsp, id, data, attachments}

  function encodeSocketPacket(packet) {
    var out = String(packet.type);
    if (packet.type === BINARY_EVENT || packet.type === BINARY_ACK) out += packet.attachments + '-';
    if (packet.nsp && packet.nsp !== '/') out += packet.nsp + ',';
    if (packet.id !== undefined && packet.id !== null) out += packet.id;
    if (packet.data !== undefined) out += JSON.stringify(packet.data);
    return out;
  }

  /** Decodes one text packet; returns null when it breaks the protocol's rules. */
  function decodeSocketPacket(text) {
    var i = 0;
    var type = text.charCodeAt(0) - 48;
    if (!(type >= CONNECT && type <= BINARY_ACK)) return null;
    var packet = { type: type, nsp: '/', id: null, data: undefined, attachments: 0 };
    i = 1;
    if (type === BINARY_EVENT || type === BINARY_ACK) {
      var dash = text.indexOf('-', i);
      var count = text.slice(i, dash);
      if (dash < 0 || !/^\d+$/.test(count)) return null;
      packet.attachments = Number(count);
      if (packet.attachments > MAX_ATTACHMENTS) return null;
      i = dash + 1;
    }
    if (text.charAt(i) === '/') {
      var comma = text.indexOf(',', i);
      var end = comma < 0 ? text.length : comma;
      packet.nsp = text.slice(i, end);
      i = comma < 0 ? text.length : comma + 1;
    }
    var digits = /^\d+/.exec(text.slice(i));
    if (digits) {
      packet.id = Number(digits[0]);
      i += digits[0].length;
    }
    if (i < text.length) {
      try {
        packet.data = JSON.parse(text.slice(i));
      } catch (err) {
        return null;
      }
    }
    var data = packet.data;
    switch (type) {
      case CONNECT:
        return data && typeof data === 'object' && !Array.isArray(data) ? packet : null;
      case DISCONNECT:
        return data === undefined ? packet : null;
      case EVENT:
      case BINARY_EVENT:
        return Array.isArray(data) && data.length > 0 &&
          (typeof data[0] === 'number' || (typeof data[0] === 'string' && !RESERVED[data[0]])) ? packet : null;
      case ACK:
      case BINARY_ACK:
        return Array.isArray(data) ? packet : null;
      case CONNECT_ERROR:
        return data !== null && (typeof data === 'string' || typeof data === 'object') ? packet : null;
    }
    return null;
  }

  /** Replaces binary values by placeholders; returns the buffers in placeholder order. */
  function deconstruct(value, buffers) {
    if (isBinary(value)) {
      buffers.push(value);
      return { _placeholder: true, num: buffers.length - 1 };
    }
    if (Array.isArray(value)) return value.map(function (v) { return deconstruct(v, buffers); });
    if (value && typeof value === 'object' && typeof value.toJSON !== 'function') {
      var out = {};
      Object.keys(value).forEach(function (key) { out[key] = deconstruct(value[key], buffers); });
      return out;
    }
    return value;
  }

  function reconstruct(value, buffers) {
    if (value && value._placeholder === true && typeof value.num === 'number') {
      return buffers[value.num];
    }
    if (Array.isArray(value)) return value.map(function (v) { return reconstruct(v, buffers); });
    if (value && typeof value === 'object') {
      var out = {};
      Object.keys(value).forEach(function (key) { out[key] = reconstruct(value[key], buffers); });
      return out;
    }
    return value;
  }

  // Manager: one Engine.IO connection and its reconnection, shared by the sockets of its
  // namespaces. It opens the connection when a socket connects, closes it when the last active
  // socket leaves, and routes each packet to the socket of its namespace.

  /** Where a connection goes: the Engine.IO endpoint (origin and path) and its query. */
  function locate(uri, opts) {
    var here = root.location ? root.location.href : 'http://localhost/';
    var url = new URL(uri || '', here);
    var path = opts.path.replace(/\/?$/, '/');
    if (path.charAt(0) !== '/') path = '/' + path;
    var query = Object.assign({}, opts.query || {});
    url.searchParams.forEach(function (value, key) { query[key] = value; });
    return { base: url.protocol + '//' + url.host + path, query: query, nsp: uri ? (url.pathname || '/') : '/' };
  }

  class Manager extends Emitter {
    /** new io.Manager(uri, opts): uri's origin (the page's when left out); its path is ignored. */
    constructor(uri, opts) {
      super();
      if (uri && typeof uri === 'object') {
        opts = uri;
        uri = undefined;
      }
      opts = Object.assign({}, DEFAULTS, opts || {});
      var where = locate(uri, opts);
      opts.query = where.query;
      this.opts = opts;
      this.uri = where.base;
      this.nsps = Object.create(null); // namespace -> Socket
      this.engine = null;
      this._attempts = 0;         // reconnection attempts since a namespace last connected
      this._retryTimer = null;
      this._connectTimer = null;
      this._connected = false;    // a namespace connected over the current engine
      this._binary = null;        // a binary packet waiting for its attachments
      var self = this;
      this._onOnline = function () {
        if (self._retryTimer !== null) {
          clearTimeout(self._retryTimer);
          self._retryTimer = null;
          self._attempt();
        }
      };
    }

    /**
     * The socket of namespace nsp on this connection, made on first use (opts: auth,
     * autoConnect, which defaults to the manager's). Asked again, it is the same socket.
     */
    socket(nsp, opts) {
      opts = opts || {};
      nsp = nsp || '/';
      if (nsp.charAt(0) !== '/') nsp = '/' + nsp;
      var socket = this.nsps[nsp];
      if (!socket) socket = this.nsps[nsp] = new Socket(this, nsp, opts);
      var auto = opts.autoConnect !== undefined ? opts.autoConnect : this.opts.autoConnect;
      if (auto && !socket.active) socket.connect();
      return socket;
    }

    _sockets() {
      var nsps = this.nsps;
      return Object.keys(nsps).map(function (nsp) { return nsps[nsp]; });
    }

    _activeSockets() {
      return this._sockets().filter(function (s) { return s._active; });
    }

    /** Fires event on the manager, then on every active socket. */
    _broadcast(event, arg) {
      this._fire(event, arg);
      this._activeSockets().forEach(function (s) { s._fire(event, arg); });
    }

    /** A socket started connecting: open the connection, or use the one there is. */
    _socketStarted(socket) {
      if (this.engine) {
        if (this.engine.opened) socket._sendConnect();
        return;
      }
      if (this._retryTimer !== null) return; // the scheduled retry connects it too
      this._attempts = 0;
      if (typeof root.addEventListener === 'function') root.addEventListener('online', this._onOnline);
      this._open(false);
    }

    /** A socket stopped being active; the last one closes the connection. */
    _socketStopped() {
      if (this._activeSockets().length === 0) this._close();
    }

    /** The first namespace connected over this engine: the attempt succeeded. */
    _socketConnected() {
      if (this._connected) return;
      this._connected = true;
      clearTimeout(this._connectTimer);
      var attempts = this._attempts;
      this._attempts = 0;
      if (attempts > 0) this._fire('reconnect', attempts);
    }

    _close() {
      clearTimeout(this._retryTimer);
      this._retryTimer = null;
      clearTimeout(this._connectTimer);
      this._attempts = 0;
      if (typeof root.removeEventListener === 'function') root.removeEventListener('online', this._onOnline);
      if (this.engine) {
        this.engine.close();
        this.engine = null;
      }
      this._binary = null;
    }

    _transportFor(fallback) {
      var list = this.opts.transports;
      var wsOK = list.indexOf('websocket') >= 0 && typeof WebSocket !== 'undefined';
      var pollOK = list.indexOf('polling') >= 0 && typeof fetch !== 'undefined';
      if (fallback || (preferPolling && pollOK) || !wsOK) return pollOK ? 'polling' : null;
      return 'websocket';
    }

    /** Opens a fresh Engine.IO session; fallback=true forces long-polling for this try. */
    _open(fallback) {
      var self = this;
      var name = this._transportFor(fallback);
      if (!name) {
        var err = new Error('no usable transport');
        var active = this._activeSockets();
        this._stopAll();
        this._fire('error', err);
        active.forEach(function (s) { s._fire('connect_error', err); });
        return;
      }
      var engine = new Engine(this.uri, name, this.opts.query);
      this.engine = engine;
      this._connected = false;
      clearTimeout(this._connectTimer);
      this._connectTimer = setTimeout(function () {
        // Closing through the engine runs the same path as a failed transport (with fallback).
        if (self.engine === engine && !self._connected) engine._onClose('timeout', new Error('timeout'));
      }, this.opts.timeout);
      engine.on('open', function () {
        if (self.engine !== engine) return;
        if (name === 'websocket') websocketWorked = true;
        if (name === 'polling' && fallback) preferPolling = true;
        self._fire('open');
        self._activeSockets().forEach(function (s) {
          if (!s.connected && self.engine === engine) s._sendConnect();
        });
      });
      engine.on('data', function (data) {
        if (self.engine === engine) self._onData(data);
      });
      engine.on('close', function (reason, error) {
        if (self.engine !== engine) return;
        self._onEngineClose(engine, name, reason, error);
      });
      engine.open();
    }

    _onEngineClose(engine, name, reason, error) {
      this.engine = null;
      this._binary = null;
      clearTimeout(this._connectTimer);
      // A WebSocket that never worked in this page gets a second chance over long-polling at once.
      if (name === 'websocket' && !engine.opened && !websocketWorked && this._transportFor(true) === 'polling') {
        this._open(true);
        return;
      }
      var err = new Error(reason);
      if (reason !== 'timeout' && !engine.opened) err = new Error(name === 'websocket' ? 'websocket error' : 'xhr poll error');
      err.description = error;
      var retrying = this._attempts > 0;
      // Connected sockets are disconnected; the others failed to connect.
      this._sockets().forEach(function (s) {
        if (s.connected) {
          s._onDisconnected(reason);
        } else if (s._active) {
          s._fire('connect_error', err);
          if (retrying) s._fire('reconnect_error', err);
        }
      });
      if (engine.opened) {
        this._fire('close', reason);
      } else {
        this._fire('error', err);
        if (retrying) this._fire('reconnect_error', err);
      }
      this._scheduleRetry();
    }

    /** Ends every socket without events: no reconnection is to come. */
    _stopAll() {
      this._sockets().forEach(function (s) { s._active = false; });
      this._close();
    }

    _scheduleRetry() {
      var self = this;
      if (this.engine || this._retryTimer !== null || this._activeSockets().length === 0) return;
      if (!this.opts.reconnection) {
        this._stopAll();
        return;
      }
      if (this._attempts >= this.opts.reconnectionAttempts) {
        var active = this._activeSockets();
        this._stopAll();
        this._fire('reconnect_failed');
        active.forEach(function (s) { s._fire('reconnect_failed'); });
        return;
      }
      this._attempts += 1;
      var delay = this._backoff(this._attempts);
      this._retryTimer = setTimeout(function () {
        self._retryTimer = null;
        self._attempt();
      }, delay);
      this._broadcast('reconnecting', { attempt: this._attempts, delay: delay });
    }

    _attempt() {
      if (this._activeSockets().length === 0) return;
      var attempt = this._attempts;
      this._activeSockets().forEach(function (s) { s._attempts = attempt; });
      this._broadcast('reconnect_attempt', attempt);
      if (this._activeSockets().length > 0 && !this.engine) this._open(false);
    }

    /** reconnectionDelay doubling per attempt, spread by randomizationFactor, capped at the max. */
    _backoff(attempt) {
      var o = this.opts;
      var ms = o.reconnectionDelay * Math.pow(2, Math.min(attempt - 1, 30));
      if (o.randomizationFactor > 0) {
        var rand = Math.random();
        var deviation = Math.floor(rand * o.randomizationFactor * ms);
        ms = (Math.floor(rand * 10) & 1) === 0 ? ms - deviation : ms + deviation;
      }
      return Math.max(0, Math.min(ms, o.reconnectionDelayMax)) | 0;
    }

    /** Writes a Socket.IO packet (and its attachments); false when there is no open session. */
    _write(packet) {
      var engine = this.engine;
      if (!engine || !engine.opened) return false;
      var buffers = [];
      if (hasBinary(packet.data)) {
        packet = Object.assign({}, packet, {
          type: packet.type === ACK ? BINARY_ACK : BINARY_EVENT,
          data: deconstruct(packet.data, buffers)
        });
        packet.attachments = buffers.length;
      }
      if (!engine.send(encodeSocketPacket(packet))) return false;
      for (var i = 0; i < buffers.length; i++) {
        var b = buffers[i];
        if (typeof Blob !== 'undefined' && b instanceof Blob) {
          // Blobs would need async reading; send them as empty to keep the placeholders aligned.
          b = new ArrayBuffer(0);
        }
        engine.send(b);
      }
      return true;
    }

    _onData(data) {
      if (typeof data !== 'string') {
        // An attachment of a pending binary packet; anything else is ignored.
        var pending = this._binary;
        if (!pending) return;
        pending.buffers.push(data);
        if (pending.buffers.length === pending.packet.attachments) {
          this._binary = null;
          var packet = pending.packet;
          packet.data = reconstruct(packet.data, pending.buffers);
          packet.type = packet.type === BINARY_EVENT ? EVENT : ACK;
          this._route(packet);
        }
        return;
      }
      var decoded = decodeSocketPacket(data);
      if (!decoded || this._binary) {
        if (this.engine) this.engine._onClose('parse error', new Error('invalid socket.io packet'));
        return;
      }
      if ((decoded.type === BINARY_EVENT || decoded.type === BINARY_ACK) && decoded.attachments > 0) {
        this._binary = { packet: decoded, buffers: [] };
        return;
      }
      if (decoded.type === BINARY_EVENT) decoded.type = EVENT;
      if (decoded.type === BINARY_ACK) decoded.type = ACK;
      this._route(decoded);
    }

    /** Hands a packet to its namespace's socket; a namespace nobody wants any more is left. */
    _route(packet) {
      var socket = this.nsps[packet.nsp];
      if (socket && socket._active) {
        socket._onPacket(packet);
      } else if (packet.type === CONNECT) {
        this._write({ type: DISCONNECT, nsp: packet.nsp });
      }
    }
  }

  // ------------------------------------------------------------------------------------------
  // Socket: one namespace on a Manager's connection. It owns its auth, its connected state, the
  // buffer of emits made while disconnected and its acks.

  class Socket extends Emitter {
    constructor(manager, nsp, opts) {
      super();
      this.io = manager;
      this.nsp = nsp;
      this.auth = opts.auth;
      this.id = undefined;
      this.connected = false;
      this.recovered = false;     // the last CONNECT gave back the state of a lost connection
      this._pid = undefined;      // private session id of connection state recovery, if offered
      this._lastOffset = undefined; // offset of the last event received, sent back with _pid
      this._active = false;       // wants to be connected (false after disconnect() or a server refusal)
      this._attempts = 0;         // reconnection attempts this socket saw since it last connected
      this._buffer = [];          // packets emitted while disconnected
      this._acks = Object.create(null);
      this._ackId = 0;
      this._flags = {};
    }

    get disconnected() {
      return !this.connected;
    }

    /** True while the socket connects, is connected, or waits to reconnect. */
    get active() {
      return this._active;
    }

    /** The transport in use ("websocket" or "polling"), or null when there is none. */
    get transport() {
      var engine = this.io.engine;
      return engine && engine.opened && !engine.closed ? engine.transportName : null;
    }

    /** Starts connecting (no-op when already active). Returns this. */
    connect() {
      if (this._active) return this;
      this._active = true;
      this._attempts = 0;
      this.io._socketStarted(this);
      return this;
    }

    open() {
      return this.connect();
    }

    /**
     * Leaves for good: sends DISCONNECT and stops reconnecting. The connection closes with the
     * last socket that leaves it.
     */
    disconnect() {
      var wasConnected = this.connected;
      if (wasConnected) this.io._write({ type: DISCONNECT, nsp: this.nsp });
      this._forgetSession();
      this._deactivate();
      if (wasConnected) this._onDisconnected('io client disconnect');
      return this;
    }

    close() {
      return this.disconnect();
    }

    /** Sends a "message" event, like the reference client. */
    send() {
      var args = Array.prototype.slice.call(arguments);
      return this.emit.apply(this, ['message'].concat(args));
    }

    /**
     * Emits event to the server. A function as the last argument receives the server's ack
     * arguments. While disconnected the packet is buffered and sent after the next connect.
     */
    emit(event) {
      if (RESERVED[event]) throw new Error('"' + event + '" is a reserved event name');
      var args = Array.prototype.slice.call(arguments);
      var flags = this._flags;
      this._flags = {};
      var packet = { type: EVENT, nsp: this.nsp, data: args };
      var entry = { packet: packet, ack: null, timeout: flags.timeout };
      if (typeof args[args.length - 1] === 'function') {
        var fn = args.pop();
        var id = this._ackId++;
        packet.id = id;
        entry.ack = { fn: fn, timer: null, withError: flags.timeout !== undefined, id: id };
        this._acks[id] = entry.ack;
      }
      if (this.connected) {
        this._sendEntry(entry);
      } else {
        this._buffer.push(entry);
      }
      return this;
    }

    /**
     * socket.timeout(ms).emit(event, ..., (err, ...reply) => {}): the ack gets an Error first
     * when no reply came within ms of sending, or when the connection dropped meanwhile.
     */
    timeout(ms) {
      this._flags.timeout = ms;
      return this;
    }

    /** Promise form of an ack: resolves with the first reply argument. */
    emitWithAck() {
      var self = this;
      var args = Array.prototype.slice.call(arguments);
      var withTimeout = this._flags.timeout !== undefined;
      return new Promise(function (resolve, reject) {
        args.push(function (a, b) {
          if (withTimeout) {
            if (a) reject(a); else resolve(b);
          } else {
            resolve(a);
          }
        });
        self.emit.apply(self, args);
      });
    }

    // --- connection lifecycle ---

    _deactivate() {
      this._active = false;
      this.io._socketStopped();
    }

    /** Leaving on purpose: the server's session of this socket is not to be recovered. */
    _forgetSession() {
      this._pid = undefined;
      this._lastOffset = undefined;
    }

    /**
     * Sends CONNECT with this socket's auth (an object, or a function(cb) calling cb(object)),
     * and, once the server gave it a recovery session, {pid, offset} under it.
     */
    _sendConnect() {
      var self = this;
      var engine = this.io.engine;
      var send = function (data) {
        if (self.io.engine !== engine || !self._active || self.connected) return;
        var packet = { type: CONNECT, nsp: self.nsp };
        if (data !== null && typeof data === 'object') packet.data = data;
        if (self._pid) {
          var session = { pid: self._pid };
          if (self._lastOffset !== undefined) session.offset = self._lastOffset;
          packet.data = Object.assign(session, packet.data);
        }
        self.io._write(packet);
      };
      if (typeof this.auth === 'function') this.auth(send); else send(this.auth);
    }

    _onConnected(sid, pid) {
      this.io._socketConnected();
      var attempts = this._attempts;
      this._attempts = 0;
      this.id = sid;
      this.recovered = !!pid && pid === this._pid;
      this._pid = pid; // undefined when the server offers no recovery
      this.connected = true;
      if (attempts > 0) this._fire('reconnect', attempts);
      this._fire('connect');
      // Buffered emits go after what the connect listeners sent (e.g. a re-join).
      var buffer = this._buffer;
      this._buffer = [];
      for (var i = 0; i < buffer.length && this.connected; i++) this._sendEntry(buffer[i]);
      // If the session died meanwhile, the unsent ones were re-buffered in order; the rest follow.
      if (!this.connected) this._buffer = this._buffer.concat(buffer.slice(i));
    }

    _onDisconnected(reason) {
      this.connected = false;
      this.id = undefined;
      // Replies can no longer come: fail the acks that asked for errors, drop the others.
      var acks = this._acks;
      this._acks = Object.create(null);
      Object.keys(acks).forEach(function (id) {
        var ack = acks[id];
        clearTimeout(ack.timer);
        if (ack.withError && ack.timer !== null) ack.fn.call(null, new Error('socket has been disconnected'));
        else if (ack.timer === null) this._acks[id] = ack; // still buffered, not sent yet
      }, this);
      this._fire('disconnect', reason);
    }

    // --- packets ---

    _sendEntry(entry) {
      var self = this;
      var ack = entry.ack;
      if (ack && entry.timeout !== undefined) {
        ack.timer = setTimeout(function () {
          if (self._acks[ack.id] !== ack) return;
          delete self._acks[ack.id];
          ack.fn.call(null, new Error('operation has timed out'));
        }, entry.timeout);
      } else if (ack) {
        ack.timer = 0; // marks "sent"
      }
      if (!this.io._write(entry.packet)) {
        // The session died under us; the packet waits for the next connect.
        if (ack) {
          clearTimeout(ack.timer);
          ack.timer = null;
        }
        this._buffer.push(entry);
      }
    }

    _onPacket(packet) {
      switch (packet.type) {
        case CONNECT:
          if (!this.connected && typeof packet.data.sid === 'string') {
            var pid = packet.data.pid;
            this._onConnected(packet.data.sid, typeof pid === 'string' && pid ? pid : undefined);
          }
          break;
        case DISCONNECT:
          if (this.connected) {
            this._forgetSession();
            this._deactivate();
            this._onDisconnected('io server disconnect');
          }
          break;
        case EVENT:
          if (!this.connected) break;
          var args = packet.data.slice();
          if (packet.id !== null) args.push(this._acker(packet.id));
          this._fire.apply(this, args);
          // A recovery offset ends the event; an ack callback, when asked for, would end it instead.
          var last = args[args.length - 1];
          if (this._pid && args.length > 1 && typeof last === 'string') this._lastOffset = last;
          break;
        case ACK:
          var ack = this._acks[packet.id];
          if (!ack) break;
          delete this._acks[packet.id];
          clearTimeout(ack.timer);
          ack.fn.apply(null, ack.withError ? [null].concat(packet.data) : packet.data);
          break;
        case CONNECT_ERROR:
          var info = packet.data;
          var err = new Error(typeof info === 'string' ? info : String(info.message || 'connection refused'));
          if (info && typeof info === 'object' && info.data !== undefined) err.data = info.data;
          this._deactivate();
          this._fire('connect_error', err);
          break;
      }
    }

    /** The function handed to a server event that asked for an ack; answers once. */
    _acker(id) {
      var self = this;
      var sent = false;
      return function () {
        if (sent) return;
        sent = true;
        self.io._write({ type: ACK, nsp: self.nsp, id: id, data: Array.prototype.slice.call(arguments) });
      };
    }
  }

  // ------------------------------------------------------------------------------------------
  // io(): the socket of a URL's namespace, on the shared Manager of its origin, path and query.

  /** Managers io() shares, by Engine.IO endpoint and query. */
  var managers = Object.create(null);

  function io(uri, opts) {
    if (uri && typeof uri === 'object') {
      opts = uri;
      uri = undefined;
    }
    opts = opts || {};
    var where = locate(uri, Object.assign({}, DEFAULTS, opts));
    var key = where.base + '?' + queryString(where.query);
    var shared = managers[key];
    var manager;
    if (opts.forceNew || opts.multiplex === false || (shared && shared.nsps[where.nsp])) {
      manager = new Manager(uri, opts);
    } else {
      manager = shared || (managers[key] = new Manager(uri, opts));
    }
    return manager.socket(where.nsp, opts);
  }

  io.connect = io;
  io.io = io;
  io.protocol = SOCKET_PROTOCOL;
  io.Manager = Manager;
  io.Socket = Socket;

  root.io = io;
})(typeof self !== 'undefined' ? self : this);
