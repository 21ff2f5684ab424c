// Package e2e holds chatserver's end-to-end tests. They build the real
// binary once, start `chatserver serve` on 127.0.0.1 with a temporary
// database, and drive it five ways: with the real npm socket.io-client v4
// through the Node script node/driver.js (every transport), with Debian's
// python-socketio client through python/driver.py (polling and
// WebSocket), with the binary's own commands (history, kick, room), with the
// wire-level Socket.IO test client of internal/siotest for the hardening
// tests (crashes, floods, malformed input, limits), and with Debian's
// headless Chromium through playwright-core (browser/run.js) for the page.
// The operations tests check what a deployment relies on: the version the
// binary and serve's log tell, a release built by scripts/release.sh, the
// systemd unit (systemd-analyze) and its readiness notifications, and the
// bash completion script.
//
// The Node packages are installed by `make test` (npm ci into
// node/node_modules and browser/node_modules, or wherever NODE_PATH
// points). Without node, Chromium or the packages the tests that need them
// are skipped with a message, except when the CI environment variable is
// set: in CI they fail.
package e2e
