'use strict';
/*
 * The browser scenarios of the page, one function each, run by run.js in a fresh browser against a
 * fresh server. Every page is also watched by the harness for foreign requests, console errors,
 * uncaught exceptions and the Content-Security-Policy header.
 */
const { RECONNECT_MS } = require('./harness');

/**
 * How long the welcome scenario watches a page that should stay calm: three times the
 * --pending-timeout its server runs with (1 s, see e2e/browser_test.go), long enough for the
 * server to close a connection that does not join and for a page to start reconnecting.
 */
const CALM_MS = 3000;

/**
 * The server's --presence-grace in the recovery scenarios (its default): a connection lost for
 * longer would be announced as leaving, one recovered sooner is never.
 */
const PRESENCE_GRACE_MS = 5000;

/** Names and texts of the chat messages a page shows, in order, one string each. */
function transcript(state) {
  return state.messages.map((m) => m.name + ': ' + m.text);
}

/**
 * A person on a laptop and one on a phone chat with the keyboard alone; the phone sees the
 * history when it joins; both chatter lists follow joins and leaves; a taken nickname is refused
 * with a clear line and another one works; the tab title counts unread messages while the tab is
 * hidden; the page is labelled for screen readers. Screenshots of both screens are saved.
 */
async function chat(run) {
  const ada = await run.open('ada (desktop)', 'desktop');
  await checkAccessibility(run, ada);
  await run.join(ada, 'ada');
  await run.say(ada, 'Hello! Is anyone around this morning?');
  await run.say(ada, 'I put the slides for Thursday in the shared folder.');

  const bob = await run.open('bob (phone)', 'phone');
  await run.screenshot(bob, 'phone-welcome');
  await run.join(bob, 'bob');
  const history = transcript(await run.state(bob));
  run.expect(history.join('\n') === ['ada: Hello! Is anyone around this morning?',
    'ada: I put the slides for Thursday in the shared folder.'].join('\n'),
  'bob (phone) did not see the history on joining: ' + JSON.stringify(history));
  await run.chattersAre(ada, ['ada', 'bob']);
  await run.chattersAre(bob, ['ada', 'bob']);
  await run.until(ada, 'the line "bob joined"', (s) => s.system.indexOf('bob joined') >= 0);

  await run.say(bob, 'Morning ada 👋 just got in, reading them on the train.');
  await run.sees(ada, 'bob', 'Morning ada 👋 just got in, reading them on the train.');
  await run.say(ada, 'Great, tell me if slide 4 makes sense.');
  await run.sees(bob, 'ada', 'Great, tell me if slide 4 makes sense.');
  await run.say(bob, 'Will do!');
  await run.sees(ada, 'bob', 'Will do!');
  const adaView = await run.state(ada);
  const bobView = await run.state(bob);
  run.expect(transcript(adaView).join('\n') === transcript(bobView).join('\n'),
    'the two pages show different conversations:\n' + transcript(adaView).join('\n') + '\n--\n' + transcript(bobView).join('\n'));
  run.expect(adaView.messages.every((m) => m.own === (m.name === 'ada')) && bobView.messages.every((m) => m.own === (m.name === 'bob')),
    'own messages are not the ones set apart: ' + JSON.stringify([adaView.messages, bobView.messages]));
  const ids = adaView.messages.map((m) => m.id);
  run.expect(ids.every((id) => id) && new Set(ids).size === ids.length, 'messages without an id or shown twice: ' + JSON.stringify(ids));
  await run.screenshot(ada, 'desktop-chat');
  await run.screenshot(bob, 'phone-chat');

  // Unread messages are counted in the title while the tab is hidden, and cleared on return.
  await run.setHidden(ada, true);
  await run.say(bob, 'One more thing: the room is booked from 2 pm.');
  await run.say(bob, 'See you there.');
  await run.until(ada, 'title "(2) Chat" while hidden', (s) => s.title === '(2) Chat');
  await run.setHidden(ada, false);
  await run.until(ada, 'title "Chat" once visible again', (s) => s.title === 'Chat');

  // A taken nickname (case does not matter) is refused with a clear line; another one works.
  const carol = await run.open('carol (desktop)', 'desktop');
  await run.until(carol, 'focus in the nickname box', (s) => s.focused === 'nick_input');
  await carol.keyboard.type('ADA');
  await carol.keyboard.press('Enter');
  const refused = await run.until(carol, 'a line saying the nickname is taken', (s) => /already using/i.test(s.joinError));
  run.expect(refused.phase !== 'chat' && refused.me === '', 'carol (desktop) is shown in the room after a refused nickname: ' + JSON.stringify(refused));
  await run.screenshot(carol, 'desktop-nickname-taken');
  await run.join(carol, 'carol');
  await run.chattersAre(ada, ['ada', 'bob', 'carol']);
  await run.chattersAre(bob, ['ada', 'bob', 'carol']);
  await run.chattersAre(carol, ['ada', 'bob', 'carol']);

  // Closing a page leaves on purpose: that chatter is gone from everyone else's list at once,
  // long before the server's grace for a lost connection (1 m here) would end.
  await bob.close();
  await run.chattersAre(ada, ['ada', 'carol']);
  await run.chattersAre(carol, ['ada', 'carol']);
  await run.until(ada, 'the line "bob left"', (s) => s.system.indexOf('bob left') >= 0);
}

/** The message list is announced by screen readers; every input has a label. */
async function checkAccessibility(run, page) {
  const found = await page.evaluate(() => {
    const messages = document.getElementById('messages');
    const unlabelled = Array.from(document.querySelectorAll('input, textarea, select'))
      .filter((input) => input.type !== 'hidden')
      .filter((input) => !(input.labels && Array.from(input.labels).some((l) => l.textContent.trim())) &&
        !input.getAttribute('aria-label') && !input.getAttribute('aria-labelledby'))
      .map((input) => input.id || input.name);
    const unnamedButtons = Array.from(document.querySelectorAll('button'))
      .filter((b) => !b.textContent.trim() && !b.getAttribute('aria-label'))
      .map((b) => b.id || b.className);
    return {
      live: messages.getAttribute('aria-live'),
      status: document.getElementById('status').getAttribute('role'),
      unlabelled: unlabelled,
      unnamedButtons: unnamedButtons,
      lang: document.documentElement.lang
    };
  });
  run.expect(found.live === 'polite' || found.live === 'assertive', '#messages has no aria-live: ' + JSON.stringify(found));
  run.expect(found.status === 'status', '#status is not role=status: ' + JSON.stringify(found));
  run.expect(found.unlabelled.length === 0, 'inputs without a label: ' + JSON.stringify(found.unlabelled));
  run.expect(found.unnamedButtons.length === 0, 'buttons without a name: ' + JSON.stringify(found.unnamedButtons));
  run.expect(found.lang !== '', 'the page has no lang');
}

/**
 * Markup and script in messages and nicknames are shown as text and run nothing. The second page
 * ignores the Content-Security-Policy, so markup inserted as HTML would run there instead of
 * being blocked: the page itself must be safe.
 */
async function markup(run) {
  const texts = [
    '<img src=x onerror=window.__pwned=1>',
    '<script>window.__pwned=1</script>',
    '<b>bold?</b> &amp; <a href="javascript:window.__pwned=1">link</a>'
  ];
  const nasty = '<svg onload=window.__pwned=1>';
  const eve = await run.open('eve (desktop)', 'desktop');
  const dan = await run.open('dan (phone, no CSP)', 'phone', { bypassCSP: true });
  await run.join(eve, nasty);
  for (const text of texts) await run.say(eve, text);
  await run.join(dan, 'dan');
  await run.say(dan, 'Those should all show as plain text.');
  for (const page of [eve, dan]) {
    const s = await run.chattersAre(page, [nasty, 'dan']);
    const shown = s.messages.filter((m) => m.name === nasty).map((m) => m.text);
    run.expect(shown.join('\n') === texts.join('\n'), page.label + ': markup was not shown literally: ' + JSON.stringify(shown));
    const found = await page.evaluate(() => ({
      pwned: typeof window.__pwned,
      elements: document.querySelectorAll('#messages img, #messages script, #messages svg, #messages b, #messages a, ' +
        '#chatters img, #chatters script, #chatters svg, #me_name *').length
    }));
    run.expect(found.pwned === 'undefined', page.label + ': injected script ran (window.__pwned is set)');
    run.expect(found.elements === 0, page.label + ': ' + found.elements + ' elements were created from message or nickname text');
  }
  await run.screenshot(dan, 'phone-markup');
}

/**
 * A browser without WebSocket chats over long-polling with one that has it; leaving from the
 * polling page is seen by the other at once.
 */
async function polling(run) {
  const poll = await run.open('poll (desktop, no WebSocket)', 'desktop', { noWebSocket: true });
  const ws = await run.open('sock (phone)', 'phone', { colorScheme: 'dark' });
  const pollState = await run.join(poll, 'poll');
  run.expect(/long-polling/.test(pollState.statusDetail), 'the page without WebSocket is not connected over long-polling: ' + JSON.stringify(pollState));
  run.expect(/WebSocket/.test((await run.join(ws, 'sock')).statusDetail), 'the page with WebSocket is not connected over it');
  await run.say(poll, 'Typing from a browser without WebSocket.');
  await run.sees(ws, 'poll', 'Typing from a browser without WebSocket.');
  await run.say(ws, 'Reads fine here over WebSocket.');
  await run.sees(poll, 'sock', 'Reads fine here over WebSocket.');
  await run.chattersAre(poll, ['poll', 'sock']);
  run.expect(poll.websockets.length === 0, 'the page without WebSocket opened one: ' + JSON.stringify(poll.websockets));
  run.expect(ws.websockets.length > 0, 'the page with WebSocket did not use it');
  await run.screenshot(ws, 'phone-dark');
  const closing = Date.now();
  await poll.close();
  await run.chattersAre(ws, ['sock']);
  run.log('the long-polling page was gone from the other\'s list ' + (Date.now() - closing) + ' ms after it closed');
}

/** The Socket.IO packets a page sent, over WebSocket or in long-polling POST bodies. */
function sentPackets(page) {
  return [].concat.apply([], page.framesSent.map((frame) => frame.split('\x1e')));
}

/** The join requests a page sent that carried a resume token. */
function joinsWithToken(page) {
  return sentPackets(page).filter((packet) => /^42\d*\["join","[^"]*",\{"token":"[^"]+"\}/.test(packet)).length;
}

/** The CONNECTs a page sent to recover a lost connection: {pid, offset} in their auth. */
function recoveriesAsked(page) {
  return sentPackets(page).filter((packet) => /^40(\/[^,]*,)?\{"pid":"[^"]+"/.test(packet)).length;
}

/** The lines a page shows about people joining and leaving. */
function presenceLines(state) {
  return state.system.filter((text) => / (joined|left)$|^\d+ (people|person) /.test(text));
}

/**
 * Sends texts with the keyboard, one after the other without waiting in between, and waits
 * until the server confirmed every one.
 */
async function sayAll(run, page, texts) {
  run.expect((await run.state(page)).focused === 'chat_input', page.label + ': the message box does not have the focus');
  for (const text of texts) {
    await page.keyboard.type(text);
    await page.keyboard.press('Enter');
  }
  await run.until(page, texts.length + ' own messages confirmed', (s) => texts.every((text) =>
    s.messages.some((m) => m.own && m.text === text && m.id && !m.pending && !m.failed)));
}

/**
 * Checks, until ms after since, that no page shows a presence line it did not show in its state
 * before (one of before, in the order of pages): a lost connection that recovered is never
 * announced, not even when the server's grace for it would have ended.
 */
async function noPresenceLinesUntil(run, pages, before, since, ms) {
  for (let i = 0; i < pages.length; i++) {
    const was = presenceLines(before[i]).join('\n');
    const left = Math.max(0, since + ms - Date.now());
    await run.holds(pages[i], 'no line about anyone joining or leaving', (s) => presenceLines(s).join('\n') === was, left);
  }
}

/**
 * The server, which keeps no recovery sessions here (--recovery-window 0, see
 * e2e/browser_test.go), stops and starts again on the same file and port: the pages show the lost
 * connection, reconnect by themselves, take back their nicknames with their resume tokens, do
 * not show the history a second time, and chat again. A reloaded page takes its nickname back
 * at once too, while its old connection may still be open.
 */
async function restart(run) {
  const ada = await run.open('ada (desktop)', 'desktop');
  const bob = await run.open('bob (phone)', 'phone');
  const poll = await run.open('poll (desktop, no WebSocket)', 'desktop', { noWebSocket: true });
  await run.join(ada, 'ada');
  await run.join(bob, 'bob');
  await run.join(poll, 'poll');
  await run.say(ada, 'Before the restart.');
  await run.sees(bob, 'ada', 'Before the restart.');
  await run.sees(poll, 'ada', 'Before the restart.');
  const pages = [ada, bob, poll];
  const before = [];
  for (const page of pages) before.push(await run.state(page));

  run.outage = true;
  await run.ask('stop');
  for (const page of pages) {
    await run.until(page, 'the lost connection shown', (s) => s.status === 'reconnecting' && /reconnect/i.test(s.statusText));
  }
  await run.screenshot(ada, 'desktop-reconnecting');
  await run.screenshot(bob, 'phone-reconnecting');
  await run.ask('start');
  for (let i = 0; i < pages.length; i++) {
    const s = await run.until(pages[i], 'reconnected under the same nickname',
      (s) => s.status === 'connected' && s.phase === 'chat' && s.me === before[i].me, RECONNECT_MS);
    run.expect(s.statusDetail === before[i].statusDetail, pages[i].label + ': changed transport: ' + before[i].statusDetail + ' -> ' + s.statusDetail);
  }
  run.outage = false;
  for (const page of pages) {
    run.expect(joinsWithToken(page) > 0, page.label + ': did not send its resume token when joining again: ' + JSON.stringify(page.framesSent));
  }
  for (const page of pages) await run.chattersAre(page, ['ada', 'bob', 'poll']);
  for (let i = 0; i < pages.length; i++) {
    const s = await run.state(pages[i]);
    run.expect(transcript(s).join('\n') === transcript(before[i]).join('\n'),
      pages[i].label + ': the history is shown differently after the reconnect: ' + JSON.stringify(transcript(s)));
  }
  await run.say(bob, 'After the restart, still bob.');
  await run.sees(ada, 'bob', 'After the restart, still bob.');
  await run.sees(poll, 'bob', 'After the restart, still bob.');
  await run.say(poll, 'And me, over long-polling.');
  await run.sees(ada, 'poll', 'And me, over long-polling.');
  await run.say(ada, 'All back.');
  await run.sees(bob, 'ada', 'All back.');
  await run.screenshot(bob, 'phone-after-restart');

  const shown = transcript(await run.state(ada));
  await ada.reload({ waitUntil: 'load' });
  const back = await run.until(ada, 'back as ada after a reload', (s) => s.status === 'connected' && s.phase === 'chat' && s.me === 'ada');
  run.expect(transcript(back).join('\n') === shown.join('\n'), 'ada (desktop): after a reload the page shows ' + JSON.stringify(transcript(back)) + ', not ' + JSON.stringify(shown));
  await run.chattersAre(bob, ['ada', 'bob', 'poll']);
  await run.chattersAre(ada, ['ada', 'bob', 'poll']);
  await run.say(ada, 'Reloaded, still ada.');
  await run.sees(poll, 'ada', 'Reloaded, still ada.');
}

/**
 * A phone's connection drops for a moment (a lift, a tunnel) while the other person sends 15
 * messages, more than the history a join replays (--history 10). The page reconnects by itself
 * and recovers: it does not join again, shows every missed message once and in order, nobody
 * sees anyone leave or come back, and it can send at once.
 */
async function blip(run) {
  const ada = await run.open('ada (phone)', 'phone', { cuttable: true });
  const bob = await run.open('bob (desktop)', 'desktop');
  await run.join(ada, 'ada');
  await run.join(bob, 'bob');
  await run.chattersAre(ada, ['ada', 'bob']);
  await run.say(ada, 'Getting into the lift, back in a moment.');
  await run.sees(bob, 'ada', 'Getting into the lift, back in a moment.');
  const pages = [ada, bob];
  const before = [await run.state(ada), await run.state(bob)];
  const joins = joinsSent(ada);

  const cutAt = Date.now();
  await run.cut(ada);
  await run.until(ada, 'the lost connection shown', (s) => s.status === 'reconnecting');
  await run.screenshot(ada, 'phone-blip');
  const texts = [];
  for (let i = 1; i <= 15; i++) texts.push('While you were in the lift, ' + i + ' of 15.');
  await sayAll(run, bob, texts);
  let s = await run.state(ada);
  run.expect(s.status === 'reconnecting' && transcript(s).join('\n') === transcript(before[0]).join('\n'),
    'ada (phone) was not cut off while bob wrote: ' + JSON.stringify(s));

  await run.restore(ada);
  const want = transcript(await run.state(bob)).join('\n');
  s = await run.until(ada, 'back with the 15 missed messages once, in order', (st) => st.status === 'connected' &&
    transcript(st).join('\n') === want, RECONNECT_MS);
  run.log('ada (phone) was back ' + (Date.now() - cutAt) + ' ms after its connection was cut');
  run.expect(recoveriesAsked(ada) === 1 && joinsSent(ada) === joins,
    'ada (phone) did not recover without joining again: ' + JSON.stringify(sentPackets(ada)));
  const ids = s.messages.map((m) => m.id);
  run.expect(ids.every((id) => id) && new Set(ids).size === ids.length, 'ada (phone): messages without an id or shown twice: ' + JSON.stringify(ids));
  run.expect(s.phase === 'chat' && s.me === 'ada', 'ada (phone) is no longer in the room as ada: ' + JSON.stringify(s));
  for (const page of pages) await run.chattersAre(page, ['ada', 'bob']);
  await run.screenshot(ada, 'phone-blip-recovered');

  await run.say(ada, 'Out of the lift, read them all.');
  await run.sees(bob, 'ada', 'Out of the lift, read them all.');
  await noPresenceLinesUntil(run, pages, before, cutAt, PRESENCE_GRACE_MS + 1000);
}

/**
 * The server stops (SIGTERM) and starts again on the same file and port. One page's network stays
 * away a little longer, while another person writes after the restart. Every page recovers its
 * connection, over WebSocket or long-polling, without joining again: each shows every message it
 * missed once, the history no second time, and no line about anyone leaving or joining.
 */
async function restartRecovery(run) {
  const ada = await run.open('ada (phone)', 'phone', { cuttable: true });
  const bob = await run.open('bob (desktop)', 'desktop');
  const poll = await run.open('poll (desktop, no WebSocket)', 'desktop', { noWebSocket: true });
  const pages = [ada, bob, poll];
  await run.join(ada, 'ada');
  await run.join(bob, 'bob');
  await run.join(poll, 'poll');
  for (const page of pages) await run.chattersAre(page, ['ada', 'bob', 'poll']);
  await run.say(ada, 'Before the restart.');
  await run.sees(bob, 'ada', 'Before the restart.');
  await run.sees(poll, 'ada', 'Before the restart.');
  const before = [];
  for (const page of pages) before.push(await run.state(page));
  const joins = pages.map(joinsSent);

  run.outage = true;
  await run.block(ada); // until bob has written after the restart
  await run.ask('stop');
  for (const page of pages) await run.until(page, 'the lost connection shown', (st) => st.status === 'reconnecting');
  await run.ask('start');
  const startedAt = Date.now();
  for (const page of [bob, poll]) {
    await run.online(page);
    await run.until(page, 'reconnected', (st) => st.status === 'connected' && st.phase === 'chat', RECONNECT_MS);
  }
  run.outage = false;
  const texts = ['After the restart, 1 of 3.', 'After the restart, 2 of 3.', 'After the restart, 3 of 3.'];
  await sayAll(run, bob, texts);
  for (const text of texts) await run.sees(poll, 'bob', text);

  await run.restore(ada);
  const want = transcript(await run.state(bob)).join('\n');
  for (const page of pages) {
    const s = await run.until(page, 'every message once, in order', (st) => st.status === 'connected' &&
      transcript(st).join('\n') === want, RECONNECT_MS);
    const ids = s.messages.map((m) => m.id);
    run.expect(ids.every((id) => id) && new Set(ids).size === ids.length, page.label + ': messages without an id or shown twice: ' + JSON.stringify(ids));
  }
  run.log('ada (phone) was back ' + (Date.now() - startedAt) + ' ms after the server started again');
  for (let i = 0; i < pages.length; i++) {
    run.expect(recoveriesAsked(pages[i]) >= 1 && joinsSent(pages[i]) === joins[i],
      pages[i].label + ': did not recover without joining again: ' + JSON.stringify(sentPackets(pages[i])));
  }
  for (const page of pages) await run.chattersAre(page, ['ada', 'bob', 'poll']);
  await run.screenshot(ada, 'phone-restart-recovered');

  await run.say(ada, 'Back too, nothing missed.');
  await run.sees(bob, 'ada', 'Back too, nothing missed.');
  await run.sees(poll, 'ada', 'Back too, nothing missed.');
  await noPresenceLinesUntil(run, pages, before, startedAt, PRESENCE_GRACE_MS + 1000);
}

/**
 * Joins each of names at once, each on a new connection opened by page with the Socket.IO client
 * it loaded (not the page's own chat), and then closes the connections of the first `leave` of
 * them at once. Returns the joins the server refused, as "name: ack".
 */
async function joinCrowd(page, names, leave) {
  return page.evaluate(async ({ names, leave }) => {
    const joins = names.map((name) => new Promise((resolve) => {
      const socket = window.io({ forceNew: true, transports: ['websocket'] });
      socket.on('connect', () => socket.emit('join', name, (ack) => resolve({ socket, refusal: ack && ack.ok ? null : name + ': ' + JSON.stringify(ack) })));
    }));
    const done = await Promise.all(joins);
    done.slice(0, leave).forEach((d) => d.socket.disconnect());
    return done.map((d) => d.refusal).filter((r) => r !== null);
  }, { names, leave: leave || 0 });
}

/**
 * Five people join at once and three of them leave right after: the page shows one line counting
 * them ("5 people joined, 3 left") instead of eight, while its chatter list follows every change.
 * After a message, a single arrival gets its own line again.
 */
async function crowd(run) {
  const ada = await run.open('ada (desktop)', 'desktop');
  await run.join(ada, 'ada');
  const door = await run.open('door (phone)', 'phone');
  const guests = ['guest1', 'guest2', 'guest3', 'guest4', 'guest5'];
  const refused = await joinCrowd(door, guests, 3);
  run.expect(refused.length === 0, 'joins refused: ' + JSON.stringify(refused));
  const s = await run.chattersAre(ada, ['ada', 'guest4', 'guest5']);
  const lines = s.system.filter((text) => /guest|people|person/.test(text));
  run.expect(lines.length === 1 && lines[0] === '5 people joined, 3 left',
    'ada (desktop) shows the crowd as ' + JSON.stringify(lines) + ', not one line "5 people joined, 3 left"');
  await run.screenshot(ada, 'desktop-crowd');

  await run.say(ada, 'Welcome, everyone.');
  run.expect((await joinCrowd(door, ['guest6'])).length === 0, 'guest6 was refused');
  await run.until(ada, 'the line "guest6 joined"', (st) => st.system.indexOf('guest6 joined') >= 0);
}

/** The join requests a page sent. */
function joinsSent(page) {
  return sentPackets(page).filter((packet) => /^42\d*\["join",/.test(packet)).length;
}

/**
 * People behind one address (a school's NAT, seen through a trusted proxy) have just used up the
 * joins that address may make at once, so the next page's join is refused as too fast. The page
 * keeps the nickname, tries again by itself a few seconds later, and gets in.
 */
async function busyAddress(run) {
  const school = { forwardedFor: '203.0.113.7' };
  const late = await run.open('late (phone)', 'phone', school);
  const hall = await run.open('hall (desktop)', 'desktop', school);
  let pupils = 0;
  for (;;) {
    pupils++;
    run.expect(pupils <= 50, 'the address was never refused a join');
    const refused = await joinCrowd(hall, ['pupil' + pupils]);
    if (refused.length > 0) {
      run.expect(/rate_limited/.test(refused[0]), 'a join was refused for another reason: ' + refused[0]);
      break;
    }
  }
  run.log((pupils - 1) + ' joins from one address before one was refused');
  await run.join(late, 'late', RECONNECT_MS);
  run.expect(joinsSent(late) >= 2, 'late (phone) got in without being refused first: ' + JSON.stringify(late.framesSent));
  const s = await run.state(late);
  run.expect(s.joinError === '', 'late (phone) shows a refusal after all: ' + JSON.stringify(s.joinError));
}

/**
 * The page is on its welcome screen without a connection and says so calmly: not connecting,
 * reconnecting or disconnected with an error.
 */
function calm(s) {
  return s.phase === 'welcome' && s.status === 'idle';
}

/**
 * Pages left on their welcome screen for longer than the server's --pending-timeout hold no
 * connection: they stay calm, with no "Connecting…", "Reconnecting" or error, open no connection,
 * and connect when the person joins. A page whose join was refused keeps the connection it
 * joined with; when the server closes it for not joining in time, the page goes back to the calm
 * state instead of reconnecting, and joining afterwards works.
 */
async function welcome(run) {
  const poll = await run.open('poll (phone, no WebSocket)', 'phone', { noWebSocket: true });
  const ada = await run.open('ada (desktop)', 'desktop');
  await Promise.all([poll, ada].map((page) => run.holds(page, 'the calm welcome screen', calm, CALM_MS)));
  for (const page of [poll, ada]) {
    run.expect(page.handshakes === 0, page.label + ': opened ' + page.handshakes + ' connections on its welcome screen');
  }
  await run.screenshot(poll, 'phone-welcome-idle');
  const joined = await run.join(poll, 'poll');
  run.expect(/long-polling/.test(joined.statusDetail), 'poll (phone, no WebSocket) is not connected over long-polling: ' + JSON.stringify(joined));

  // A taken nickname: ada is connected, but not in the room, until the server closes the connection.
  await run.until(ada, 'focus in the nickname box', (s) => s.focused === 'nick_input');
  await ada.keyboard.type('POLL');
  await ada.keyboard.press('Enter');
  await run.until(ada, 'a line saying the nickname is taken', (s) => /already using/i.test(s.joinError) && s.status === 'connected');
  const opened = ada.handshakes;
  await run.until(ada, 'calm again once the server closed the connection that did not join', calm);
  await run.holds(ada, 'the calm welcome screen after the server closed the connection', calm, CALM_MS);
  run.expect(ada.handshakes === opened, 'ada (desktop): reconnected on its welcome screen (' +
    (ada.handshakes - opened) + ' new connections after the server closed the one that did not join)');
  run.expect(/already using/i.test((await run.state(ada)).joinError), 'ada (desktop): the refusal is no longer shown');

  run.expect(/WebSocket/.test((await run.join(ada, 'ada')).statusDetail), 'ada (desktop) did not connect over WebSocket');
  await run.chattersAre(poll, ['ada', 'poll']);
  await run.chattersAre(ada, ['ada', 'poll']);
  await run.say(ada, 'Back from the welcome screen.');
  await run.sees(poll, 'ada', 'Back from the welcome screen.');

  // The same over long-polling: the page does not tell the server about a session the server
  // has already ended (that request would fail, and show as a console error).
  const late = await run.open('late (phone, no WebSocket)', 'phone', { noWebSocket: true });
  await run.until(late, 'focus in the nickname box', (s) => s.focused === 'nick_input');
  await late.keyboard.type('ADA');
  await late.keyboard.press('Enter');
  await run.until(late, 'a line saying the nickname is taken', (s) => /already using/i.test(s.joinError) && s.status === 'connected');
  const lateOpened = late.handshakes;
  await run.until(late, 'calm again once the server closed the long-polling session that did not join', calm);
  await run.holds(late, 'the calm welcome screen after the server closed the long-polling session', calm, CALM_MS);
  run.expect(late.handshakes === lateOpened, 'late (phone, no WebSocket): reconnected on its welcome screen');
}

/**
 * The topic of the room "games", which the server has when the rooms scenario starts (see
 * e2e/browser_test.go).
 */
const GAMES_TOPIC = 'Board games on Friday, video games any time';

/** The names in a page's room list, in order. */
function roomList(state) {
  return state.rooms.map((r) => r.name).join(' ');
}

/** The unread count a page's room list shows for room. */
function unreadIn(state, room) {
  const r = state.rooms.find((x) => x.name === room);
  return r ? r.unread : -1;
}

/** Shows room by following its link in the page's room list, and waits until it is on screen. */
async function enter(run, page, room) {
  await page.click('#rooms li[data-room="' + room + '"] a');
  const s = await run.until(page, 'room ' + room + ' on screen', (st) => st.room === room &&
    st.rooms.some((r) => r.name === room && r.current) && st.hash === '#' + room);
  await page.focus('#chat_input');
  return s;
}

/** The Engine.IO namespaces a page connected to ("/" and "/games", say), from what it sent. */
function namespacesConnected(page) {
  const found = new Set();
  for (const packet of sentPackets(page)) {
    const m = /^40(\/[^,]*)?,?(\{|$)/.exec(packet);
    if (m) found.add(m[1] || '/');
  }
  return Array.from(found).sort();
}

/**
 * Joins room nsp as name on a connection of its own, opened by page with the Socket.IO client it
 * loaded (not the page's own chat). Returns the join's ack.
 */
async function joinElsewhere(page, nsp, name) {
  return page.evaluate(({ nsp, name }) => new Promise((resolve) => {
    const socket = window.io(nsp, { forceNew: true });
    socket.on('connect', () => socket.emit('join', name, resolve));
    socket.on('connect_error', (err) => resolve({ error: err.message }));
  }), { nsp, name });
}

/** Where the room strip of a phone sits and whether a thumb can use it. */
async function roomStrip(page) {
  return page.evaluate(() => {
    const list = document.getElementById('rooms');
    const box = list.getBoundingClientRect();
    return {
      shown: box.width > 0 && box.height > 0 && getComputedStyle(list).visibility === 'visible',
      top: box.top,
      bottom: box.bottom,
      scrolls: getComputedStyle(list).overflowX,
      links: Array.from(list.querySelectorAll('a')).map((a) => {
        const r = a.getBoundingClientRect();
        return { name: a.textContent, height: r.height, width: r.width, left: r.left };
      }),
      viewport: { width: innerWidth, height: innerHeight }
    };
  });
}

/**
 * Two people, one in the default room on a laptop and one who opens /#games on a phone. Each
 * room has its own messages and chatters, but one connection carries them all; a message in a
 * room not on screen counts in that room's entry of the list and in the tab's title; the URL's
 * hash follows the room; an unknown room falls back to general; rooms added and removed by the
 * operator appear and go while the pages are open; a reload and a server restart take every seat
 * back; the room strip on the phone can be reached and tapped.
 */
async function rooms(run) {
  const ada = await run.open('ada (desktop)', 'desktop');
  await run.join(ada, 'ada');
  let s = await run.until(ada, 'the room list "general games"', (st) => roomList(st) === 'general games');
  run.expect(s.room === 'general' && s.rooms[0].current && s.topic === '' && s.hash === '',
    'ada (desktop) is not in general with a plain URL: ' + JSON.stringify(s));
  await run.say(ada, 'Morning! Anyone for lunch at noon?');

  // Opening /#games directly lands in games; the default room is joined too, on the same connection.
  const bob = await run.open('bob (phone)', 'phone', { hash: '#games' });
  await run.join(bob, 'bob');
  s = await run.until(bob, 'games on screen with its topic', (st) => st.room === 'games' && st.topic === GAMES_TOPIC &&
    roomList(st) === 'general games' && st.rooms[1].current && st.hash === '#games');
  run.expect(s.messages.length === 0, 'bob (phone) shows messages of another room in games: ' + JSON.stringify(transcript(s)));
  await run.chattersAre(bob, ['bob']);
  await run.chattersAre(ada, ['ada', 'bob']);
  run.expect(bob.handshakes === 1, 'bob (phone) opened ' + bob.handshakes + ' connections for two rooms');
  run.expect(namespacesConnected(bob).join(' ') === '/ /games', 'bob (phone) connected to ' + JSON.stringify(namespacesConnected(bob)));

  // A message in a room not on screen counts in the list and in the title.
  await run.say(bob, 'Who is in for Catan on Friday?');
  await run.say(ada, 'Lunch is at the Thai place.');
  s = await run.until(bob, 'an unread count of 1 on general and "(1) Chat"', (st) => unreadIn(st, 'general') === 1 && st.title === '(1) Chat');
  run.expect(transcript(s).join('\n') === 'bob: Who is in for Catan on Friday?', 'bob (phone) shows in games: ' + JSON.stringify(transcript(s)));
  run.expect(unreadIn(s, 'games') === 0, 'bob (phone) counts its own room as unread: ' + JSON.stringify(s.rooms));
  await run.screenshot(bob, 'phone-rooms-unread');

  // Switching shows each room's own history and chatters, and clears its count.
  s = await enter(run, bob, 'general');
  run.expect(transcript(s).join('\n') === ['ada: Morning! Anyone for lunch at noon?', 'ada: Lunch is at the Thai place.'].join('\n'),
    'bob (phone) shows in general: ' + JSON.stringify(transcript(s)));
  await run.chattersAre(bob, ['ada', 'bob']);
  await run.until(bob, 'no unread count left', (st) => unreadIn(st, 'general') === 0 && st.title === 'Chat');

  s = await enter(run, ada, 'games');
  await run.until(ada, 'joined games as ada', (st) => st.phase === 'chat' && st.me === 'ada' && st.chatters.indexOf('ada') >= 0);
  s = await run.until(ada, 'the history of games', (st) => transcript(st).join('\n') === 'bob: Who is in for Catan on Friday?');
  run.expect(s.topic === GAMES_TOPIC, 'ada (desktop) does not show the topic of games: ' + JSON.stringify(s.topic));
  await run.chattersAre(ada, ['ada', 'bob']);
  await run.say(ada, 'Count me in for Friday.');
  s = await run.until(bob, 'an unread count of 1 on games', (st) => unreadIn(st, 'games') === 1 && st.title === '(1) Chat');
  run.expect(transcript(s).every((line) => !/Friday/.test(line)), 'bob (phone) shows a message of games in general: ' + JSON.stringify(transcript(s)));
  await run.screenshot(ada, 'desktop-rooms');
  s = await enter(run, ada, 'general');
  run.expect(transcript(s).join('\n') === ['ada: Morning! Anyone for lunch at noon?', 'ada: Lunch is at the Thai place.'].join('\n'),
    'ada (desktop) shows in general: ' + JSON.stringify(transcript(s)));
  run.expect(ada.handshakes === 1, 'ada (desktop) opened ' + ada.handshakes + ' connections');

  // Back and forward move between rooms, as the hash does.
  await ada.goBack();
  await run.until(ada, 'games again after Back', (st) => st.room === 'games' && st.hash === '#games' && transcript(st).length === 2);
  await ada.goForward();
  await run.until(ada, 'general again after Forward', (st) => st.room === 'general' && st.hash === '#general');

  // An unknown room falls back to general with a short notice.
  await ada.evaluate(() => { location.hash = '#no-such-room'; });
  s = await run.until(ada, 'general with a notice about the unknown room', (st) => st.room === 'general' && /no-such-room/.test(st.notice));
  run.expect(roomList(s) === 'general games', 'ada (desktop) lists an unknown room: ' + JSON.stringify(s.rooms));

  // A nickname taken in one room only: the page asks for another one there, with the usual
  // line, and keeps the person's nickname everywhere else. This page has no WebSocket: its
  // rooms share one long-polling session.
  const cat = await run.open('cat (desktop, no WebSocket)', 'desktop', { noWebSocket: true });
  const other = await joinElsewhere(cat, '/games', 'cat');
  run.expect(other && other.ok, 'another "cat" could not join games: ' + JSON.stringify(other));
  await run.join(cat, 'cat');
  await enter(run, cat, 'games');
  s = await run.until(cat, 'a line saying the nickname is taken in games', (st) => st.phase === 'join' &&
    /already using/i.test(st.joinError) && st.me === '');
  await run.screenshot(cat, 'desktop-room-nickname-taken');
  await run.join(cat, 'kitty');
  await run.chattersAre(cat, ['ada', 'bob', 'cat', 'kitty']);
  s = await enter(run, cat, 'general');
  run.expect(s.me === 'cat' && s.phase === 'chat' && /long-polling/.test(s.statusDetail),
    'cat (desktop, no WebSocket) is not cat in general over long-polling: ' + JSON.stringify(s));
  run.expect(cat.handshakes === 2, 'cat (desktop, no WebSocket) opened ' + cat.handshakes +
    ' connections, not one for its rooms and one for the other cat');
  // Closing its browser closes the connections too: a long-polling page closed between two
  // GETs leaves its session to the server's heartbeat while the browser keeps the connection.
  await cat.context().close();
  await run.chattersAre(ada, ['ada', 'bob']);

  // A link to a room that does not exist leads to general, with a notice.
  const dan = await run.open('dan (phone)', 'phone', { hash: '#nowhere' });
  await run.join(dan, 'dan');
  s = await run.until(dan, 'general with a notice about "nowhere"', (st) => st.room === 'general' &&
    st.hash === '#general' && /nowhere/.test(st.notice) && roomList(st) === 'general games');
  await dan.context().close();

  // A room the operator adds while the pages are open appears in both lists at once.
  await run.ask('room', ['add', 'music', '--topic', 'Records, gigs and practice rooms']);
  for (const page of [ada, bob]) await run.until(page, 'music in the room list', (st) => roomList(st) === 'general games music');

  // The phone's room strip is on screen and each room can be tapped.
  const strip = await roomStrip(bob);
  run.expect(strip.shown && strip.top >= 0 && strip.bottom < strip.viewport.height / 3,
    'bob (phone): the room list is not near the top of the screen: ' + JSON.stringify(strip));
  run.expect(strip.links.length === 3 && strip.links.every((l) => l.height >= 28 && l.width >= 44),
    'bob (phone): the rooms are not all big enough to tap: ' + JSON.stringify(strip.links));
  run.expect(strip.links.every((l) => l.left < strip.viewport.width) || strip.scrolls === 'auto',
    'bob (phone): rooms lie off screen and the list does not scroll: ' + JSON.stringify(strip));
  await bob.tap('#rooms li[data-room="music"] a');
  s = await run.until(bob, 'joined music by a tap', (st) => st.room === 'music' && st.phase === 'chat' && st.me === 'bob' &&
    st.topic === 'Records, gigs and practice rooms' && st.hash === '#music');
  await run.screenshot(bob, 'phone-rooms');

  // A reload takes every seat back, in the room of the URL, without showing a message twice.
  await bob.reload({ waitUntil: 'load' });
  s = await run.until(bob, 'back in music after a reload', (st) => st.status === 'connected' && st.room === 'music' &&
    st.phase === 'chat' && st.me === 'bob' && roomList(st) === 'general games music');
  s = await enter(run, bob, 'games');
  await run.until(bob, 'back in games as bob, its history once', (st) => st.phase === 'chat' && st.me === 'bob' &&
    transcript(st).join('\n') === ['bob: Who is in for Catan on Friday?', 'ada: Count me in for Friday.'].join('\n'));
  await run.chattersAre(ada, ['ada', 'bob']);

  // A room removed while a page is in it: the page says so, drops it and goes to general. The
  // other rooms stay on the same connection.
  const connections = [ada.handshakes, bob.handshakes];
  await run.ask('room', ['remove', 'games']);
  s = await run.until(bob, 'back in general, games gone', (st) => st.room === 'general' && st.hash === '#general' &&
    roomList(st) === 'general music' && st.system.some((line) => /games/.test(line) && /removed|no longer/.test(line)));
  await run.until(ada, 'games gone from the list', (st) => roomList(st) === 'general music');
  await run.say(bob, 'Games is gone, see you in music.');
  await run.sees(ada, 'bob', 'Games is gone, see you in music.');
  run.expect(ada.handshakes === connections[0] && bob.handshakes === connections[1] &&
    (await run.state(ada)).status === 'connected' && (await run.state(bob)).status === 'connected',
  'the removal of games cost a connection: ' + JSON.stringify([connections, [ada.handshakes, bob.handshakes]]));
  await run.screenshot(bob, 'phone-room-removed');

  // After a server restart both pages reconnect every room they are in, each with its token.
  await enter(run, ada, 'music');
  await run.until(ada, 'joined music as ada', (st) => st.phase === 'chat' && st.me === 'ada');
  run.outage = true;
  await run.ask('stop');
  await run.until(ada, 'the lost connection shown', (st) => st.status === 'reconnecting');
  await run.ask('start');
  for (const page of [ada, bob]) {
    await run.until(page, 'reconnected', (st) => st.status === 'connected' && st.phase === 'chat', RECONNECT_MS);
  }
  run.outage = false;
  await run.chattersAre(ada, ['ada', 'bob']);
  await run.say(ada, 'Still here after the restart.');
  await enter(run, bob, 'music');
  await run.sees(bob, 'ada', 'Still here after the restart.');
  await run.chattersAre(bob, ['ada', 'bob']);
}

module.exports = { chat, markup, polling, restart, blip, restartRecovery, crowd, busyAddress, welcome, rooms };
