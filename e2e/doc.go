// Package e2e holds chatserver's end-to-end tests. They build the real
// binary once, start `chatserver serve` on 127.0.0.1 with a temporary
// database, and drive it with the real npm socket.io-client v4 through the
// Node script in node/driver.js, and with the binary's own commands.
//
// The Node packages are installed by `make test` (npm ci into
// node/node_modules, or wherever NODE_PATH points). Without node or the
// packages the tests that need them are skipped with a message, except
// when the CI environment variable is set: in CI they fail.
package e2e
