/*
 * chatserver page logic. Plain JavaScript, no framework; all text goes in through textContent.
 *
 * Contract with the server, the same in every room (a room is a namespace: "/" is the default
 * room, "general"; any other room NAME is "/NAME"):
 *   emit  join (nickname, {token}, ack)   ack: {ok, name, token} | {error, message}
 *   emit  messages (text, ack)            ack: {ok, id} | {error, message}
 *   on    messages ("nick: text", {id, name, text, time})   new messages and the history replay
 *   on    add chatter (name) / remove chatter (name) / kicked ({reason}) / chat error ({code, message})
 * and on the default namespace only:
 *   emit  rooms (ack)                     ack: {ok, rooms: [{name, topic, namespace}]}, default first
 *   on    rooms ([{name, topic, namespace}])   pushed whenever a room is added or removed
 * Servers that never answer acks (the classic Node app) still work: a missing join ack counts as
 * joined, messages without the object argument are read from "nick: text", and without a room
 * list the page knows the default room only.
 *
 * Rooms: every room the person opens in a tab has its own socket on one shared connection and
 * stays joined, so its unread count keeps counting; the default room is always among them. The
 * URL's hash names the room on screen (#games; none, "#" or #general is the default room). Each
 * room is joined with the person's nickname unless it is taken there; then the page asks for
 * another one for that room only. The rooms and their {name, token} are kept in sessionStorage,
 * so a reload takes every seat back.
 *
 * The page connects when it needs to: when the person joins, or at once when a reloaded tab takes
 * its seats back. A page on its welcome screen holds no connection, and one the server closes
 * before it joined is not reconnected.
 *
 * A lost connection (a network blip, a server restart) is recovered when the server can: the
 * socket comes back with socket.recovered true, still joined, and the server sends the events
 * missed meanwhile as ordinary ones (each event's extra last argument, its offset, is the
 * client library's business). The room then just goes on: no join, no replay, no presence lines.
 * Otherwise each room is joined again with its token. A page that goes away for good (closed,
 * reloaded, navigated elsewhere, but not kept in the back-forward cache) leaves every room on
 * purpose, so that the others see it leave at once rather than after the server's grace.
 */
(function () {
  'use strict';

  /** Longest nickname and message the server accepts; mirrored by maxlength in index.html. */
  var MAX_NICK = 32;
  var MAX_MESSAGE = 2000;
  /** Remaining characters are shown once a message gets this close to MAX_MESSAGE. */
  var COUNT_FROM = 1800;
  /**
   * How long to wait for a message ack once the request is on the wire before calling it lost:
   * longer than the server paces a burst (at most 10 s), so a long paste is not shown as lost.
   */
  var ACK_TIMEOUT_MS = 15000;
  /**
   * How long to wait for the join ack. Servers without join acks (the classic app) are taken to
   * have accepted the name when it runs out, so it is kept short.
   */
  var JOIN_ACK_TIMEOUT_MS = 4000;
  /** How long to wait for the room list; servers without rooms never answer. */
  var ROOMS_ACK_TIMEOUT_MS = 8000;
  /** Messages from the same person closer than this share one header. */
  var GROUP_WINDOW_MS = 5 * 60 * 1000;
  /** Distance from the bottom (px) within which new messages keep the view pinned to the end. */
  var STICKY_PX = 80;
  /**
   * After a reconnect, others reconnect too, a little later. Chatters we saw before who come back
   * within this time are not announced as leaving and joining again.
   */
  var RETURN_GRACE_MS = 15000;
  /** Memory of message ids seen per room, to drop the history replayed after each reconnect. */
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
  /**
   * A kick is followed by the server's DISCONNECT for that room, and a room the room list no
   * longer names while the page is in it is being removed: its kick, with the operator's reason,
   * follows. The page waits this long for them before leaving by itself. (Leaving first would
   * race the server: a DISCONNECT for a namespace the server has already left ends the whole
   * connection, every room's.)
   */
  var SERVER_WAIT_MS = 3000;

  /** The room of namespace "/", and the rule for the names of the others. */
  var DEFAULT_ROOM = 'general';
  var ROOM_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;

  var NICK_KEY = 'chat.nickname';   // localStorage: last nickname, prefilled next time
  // sessionStorage: {nick, rooms: {room: {name, token}}}, this tab's nickname and seats (an older
  // page kept {name, token}, the seat in the default room)
  var SESSION_KEY = 'chat.session';

  var BASE_TITLE = document.title;

  var el = {
    app: byId('app'),
    status: byId('status'),
    reconnect: byId('reconnect_button'),
    meButton: byId('me_button'),
    meAvatar: byId('me_avatar'),
    meName: byId('me_name'),
    rooms: byId('rooms'),
    chatters: byId('chatters'),
    chatterCount: byId('chatter_count'),
    roomHead: byId('room_head'),
    roomName: byId('room_name'),
    roomTopic: byId('room_topic'),
    roomNotice: byId('room_notice'),
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

  /** One connection for every room; each room's socket is a namespace on it. */
  var manager = new io.Manager({ autoConnect: false });

  var page = {
    nick: null,          // the nickname rooms are joined with, unless taken there
    rooms: new Map(),    // name -> room (see makeRoom): the rooms opened in this tab
    current: null,       // the room on screen
    listed: null,        // [{name, topic}] from the server, or null until it answered
    items: new Map(),    // name -> li of the room list
    started: false,      // a room was joined in this page: the welcome screen is behind us
    countdown: null      // interval id of the "reconnecting in N s" countdown
  };

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

  function quoted(name) {
    return '\u201c' + name + '\u201d';
  }

  // ------------------------------------------------------------------------------------------
  // Rooms

  /**
   * A room opened in this tab: its socket, its own state and its own message and chatter lists.
   * Only the room on screen has its lists in the document; the default room's are the ones in
   * index.html, the others' are copies of them.
   */
  function makeRoom(name) {
    var isDefault = name === DEFAULT_ROOM;
    var room = {
      name: name,
      socket: manager.socket(isDefault ? '/' : '/' + name),
      topic: topicOf(name),
      me: null,            // nickname the server confirmed for us, or null when not in the room
      wanted: null,        // nickname to (re-)join with on every connect, or null
      token: null,         // resume token from the last join ack
      nickChoice: false,   // the join in flight sets the page's nickname (welcome or rename)
      joinSeq: 0,          // increments per join request, so stale acks are ignored
      replaying: false,    // between a connection's join and its ack: history and presence replay
      joinedOnce: false,   // this connection has completed a join (a later join is a rename)
      everJoined: false,   // joined at least once in this page
      previousChatters: null, // chatter names before a reconnect, to tell who came and went
      returning: new Set(), // of those, the ones not back yet (see RETURN_GRACE_MS)
      graceTimer: null,
      seen: new Set(),     // ids of messages shown
      chatters: new Map(), // name -> li
      unread: 0,
      last: null,          // {name, time, li} of the last message item, for grouping
      lastDay: null,       // day key of the last day separator
      presenceRun: null,   // {at, joined, left, lines, summary} of the latest run of joined/left lines
      phase: 'welcome',    // what the room shows: welcome, join or chat (see setPhase)
      joinError: '',
      busy: false,         // a join is in flight
      draft: '',           // the composer's text while another room is on screen
      list: isDefault ? el.messages : el.messages.cloneNode(false),
      people: isDefault ? el.chatters : el.chatters.cloneNode(false),
      stick: true,         // off screen: was at the end of its messages
      scrollTop: 0,
      jump: false,         // off screen: the "New messages" button was shown
      listed: false,       // a room list from the server named it
      removed: false,      // the room list dropped it: it is being removed
      kicked: false,       // kicked on this connection: its end is final
      kickReason: '',
      kickTimer: null,
      removalTimer: null
    };
    room.list.setAttribute('aria-label', 'Messages in ' + name);
    bindSocket(room);
    page.rooms.set(name, room);
    return room;
  }

  function defaultRoom() {
    return page.rooms.get(DEFAULT_ROOM);
  }

  function isCurrent(room) {
    return page.current === room;
  }

  function anyRoom(test) {
    return Array.from(page.rooms.values()).some(test);
  }

  /** The room a hash names: "" or "general" is the default room; null when it cannot name one. */
  function roomFromHash(hash) {
    var name;
    try {
      name = decodeURIComponent(hash.replace(/^#/, '')).trim().toLowerCase();
    } catch (err) {
      return null;
    }
    if (name === '') return DEFAULT_ROOM;
    return ROOM_NAME.test(name) ? name : null;
  }

  /** Puts the room's name in the URL without a new history entry (links and Back add those). */
  function setHash(name) {
    if (roomFromHash(location.hash) === name) return;
    try {
      history.replaceState(null, '', '#' + name);
    } catch (err) {
      // A sandboxed document may refuse; the room on screen is what counts.
    }
  }

  /** Writes every seat of this tab: the rooms joined, or being taken back with a token. */
  function saveSeats() {
    var rooms = {};
    page.rooms.forEach(function (room) {
      var name = room.me || (room.token ? room.wanted : null);
      if (name) rooms[room.name] = { name: name, token: room.token };
    });
    var empty = Object.keys(rooms).length === 0;
    writeStorage(sessionStorage, SESSION_KEY, empty && !page.nick ? null : { nick: page.nick, rooms: rooms });
  }

  /** The saved seats, {nick, rooms}; an older page's {name, token} is a seat in the default room. */
  function readSeats() {
    var saved = readJSON(sessionStorage, SESSION_KEY);
    if (!saved || typeof saved !== 'object') return { nick: null, rooms: {} };
    if (typeof saved.name === 'string') {
      var seat = {};
      seat[DEFAULT_ROOM] = { name: saved.name, token: typeof saved.token === 'string' ? saved.token : null };
      return { nick: saved.name, rooms: seat };
    }
    var rooms = {};
    if (saved.rooms && typeof saved.rooms === 'object') {
      Object.keys(saved.rooms).forEach(function (name) {
        var s = saved.rooms[name];
        if ((name === DEFAULT_ROOM || ROOM_NAME.test(name)) && s && typeof s.name === 'string' && s.name) {
          rooms[name] = { name: s.name, token: typeof s.token === 'string' ? s.token : null };
        }
      });
    }
    return { nick: typeof saved.nick === 'string' && saved.nick ? saved.nick : null, rooms: rooms };
  }

  /** The room list: the server's when it sent one (default room first), then rooms open beyond it. */
  function roomNames() {
    var names = page.listed ? page.listed.map(function (r) { return r.name; }) : [DEFAULT_ROOM];
    var extra = Array.from(page.rooms.keys()).filter(function (name) {
      return names.indexOf(name) < 0 && !page.rooms.get(name).removed;
    }).sort();
    return names.concat(extra);
  }

  function renderRooms() {
    var names = roomNames();
    page.items.forEach(function (li, name) {
      if (names.indexOf(name) < 0) {
        li.remove();
        page.items.delete(name);
      }
    });
    names.forEach(function (name) {
      var li = page.items.get(name);
      if (!li) {
        li = make('li', 'room');
        li.dataset.room = name;
        var link = make('a', 'room-link');
        link.href = '#' + name;
        var text = make('span', 'room-text');
        text.appendChild(make('span', 'room-name', name));
        text.appendChild(make('span', 'room-about'));
        link.appendChild(text);
        var badge = make('span', 'room-badge');
        badge.hidden = true;
        link.appendChild(badge);
        li.appendChild(link);
        page.items.set(name, li);
      }
      var room = page.rooms.get(name);
      var a = li.firstChild;
      var unread = room ? room.unread : 0;
      var badgeNode = a.lastChild;
      badgeNode.hidden = unread === 0;
      badgeNode.textContent = unread > 0 ? String(unread) : '';
      a.setAttribute('aria-label', name + (unread > 0 ? ', ' + unread + ' unread' : ''));
      a.title = topicOf(name);
      a.querySelector('.room-about').textContent = topicOf(name);
      if (page.current && page.current.name === name) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    });
    // Reorder only when needed: moving an item would take the focus off a link.
    var inOrder = el.rooms.children.length === names.length && names.every(function (name, i) {
      return el.rooms.children[i] === page.items.get(name);
    });
    if (!inOrder) names.forEach(function (name) { el.rooms.appendChild(page.items.get(name)); });
  }

  function topicOf(name) {
    var entry = page.listed && page.listed.find(function (r) { return r.name === name; });
    return entry ? entry.topic : '';
  }

  function renderHead() {
    var room = page.current;
    el.roomName.textContent = room.name;
    el.roomTopic.textContent = room.topic;
    el.roomHead.classList.toggle('quiet', !room.topic && !el.roomNotice.textContent);
  }

  /** A short line under the room's name, until another room is shown. */
  function showNotice(text) {
    el.roomNotice.textContent = text;
    renderHead();
  }

  /** Takes a room list from the server: new rooms appear, rooms gone from it are left. */
  function setRoomList(list) {
    if (!Array.isArray(list)) return;
    var rooms = [];
    list.forEach(function (r) {
      if (!r || typeof r.name !== 'string') return;
      if (r.name !== DEFAULT_ROOM && !ROOM_NAME.test(r.name)) return;
      if (rooms.some(function (o) { return o.name === r.name; })) return;
      rooms.push({ name: r.name, topic: typeof r.topic === 'string' ? r.topic : '' });
    });
    if (!rooms.some(function (r) { return r.name === DEFAULT_ROOM; })) rooms.unshift({ name: DEFAULT_ROOM, topic: '' });
    page.listed = rooms;
    page.rooms.forEach(function (room) {
      var entry = rooms.find(function (r) { return r.name === room.name; });
      if (entry) {
        room.topic = entry.topic;
        room.listed = true;
      } else if (room.listed) {
        roomGone(room);
      }
    });
    renderRooms();
    renderHead();
  }

  function requestRooms() {
    defaultRoom().socket.timeout(ROOMS_ACK_TIMEOUT_MS).emit('rooms', function (err, reply) {
      if (!err && reply && reply.ok) setRoomList(reply.rooms);
    });
  }

  /** The server's list dropped a room the page has open: it is being removed. */
  function roomGone(room) {
    if (room.removed) return;
    room.removed = true;
    if (!room.socket.connected) {
      dropRoom(room, removedLine(room));
      return;
    }
    // Its kick, with the reason, is on its way.
    room.removalTimer = setTimeout(function () { dropRoom(room, removedLine(room)); }, SERVER_WAIT_MS);
  }

  function removedLine(room) {
    if (room.kickReason) return 'You are no longer in ' + quoted(room.name) + ': ' + room.kickReason;
    return 'The room ' + quoted(room.name) + ' was removed.';
  }

  /**
   * Forgets a room: leaves it, takes it off the list and, if it was on screen, shows the
   * default room. line goes into the default room's messages, notice under its name.
   */
  function dropRoom(room, line, notice) {
    if (room.name === DEFAULT_ROOM || page.rooms.get(room.name) !== room) return;
    clearTimeout(room.removalTimer);
    clearTimeout(room.kickTimer);
    clearTimeout(room.graceTimer);
    page.rooms.delete(room.name);
    room.socket.off();
    // A room being removed is left by the server, which says so (see SERVER_WAIT_MS).
    if (!room.removed || !room.socket.connected) room.socket.disconnect();
    var general = defaultRoom();
    if (isCurrent(room)) {
      showRoom(general);
      setHash(DEFAULT_ROOM);
      // The focus went with the room's form or composer: back to the one on screen.
      var lost = !document.activeElement || document.activeElement === document.body;
      if (lost) (general.phase === 'chat' ? el.chatInput : el.nickInput).focus();
    }
    saveSeats();
    if (line) addSystem(general, line, 'error');
    if (notice) showNotice(notice);
    renderRooms();
    updateTitle();
  }

  /** Opens the room name in this tab; joins it at once when the person is in a room already. */
  function openRoom(name) {
    var room = makeRoom(name);
    if (page.started && page.nick) requestJoin(room, page.nick);
    return room;
  }

  /** Shows the room the URL names, opening it if needed; an unknown one falls back to general. */
  function followHash() {
    var name = roomFromHash(location.hash);
    var unknown = name === null || (page.listed !== null && name !== DEFAULT_ROOM &&
      !page.rooms.has(name) && !page.listed.some(function (r) { return r.name === name; }));
    if (unknown) {
      var asked = location.hash.replace(/^#/, '');
      showRoom(defaultRoom());
      setHash(DEFAULT_ROOM);
      showNotice('There is no room ' + quoted(safeDecode(asked)) + '; this is ' + DEFAULT_ROOM + '.');
      return;
    }
    showRoom(page.rooms.get(name) || openRoom(name));
    if (!page.started) {
      // Still on the welcome screen: the room the person will join is the one named now.
      page.rooms.forEach(function (room) {
        if (room !== page.current && room.name !== DEFAULT_ROOM && !room.wanted && !room.socket.active) dropRoom(room);
      });
    }
  }

  function safeDecode(text) {
    try {
      return decodeURIComponent(text);
    } catch (err) {
      return text;
    }
  }

  /** Puts room on screen: its lists, its phase, its join form, its nickname, its unread count. */
  function showRoom(room) {
    var old = page.current;
    if (old === room) return;
    if (old) {
      old.stick = nearBottom(old);
      old.scrollTop = old.list.scrollTop;
      old.jump = !el.jump.hidden;
      old.draft = el.chatInput.value;
    }
    var onScreen = old || defaultRoom(); // whose lists are in the document
    if (onScreen !== room) {
      onScreen.list.replaceWith(room.list);
      onScreen.people.replaceWith(room.people);
    }
    page.current = room;
    el.app.dataset.room = room.name;
    el.roomNotice.textContent = '';
    el.chatInput.value = room.draft;
    autosize();
    updateCount();
    el.nickInput.value = room.me || room.wanted || page.nick || el.nickInput.value;
    el.joinError.textContent = room.joinError;
    setPhase(room, room.phase);
    showMe();
    renderCount();
    renderHead();
    clearUnread(room);
    renderRooms();
    if (room.stick) {
      scrollToEnd(room);
    } else {
      room.list.scrollTop = room.scrollTop;
      el.jump.hidden = !room.jump;
    }
  }

  // ------------------------------------------------------------------------------------------
  // Scrolling and unread counts

  function nearBottom(room) {
    if (!isCurrent(room)) return room.stick;
    var m = room.list;
    return m.scrollHeight - m.scrollTop - m.clientHeight < STICKY_PX;
  }

  function scrollToEnd(room) {
    room.stick = true;
    room.jump = false;
    if (!isCurrent(room)) return;
    room.list.scrollTop = room.list.scrollHeight;
    el.jump.hidden = true;
  }

  /** Appends an item, keeping the view at the end if it was there. */
  function append(room, li, fromOthers) {
    var stick = nearBottom(room);
    room.list.appendChild(li);
    if (stick || !fromOthers) {
      scrollToEnd(room);
    } else {
      room.jump = true;
      if (isCurrent(room)) el.jump.hidden = false;
    }
  }

  function updateTitle() {
    var total = 0;
    page.rooms.forEach(function (room) { total += room.unread; });
    document.title = total > 0 ? '(' + total + ') ' + BASE_TITLE : BASE_TITLE;
  }

  function clearUnread(room) {
    if (!room || room.unread === 0) return;
    room.unread = 0;
    updateTitle();
    renderRooms();
  }

  // ------------------------------------------------------------------------------------------
  // Message list

  function addDaySeparator(room, date) {
    var key = dayKey(date);
    if (room.lastDay === key) return;
    room.lastDay = key;
    var li = make('li', 'day', dayLabel(date));
    li.setAttribute('role', 'separator');
    room.list.appendChild(li);
    room.last = null;
  }

  /** Adds a centered system line (joins, leaves, problems). */
  function addSystem(room, text, kind) {
    var now = new Date();
    addDaySeparator(room, now);
    var li = make('li', 'sys' + (kind ? ' ' + kind : ''));
    li.appendChild(make('span', 'sys-text', text));
    li.appendChild(timeElement(now, 'sys-time'));
    room.last = null;
    append(room, li, true);
    return li;
  }

  /** The text of a collapsed run of presence lines: "5 people joined, 3 left". */
  function presenceSummary(joined, left) {
    var people = function (n) { return n + (n === 1 ? ' person' : ' people'); };
    if (joined === 0) return people(left) + ' left';
    return people(joined) + ' joined' + (left > 0 ? ', ' + left + ' left' : '');
  }

  /** Shows that name joined (or left), collapsing runs of such lines (see PRESENCE_BURST). */
  function announcePresence(room, name, joinedRoom) {
    var now = Date.now();
    var run = room.presenceRun;
    var tail = run && (run.summary || run.lines[run.lines.length - 1]);
    if (!tail || now - run.at >= PRESENCE_GAP_MS || room.list.lastElementChild !== tail) {
      run = room.presenceRun = { at: now, joined: 0, left: 0, lines: [], summary: null };
    }
    run.at = now;
    if (joinedRoom) run.joined += 1;
    else run.left += 1;
    if (!run.summary && run.lines.length < PRESENCE_BURST) {
      run.lines.push(addSystem(room, name + (joinedRoom ? ' joined' : ' left')));
      return;
    }
    if (!run.summary) {
      run.lines.forEach(function (li) { li.remove(); });
      run.lines = [];
      run.summary = addSystem(room, '');
    }
    run.summary.querySelector('.sys-text').textContent = presenceSummary(run.joined, run.left);
  }

  /** Builds a message item; own messages sit on the right, consecutive ones are grouped. */
  function buildMessage(room, msg, own) {
    var li = make('li', 'msg' + (own ? ' own' : ''));
    li.dataset.name = msg.name;
    if (msg.id !== null) li.dataset.id = String(msg.id);
    var last = room.last;
    var grouped = last && last.name === msg.name && last.li.parentNode === room.list &&
      room.list.lastElementChild === last.li &&
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

  function showMessage(room, msg) {
    addDaySeparator(room, msg.time);
    var mine = room.me || (room.replaying ? room.wanted : null);
    var own = mine !== null && msg.name === mine;
    var li = buildMessage(room, msg, own);
    room.last = { name: msg.name, time: msg.time, li: li };
    append(room, li, !own);
    return li;
  }

  function rememberId(room, id) {
    room.seen.add(id);
    if (room.seen.size > MAX_SEEN_IDS) room.seen.delete(room.seen.values().next().value);
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

  function onMessage(room, line, meta) {
    var msg = parseIncoming(line, meta);
    if (!msg) return;
    if (msg.id !== null) {
      if (room.seen.has(msg.id)) return; // replayed history we already show
      rememberId(room, msg.id);
    }
    if (room.me !== null && msg.name === room.me) settleOwnEcho(room, msg.text);
    showMessage(room, msg);
    var fromOthers = msg.name !== room.me;
    var unseen = document.hidden || !isCurrent(room);
    if (unseen && fromOthers && !(room.replaying && room.me === null)) {
      room.unread += 1;
      updateTitle();
      renderRooms();
    }
  }

  // ------------------------------------------------------------------------------------------
  // Sending, with a visible pending state

  /** The oldest own pending or failed item with this text is replaced by the server's copy. */
  function settleOwnEcho(room, text) {
    var items = room.list.querySelectorAll('li.msg.own.pending, li.msg.own.failed');
    for (var i = 0; i < items.length; i++) {
      if (items[i].dataset.text === text) {
        removeItem(room, items[i]);
        return;
      }
    }
  }

  function removeItem(room, li) {
    if (room.last && room.last.li === li) room.last = null;
    li.remove();
  }

  function setProblem(room, li, text) {
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
      send(room, li);
    });
    problem.appendChild(retry);
    li.querySelector('.msg-body').appendChild(problem);
  }

  function send(room, li) {
    var text = li.dataset.text;
    var socket = room.socket;
    li.classList.remove('failed');
    li.classList.add('pending');
    li.querySelector('.msg-time').textContent = 'Sending…';
    socket.timeout(ACK_TIMEOUT_MS).emit('messages', text, function (err, reply) {
      if (!room.list.contains(li) || !li.classList.contains('pending')) return; // the echo came first
      if (err) {
        setProblem(room, li, socket.connected ? 'No answer from the server.' : 'Connection lost.');
        return;
      }
      if (reply && reply.ok) {
        var id = reply.id === undefined || reply.id === null ? null : String(reply.id);
        if (id !== null && room.seen.has(id)) {
          removeItem(room, li);
          return;
        }
        if (id !== null) {
          rememberId(room, id);
          li.dataset.id = id;
        }
        li.classList.remove('pending');
        var now = new Date();
        var t = li.querySelector('.msg-time');
        t.textContent = clock(now);
        t.dateTime = now.toISOString();
        return;
      }
      setProblem(room, li, (reply && reply.message) || 'The server refused this message.');
    });
  }

  function submitMessage() {
    var room = page.current;
    var text = el.chatInput.value.trim();
    if (!text) return;
    if (Array.from(text).length > MAX_MESSAGE) {
      updateCount();
      return;
    }
    var now = new Date();
    addDaySeparator(room, now);
    var li = buildMessage(room, { id: null, name: room.me || room.wanted || '', text: text, time: now }, true);
    li.dataset.text = text;
    room.last = { name: li.dataset.name, time: now, li: li };
    append(room, li, false);
    send(room, li);
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
    el.chatterCount.textContent = String(page.current.chatters.size);
  }

  function addChatter(room, name, announce) {
    if (typeof name !== 'string' || room.chatters.has(name)) return;
    if (room.returning.delete(name)) announce = false; // back after the same outage as ours
    var li = make('li', 'chatter');
    li.dataset.name = name;
    li.appendChild(avatar(name, true));
    li.appendChild(make('span', 'chatter-name', name));
    if (name === room.me) li.appendChild(make('span', 'you-tag', 'you'));
    var before = Array.from(room.people.children).find(function (other) {
      return other.dataset.name.localeCompare(name, undefined, { sensitivity: 'base' }) > 0;
    });
    room.people.insertBefore(li, before || null);
    room.chatters.set(name, li);
    if (isCurrent(room)) renderCount();
    if (announce && name !== room.me) announcePresence(room, name, true);
  }

  function removeChatter(room, name, announce) {
    var li = room.chatters.get(name);
    if (!li) return;
    li.remove();
    room.chatters.delete(name);
    if (isCurrent(room)) renderCount();
    if (announce && name !== room.me) announcePresence(room, name, false);
  }

  function resetChatters(room) {
    room.chatters.forEach(function (li) { li.remove(); });
    room.chatters.clear();
    if (isCurrent(room)) renderCount();
  }

  /**
   * After a reconnect, tell who arrived while we were away, and, once the others had time to
   * reconnect as well, who is gone.
   */
  function announceChatterChanges(room) {
    var before = room.previousChatters;
    room.previousChatters = null;
    if (!before) return;
    room.chatters.forEach(function (li, name) {
      if (!before.has(name) && name !== room.me) announcePresence(room, name, true);
    });
    clearTimeout(room.graceTimer);
    room.returning = new Set();
    before.forEach(function (name) {
      if (!room.chatters.has(name) && name !== room.me) room.returning.add(name);
    });
    if (room.returning.size === 0) return;
    room.graceTimer = setTimeout(function () {
      room.graceTimer = null;
      var gone = room.returning;
      room.returning = new Set();
      if (!room.socket.connected) return; // we are away again; the next reconnect compares afresh
      gone.forEach(function (name) {
        if (!room.chatters.has(name)) announcePresence(room, name, false);
      });
    }, RETURN_GRACE_MS);
  }

  // ------------------------------------------------------------------------------------------
  // Joining

  /** Sets what room shows: the welcome card, the docked join form, or the composer. */
  function setPhase(room, phase) {
    room.phase = phase;
    if (!isCurrent(room)) return;
    var stick = nearBottom(room);
    el.app.dataset.phase = phase;
    el.joinTitle.textContent = phase === 'welcome'
      ? (room.name === DEFAULT_ROOM ? 'Join the conversation' : 'Join the conversation in ' + room.name)
      : room.me ? 'Change your nickname'
      : room.everJoined ? 'Choose a nickname to rejoin' : 'Choose a nickname for ' + room.name;
    el.joinCancel.hidden = !(phase === 'join' && room.me);
    setJoining(room, room.busy);
    if (stick) scrollToEnd(room); // the docked form or composer changed the list's height
  }

  function setJoining(room, busy) {
    room.busy = busy;
    if (!isCurrent(room)) return;
    el.joinButton.disabled = busy;
    el.joinButton.textContent = busy ? (room.me ? 'Saving…' : 'Joining…') : (room.me ? 'Save' : 'Join');
  }

  function setJoinError(room, text) {
    room.joinError = text;
    if (isCurrent(room)) el.joinError.textContent = text;
  }

  function showMe() {
    var me = page.current.me;
    el.meButton.hidden = !me;
    if (!me) return;
    el.meName.textContent = me;
    el.meAvatar.className = 'avatar avatar-small ' + hueClass(me);
    el.meAvatar.textContent = initial(me);
  }

  /**
   * Sends join. fresh=true for the join that follows a (re)connect: its replay of history and
   * presence is not announced line by line.
   */
  function join(room, name, fresh) {
    var seq = ++room.joinSeq;
    var socket = room.socket;
    room.wanted = name;
    if (fresh) {
      room.replaying = true;
      if (room.chatters.size > 0 && room.previousChatters === null) {
        room.previousChatters = new Set(Array.from(room.chatters.keys()).concat(Array.from(room.returning)));
      }
      resetChatters(room);
    }
    setJoining(room, true);
    setJoinError(room, '');
    var auth = room.token ? { token: room.token } : {};
    socket.timeout(JOIN_ACK_TIMEOUT_MS).emit('join', name, auth, function (err, reply) {
      if (seq !== room.joinSeq) return;
      room.replaying = false;
      setJoining(room, false);
      if (err) {
        if (!socket.connected) return; // the next connect joins again
        // A server that does not answer join acks (the classic app) took the name as it was.
        joined(room, name, null, fresh);
        return;
      }
      if (reply && reply.ok) {
        joined(room, typeof reply.name === 'string' ? reply.name : name, reply.token, fresh);
      } else if (fresh && reply && reply.error === 'rate_limited') {
        // Too many joins just now: keep the nickname and its token, and try again shortly.
        setJoining(room, true);
        setTimeout(function () {
          if (seq === room.joinSeq && socket.connected) join(room, name, true);
        }, JOIN_RETRY_MS * (1 + Math.random()));
      } else {
        refused(room, reply || {}, fresh);
      }
    });
  }

  function joined(room, name, token, fresh) {
    var previous = room.me;
    room.me = name;
    room.wanted = name;
    if (typeof token === 'string' && token) room.token = token;
    room.joinedOnce = true;
    room.everJoined = true;
    page.started = true;
    if (room.nickChoice || !page.nick) {
      page.nick = name;
      writeStorage(localStorage, NICK_KEY, name);
    }
    room.nickChoice = false;
    saveSeats();
    if (isCurrent(room)) showMe();
    if (previous !== null && previous !== name) {
      // A rename: move ourselves in the list whatever the server tells the others.
      removeChatter(room, previous, false);
      addSystem(room, 'You are now ' + name);
    }
    if (!room.chatters.has(name)) addChatter(room, name, false);
    var mine = room.chatters.get(name);
    if (mine && !mine.querySelector('.you-tag')) mine.appendChild(make('span', 'you-tag', 'you'));
    if (fresh) announceChatterChanges(room);
    setPhase(room, 'chat');
    if (isCurrent(room)) el.chatInput.focus();
  }

  /** A refused join: a fresh one leaves us outside the room, a refused rename keeps the old name. */
  function refused(room, reply, fresh) {
    var text = typeof reply.message === 'string' && reply.message ? reply.message : 'That nickname cannot be used.';
    if (reply.error === 'name_taken') text = 'Someone is already using that nickname. Please pick another one.';
    if (reply.error === 'banned') text = typeof reply.message === 'string' && reply.message ? reply.message : 'You are banned from this chat.';
    room.nickChoice = false;
    if (fresh || !room.me) {
      room.me = null;
      room.wanted = null;
      room.token = null;
      saveSeats();
      if (isCurrent(room)) showMe();
    } else {
      room.wanted = room.me;
    }
    room.previousChatters = null;
    setPhase(room, room.list.children.length > 0 || room.me || page.started ? 'join' : 'welcome');
    setJoinError(room, text);
    if (isCurrent(room)) {
      el.nickInput.value = room.me || el.nickInput.value;
      el.nickInput.focus();
      el.nickInput.select();
    }
  }

  /** Joins room as name, connecting its socket first if needed (its connect handler joins). */
  function requestJoin(room, name) {
    if (!room.socket.connected) {
      room.wanted = name;
      setJoining(room, true);
      setJoinError(room, '');
      if (!room.socket.active) {
        if (!anyRoom(function (r) { return r.socket.connected; })) setStatus('connecting', 'Connecting…');
        room.socket.connect();
      }
      return;
    }
    join(room, name, !room.joinedOnce);
  }

  function submitJoin() {
    var room = page.current;
    var name = el.nickInput.value.trim();
    if (!name) {
      setJoinError(room, 'Please enter a nickname.');
      el.nickInput.focus();
      return;
    }
    if (Array.from(name).length > MAX_NICK) {
      setJoinError(room, 'Nicknames can be at most ' + MAX_NICK + ' characters long.');
      return;
    }
    if (room.me && name === room.me) {
      setPhase(room, 'chat');
      return;
    }
    var welcome = room.phase === 'welcome';
    // The nickname of the welcome screen, or a rename, is the one rooms are joined with from now
    // on; one picked because the usual one is taken here is for this room only.
    room.nickChoice = welcome || room.me !== null;
    if (!room.me) room.token = null; // a token belongs to the name it came with
    requestJoin(room, name);
    if (!welcome) return;
    // The first join of the page: the default room is joined too, whichever room is on screen.
    page.rooms.forEach(function (other) {
      if (other === room || other.phase !== 'welcome' || other.socket.active) return;
      other.nickChoice = true;
      other.token = null;
      requestJoin(other, name);
    });
  }

  // ------------------------------------------------------------------------------------------
  // Connection status: one connection for all rooms

  function stopCountdown() {
    if (page.countdown !== null) clearInterval(page.countdown);
    page.countdown = null;
  }

  /**
   * The page needs a connection only to be in a room or to get in: a person on the welcome
   * screen who has not asked to join yet holds none (the server closes connections that do not
   * join soon, see --pending-timeout).
   */
  function connectionNeeded() {
    return anyRoom(function (room) { return room.me !== null || room.wanted !== null; });
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

  /**
   * After a room's socket lost its connection: what the page as a whole is now. final: the end
   * was meant (we left, or were kicked), not the server closing a connection nobody used.
   */
  function connectionChanged(reason, final) {
    if (anyRoom(function (room) { return room.socket.connected; })) return; // still there
    if (!final && reason !== 'io client disconnect' && !connectionNeeded()) {
      // The server closed a connection that never got into a room (not joined in time, or
      // pushed out by newer ones): no reconnecting; the next join connects again.
      page.rooms.forEach(function (room) { room.socket.disconnect(); });
      setIdle();
      return;
    }
    if (anyRoom(function (room) { return room.socket.active; })) {
      setStatus('reconnecting', 'Reconnecting…', 'Connection lost (' + reason + ')');
    } else {
      stopCountdown();
      setStatus('disconnected', 'Disconnected', reason);
    }
  }

  manager.on('reconnecting', function (info) {
    stopCountdown();
    var until = Date.now() + info.delay;
    var render = function () {
      var left = Math.ceil((until - Date.now()) / 1000);
      setStatus('reconnecting', left > 0 ? 'Reconnecting in ' + left + ' s' : 'Reconnecting…');
    };
    render();
    page.countdown = setInterval(render, 1000);
  });

  manager.on('reconnect_attempt', function () {
    stopCountdown();
    setStatus('reconnecting', 'Reconnecting…');
  });

  // ------------------------------------------------------------------------------------------
  // Server events, per room

  function bindSocket(room) {
    var socket = room.socket;

    socket.on('connect', function () {
      stopCountdown();
      var how = socket.transport === 'polling' ? 'long-polling' : 'WebSocket';
      setStatus('connected', 'Connected', 'Connected over ' + how);
      if (socket.recovered && room.me !== null) {
        // The server gave the seat back and sends what we missed: the room just goes on.
        if (room.name === DEFAULT_ROOM) requestRooms();
        return;
      }
      room.joinedOnce = false;
      room.kicked = false;
      if (room.wanted) join(room, room.wanted, true);
      if (room.name === DEFAULT_ROOM) requestRooms();
    });

    socket.on('disconnect', function (reason) {
      room.replaying = false;
      room.joinSeq += 1; // a join ack that can no longer come is not waited for
      setJoining(room, false);
      clearTimeout(room.kickTimer);
      if (room.removed) {
        dropRoom(room, removedLine(room));
        return;
      }
      connectionChanged(reason, room.kicked);
    });

    socket.on('connect_error', function (err) {
      if (socket.active) return; // the connection failed; it is tried again
      var message = err && err.message ? err.message : '';
      if (room.name !== DEFAULT_ROOM) {
        // The server refused the room: there is none of that name (any more).
        room.wanted = null;
        var notice = message === 'Invalid namespace' ? 'There is no room ' + quoted(room.name) + '; this is ' + DEFAULT_ROOM + '.'
          : 'The server refused the room ' + quoted(room.name) + (message ? ': ' + message : '.');
        dropRoom(room, null, isCurrent(room) ? notice : null);
        if (!anyRoom(function (r) { return r.socket.active; })) connectionChanged('io server disconnect');
        return;
      }
      stopCountdown();
      if (!anyRoom(function (r) { return r.socket.connected; })) setStatus('disconnected', 'Disconnected', message);
      addSystem(room, 'The server refused the connection' + (message ? ': ' + message : '.'), 'error');
    });

    socket.on('messages', function (line, meta) {
      onMessage(room, line, meta);
    });

    socket.on('add chatter', function (name) {
      addChatter(room, name, !room.replaying);
    });

    socket.on('remove chatter', function (name) {
      removeChatter(room, name, !room.replaying);
    });

    socket.on('kicked', function (info) {
      var reason = info && typeof info.reason === 'string' && info.reason ? info.reason : '';
      room.kickReason = reason;
      if (room.removed) {
        dropRoom(room, removedLine(room));
        return;
      }
      addSystem(room, 'You were removed from the chat' + (reason ? ': ' + reason : '.'), 'error');
      room.wanted = null;
      room.token = null;
      room.me = null;
      saveSeats();
      if (isCurrent(room)) showMe();
      resetChatters(room);
      // No automatic way back in: the server's DISCONNECT follows (see SERVER_WAIT_MS).
      room.kicked = true;
      clearTimeout(room.kickTimer);
      room.kickTimer = setTimeout(function () {
        if (socket.connected) socket.disconnect();
      }, SERVER_WAIT_MS);
      setPhase(room, 'join');
      // A room being removed kicks everyone out: the room list tells.
      if (room.name !== DEFAULT_ROOM && defaultRoom().socket.connected) requestRooms();
    });

    socket.on('chat error', function (info) {
      var text = info && typeof info.message === 'string' && info.message ? info.message
        : 'Something went wrong' + (info && info.code ? ' (' + info.code + ')' : '') + '.';
      addSystem(room, text, 'error');
    });

    if (room.name === DEFAULT_ROOM) socket.on('rooms', setRoomList);
  }

  // ------------------------------------------------------------------------------------------
  // Page events

  el.joinForm.addEventListener('submit', function (event) {
    event.preventDefault();
    submitJoin();
  });

  el.joinCancel.addEventListener('click', function () {
    setJoinError(page.current, '');
    setPhase(page.current, 'chat');
    el.chatInput.focus();
  });

  el.meButton.addEventListener('click', function () {
    el.nickInput.value = page.current.me || '';
    setJoinError(page.current, '');
    setPhase(page.current, 'join');
    el.nickInput.focus();
    el.nickInput.select();
  });

  el.reconnect.addEventListener('click', function () {
    setStatus('connecting', 'Connecting…');
    var wanted = Array.from(page.rooms.values()).filter(function (room) { return room.wanted; });
    (wanted.length > 0 ? wanted : [defaultRoom()]).forEach(function (room) { room.socket.connect(); });
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

  el.messages.parentNode.addEventListener('scroll', function (event) {
    if (event.target === page.current.list && nearBottom(page.current)) el.jump.hidden = true;
  }, true);

  el.jump.addEventListener('click', function () {
    scrollToEnd(page.current);
  });

  document.addEventListener('visibilitychange', function () {
    if (!document.hidden) clearUnread(page.current);
  });
  window.addEventListener('focus', function () {
    clearUnread(page.current);
  });

  window.addEventListener('hashchange', followHash);

  // A page going away for good leaves every room on purpose (one kept in the back-forward cache
  // may come back: its connection is lost instead, and recovered if it does).
  window.addEventListener('pagehide', function (event) {
    if (event.persisted) return;
    page.rooms.forEach(function (room) { room.socket.disconnect(); });
  });

  // ------------------------------------------------------------------------------------------
  // Start

  el.nickInput.value = readString(localStorage, NICK_KEY);
  var seats = readSeats();
  page.nick = seats.nick;
  makeRoom(DEFAULT_ROOM);
  var seatNames = Object.keys(seats.rooms);
  seatNames.forEach(function (name) {
    // A reload of a tab that had joined: take every seat back with its token.
    var room = page.rooms.get(name) || makeRoom(name);
    room.wanted = seats.rooms[name].name;
    room.token = seats.rooms[name].token;
    room.busy = true;
  });
  if (!page.nick && seatNames.length > 0) page.nick = seats.rooms[seatNames[0]].name;
  if (page.nick) el.nickInput.value = page.nick;
  renderRooms();
  followHash();
  var target = page.current;
  if (seatNames.length > 0 && !target.wanted && page.nick) {
    // The URL names a room this tab had not joined yet: it is joined like the others.
    target.wanted = page.nick;
    target.busy = true;
  }
  setPhase(target, 'welcome');
  if (target.me === null && target.wanted) el.nickInput.value = target.wanted;
  if (connectionNeeded()) {
    setStatus('connecting', 'Connecting…');
    page.rooms.forEach(function (room) {
      if (room.wanted) room.socket.connect();
    });
  } else {
    setIdle(); // submitJoin connects
    el.nickInput.focus();
  }
})();
