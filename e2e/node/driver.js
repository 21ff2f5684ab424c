'use strict';
// Driver for chatserver's end-to-end tests.
//
// The Go test starts `node driver.js` and talks to it in JSON lines:
// commands on standard input, what the clients saw on standard output.
// Each client is a real socket.io-client v4 socket.
//
// Commands (one JSON object per line):
//   {"op":"connect","client":"a","url":"http://127.0.0.1:1234","opts":{...}}
//       opts go to io(); reconnection is off and forceNew on unless given.
//       With "forceNew":false the client shares one Manager, so one
//       Engine.IO connection, with the others of the same server that
//       gave it, as io() does by default: io(url) and io(url + "/games")
//       are then two namespace sockets multiplexed on one connection.
//       Each client gets its own HTTP agent (no keep-alive), so that drop
//       can close its polling connections; an https:// URL gets an HTTPS
//       agent, for polling over HTTPS and WebSocket over TLS.
//   {"op":"connect","client":"a","url":"https://127.0.0.1:1234","ca":"/tmp/ca.pem"}
//       with "ca", the client trusts only the certificates in that PEM
//       file (the server's name and validity are checked as always);
//       without it, Node's own trusted authorities.
//   {"op":"emit","client":"a","event":"join","args":["alice"],"ack":1}
//       with "ack" (a number), the last argument is an ack callback and the
//       answer is reported as {"type":"ack","ref":1,...}.
//   {"op":"disconnect","client":"a"}
//       a clean Socket.IO disconnect (the client sends DISCONNECT).
//   {"op":"transport","client":"a","ref":2}
//       reports the Engine.IO transport in use as
//       {"type":"transport","ref":2,"args":["polling"|"websocket"]}.
//   {"op":"close-engine","client":"a"}
//       closes the Engine.IO connection without a Socket.IO DISCONNECT
//       (socket.io.engine.close(): over polling the client POSTs a close
//       packet, over WebSocket it closes the socket).
//   {"op":"drop","client":"a"}
//       kills the client's connection abruptly, sending nothing more: over
//       WebSocket the TCP connection is destroyed without a close frame,
//       over polling the held GET is aborted (its TCP connection closed)
//       and no further request is made.
//   {"op":"exit"}
// Output (one JSON object per line):
//   {"type":"ready"}
//   {"type":"connect","client":"a","id":"..."}
//   {"type":"connect_error","client":"a","message":"..."}
//   {"type":"disconnect","client":"a","reason":"..."}
//   {"type":"event","client":"a","event":"messages","args":[...]}
//   {"type":"ack","client":"a","ref":1,"error":null,"args":[...]}
//   {"type":"upgrade","client":"a","args":["websocket"]}   the engine upgraded
//   {"type":"upgrade_error","client":"a","message":"..."}  an upgrade attempt failed
//   {"type":"transport","client":"a","ref":2,"args":["polling"]}
//   {"type":"error","message":"..."}   a command the driver could not run
//
// The driver never outlives its test: it exits when standard input closes
// and after DRIVER_TIMEOUT_MS (default 60 s) whatever happens.

const fs = require('fs');
const http = require('http');
const https = require('https');
const { io } = require('socket.io-client');
const readline = require('readline');

const HARD_TIMEOUT_MS = Number(process.env.DRIVER_TIMEOUT_MS || 60000);
const ACK_TIMEOUT_MS = 5000; // an ack not back by then is reported as an error
const CONNECT_TIMEOUT_MS = 5000;
const DROP_WAIT_MS = 5000; // drop gives up if no polling request reaches the wire by then
const DROP_RETRY_MS = 5; // how often drop looks again

const sockets = new Map();
const agents = new Map(); // client name -> its http.Agent

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function quit(code) {
  for (const s of sockets.values()) s.disconnect();
  // Let stdout drain before exiting.
  process.stdout.write('', () => process.exit(code));
}

setTimeout(() => {
  out({ type: 'error', message: `driver timeout after ${HARD_TIMEOUT_MS} ms` });
  quit(3);
}, HARD_TIMEOUT_MS).unref();

function connect(cmd) {
  if (sockets.has(cmd.client)) throw new Error(`client ${cmd.client} exists`);
  const trust = cmd.ca ? { ca: fs.readFileSync(cmd.ca) } : {};
  const agent = cmd.url.startsWith('https:')
    ? new https.Agent({ keepAlive: false, ...trust })
    : new http.Agent({ keepAlive: false });
  const opts = Object.assign(
    { reconnection: false, forceNew: true, timeout: CONNECT_TIMEOUT_MS, agent },
    trust,
    cmd.opts || {},
  );
  const s = io(cmd.url, opts);
  sockets.set(cmd.client, s);
  agents.set(cmd.client, agent);
  const client = cmd.client;
  s.on('connect', () => out({ type: 'connect', client, id: s.id }));
  s.on('connect_error', (err) => out({ type: 'connect_error', client, message: String(err && err.message) }));
  s.on('disconnect', (reason) => out({ type: 'disconnect', client, reason }));
  s.onAny((event, ...args) => out({ type: 'event', client, event, args }));
  // The manager's open comes before the engine starts probing for an
  // upgrade, so no upgrade is missed.
  s.io.on('open', () => {
    const engine = s.io.engine;
    engine.on('upgrade', (transport) => out({ type: 'upgrade', client, args: [transport.name] }));
    engine.on('upgradeError', (err) => out({ type: 'upgrade_error', client, message: String(err && err.message) }));
  });
}

function engineOf(cmd) {
  const engine = socketOf(cmd).io.engine;
  if (!engine || !engine.transport) throw new Error(`client ${cmd.client} has no open engine`);
  return engine;
}

// drop kills the connection the way a crashed browser or a pulled cable
// would, relying on the internals of the locked engine.io-client version.
// The transport is marked closed first, so the client's own reaction to
// the dead connection (an error, then a disconnect event) sends nothing.
function drop(cmd) {
  const t = engineOf(cmd).transport;
  switch (t.name) {
    case 'websocket':
      if (!t.ws || typeof t.ws.terminate !== 'function') throw new Error('websocket transport without a ws socket');
      t.readyState = 'closed';
      t.ws.terminate();
      break;
    case 'polling': {
      // Destroying the agent's sockets closes the held GET (and a POST
      // in flight); the request fails and the engine reports a transport
      // error. (Aborting the XMLHttpRequest instead crashes
      // xmlhttprequest-ssl 2.x when the socket then closes.) The next GET
      // is sent as soon as the previous one is answered, but it reaches
      // the wire only once its connection is up: closing before that
      // would look to the server like a client that merely went quiet,
      // found out only by the ping timeout. So wait until every request
      // of the client has been handed to the kernel.
      const agent = agents.get(cmd.client);
      const deadline = Date.now() + DROP_WAIT_MS;
      const attempt = () => {
        const inUse = Object.values(agent.sockets).flat();
        const sent = inUse.length > 0 && inUse.every((sock) => !sock.connecting && sock.bytesWritten > 0 && sock.writableLength === 0);
        if (sent) {
          t.readyState = 'closed';
          agent.destroy();
        } else if (Date.now() > deadline) {
          out({ type: 'error', message: `drop ${cmd.client}: no polling request on the wire within ${DROP_WAIT_MS} ms` });
        } else {
          setTimeout(attempt, DROP_RETRY_MS);
        }
      };
      attempt();
      break;
    }
    default:
      throw new Error(`cannot drop transport ${t.name}`);
  }
}

function socketOf(cmd) {
  const s = sockets.get(cmd.client);
  if (!s) throw new Error(`no client ${cmd.client}`);
  return s;
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
      s.timeout(ACK_TIMEOUT_MS).emit(cmd.event, ...args, (err, ...res) => {
        out({ type: 'ack', client: cmd.client, ref: cmd.ack, error: err ? String(err.message || err) : null, args: res });
      });
      break;
    }
    case 'disconnect':
      socketOf(cmd).disconnect();
      break;
    case 'transport':
      out({ type: 'transport', client: cmd.client, ref: cmd.ref, args: [engineOf(cmd).transport.name] });
      break;
    case 'close-engine':
      engineOf(cmd).close();
      break;
    case 'drop':
      drop(cmd);
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
