'use strict';
/*
 * Runs one browser scenario (scenarios.js) against a running chatserver, in Debian's Chromium
 * driven by playwright-core (no browser is downloaded). Started by e2e/browser_test.go:
 *
 *   node run.js SCENARIO
 *
 * Environment: CHATSERVER_URL (http://127.0.0.1:PORT), CHROMIUM (the browser binary), SHOTS_DIR
 * (where screenshots go), TIMEOUT_MS (hard limit of the whole run).
 *
 * Output, one JSON object a line on stdout:
 *   {"type":"log","text"}                progress
 *   {"type":"ask","op":"stop"|"start"}   stop the server, or start it again on the same file and
 *                                        port; the test answers {"op":"stop","ok":true} or
 *                                        {"op":"start","ok":true} on stdin once done
 *   {"type":"ask","op":"room","args"}    run `chatserver room ARGS` against the running server;
 *                                        answered {"op":"room","ok"} once it exited
 *   {"type":"shot","name","path"}        a screenshot was saved
 *   {"type":"fail","text"}               a check failed
 *   {"type":"done","ok"}                 the last line
 * The run ends by itself at TIMEOUT_MS, or when stdin closes (the test is gone).
 */
const readline = require('readline');
const { chromium } = require('playwright-core');
const { Run, Failure, report } = require('./harness');
const scenarios = require('./scenarios');

/** Chromium for tests: headless, no sandbox (root in CI), no traffic of its own. */
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'
];

async function main() {
  const name = process.argv[2];
  const scenario = scenarios[name];
  const base = (process.env.CHATSERVER_URL || '').replace(/\/+$/, '');
  if (!scenario || !base || !process.env.SHOTS_DIR) {
    report({ type: 'fail', text: 'usage: CHATSERVER_URL=... SHOTS_DIR=... node run.js ' + Object.keys(scenarios).join('|') });
    report({ type: 'done', ok: false });
    return 2;
  }
  const timeoutMs = Number(process.env.TIMEOUT_MS) || 90000;

  // launch() gives the browser a fresh, temporary profile (user data dir) and removes it at close.
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
    timeout: 30000
  });
  const run = new Run(browser, base, process.env.SHOTS_DIR);
  const input = readline.createInterface({ input: process.stdin });
  input.on('line', (line) => {
    try {
      run.answer(JSON.parse(line));
    } catch (err) {
      run.problem('the Go test sent a line that is not JSON: ' + line);
    }
  });
  const gone = new Promise((resolve) => input.on('close', () => resolve('stdin closed: the test is gone')));
  let timer;
  const late = new Promise((resolve) => {
    timer = setTimeout(() => resolve('the scenario did not finish within ' + timeoutMs + ' ms'), timeoutMs);
  });

  let ok = true;
  try {
    const outcome = await Promise.race([scenario(run).then(() => null), gone, late]);
    if (outcome) {
      report({ type: 'fail', text: outcome });
      ok = false;
    }
  } catch (err) {
    report({ type: 'fail', text: err instanceof Failure ? err.message : 'scenario error: ' + (err.stack || err) });
    ok = false;
  }
  clearTimeout(timer);
  for (const text of run.problems) {
    report({ type: 'fail', text: text });
    ok = false;
  }
  if (run.allowedDuringOutage > 0) {
    run.log(run.allowedDuringOutage + ' connection errors logged while the server was stopped (expected)');
  }
  report({ type: 'done', ok: ok });
  input.close();
  await browser.close().catch(() => {});
  return ok ? 0 : 1;
}

main().then((code) => process.exit(code), (err) => {
  report({ type: 'fail', text: 'run.js: ' + (err.stack || err) });
  report({ type: 'done', ok: false });
  process.exit(1);
});
