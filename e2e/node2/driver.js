'use strict';
// Driver for chatserver's end-to-end tests of Socket.IO v2 clients: the
// same JSON-lines protocol as ../node/driver.js (which drives v4 clients),
// each client a real socket.io-client 2.x socket (Engine.IO protocol 3).
//
// The v2 package is loaded by absolute path from this folder's own
// node_modules (or from $SIO2_NODE_MODULES when it is installed
// elsewhere), never through NODE_PATH, which finds the v4 package of the
// other driver.
//
// `node driver.js --check` exits 0 when the package can be loaded.
//
// Commands (one JSON object per line):
//   {"op":"connect","client":"a","url":"http://127.0.0.1:1234","opts":{...}}
//       opts go to io(); reconnection is off and forceNew on unless given.
//       Each client gets its own HTTP agent (no keep-alive).
//   {"op":"emit","client":"a","event":"join","args":["alice"],"ack":1}
//       with "ack" (a number), the last argument is an ack callback and the
//       answer is reported as {"type":"ack","ref":1,...}.
//   {"op":"disconnect","client":"a"}
//       a clean Socket.IO disconnect (the client sends DISCONNECT).
//   {"op":"transport","client":"a","ref":2}
//       reports the Engine.IO transport in use.
//   {"op":"stop-pinging","client":"a"}
//       the client's engine stops sending pings and stops watching for the
//       server's pongs, as a frozen client would, leaving its connection
//       open: only the server can notice.
//   {"op":"exit"}
// Output (one JSON object per line):
//   {"type":"ready"}
//   {"type":"connect","client":"a","id":"..."}
//   {"type":"connect_error","client":"a","message":"..."}
//   {"type":"error_packet","client":"a","message":"..."}  the server refused the namespace
//   {"type":"disconnect","client":"a","reason":"..."}
//   {"type":"event","client":"a","event":"messages","args":[...]}
//   {"type":"ack","client":"a","ref":1,"error":null,"args":[...]}
//   {"type":"upgrade","client":"a","args":["websocket"]}
//   {"type":"upgrade_error","client":"a","message":"..."}
//   {"type":"transport","client":"a","ref":2,"args":["polling"]}
//   {"type":"error","message":"..."}   a command the driver could not run
//
// The driver exits when standard input closes and after DRIVER_TIMEOUT_MS
// (default 60 s) whatever happens.

const http = require('http');
const path = require('path');
const readline = require('readline');

const modules = process.env.SIO2_NODE_MODULES || path.join(__dirname, 'node_modules');
let io;
try {
  io = require(path.join(modules, 'socket.io-client'));
} catch (err) {
  if (process.argv.includes('--check')) process.exit(1);
  throw err;
}
if (process.argv.includes('--check')) {
  const version = require(path.join(modules, 'socket.io-client', 'package.json')).version;
  process.exit(version.startsWith('2.') ? 0 : 1);
}

const HARD_TIMEOUT_MS = Number(process.env.DRIVER_TIMEOUT_MS || 60000);
const ACK_TIMEOUT_MS = 5000; // an ack not back by then is reported as an error
const CONNECT_TIMEOUT_MS = 5000;

const sockets = new Map();

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function quit(code) {
  for (const s of sockets.values()) s.close();
  process.stdout.write('', () => process.exit(code));
}

setTimeout(() => {
  out({ type: 'error', message: `driver timeout after ${HARD_TIMEOUT_MS} ms` });
  quit(3);
}, HARD_TIMEOUT_MS).unref();

function connect(cmd) {
  if (sockets.has(cmd.client)) throw new Error(`client ${cmd.client} exists`);
  const agent = new http.Agent({ keepAlive: false });
  const opts = Object.assign(
    { reconnection: false, forceNew: true, timeout: CONNECT_TIMEOUT_MS, agent },
    cmd.opts || {},
  );
  const s = io(cmd.url, opts);
  sockets.set(cmd.client, s);
  const client = cmd.client;
  s.on('connect', () => out({ type: 'connect', client, id: s.id }));
  s.on('connect_error', (err) => out({ type: 'connect_error', client, message: String(err && err.message) }));
  // A v2 server refuses a namespace with an ERROR packet, which the
  // client emits as "error" with the packet's data.
  s.on('error', (data) => out({ type: 'error_packet', client, message: typeof data === 'string' ? data : JSON.stringify(data) }));
  s.on('disconnect', (reason) => out({ type: 'disconnect', client, reason }));
  // v2 sockets have no onAny: every event packet passes through onevent.
  const onevent = s.onevent;
  s.onevent = function (packet) {
    const args = packet.data || [];
    out({ type: 'event', client, event: args[0], args: args.slice(1) });
    return onevent.call(this, packet);
  };
  s.io.on('open', () => {
    const engine = s.io.engine;
    engine.on('upgrade', (transport) => out({ type: 'upgrade', client, args: [transport.name] }));
    engine.on('upgradeError', (err) => out({ type: 'upgrade_error', client, message: String(err && err.message) }));
  });
}

function socketOf(cmd) {
  const s = sockets.get(cmd.client);
  if (!s) throw new Error(`no client ${cmd.client}`);
  return s;
}

function engineOf(cmd) {
  const engine = socketOf(cmd).io.engine;
  if (!engine || !engine.transport) throw new Error(`client ${cmd.client} has no open engine`);
  return engine;
}

// stopPinging relies on the internals of the locked engine.io-client 3.x:
// setPing schedules the next ping, onHeartbeat the client's own timeout.
function stopPinging(cmd) {
  const engine = engineOf(cmd);
  clearTimeout(engine.pingIntervalTimer);
  clearTimeout(engine.pingTimeoutTimer);
  engine.setPing = () => {};
  engine.onHeartbeat = () => {};
  engine.ping = () => {};
}

function handle(cmd) {
  switch (cmd.op) {
    case 'connect':
      connect(cmd);
      break;
    case 'emit': {
      const s = socketOf(cmd);
      const args = cmd.args || [];
      if (cmd.ack === undefined || cmd.ack === null) {
        s.emit(cmd.event, ...args);
        break;
      }
      // v2 sockets have no timeout(): the ack races a timer.
      let done = false;
      const timer = setTimeout(() => {
        done = true;
        out({ type: 'ack', client: cmd.client, ref: cmd.ack, error: 'operation has timed out', args: [] });
      }, ACK_TIMEOUT_MS);
      s.emit(cmd.event, ...args, (...res) => {
        if (done) return;
        clearTimeout(timer);
        out({ type: 'ack', client: cmd.client, ref: cmd.ack, error: null, args: res });
      });
      break;
    }
    case 'disconnect':
      socketOf(cmd).disconnect();
      break;
    case 'transport':
      out({ type: 'transport', client: cmd.client, ref: cmd.ref, args: [engineOf(cmd).transport.name] });
      break;
    case 'stop-pinging':
      stopPinging(cmd);
      break;
    case 'exit':
      quit(0);
      break;
    default:
      throw new Error(`unknown op ${cmd.op}`);
  }
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (!line.trim()) return;
  try {
    handle(JSON.parse(line));
  } catch (err) {
    out({ type: 'error', message: String(err && err.message) });
  }
});
rl.on('close', () => quit(0));
out({ type: 'ready' });
