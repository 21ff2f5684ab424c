/*
 * chatserver page logic. Plain JavaScript, no framework; all text goes in through textContent.
 *
 * Contract with the server (namespace "/"):
 *   emit  join (nickname, {token}, ack)   ack: {ok, name, token} | {error, message}
 *   emit  messages (text, ack)            ack: {ok, id} | {error, message}
 *   on    messages ("nick: text", {id, name, text, time})   new messages and the history replay
 *   on    add chatter (name) / remove chatter (name) / kicked ({reason}) / chat error ({code, message})
 * Servers that never answer acks (the classic Node app) still work: a missing join ack counts as
 * joined, and messages without the object argument are read from "nick: text".
 *
 * The page connects when it needs to: when the person joins, or at once when a reloaded tab takes
 * its seat back. A page on its welcome screen holds no connection, and one the server closes
 * before it joined is not reconnected.
 */
(function () {
  'use strict';

  /** Longest nickname and message the server accepts; mirrored by maxlength in index.html. */
  var MAX_NICK = 32;
  var MAX_MESSAGE = 2000;
  /** Remaining characters are shown once a message gets this close to MAX_MESSAGE. */
  var COUNT_FROM = 1800;
  /** How long to wait for a message ack once the request is on the wire before calling it lost. */
  var ACK_TIMEOUT_MS = 8000;
  /**
   * How long to wait for the join ack. Servers without join acks (the classic app) are taken to
   * have accepted the name when it runs out, so it is kept short.
   */
  var JOIN_ACK_TIMEOUT_MS = 4000;
  /** Messages from the same person closer than this share one header. */
  var GROUP_WINDOW_MS = 5 * 60 * 1000;
  /** Distance from the bottom (px) within which new messages keep the view pinned to the end. */
  var STICKY_PX = 80;
  /**
   * After a reconnect, others reconnect too, a little later. Chatters we saw before who come back
   * within this time are not announced as leaving and joining again.
   */
  var RETURN_GRACE_MS = 15000;
  /** Memory of message ids seen, to drop the history replayed after each reconnect. */
  var MAX_SEEN_IDS = 5000;
  /**
   * A run of "joined" and "left" lines, each less than PRESENCE_GAP_MS after the one before and
   * with nothing else between them, shows at most PRESENCE_BURST of them; beyond that the run
   * becomes one line that counts them ("5 people joined, 3 left"), so a crowd arriving at once
   * or a flood of renames does not bury the conversation.
   */
  var PRESENCE_BURST = 3;
  var PRESENCE_GAP_MS = 1000;
  /**
   * The server refuses joins that come too fast (rate_limited), for instance when many people
   * behind one address reconnect at once. The join that follows a connect is tried again after
   * this long, plus up to as much again at random so that they do not all come back together.
   */
  var JOIN_RETRY_MS = 3000;

  var NICK_KEY = 'chat.nickname';   // localStorage: last nickname, prefilled next time
  var SESSION_KEY = 'chat.session'; // sessionStorage: {name, token} of this tab's membership

  var BASE_TITLE = document.title;

  var el = {
    app: byId('app'),
    status: byId('status'),
    reconnect: byId('reconnect_button'),
    meButton: byId('me_button'),
    meAvatar: byId('me_avatar'),
    meName: byId('me_name'),
    chatters: byId('chatters'),
    chatterCount: byId('chatter_count'),
    messages: byId('messages'),
    jump: byId('jump_button'),
    joinForm: byId('join_form'),
    joinTitle: byId('join_title'),
    nickInput: byId('nick_input'),
    joinButton: byId('join_button'),
    joinCancel: byId('join_cancel'),
    joinError: byId('join_error'),
    chatForm: byId('chat_form'),
    chatInput: byId('chat_input'),
    charCount: byId('char_count')
  };

  var state = {
    me: null,            // nickname the server confirmed for us, or null when not in the room
    wanted: null,        // nickname to (re-)join with on every connect, or null
    token: null,         // resume token from the last join ack
    joinSeq: 0,          // increments per join request, so stale acks are ignored
    replaying: false,    // between a connection's join and its ack: history and presence replay
    joinedOnce: false,   // this connection has completed a join (a later join is a rename)
    previousChatters: null, // chatter names before a reconnect, to tell who came and went
    returning: new Set(), // of those, the ones not back yet (see RETURN_GRACE_MS)
    graceTimer: null,
    seen: new Set(),     // ids of messages shown
    chatters: new Map(), // name -> li
    unread: 0,
    last: null,          // {name, time, li} of the last message item, for grouping
    lastDay: null,       // day key of the last day separator
    presenceRun: null,   // {at, joined, left, lines, summary} of the latest run of joined/left lines
    countdown: null      // interval id of the "reconnecting in N s" countdown
  };

  var socket = io({ autoConnect: false });

  // ------------------------------------------------------------------------------------------
  // Helpers

  function byId(id) {
    return document.getElementById(id);
  }

  function make(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function pad2(n) {
    return n < 10 ? '0' + n : String(n);
  }

  function clock(date) {
    return pad2(date.getHours()) + ':' + pad2(date.getMinutes());
  }

  function dayKey(date) {
    return date.getFullYear() + '-' + date.getMonth() + '-' + date.getDate();
  }

  function dayLabel(date) {
    var today = new Date();
    var yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
    if (dayKey(date) === dayKey(today)) return 'Today';
    if (dayKey(date) === dayKey(yesterday)) return 'Yesterday';
    var opts = { weekday: 'long', month: 'long', day: 'numeric' };
    if (date.getFullYear() !== today.getFullYear()) opts.year = 'numeric';
    return date.toLocaleDateString(undefined, opts);
  }

  function timeElement(date, className) {
    var t = make('time', className, clock(date));
    t.dateTime = date.toISOString();
    t.title = date.toLocaleString();
    return t;
  }

  /** A stable color slot (hue-0..hue-7) for a name. */
  function hueClass(name) {
    var h = 0;
    for (var i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) | 0;
    return 'hue-' + (Math.abs(h) % 8);
  }

  function initial(name) {
    var first = Array.from(name.trim())[0];
    return first || '?';
  }

  function avatar(name, small) {
    var a = make('span', 'avatar ' + (small ? 'avatar-small ' : '') + hueClass(name), initial(name));
    a.setAttribute('aria-hidden', 'true');
    return a;
  }

  function readJSON(storage, key) {
    try {
      return JSON.parse(storage.getItem(key) || 'null');
    } catch (err) {
      return null;
    }
  }

  function writeStorage(storage, key, value) {
    try {
      if (value === null) storage.removeItem(key);
      else storage.setItem(key, typeof value === 'string' ? value : JSON.stringify(value));
    } catch (err) {
      // Storage may be disabled (private mode); the page works without it.
    }
  }

  function readString(storage, key) {
    try {
      return storage.getItem(key) || '';
    } catch (err) {
      return '';
    }
  }

  // ------------------------------------------------------------------------------------------
  // Scrolling and unread count

  function nearBottom() {
    var m = el.messages;
    return m.scrollHeight - m.scrollTop - m.clientHeight < STICKY_PX;
  }

  function scrollToEnd() {
    el.messages.scrollTop = el.messages.scrollHeight;
    el.jump.hidden = true;
  }

  /** Appends an item, keeping the view at the end if it was there. */
  function append(li, fromOthers) {
    var stick = nearBottom();
    el.messages.appendChild(li);
    if (stick || !fromOthers) scrollToEnd();
    else el.jump.hidden = false;
  }

  function updateTitle() {
    document.title = state.unread > 0 ? '(' + state.unread + ') ' + BASE_TITLE : BASE_TITLE;
  }

  function clearUnread() {
    if (state.unread === 0) return;
    state.unread = 0;
    updateTitle();
  }

  // ------------------------------------------------------------------------------------------
  // Message list

  function addDaySeparator(date) {
    var key = dayKey(date);
    if (state.lastDay === key) return;
    state.lastDay = key;
    var li = make('li', 'day', dayLabel(date));
    li.setAttribute('role', 'separator');
    el.messages.appendChild(li);
    state.last = null;
  }

  /** Adds a centered system line (joins, leaves, problems). */
  function addSystem(text, kind) {
    var now = new Date();
    addDaySeparator(now);
    var li = make('li', 'sys' + (kind ? ' ' + kind : ''));
    li.appendChild(make('span', 'sys-text', text));
    li.appendChild(timeElement(now, 'sys-time'));
    state.last = null;
    append(li, true);
    return li;
  }

  /** The text of a collapsed run of presence lines: "5 people joined, 3 left". */
  function presenceSummary(joined, left) {
    var people = function (n) { return n + (n === 1 ? ' person' : ' people'); };
    if (joined === 0) return people(left) + ' left';
    return people(joined) + ' joined' + (left > 0 ? ', ' + left + ' left' : '');
  }

  /** Shows that name joined (or left), collapsing runs of such lines (see PRESENCE_BURST). */
  function announcePresence(name, joinedRoom) {
    var now = Date.now();
    var run = state.presenceRun;
    var tail = run && (run.summary || run.lines[run.lines.length - 1]);
    if (!tail || now - run.at >= PRESENCE_GAP_MS || el.messages.lastElementChild !== tail) {
      run = state.presenceRun = { at: now, joined: 0, left: 0, lines: [], summary: null };
    }
    run.at = now;
    if (joinedRoom) run.joined += 1;
    else run.left += 1;
    if (!run.summary && run.lines.length < PRESENCE_BURST) {
      run.lines.push(addSystem(name + (joinedRoom ? ' joined' : ' left')));
      return;
    }
    if (!run.summary) {
      run.lines.forEach(function (li) { li.remove(); });
      run.lines = [];
      run.summary = addSystem('');
    }
    run.summary.querySelector('.sys-text').textContent = presenceSummary(run.joined, run.left);
  }

  /** Builds a message item; own messages sit on the right, consecutive ones are grouped. */
  function buildMessage(msg, own) {
    var li = make('li', 'msg' + (own ? ' own' : ''));
    li.dataset.name = msg.name;
    if (msg.id !== null) li.dataset.id = String(msg.id);
    var last = state.last;
    var grouped = last && last.name === msg.name && last.li.parentNode === el.messages &&
      el.messages.lastElementChild === last.li &&
      msg.time - last.time >= 0 && msg.time - last.time < GROUP_WINDOW_MS;
    if (grouped) li.classList.add('cont');

    li.appendChild(avatar(msg.name));
    var body = make('div', 'msg-body');
    var meta = make('div', 'msg-meta' + (own || grouped ? ' visually-hidden' : ''));
    meta.appendChild(make('span', 'msg-name', own ? msg.name + ' (you)' : msg.name));
    body.appendChild(meta);
    var bubble = make('div', 'bubble');
    bubble.appendChild(make('span', 'msg-text', msg.text));
    bubble.appendChild(timeElement(msg.time, 'msg-time'));
    body.appendChild(bubble);
    li.appendChild(body);
    return li;
  }

  function showMessage(msg) {
    addDaySeparator(msg.time);
    var mine = state.me || (state.replaying ? state.wanted : null);
    var own = mine !== null && msg.name === mine;
    var li = buildMessage(msg, own);
    state.last = { name: msg.name, time: msg.time, li: li };
    append(li, !own);
    return li;
  }

  function rememberId(id) {
    state.seen.add(id);
    if (state.seen.size > MAX_SEEN_IDS) state.seen.delete(state.seen.values().next().value);
  }

  /** Normalises a server `messages` event; null when it is not a chat message (e.g. a greeting). */
  function parseIncoming(line, meta) {
    if (typeof line !== 'string') return null;
    if (meta && typeof meta === 'object' && typeof meta.text === 'string' && typeof meta.name === 'string') {
      var time = new Date(meta.time);
      return {
        id: meta.id === undefined || meta.id === null ? null : String(meta.id),
        name: meta.name,
        text: meta.text,
        time: isNaN(time.getTime()) ? new Date() : time
      };
    }
    // Classic servers send only "nick: text".
    var cut = line.indexOf(': ');
    return {
      id: null,
      name: cut > 0 ? line.slice(0, cut) : '',
      text: cut > 0 ? line.slice(cut + 2) : line,
      time: new Date()
    };
  }

  function onMessage(line, meta) {
    var msg = parseIncoming(line, meta);
    if (!msg) return;
    if (msg.id !== null) {
      if (state.seen.has(msg.id)) return; // replayed history we already show
      rememberId(msg.id);
    }
    if (state.me !== null && msg.name === state.me) settleOwnEcho(msg.text);
    showMessage(msg);
    var fromOthers = msg.name !== state.me;
    if (document.hidden && fromOthers && !(state.replaying && state.me === null)) {
      state.unread += 1;
      updateTitle();
    }
  }

  // ------------------------------------------------------------------------------------------
  // Sending, with a visible pending state

  /** The oldest own pending or failed item with this text is replaced by the server's copy. */
  function settleOwnEcho(text) {
    var items = el.messages.querySelectorAll('li.msg.own.pending, li.msg.own.failed');
    for (var i = 0; i < items.length; i++) {
      if (items[i].dataset.text === text) {
        removeItem(items[i]);
        return;
      }
    }
  }

  function removeItem(li) {
    if (state.last && state.last.li === li) state.last = null;
    li.remove();
  }

  function setProblem(li, text) {
    var old = li.querySelector('.msg-problem');
    if (old) old.remove();
    li.classList.remove('pending');
    li.classList.add('failed');
    li.querySelector('.msg-time').textContent = 'Not sent';
    var problem = make('div', 'msg-problem');
    problem.appendChild(make('span', '', text));
    var retry = make('button', 'link-button', 'Retry');
    retry.type = 'button';
    retry.addEventListener('click', function () {
      problem.remove();
      send(li);
    });
    problem.appendChild(retry);
    li.querySelector('.msg-body').appendChild(problem);
  }

  function send(li) {
    var text = li.dataset.text;
    li.classList.remove('failed');
    li.classList.add('pending');
    li.querySelector('.msg-time').textContent = 'Sending…';
    socket.timeout(ACK_TIMEOUT_MS).emit('messages', text, function (err, reply) {
      if (!li.isConnected || !li.classList.contains('pending')) return; // the echo came first
      if (err) {
        setProblem(li, socket.connected ? 'No answer from the server.' : 'Connection lost.');
        return;
      }
      if (reply && reply.ok) {
        var id = reply.id === undefined || reply.id === null ? null : String(reply.id);
        if (id !== null && state.seen.has(id)) {
          removeItem(li);
          return;
        }
        if (id !== null) {
          rememberId(id);
          li.dataset.id = id;
        }
        li.classList.remove('pending');
        var now = new Date();
        var t = li.querySelector('.msg-time');
        t.textContent = clock(now);
        t.dateTime = now.toISOString();
        return;
      }
      setProblem(li, (reply && reply.message) || 'The server refused this message.');
    });
  }

  function submitMessage() {
    var text = el.chatInput.value.trim();
    if (!text) return;
    if (Array.from(text).length > MAX_MESSAGE) {
      updateCount();
      return;
    }
    var now = new Date();
    addDaySeparator(now);
    var li = buildMessage({ id: null, name: state.me || state.wanted || '', text: text, time: now }, true);
    li.dataset.text = text;
    state.last = { name: li.dataset.name, time: now, li: li };
    append(li, false);
    send(li);
    el.chatInput.value = '';
    autosize();
    updateCount();
  }

  function autosize() {
    var box = el.chatInput;
    box.style.height = 'auto';
    box.style.height = Math.min(box.scrollHeight + 2, 168) + 'px';
  }

  function updateCount() {
    var length = Array.from(el.chatInput.value).length;
    el.charCount.textContent = length >= COUNT_FROM ? (MAX_MESSAGE - length) + ' left' : '';
    el.charCount.classList.toggle('over', length > MAX_MESSAGE);
  }

  // ------------------------------------------------------------------------------------------
  // Chatters

  function renderCount() {
    el.chatterCount.textContent = String(state.chatters.size);
  }

  function addChatter(name, announce) {
    if (typeof name !== 'string' || state.chatters.has(name)) return;
    if (state.returning.delete(name)) announce = false; // back after the same outage as ours
    var li = make('li', 'chatter');
    li.dataset.name = name;
    li.appendChild(avatar(name, true));
    li.appendChild(make('span', 'chatter-name', name));
    if (name === state.me) li.appendChild(make('span', 'you-tag', 'you'));
    var before = Array.from(el.chatters.children).find(function (other) {
      return other.dataset.name.localeCompare(name, undefined, { sensitivity: 'base' }) > 0;
    });
    el.chatters.insertBefore(li, before || null);
    state.chatters.set(name, li);
    renderCount();
    if (announce && name !== state.me) announcePresence(name, true);
  }

  function removeChatter(name, announce) {
    var li = state.chatters.get(name);
    if (!li) return;
    li.remove();
    state.chatters.delete(name);
    renderCount();
    if (announce && name !== state.me) announcePresence(name, false);
  }

  function resetChatters() {
    state.chatters.forEach(function (li) { li.remove(); });
    state.chatters.clear();
    renderCount();
  }

  /**
   * After a reconnect, tell who arrived while we were away, and, once the others had time to
   * reconnect as well, who is gone.
   */
  function announceChatterChanges() {
    var before = state.previousChatters;
    state.previousChatters = null;
    if (!before) return;
    state.chatters.forEach(function (li, name) {
      if (!before.has(name) && name !== state.me) announcePresence(name, true);
    });
    clearTimeout(state.graceTimer);
    state.returning = new Set();
    before.forEach(function (name) {
      if (!state.chatters.has(name) && name !== state.me) state.returning.add(name);
    });
    if (state.returning.size === 0) return;
    state.graceTimer = setTimeout(function () {
      state.graceTimer = null;
      var gone = state.returning;
      state.returning = new Set();
      if (!socket.connected) return; // we are away again; the next reconnect compares afresh
      gone.forEach(function (name) {
        if (!state.chatters.has(name)) announcePresence(name, false);
      });
    }, RETURN_GRACE_MS);
  }

  // ------------------------------------------------------------------------------------------
  // Joining

  function setPhase(phase) {
    var stick = nearBottom();
    el.app.dataset.phase = phase;
    el.joinTitle.textContent = phase === 'welcome' ? 'Join the conversation'
      : state.me ? 'Change your nickname' : 'Choose a nickname to rejoin';
    el.joinCancel.hidden = !(phase === 'join' && state.me);
    setJoining(el.joinButton.disabled);
    if (stick) scrollToEnd(); // the docked form or composer changed the list's height
  }

  function setJoining(busy) {
    el.joinButton.disabled = busy;
    el.joinButton.textContent = busy ? (state.me ? 'Saving…' : 'Joining…') : (state.me ? 'Save' : 'Join');
  }

  function showMe() {
    el.meButton.hidden = !state.me;
    if (!state.me) return;
    el.meName.textContent = state.me;
    el.meAvatar.className = 'avatar avatar-small ' + hueClass(state.me);
    el.meAvatar.textContent = initial(state.me);
  }

  /**
   * Sends join. fresh=true for the join that follows a (re)connect: its replay of history and
   * presence is not announced line by line.
   */
  function join(name, fresh) {
    var seq = ++state.joinSeq;
    state.wanted = name;
    if (fresh) {
      state.replaying = true;
      if (state.chatters.size > 0 && state.previousChatters === null) {
        state.previousChatters = new Set(Array.from(state.chatters.keys()).concat(Array.from(state.returning)));
      }
      resetChatters();
    }
    setJoining(true);
    el.joinError.textContent = '';
    var auth = state.token ? { token: state.token } : {};
    socket.timeout(JOIN_ACK_TIMEOUT_MS).emit('join', name, auth, function (err, reply) {
      if (seq !== state.joinSeq) return;
      state.replaying = false;
      setJoining(false);
      if (err) {
        if (!socket.connected) return; // the next connect joins again
        // A server that does not answer join acks (the classic app) took the name as it was.
        joined(name, null, fresh);
        return;
      }
      if (reply && reply.ok) {
        joined(typeof reply.name === 'string' ? reply.name : name, reply.token, fresh);
      } else if (fresh && reply && reply.error === 'rate_limited') {
        // Too many joins just now: keep the nickname and its token, and try again shortly.
        setJoining(true);
        setTimeout(function () {
          if (seq === state.joinSeq && socket.connected) join(name, true);
        }, JOIN_RETRY_MS * (1 + Math.random()));
      } else {
        refused(reply || {}, fresh);
      }
    });
  }

  function joined(name, token, fresh) {
    var previous = state.me;
    state.me = name;
    state.wanted = name;
    if (typeof token === 'string' && token) state.token = token;
    state.joinedOnce = true;
    writeStorage(localStorage, NICK_KEY, name);
    writeStorage(sessionStorage, SESSION_KEY, { name: name, token: state.token });
    showMe();
    if (previous !== null && previous !== name) {
      // A rename: move ourselves in the list whatever the server tells the others.
      removeChatter(previous, false);
      addSystem('You are now ' + name);
    }
    if (!state.chatters.has(name)) addChatter(name, false);
    var mine = state.chatters.get(name);
    if (mine && !mine.querySelector('.you-tag')) mine.appendChild(make('span', 'you-tag', 'you'));
    if (fresh) announceChatterChanges();
    setPhase('chat');
    el.chatInput.focus();
  }

  /** A refused join: a fresh one leaves us outside the room, a refused rename keeps the old name. */
  function refused(reply, fresh) {
    var text = typeof reply.message === 'string' && reply.message ? reply.message : 'That nickname cannot be used.';
    if (reply.error === 'name_taken') text = 'Someone is already using that nickname. Please pick another one.';
    if (reply.error === 'banned') text = typeof reply.message === 'string' && reply.message ? reply.message : 'You are banned from this chat.';
    if (fresh || !state.me) {
      state.me = null;
      state.wanted = null;
      state.token = null;
      writeStorage(sessionStorage, SESSION_KEY, null);
      showMe();
    } else {
      state.wanted = state.me;
    }
    state.previousChatters = null;
    setPhase(el.messages.children.length > 0 || state.me ? 'join' : 'welcome');
    el.joinError.textContent = text;
    el.nickInput.focus();
    el.nickInput.select();
  }

  function submitJoin() {
    var name = el.nickInput.value.trim();
    if (!name) {
      el.joinError.textContent = 'Please enter a nickname.';
      el.nickInput.focus();
      return;
    }
    if (Array.from(name).length > MAX_NICK) {
      el.joinError.textContent = 'Nicknames can be at most ' + MAX_NICK + ' characters long.';
      return;
    }
    if (state.me && name === state.me) {
      setPhase('chat');
      return;
    }
    if (!state.me) state.token = null; // a token belongs to the name it came with
    if (!socket.connected) {
      // The connect handler joins with state.wanted.
      state.wanted = name;
      setJoining(true);
      el.joinError.textContent = '';
      if (!socket.active) {
        setStatus('connecting', 'Connecting…');
        socket.connect();
      }
      return;
    }
    join(name, !state.joinedOnce);
  }

  // ------------------------------------------------------------------------------------------
  // Connection status

  function stopCountdown() {
    if (state.countdown !== null) clearInterval(state.countdown);
    state.countdown = null;
  }

  /**
   * The page needs a connection only to be in the room or to get in: a person on the welcome
   * screen who has not asked to join yet holds none (the server closes connections that do not
   * join soon, see --pending-timeout).
   */
  function connectionNeeded() {
    return state.me !== null || state.wanted !== null;
  }

  /** The calm state of a page without a connection because it needs none yet. */
  function setIdle() {
    stopCountdown();
    setStatus('idle', 'Not connected', 'Connects when you join');
  }

  function setStatus(kind, text, detail) {
    el.status.dataset.state = kind;
    el.status.textContent = text;
    el.status.title = detail || '';
    el.app.classList.toggle('offline', kind !== 'connected');
    el.reconnect.hidden = kind !== 'disconnected';
  }

  socket.on('connect', function () {
    stopCountdown();
    var how = socket.transport === 'polling' ? 'long-polling' : 'WebSocket';
    setStatus('connected', 'Connected', 'Connected over ' + how);
    state.joinedOnce = false;
    if (state.wanted) join(state.wanted, true);
  });

  socket.on('disconnect', function (reason) {
    state.replaying = false;
    state.joinSeq += 1; // a join ack that can no longer come is not waited for
    setJoining(false);
    if (reason !== 'io client disconnect' && !connectionNeeded()) {
      // The server closed a connection that never got into the room (not joined in time, or
      // pushed out by newer ones): no reconnecting; the next join connects again.
      socket.disconnect();
      setIdle();
      return;
    }
    if (socket.active) setStatus('reconnecting', 'Reconnecting…', 'Connection lost (' + reason + ')');
    else setStatus('disconnected', 'Disconnected', reason);
  });

  socket.on('reconnecting', function (info) {
    stopCountdown();
    var until = Date.now() + info.delay;
    var render = function () {
      var left = Math.ceil((until - Date.now()) / 1000);
      setStatus('reconnecting', left > 0 ? 'Reconnecting in ' + left + ' s' : 'Reconnecting…');
    };
    render();
    state.countdown = setInterval(render, 1000);
  });

  socket.on('reconnect_attempt', function () {
    stopCountdown();
    setStatus('reconnecting', 'Reconnecting…');
  });

  socket.on('connect_error', function (err) {
    if (!socket.active) {
      stopCountdown();
      setStatus('disconnected', 'Disconnected', err && err.message);
      addSystem('The server refused the connection' + (err && err.message ? ': ' + err.message : '.'), 'error');
    }
  });

  // ------------------------------------------------------------------------------------------
  // Server events

  socket.on('messages', onMessage);

  socket.on('add chatter', function (name) {
    addChatter(name, !state.replaying);
  });

  socket.on('remove chatter', function (name) {
    removeChatter(name, !state.replaying);
  });

  socket.on('kicked', function (info) {
    var reason = info && typeof info.reason === 'string' && info.reason ? info.reason : '';
    addSystem('You were removed from the chat' + (reason ? ': ' + reason : '.'), 'error');
    state.wanted = null;
    state.token = null;
    state.me = null;
    writeStorage(sessionStorage, SESSION_KEY, null);
    showMe();
    resetChatters();
    socket.disconnect(); // no automatic way back in
    setPhase('join');
  });

  socket.on('chat error', function (info) {
    var text = info && typeof info.message === 'string' && info.message ? info.message
      : 'Something went wrong' + (info && info.code ? ' (' + info.code + ')' : '') + '.';
    addSystem(text, 'error');
  });

  // ------------------------------------------------------------------------------------------
  // Page events

  el.joinForm.addEventListener('submit', function (event) {
    event.preventDefault();
    submitJoin();
  });

  el.joinCancel.addEventListener('click', function () {
    el.joinError.textContent = '';
    setPhase('chat');
    el.chatInput.focus();
  });

  el.meButton.addEventListener('click', function () {
    el.nickInput.value = state.me || '';
    el.joinError.textContent = '';
    setPhase('join');
    el.nickInput.focus();
    el.nickInput.select();
  });

  el.reconnect.addEventListener('click', function () {
    setStatus('connecting', 'Connecting…');
    socket.connect();
  });

  el.chatForm.addEventListener('submit', function (event) {
    event.preventDefault();
    submitMessage();
  });

  el.chatInput.addEventListener('keydown', function (event) {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submitMessage();
    }
  });

  el.chatInput.addEventListener('input', function () {
    autosize();
    updateCount();
  });

  el.messages.addEventListener('scroll', function () {
    if (nearBottom()) el.jump.hidden = true;
  });

  el.jump.addEventListener('click', scrollToEnd);

  document.addEventListener('visibilitychange', function () {
    if (!document.hidden) clearUnread();
  });
  window.addEventListener('focus', clearUnread);

  // ------------------------------------------------------------------------------------------
  // Start

  el.nickInput.value = readString(localStorage, NICK_KEY);
  var session = readJSON(sessionStorage, SESSION_KEY);
  if (session && typeof session.name === 'string' && session.name) {
    // A reload of a tab that had joined: take the seat back with its token.
    state.wanted = session.name;
    state.token = typeof session.token === 'string' ? session.token : null;
    el.nickInput.value = session.name;
    setJoining(true);
  }
  setPhase('welcome');
  if (state.wanted) {
    setStatus('connecting', 'Connecting…');
    socket.connect();
  } else {
    setIdle(); // submitJoin connects
    el.nickInput.focus();
  }
})();
