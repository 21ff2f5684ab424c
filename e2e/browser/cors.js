'use strict';
/*
 * Opens pages in Debian's Chromium (driven by playwright-core, no browser is downloaded) and
 * reports what each page's script left in window.corsResult. Started by
 * e2e/hardening_cors_test.go, whose pages (on origins other than the chat server's) connect to the
 * server with the official socket.io-client over long-polling:
 *
 *   PAGES='["http://127.0.0.1:1234/", ...]' CHROMIUM=/usr/bin/chromium TIMEOUT_MS=20000 node cors.js
 *
 * Output: one JSON object a line on stdout, {"url", "result"} for each page in order (result null if
 * the page set nothing within TIMEOUT_MS), then {"done": true}. A failure of the script itself is
 * {"error": "..."}.
 */
const { chromium } = require('playwright-core');

/** Chromium for tests: headless, no sandbox (root in CI), no traffic of its own. */
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'
];

function report(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

async function main() {
  const pages = JSON.parse(process.env.PAGES || '[]');
  const timeoutMs = Number(process.env.TIMEOUT_MS) || 20000;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
    timeout: 30000
  });
  try {
    for (const url of pages) {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(url);
      const result = await page.waitForFunction(() => window.corsResult, null, { timeout: timeoutMs })
        .then((handle) => handle.jsonValue(), () => null);
      report({ url: url, result: result });
      await context.close();
    }
    report({ done: true });
  } finally {
    await browser.close().catch(() => {});
  }
}

main().then(() => process.exit(0), (err) => {
  report({ error: String(err && err.stack || err) });
  process.exit(1);
});
