"""Driver for chatserver's end-to-end tests with the Python client.

The Go test (e2e/python_test.go) starts `python3 driver.py` and talks to it
in JSON lines, exactly as it talks to node/driver.js: commands on standard
input, what the clients saw on standard output. Each client is a real
python-socketio 5.x client (socketio.Client), with requests for long-polling
and websocket-client for WebSocket.

Commands (one JSON object per line):
  {"op":"connect","client":"a","url":"http://127.0.0.1:1234","opts":{"transports":["polling"]}}
      connects in the background; reconnection is off. Without transports
      the client's default is used (polling, then an upgrade). With
      "namespace" in opts ("/games") the client connects to that namespace
      (python-socketio's namespaces=[...]) instead of "/", and its events,
      emits and acks are that namespace's.
  {"op":"emit","client":"a","event":"join","args":["alice"],"ack":1}
      with "ack" (a number), the answer is reported as
      {"type":"ack","ref":1,...}, or as an error after ACK_TIMEOUT_S.
  {"op":"disconnect","client":"a"}
      a clean Socket.IO disconnect (the client sends DISCONNECT).
  {"op":"transport","client":"a","ref":2}
      reports the Engine.IO transport in use as
      {"type":"transport","ref":2,"args":["polling"|"websocket"]}.
  {"op":"exit"}
Output (one JSON object per line):
  {"type":"ready"}
  {"type":"connect","client":"a","id":"..."}
  {"type":"connect_error","client":"a","message":"..."}
  {"type":"disconnect","client":"a","reason":"..."}
      python-socketio 5 does not say why a connection ended: the reason
      is "io client disconnect" after a disconnect command, else "".
  {"type":"event","client":"a","event":"messages","args":[...]}
  {"type":"ack","client":"a","ref":1,"error":null,"args":[...]}
  {"type":"transport","client":"a","ref":2,"args":["polling"]}
  {"type":"error","message":"..."}   a command the driver could not run

The driver never outlives its test: it exits when standard input closes and
after DRIVER_TIMEOUT_MS (default 60 s) whatever happens.
"""

import json
import os
import sys
import threading

import socketio

HARD_TIMEOUT_S = int(os.environ.get("DRIVER_TIMEOUT_MS", "60000")) / 1000
ACK_TIMEOUT_S = 5  # an ack not back by then is reported as an error
CONNECT_TIMEOUT_S = 5  # for the Engine.IO requests and the namespace CONNECT

_out_lock = threading.Lock()
_clients = {}  # client name -> socketio.Client; touched by the main thread only
_namespaces = {}  # client name -> the namespace it connects to
_leaving = set()  # client names the driver disconnected itself


def out(obj):
    """Writes one line of output; safe from any thread."""
    line = json.dumps(obj, ensure_ascii=False)
    with _out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def quit(code):
    """Disconnects every client and exits, whatever threads are running."""
    for sio in list(_clients.values()):
        try:
            sio.disconnect()
        except Exception:  # the process is ending anyway
            pass
    with _out_lock:
        sys.stdout.flush()
    os._exit(code)


def on_hard_timeout():
    out({"type": "error", "message": "driver timeout after %d ms" % (HARD_TIMEOUT_S * 1000)})
    quit(3)


def connect(cmd):
    name = cmd["client"]
    if name in _clients:
        raise ValueError("client %s exists" % name)
    opts = cmd.get("opts") or {}
    namespace = opts.get("namespace") or "/"
    sio = socketio.Client(reconnection=False, handle_sigint=False, request_timeout=CONNECT_TIMEOUT_S)
    _clients[name] = sio
    _namespaces[name] = namespace
    failed = threading.Event()  # a connect_error was reported

    def on_connect():
        out({"type": "connect", "client": name, "id": sio.get_sid(namespace=namespace)})

    def on_connect_error(data=None):
        failed.set()
        message = data.get("message") if isinstance(data, dict) else data
        out({"type": "connect_error", "client": name, "message": str(message)})

    def on_disconnect():
        reason = "io client disconnect" if name in _leaving else ""
        out({"type": "disconnect", "client": name, "reason": reason})

    def on_any(event, *args):
        out({"type": "event", "client": name, "event": event, "args": list(args)})

    sio.on("connect", on_connect, namespace=namespace)
    sio.on("connect_error", on_connect_error, namespace=namespace)
    sio.on("disconnect", on_disconnect, namespace=namespace)
    sio.on("*", on_any, namespace=namespace)

    def run():
        try:
            sio.connect(cmd["url"], transports=opts.get("transports"), namespaces=[namespace], wait_timeout=CONNECT_TIMEOUT_S)
        except Exception as err:
            if not failed.is_set():
                out({"type": "connect_error", "client": name, "message": str(err)})

    threading.Thread(target=run, name="connect-" + name, daemon=True).start()


def client_of(cmd):
    sio = _clients.get(cmd.get("client"))
    if sio is None:
        raise ValueError("no client %s" % cmd.get("client"))
    return sio


def emit(cmd):
    sio = client_of(cmd)
    name, ref = cmd["client"], cmd.get("ack")
    namespace = _namespaces[name]
    args = tuple(cmd.get("args") or [])
    if ref is None:
        sio.emit(cmd["event"], args, namespace=namespace)
        return
    answered = threading.Event()

    def on_ack(*res):
        if not answered.is_set():
            answered.set()
            out({"type": "ack", "client": name, "ref": ref, "error": None, "args": list(res)})

    def on_timeout():
        if not answered.is_set():
            answered.set()
            out({"type": "ack", "client": name, "ref": ref, "error": "operation has timed out", "args": []})

    timer = threading.Timer(ACK_TIMEOUT_S, on_timeout)
    timer.daemon = True
    timer.start()
    sio.emit(cmd["event"], args, namespace=namespace, callback=on_ack)


def handle(cmd):
    op = cmd.get("op")
    if op == "connect":
        connect(cmd)
    elif op == "emit":
        emit(cmd)
    elif op == "disconnect":
        sio = client_of(cmd)
        _leaving.add(cmd["client"])
        sio.disconnect()
    elif op == "transport":
        sio = client_of(cmd)
        out({"type": "transport", "client": cmd["client"], "ref": cmd.get("ref"), "args": [sio.transport()]})
    elif op == "exit":
        quit(0)
    else:
        raise ValueError("unknown op %s" % op)


def main():
    timer = threading.Timer(HARD_TIMEOUT_S, on_hard_timeout)
    timer.daemon = True
    timer.start()
    out({"type": "ready"})
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            handle(json.loads(line))
        except Exception as err:
            out({"type": "error", "message": "%s: %s" % (type(err).__name__, err)})
    quit(0)


if __name__ == "__main__":
    main()
