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
//   {"op":"emit","client":"a","event":"join","args":["alice"],"ack":1}
//       with "ack" (a number), the last argument is an ack callback and the
//       answer is reported as {"type":"ack","ref":1,...}.
//   {"op":"disconnect","client":"a"}
//   {"op":"exit"}
// Output (one JSON object per line):
//   {"type":"ready"}
//   {"type":"connect","client":"a","id":"..."}
//   {"type":"connect_error","client":"a","message":"..."}
//   {"type":"disconnect","client":"a","reason":"..."}
//   {"type":"event","client":"a","event":"messages","args":[...]}
//   {"type":"ack","client":"a","ref":1,"error":null,"args":[...]}
//   {"type":"error","message":"..."}   a command the driver could not run
//
// The driver never outlives its test: it exits when standard input closes
// and after DRIVER_TIMEOUT_MS (default 60 s) whatever happens.

const { io } = require('socket.io-client');
const readline = require('readline');

const HARD_TIMEOUT_MS = Number(process.env.DRIVER_TIMEOUT_MS || 60000);
const ACK_TIMEOUT_MS = 5000; // an ack not back by then is reported as an error
const CONNECT_TIMEOUT_MS = 5000;

const sockets = new Map();

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
  const opts = Object.assign(
    { reconnection: false, forceNew: true, timeout: CONNECT_TIMEOUT_MS },
    cmd.opts || {},
  );
  const s = io(cmd.url, opts);
  sockets.set(cmd.client, s);
  const client = cmd.client;
  s.on('connect', () => out({ type: 'connect', client, id: s.id }));
  s.on('connect_error', (err) => out({ type: 'connect_error', client, message: String(err && err.message) }));
  s.on('disconnect', (reason) => out({ type: 'disconnect', client, reason }));
  s.onAny((event, ...args) => out({ type: 'event', client, event, args }));
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
