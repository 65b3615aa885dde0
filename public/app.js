// The chat page. Plain ES module, no framework: it drives the typed client built from src/client
// (served at /js/gateway-client.js). Every user-supplied string goes into the DOM through
// textContent or attributes, never through innerHTML.

import { GatewayClient, ROOM_NAME } from '/js/gateway-client.js';

const DEFAULT_ROOM = 'general';
const MAX_ERRORS = 5;
/** How long an error stays before it fades out (errors about the connection stay until it is back). */
const ERROR_TTL_MS = 8000;
const ERROR_FADE_MS = 600;
/** localStorage key of the display name, so that a reload signs in again under the same name. */
const NAME_KEY = 'ws-gateway.chat.name';
/** The layout switch in style.css: below it the sidebar is a drawer behind the Rooms button. */
const NARROW = window.matchMedia('(max-width: 720px)');
/** Lines kept per room; older ones are dropped from the page (history stays on the server). */
const MAX_LINES = 1000;
/** Recent messages shown when a room is first joined (a reload shows the conversation again). */
const RECENT_ON_JOIN = 50;

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

const el = {
  status: $('status'),
  me: $('me'),
  roomsToggle: /** @type {HTMLButtonElement} */ ($('rooms-toggle')),
  unreadTotal: $('unread-total'),
  sidebar: $('sidebar'),
  signOut: /** @type {HTMLButtonElement} */ ($('sign-out')),
  unsupported: $('unsupported'),
  login: $('login'),
  loginForm: /** @type {HTMLFormElement} */ ($('login-form')),
  nameInput: /** @type {HTMLInputElement} */ ($('name-input')),
  loginButton: /** @type {HTMLButtonElement} */ ($('login-button')),
  tokenForm: /** @type {HTMLFormElement} */ ($('token-form')),
  tokenInput: /** @type {HTMLTextAreaElement} */ ($('token-input')),
  loginError: $('login-error'),
  chat: $('chat'),
  roomList: $('room-list'),
  joinForm: /** @type {HTMLFormElement} */ ($('join-form')),
  roomInput: /** @type {HTMLInputElement} */ ($('room-input')),
  memberList: $('member-list'),
  memberCount: $('member-count'),
  roomTitle: $('room-title'),
  log: $('log'),
  errors: $('errors'),
  composer: /** @type {HTMLFormElement} */ ($('composer')),
  messageInput: /** @type {HTMLInputElement} */ ($('message-input')),
  sendButton: /** @type {HTMLButtonElement} */ ($('send-button')),
  charCount: $('char-count'),
  outbox: $('outbox'),
};

/**
 * @typedef {{ kind: 'message', frame: any } | { kind: 'system', text: string, className?: string }} Line
 * @typedef {{ missed: number, gap: boolean }} Resume What a room got back while rejoining after a reconnect.
 * @typedef {{ name: string, state: 'joining' | 'joined', lines: Line[], members: Map<string, string> | null, unread: number, resume: Resume | null, readOnly?: boolean }} Room
 *   `readOnly`: the token's `publish` claim does not allow sending there (`joined.publish === false`).
 */

const state = {
  /** @type {GatewayClient | null} */
  client: null,
  /** 'dev': tokens from POST /auth/dev-token; 'pasted': a token the user gave (fragment or paste box). */
  tokenMode: /** @type {'dev' | 'pasted'} */ ('dev'),
  name: '',
  token: '',
  /** @type {{ id: string, name: string } | null} */
  me: null,
  maxContentLength: 1000,
  /** @type {Map<string, Room>} */
  rooms: new Map(),
  /** @type {string | null} */
  current: null,
  everConnected: false,
};

// ---- feature check ---------------------------------------------------------------------------

if (typeof window.WebSocket !== 'function') {
  el.unsupported.hidden = false;
  el.login.hidden = true;
  setStatus('offline');
} else {
  el.loginForm.addEventListener('submit', onLogin);
  el.tokenForm.addEventListener('submit', onPastedToken);
  el.joinForm.addEventListener('submit', onJoinRoom);
  el.composer.addEventListener('submit', onSend);
  el.messageInput.addEventListener('input', updateCharCount);
  el.roomsToggle.addEventListener('click', () => setRoomsOpen(!isRoomsOpen()));
  el.signOut.addEventListener('click', signOut);
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && isRoomsOpen()) {
      setRoomsOpen(false);
      el.roomsToggle.focus();
    }
  });
  // A tap outside the open drawer closes it, as on any phone app.
  document.addEventListener('click', (event) => {
    const target = /** @type {Node} */ (event.target);
    if (isRoomsOpen() && !el.sidebar.contains(target) && !el.roomsToggle.contains(target)) {
      setRoomsOpen(false);
    }
  });
  NARROW.addEventListener('change', () => setRoomsOpen(false));
  const saved = loadName();
  if (saved) {
    el.nameInput.value = saved;
    el.loginForm.requestSubmit();
  }
}

// ---- login and tokens ------------------------------------------------------------------------

/** @param {SubmitEvent} event */
async function onLogin(event) {
  event.preventDefault();
  const name = el.nameInput.value.trim();
  if (!name) {
    el.loginError.textContent = 'Please enter a display name: it cannot be blank or only spaces.';
    el.nameInput.focus();
    return;
  }
  state.name = name;
  el.loginButton.disabled = true;
  el.loginError.textContent = '';
  setStatus('connecting');
  try {
    const result = await fetchDevToken(name);
    if (result.token) {
      state.tokenMode = 'dev';
      start(result.token);
      return;
    }
    if (result.status === 404) {
      // Dev tokens are off: a token from the URL fragment, or a pasted one.
      const fromFragment = tokenFromFragment();
      if (fromFragment) {
        state.tokenMode = 'pasted';
        start(fromFragment);
        return;
      }
      el.status.hidden = true;
      el.loginForm.hidden = true;
      el.tokenForm.hidden = false;
      el.tokenInput.focus();
      return;
    }
    el.status.hidden = true;
    el.loginError.textContent = `Could not get a token: ${result.message}`;
  } finally {
    el.loginButton.disabled = false;
  }
}

/** @param {SubmitEvent} event */
function onPastedToken(event) {
  event.preventDefault();
  const token = el.tokenInput.value.trim();
  if (!token) return;
  state.tokenMode = 'pasted';
  if (state.client) {
    // The previous token was refused: connect again with the new one.
    state.client
      .authenticate(token)
      .then(() => state.client?.connect())
      .catch(() => undefined);
    el.tokenForm.hidden = true;
    el.login.hidden = true;
    return;
  }
  start(token);
}

/**
 * @param {string} name
 * @returns {Promise<{ token?: string, status: number, message: string }>}
 */
async function fetchDevToken(name) {
  try {
    const res = await fetch('/auth/dev-token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name }),
    });
    if (res.ok) {
      const body = await res.json();
      if (body && typeof body.token === 'string')
        return { token: body.token, status: res.status, message: 'ok' };
      return { status: res.status, message: 'the server answered without a token' };
    }
    let message = `HTTP ${res.status}`;
    try {
      const body = await res.json();
      if (body && body.message)
        message = Array.isArray(body.message) ? body.message.join(', ') : String(body.message);
    } catch {
      // not JSON
    }
    return { status: res.status, message };
  } catch (err) {
    return { status: 0, message: `network error (${err instanceof Error ? err.message : String(err)})` };
  }
}

function tokenFromFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get('token');
  if (token) {
    // Keep the token out of the address bar, screenshots and shared links.
    history.replaceState(null, '', location.pathname + location.search);
  }
  return token || '';
}

/**
 * What the client asks when it needs a token. Dev tokens are cheap to mint again (and the server
 * makes a new JWT secret at each restart in development, so old tokens die with it). A pasted
 * token cannot be renewed here: the user is asked for another one.
 * @param {string} reason
 */
async function provideToken(reason) {
  if (state.tokenMode === 'dev') {
    const result = await fetchDevToken(state.name);
    if (result.token) {
      state.token = result.token;
      return result.token;
    }
    // Server unreachable: keep trying with the current token unless it is known to be dead.
    return reason === 'handshake_failed' ? state.token : undefined;
  }
  if (reason === 'handshake_failed' || reason === 'initial') return state.token;
  return undefined;
}

// ---- connection ----------------------------------------------------------------------------

/** @param {string} token */
function start(token) {
  state.token = token;
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const client = new GatewayClient({
    url: `${scheme}//${location.host}/ws`,
    // The token goes in a header to get a single-use ticket; only the ticket is in the WebSocket URL.
    ticketUrl: `${location.origin}/api/ws-ticket`,
    token,
    getToken: provideToken,
    reconnect: { minMs: 250, maxMs: 5000 },
    outboxLimit: 50,
  });
  state.client = client;

  client.on('status', ({ status, reason }) => {
    // Before the first welcome a failed attempt is still the page connecting, not a lost connection.
    setStatus(status === 'reconnecting' && !state.everConnected ? 'connecting' : status);
    if (status === 'connected') dismissErrors('offline');
    if (status === 'offline' && reason && reason !== 'closed') {
      showError(`Disconnected: ${reason}`, 'offline');
      if (state.tokenMode === 'pasted' && /unauthorized|expired/.test(reason)) {
        el.login.hidden = false;
        el.loginForm.hidden = true;
        el.tokenForm.hidden = false;
      }
    }
    if (status === 'reconnecting' && state.everConnected) {
      // Every room is rejoined (and resumed) after the reconnect; count what the resume brings back.
      for (const room of state.rooms.values()) {
        if (room.state === 'joined') room.resume = { missed: 0, gap: false };
        room.state = 'joining';
      }
      renderRooms();
      if (state.current) addSystemLine(state.current, 'connection lost, reconnecting…');
    }
    renderOutbox();
  });
  client.on('welcome', (welcome) => {
    state.me = welcome.user;
    state.maxContentLength = welcome.limits.maxContentLength;
    const prefix = document.createElement('span');
    prefix.className = 'me-prefix';
    prefix.textContent = 'signed in as ';
    el.me.replaceChildren(prefix, welcome.user.name);
    updateCharCount();
    if (!state.everConnected) {
      state.everConnected = true;
      saveName(state.name);
      el.login.hidden = true;
      el.chat.hidden = false;
      el.roomsToggle.hidden = false;
      document.body.classList.add('signed-in');
      joinRoom(DEFAULT_ROOM);
      el.messageInput.focus();
    }
  });
  client.on('message', (frame) => {
    // While a room rejoins, the client delivers the replayed messages just before its `joined`.
    const resume = state.rooms.get(frame.room)?.resume;
    if (resume) resume.missed++;
    addLine(frame.room, { kind: 'message', frame });
  });
  client.on('joined', (frame) => {
    const room = state.rooms.get(frame.room);
    if (!room) return;
    room.state = 'joined';
    room.readOnly = frame.publish === false;
    room.members = frame.members ? new Map(frame.members.map((m) => [m.id, m.name])) : null;
    if (room.resume) {
      const { missed, gap } = room.resume;
      room.resume = null;
      addSystemLine(frame.room, backOnlineText(missed, gap), gap ? 'back-online partial' : 'back-online');
    }
    renderRooms();
    if (frame.room === state.current) {
      renderMembers();
      renderComposer();
    }
  });
  client.on('presence', (frame) => {
    const room = state.rooms.get(frame.room);
    if (!room) return;
    if (room.members) {
      if (frame.status === 'joined') room.members.set(frame.user.id, frame.user.name);
      else room.members.delete(frame.user.id);
    }
    addSystemLine(frame.room, `${frame.user.name} ${frame.status === 'joined' ? 'joined' : 'left'}`);
    if (frame.room === state.current) renderMembers();
  });
  client.on('gap', (gap) => {
    const resume = state.rooms.get(gap.room)?.resume;
    if (resume) resume.gap = true;
    const text = gap.epochChanged
      ? 'the server restarted and lost its history: messages you had not received before it went down are missing'
      : `some messages could not be recovered (history starts at #${gap.oldestSeq})`;
    addSystemLine(gap.room, text, 'gap');
  });
  client.on('left', (frame) => {
    // Taken out by the server (the token no longer allows the room); our own leaves have no room left.
    if (!frame.reason || frame.reason === 'leave' || !state.rooms.has(frame.room)) return;
    state.rooms.delete(frame.room);
    if (state.current === frame.room) selectRoom(state.rooms.keys().next().value ?? null);
    else renderRooms();
    showError(`Removed from ${frame.room}: ${describeError(frame.reason, '')}`, frame.reason);
  });
  client.on('error', (frame) => showError(describeError(frame.code, frame.message), frame.code));
  client.on('ack', renderOutbox);

  setStatus('connecting');
  client.connect().catch((err) => {
    el.login.hidden = false;
    el.loginError.textContent = `Could not connect: ${err.message}`;
  });
}

/**
 * @param {number} missed
 * @param {boolean} gap
 */
function backOnlineText(missed, gap) {
  const loaded =
    missed === 0 ? 'no missed messages' : `${missed} missed message${missed === 1 ? '' : 's'} loaded`;
  return gap ? `back online, ${loaded}; some messages may be missing` : `back online, ${loaded}`;
}

/** @param {string} status */
function setStatus(status) {
  el.status.hidden = false;
  el.status.textContent = status;
  el.status.dataset.status = status;
}

function signOut() {
  forgetName();
  // A fresh page is the simplest way back to a clean state: no client, no rooms, the login form.
  void (state.client ? state.client.close() : Promise.resolve()).finally(() => location.reload());
}

// ---- the remembered name -----------------------------------------------------------------------
// Storage can be off (privacy settings, some private windows): the page then simply forgets.

function loadName() {
  try {
    return localStorage.getItem(NAME_KEY)?.trim() ?? '';
  } catch {
    return '';
  }
}

/** @param {string} name */
function saveName(name) {
  try {
    localStorage.setItem(NAME_KEY, name);
  } catch {
    // not kept: the user types it again after a reload
  }
}

function forgetName() {
  try {
    localStorage.removeItem(NAME_KEY);
  } catch {
    // nothing was kept
  }
}

// ---- the rooms drawer (narrow screens) ---------------------------------------------------------

function isRoomsOpen() {
  return el.chat.classList.contains('rooms-open');
}

/** @param {boolean} open */
function setRoomsOpen(open) {
  el.chat.classList.toggle('rooms-open', open);
  el.roomsToggle.setAttribute('aria-expanded', String(open));
}

// ---- rooms -----------------------------------------------------------------------------------

/** @param {SubmitEvent} event */
function onJoinRoom(event) {
  event.preventDefault();
  const name = el.roomInput.value.trim();
  if (!name) return;
  if (!ROOM_NAME.test(name)) {
    showError('Room names are 1-64 characters from A-Z a-z 0-9 _ - . :', 'bad_room');
    return;
  }
  el.roomInput.value = '';
  joinRoom(name);
  // On a phone the new room is what the user wants to see: out of the drawer.
  if (NARROW.matches) setRoomsOpen(false);
}

/** @param {string} name */
function joinRoom(name) {
  if (!state.client) return;
  if (!state.rooms.has(name)) {
    state.rooms.set(name, { name, state: 'joining', lines: [], members: null, unread: 0, resume: null });
  }
  selectRoom(name);
  state.client.join(name, { last: RECENT_ON_JOIN }).catch((err) => {
    if (err.code === 'left' || err.code === 'closed') return;
    state.rooms.delete(name);
    if (state.current === name) selectRoom(state.rooms.keys().next().value ?? null);
    renderRooms();
    showError(`Cannot join ${name}: ${describeError(err.code, err.message)}`, err.code);
  });
}

/** @param {string} name */
function leaveRoom(name) {
  if (!state.client) return;
  state.rooms.delete(name);
  state.client.leave(name).catch(() => undefined);
  if (state.current === name) selectRoom(state.rooms.keys().next().value ?? null);
  else renderRooms();
}

/** @param {string | null} name */
function selectRoom(name) {
  state.current = name;
  const room = name ? state.rooms.get(name) : undefined;
  if (room) room.unread = 0;
  el.roomTitle.textContent = name ? `# ${name}` : 'no room: join one';
  renderRooms();
  renderMembers();
  renderLog();
  renderComposer();
}

/** A read-only room: the composer is disabled and says why. */
function renderComposer() {
  const room = state.current ? state.rooms.get(state.current) : undefined;
  const readOnly = room?.readOnly === true;
  el.composer.classList.toggle('read-only', readOnly);
  el.messageInput.disabled = readOnly;
  el.sendButton.disabled = readOnly;
  el.messageInput.placeholder = readOnly
    ? `Read-only: you cannot post in # ${room?.name}`
    : 'Write a message';
}

function renderRooms() {
  el.roomList.replaceChildren();
  for (const room of state.rooms.values()) {
    const li = document.createElement('li');
    li.dataset.room = room.name;
    li.dataset.state = room.state;
    li.dataset.testid = `room-${room.name}`;
    if (room.name === state.current) li.classList.add('current');
    if (room.readOnly) li.dataset.readOnly = 'true';
    const select = document.createElement('button');
    select.type = 'button';
    select.className = 'room-name';
    select.textContent = `# ${room.name}`;
    select.addEventListener('click', () => {
      selectRoom(room.name);
      if (NARROW.matches) setRoomsOpen(false);
    });
    li.append(select);
    if (room.unread > 0) {
      const unread = document.createElement('span');
      unread.className = 'unread';
      unread.textContent = String(room.unread);
      li.append(unread);
    }
    const leave = document.createElement('button');
    leave.type = 'button';
    leave.className = 'leave';
    leave.title = `leave ${room.name}`;
    leave.dataset.testid = `leave-${room.name}`;
    leave.textContent = '×';
    leave.addEventListener('click', () => leaveRoom(room.name));
    li.append(leave);
    el.roomList.append(li);
  }
  // On a phone the room list is behind the Rooms button: unread messages elsewhere show on it.
  let unread = 0;
  for (const room of state.rooms.values()) unread += room.unread;
  el.unreadTotal.textContent = unread > 0 ? String(unread) : '';
  el.roomsToggle.setAttribute('aria-label', unread > 0 ? `Rooms, ${unread} unread` : 'Rooms');
}

function renderMembers() {
  el.memberList.replaceChildren();
  const room = state.current ? state.rooms.get(state.current) : undefined;
  if (!room || !room.members) {
    el.memberCount.textContent = '';
    return;
  }
  const members = [...room.members].sort((a, b) => a[1].localeCompare(b[1]));
  for (const [id, name] of members) {
    const li = document.createElement('li');
    li.dataset.userId = id;
    li.textContent = name;
    if (state.me && id === state.me.id) li.classList.add('self');
    el.memberList.append(li);
  }
  el.memberCount.textContent = `(${members.length})`;
}

// ---- the log -------------------------------------------------------------------------------

/**
 * @param {string} roomName
 * @param {Line} line
 */
function addLine(roomName, line) {
  const room = state.rooms.get(roomName);
  if (!room) return;
  room.lines.push(line);
  if (room.lines.length > MAX_LINES) room.lines.splice(0, room.lines.length - MAX_LINES);
  if (roomName === state.current) {
    appendLog(renderLine(line));
  } else if (line.kind === 'message') {
    room.unread++;
    renderRooms();
  }
}

/**
 * @param {string} roomName
 * @param {string} text
 * @param {string} [className]
 */
function addSystemLine(roomName, text, className) {
  addLine(roomName, { kind: 'system', text, className });
}

/**
 * Keeps the reader's position unless they were at the bottom, as gorilla/websocket's chat
 * example does: measure before appending, follow only if the view was at the end.
 * @param {HTMLElement} item
 */
function appendLog(item) {
  const log = el.log;
  const atBottom = log.scrollTop > log.scrollHeight - log.clientHeight - 1;
  log.append(item);
  while (log.childElementCount > MAX_LINES) log.firstElementChild?.remove();
  if (atBottom) log.scrollTop = log.scrollHeight - log.clientHeight;
}

function renderLog() {
  el.log.replaceChildren();
  const room = state.current ? state.rooms.get(state.current) : undefined;
  if (!room) return;
  for (const line of room.lines) el.log.append(renderLine(line));
  el.log.scrollTop = el.log.scrollHeight;
}

/** @param {Line} line */
function renderLine(line) {
  const div = document.createElement('div');
  if (line.kind === 'system') {
    div.className = line.className ? `system ${line.className}` : 'system';
    div.textContent = line.text;
    return div;
  }
  const frame = line.frame;
  div.className = 'msg';
  div.dataset.testid = 'message';
  div.dataset.seq = String(frame.seq);
  div.dataset.id = frame.id;
  div.dataset.senderId = frame.sender.id;
  if (state.me && frame.sender.id === state.me.id) div.classList.add('own');
  const time = document.createElement('time');
  time.className = 'time';
  const date = new Date(frame.time);
  time.dateTime = date.toISOString();
  time.textContent = date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  const sender = document.createElement('span');
  sender.className = 'sender';
  sender.textContent = frame.sender.name;
  const content = document.createElement('span');
  content.className = 'content';
  content.textContent = frame.content;
  div.append(time, sender, content);
  return div;
}

// ---- composing -------------------------------------------------------------------------------

/** @param {SubmitEvent} event */
function onSend(event) {
  event.preventDefault();
  const client = state.client;
  const room = state.current;
  const content = el.messageInput.value;
  if (!client || !room || content.trim() === '') return;
  if (content.length > state.maxContentLength) {
    // Refused here: the server would answer too_long, and the user keeps the text to shorten it.
    showError(`Message too long: ${content.length}/${state.maxContentLength} characters`, 'too_long');
    return;
  }
  el.messageInput.value = '';
  updateCharCount();
  client
    .send(room, content)
    .catch((err) => showError(`Not sent: ${describeError(err.code, err.message)}`, err.code))
    .finally(renderOutbox);
  renderOutbox();
}

function updateCharCount() {
  const length = el.messageInput.value.length;
  el.charCount.textContent = `${length}/${state.maxContentLength}`;
  el.charCount.classList.toggle('over', length > state.maxContentLength);
}

function renderOutbox() {
  const pending = state.client ? state.client.pendingCount : 0;
  const offline = state.client ? state.client.status !== 'connected' : false;
  el.outbox.textContent = pending > 0 && offline ? `${pending} waiting to be sent` : '';
}

// ---- errors ----------------------------------------------------------------------------------

/**
 * @param {string} code
 * @param {string} message
 */
function describeError(code, message) {
  switch (code) {
    case 'rate_limited':
      return 'you are sending too fast (rate limited); retrying';
    case 'too_long':
      return `message too long (${message})`;
    case 'forbidden':
      // The server's message says why: the token's rooms or publish claim, or a backend's hook.
      return `${message} (forbidden)`;
    case 'not_joined':
      return 'join the room first (not joined)';
    case 'outbox_full':
      return 'too many messages waiting to be sent';
    default:
      return `${message} (${code})`;
  }
}

/**
 * Shows an error under the log. It fades out after ERROR_TTL_MS, or goes with its × button; one
 * about the connection (`offline`) stays while the page is offline, since it says why.
 * @param {string} text
 * @param {string} code
 */
function showError(text, code) {
  const li = document.createElement('li');
  li.dataset.code = code;
  const span = document.createElement('span');
  span.className = 'error-text';
  span.textContent = text;
  const dismiss = document.createElement('button');
  dismiss.type = 'button';
  dismiss.className = 'dismiss';
  dismiss.dataset.testid = 'dismiss-error';
  dismiss.title = 'dismiss';
  dismiss.setAttribute('aria-label', 'dismiss this error');
  dismiss.textContent = '×';
  dismiss.addEventListener('click', () => li.remove());
  li.append(span, dismiss);
  el.errors.append(li);
  while (el.errors.childElementCount > MAX_ERRORS) el.errors.firstElementChild?.remove();
  if (code !== 'offline') {
    setTimeout(() => li.classList.add('fading'), ERROR_TTL_MS - ERROR_FADE_MS);
    setTimeout(() => li.remove(), ERROR_TTL_MS);
  }
}

/** @param {string} code */
function dismissErrors(code) {
  for (const li of el.errors.querySelectorAll(`li[data-code="${code}"]`)) li.remove();
}
