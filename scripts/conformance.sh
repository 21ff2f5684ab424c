#!/usr/bin/env bash
# Runs the official Engine.IO and Socket.IO protocol suites against the
# conformance server (web/socketio/conformance), one after the other.
#
#   scripts/conformance.sh ENGINEIO_SUITE SOCKETIO_SUITE
#
# Each argument is a suite's folder: the test-suite/ folder of
# socketio/engine.io-protocol or socketio/socket.io-protocol, with its
# test-suite.js and package.json. `make conformance` (part of `make test`)
# passes them; docs/PROTOCOL.md tells how to point them elsewhere.
#
# A missing folder skips its suite with a message, unless CI is set: then
# it is an error. Each suite is copied to a temporary folder (the original
# may be read-only) and its pinned dependencies installed there (`npm ci`
# when it has a lock file), so nothing is written beside the suite.
#
# The suites hard-code localhost:3000, so the port must be free; the
# server is built once, started for each suite, waited for until it
# accepts connections, and stopped by its PID. mocha's exit status is the
# number of failing tests; a suite passes when that is 0 and it reported
# at least one passing test. Exit status: 0 when every suite that ran
# passed, 1 otherwise.
#
# Environment: GO and NPM name the tools (go and npm by default).
#
# This is a script run by make, not a Go test, on purpose: the suites are
# Node programs on a fixed port that need an npm install, which
# `go test ./...` (run often, many packages at once) must not depend on.
set -euo pipefail

GO=${GO:-go}
NPM=${NPM:-npm}

PORT=3000                # hard-coded by both suites
NPM_TIMEOUT=120          # seconds for one npm install (a few seconds usually)
MOCHA_TIMEOUT=120        # seconds for one suite (a few seconds usually)
SERVER_START_TIMEOUT=15  # seconds until the server accepts connections
SERVER_STOP_TIMEOUT=10   # seconds from SIGTERM until the server has exited

say() { printf 'conformance: %s\n' "$*"; }
fail() { say "$*" >&2; exit 1; }

[ $# -eq 2 ] || { echo "usage: $0 ENGINEIO_SUITE SOCKETIO_SUITE" >&2; exit 2; }

# The suites, as name, folder and the server's -suite flag.
names=(engine.io socket.io)
flags=(engine socket)
srcs=("$1" "$2")

# Which suites are there; the others are skipped, or fail the run in CI.
run=()
for i in 0 1; do
	src=${srcs[$i]}
	if [ -f "$src/test-suite.js" ] && [ -f "$src/package.json" ]; then
		srcs[$i]=$(cd "$src" && pwd)
		run+=("$i")
		continue
	fi
	if [ -n "${CI:-}" ]; then
		fail "CI is set and the ${names[$i]} suite is not at $src (no test-suite.js and package.json there)"
	fi
	say "skipping the ${names[$i]} suite: $src holds no test-suite.js and package.json" \
		"(point ENGINEIO_SUITE, SOCKETIO_SUITE or PROTOCOL_SUITES at a checkout of the official suites; see docs/PROTOCOL.md)"
done
[ ${#run[@]} -gt 0 ] || exit 0

command -v node >/dev/null || fail "node is not installed (make system-deps installs it)"
command -v "$NPM" >/dev/null || fail "$NPM is not installed (make system-deps installs it)"

cd "$(dirname "$0")/.."

# accepting reports whether something accepts TCP connections on
# localhost:$PORT (any of localhost's addresses).
accepting() { (exec 3<>"/dev/tcp/localhost/$PORT") 2>/dev/null; }

port_free_or_fail() {
	accepting || return 0
	local who=""
	if command -v ss >/dev/null; then
		who=$(ss -Hltnp "sport = :$PORT" 2>/dev/null || true)
	fi
	fail "port $PORT is in use on localhost, and the official suites hard-code localhost:$PORT;" \
		"stop what listens there and run again${who:+:
$who}"
}

work=$(mktemp -d "${TMPDIR:-/tmp}/chatserver-conformance.XXXXXX")
server_pid=""

# stop_server sends SIGTERM to the server and waits for it to exit, then
# kills it if it has not within SERVER_STOP_TIMEOUT.
stop_server() {
	[ -n "$server_pid" ] || return 0
	local pid=$server_pid deadline=$((SECONDS + SERVER_STOP_TIMEOUT))
	server_pid=""
	kill -TERM "$pid" 2>/dev/null || true
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			say "the server (PID $pid) did not exit within ${SERVER_STOP_TIMEOUT}s of SIGTERM; killing it" >&2
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.05
	done
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	stop_server
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free_or_fail

say "building web/socketio/conformance"
"$GO" build -o "$work/conformance" ./web/socketio/conformance

# Copy every suite and install its dependencies before any server starts.
for i in "${run[@]}"; do
	name=${names[$i]} dir=$work/${names[$i]}
	mkdir "$dir"
	tar -C "${srcs[$i]}" --exclude=./node_modules -cf - . | tar -C "$dir" -xf -
	chmod -R u+w "$dir"
	if [ -f "$dir/package-lock.json" ]; then
		install=(ci)
	else
		install=(install)
	fi
	say "$name suite: npm ${install[*]} in a temporary copy of ${srcs[$i]}"
	if ! (cd "$dir" && timeout -k 5 "$NPM_TIMEOUT" "$NPM" "${install[@]}" --no-audit --no-fund); then
		fail "$name suite: npm ${install[*]} failed or took over ${NPM_TIMEOUT}s"
	fi
done

# start_server starts the server for suite flag $1, logging to $2, and
# waits until it has said it listens and the port accepts connections.
start_server() {
	local flag=$1 log=$2 deadline=$((SECONDS + SERVER_START_TIMEOUT))
	"$work/conformance" -suite "$flag" -addr "localhost:$PORT" >"$log" 2>&1 &
	server_pid=$!
	until grep -q 'listening on' "$log" && accepting; do
		if ! kill -0 "$server_pid" 2>/dev/null; then
			wait "$server_pid" 2>/dev/null || true
			server_pid=""
			cat "$log" >&2
			fail "the $flag suite server exited before accepting connections on localhost:$PORT"
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			cat "$log" >&2
			fail "the $flag suite server did not accept connections on localhost:$PORT within ${SERVER_START_TIMEOUT}s"
		fi
		sleep 0.05
	done
}

failed=()
summary=()
for i in "${run[@]}"; do
	name=${names[$i]} dir=$work/${names[$i]} log=$work/${names[$i]}.log
	port_free_or_fail
	start_server "${flags[$i]}" "$log"
	say "$name suite: mocha test-suite.js against the server (PID $server_pid) on localhost:$PORT"
	set +e
	(cd "$dir" && timeout -k 5 "$MOCHA_TIMEOUT" ./node_modules/.bin/mocha test-suite.js) 2>&1 | tee "$dir/mocha.out"
	status=${PIPESTATUS[0]}
	set -e

	crashed=""
	kill -0 "$server_pid" 2>/dev/null || crashed=yes
	stop_server

	passing=$(sed -n 's/^ *\([0-9][0-9]*\) passing.*/\1/p' "$dir/mocha.out" | tail -n 1)
	failing=$(sed -n 's/^ *\([0-9][0-9]*\) failing.*/\1/p' "$dir/mocha.out" | tail -n 1)
	result="$name: ${passing:-0} passing, ${failing:-0} failing"
	problem=""
	if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
		problem="mocha did not finish within ${MOCHA_TIMEOUT}s"
	elif [ -n "$crashed" ]; then
		problem="the server exited during the suite"
	elif [ "$status" -ne 0 ] || [ "${failing:-0}" -ne 0 ]; then
		problem="mocha exit status $status"
	elif [ "${passing:-0}" -eq 0 ]; then
		problem="no test passed"
	fi
	if [ -n "$problem" ]; then
		failed+=("$name")
		summary+=("$result: FAILED ($problem)")
		say "$name suite failed ($problem); the server's log:" >&2
		cat "$log" >&2
	else
		summary+=("$result")
	fi
done

for line in "${summary[@]}"; do say "$line"; done
[ ${#failed[@]} -eq 0 ] || fail "failed: ${failed[*]}"
