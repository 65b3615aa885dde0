// The baseline: a bare `ws` server with no framework, written to be as fast as Node honestly gets
// on this workload, so that the gateway's figures have something fair to be divided by.
//
// What it does, and what it deliberately shares with the gateway:
// - JWT HS256 verification at the handshake, before the upgrade (jsonwebtoken, the library
//   @nestjs/jwt wraps; algorithm pinned), 401 answered as plain HTTP.
// - `ws` parses incoming frames (maxPayload 8192, no compression); each frame is JSON-parsed once.
// - Rooms with a per-room seq; welcome, join/joined, message/ack, ping/pong, leave/left with the
//   gateway's frame shapes (docs/protocol.md), so one load generator drives both servers.
// - Each outgoing message is JSON-encoded once and framed once (header built here), and that same
//   Buffer is queued to every recipient. Per event-loop turn, each client with queued frames gets
//   exactly one socket write carrying all of them (Buffer.concat, flushed from setImmediate;
//   a batch identical to the previous client's is written again rather than concatenated again).
// - A bounded queue: a client whose socket has more than SEND_QUEUE_BYTES unsent is closed 1013.
// - Heartbeat: one sweeping timer pings every HEARTBEAT_MS, terminates after two silent periods.
// What it leaves out: history, dedup, presence, rate limiting, validation beyond the basics.
//
// Env: PORT (0 = any; the chosen port is printed as `listening <port>`), JWT_SECRET,
// HEARTBEAT_MS (default 30000), SEND_QUEUE_BYTES (default 1 MiB), HOST (default 127.0.0.1).
import http from 'node:http';
import { createSecretKey, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { WebSocketServer } from 'ws';

const PORT = Number(process.env.PORT ?? 0);
const HOST = process.env.HOST ?? '127.0.0.1';
const SECRET = process.env.JWT_SECRET;
const HEARTBEAT_MS = Number(process.env.HEARTBEAT_MS ?? 30_000);
const QUEUE_BYTES = Number(process.env.SEND_QUEUE_BYTES ?? 1024 * 1024);
const MAX_MESSAGE_BYTES = 8192;
const MAX_CONTENT = 1000;
if (!SECRET) {
  console.error('baseline: JWT_SECRET is required');
  process.exit(2);
}
// A KeyObject, not the string: given a string, jsonwebtoken 9 first tries createPublicKey() on it
// at every verify (and catches the failure), which costs ~0.45 ms per handshake.
const KEY = createSecretKey(Buffer.from(SECRET, 'utf8'));

/** Builds one unmasked text frame (FIN + opcode 1) holding `str`: header and payload in one Buffer. */
function frame(str) {
  const len = Buffer.byteLength(str);
  const head = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const buf = Buffer.allocUnsafe(head + len);
  buf[0] = 0x81;
  if (len < 126) {
    buf[1] = len;
  } else if (len < 65536) {
    buf[1] = 126;
    buf.writeUInt16BE(len, 2);
  } else {
    buf[1] = 127;
    buf.writeUInt32BE(0, 2);
    buf.writeUInt32BE(len, 6);
  }
  buf.write(str, head);
  return buf;
}

/**
 * @typedef {{ ws: import('ws').WebSocket, sock: import('net').Socket, user: {id: string, name: string},
 *   rooms: Set<string>, out: Buffer[], outBytes: number, alive: boolean, closed: boolean }} Client
 * @typedef {{ members: Set<Client>, seq: number }} Room
 */
/** @type {Map<string, Room>} */
const rooms = new Map();
/** @type {Set<Client>} */
const clients = new Set();

// ---- the write pump: one write per client per event-loop turn -------------------------------
/** @type {Client[]} */
let dirty = [];
let flushScheduled = false;

/** @param {Client} c @param {Buffer} buf */
function enqueue(c, buf) {
  if (c.closed) return;
  if (c.out.length === 0) {
    dirty.push(c);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  }
  c.out.push(buf);
  c.outBytes += buf.length;
  if (c.outBytes + c.sock.writableLength > QUEUE_BYTES) slowConsumer(c);
}

function flush() {
  flushScheduled = false;
  const list = dirty;
  dirty = [];
  // Members of a room usually hold the same frames in the same order: the next client with an
  // identical queue writes the same concatenated Buffer (one concat per room and turn, not per
  // member). The gateway's writer does the same; the baseline keeps every trick the gateway uses.
  let prevOut = null;
  let prevBatch = null;
  for (let i = 0; i < list.length; i++) {
    const c = list[i];
    const out = c.out;
    const bytes = c.outBytes;
    c.out = [];
    c.outBytes = 0;
    if (c.closed || out.length === 0) continue;
    if (out.length === 1) {
      c.sock.write(out[0]);
    } else if (prevOut !== null && sameFrames(prevOut, out)) {
      c.sock.write(prevBatch);
    } else {
      prevOut = out;
      prevBatch = Buffer.concat(out, bytes);
      c.sock.write(prevBatch);
    }
  }
}

/** @param {Buffer[]} a @param {Buffer[]} b */
function sameFrames(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** @param {Client} c */
function slowConsumer(c) {
  c.out = [];
  c.outBytes = 0;
  drop(c);
  c.ws.close(1013, 'slow consumer');
  setTimeout(() => c.ws.terminate(), 3000).unref();
}

/** @param {Client} c */
function drop(c) {
  if (c.closed) return;
  c.closed = true;
  clients.delete(c);
  for (const name of c.rooms) {
    const room = rooms.get(name);
    if (!room) continue;
    room.members.delete(c);
    if (room.members.size === 0) rooms.delete(name);
  }
  c.rooms.clear();
}

/** @param {Client} c @param {object} obj */
function send(c, obj) {
  enqueue(c, frame(JSON.stringify(obj)));
}

/** @param {Client} c @param {string} code @param {string} message @param {string} [ref] */
function sendError(c, code, message, ref) {
  send(c, ref === undefined ? { type: 'error', code, message } : { type: 'error', code, message, ref });
}

const ROOM_RE = /^[A-Za-z0-9_\-.:]{1,64}$/;
let serverMsgId = 0;

/** @param {Client} c @param {Buffer} data @param {boolean} isBinary */
function onMessage(c, data, isBinary) {
  c.alive = true;
  if (isBinary) return sendError(c, 'unsupported', 'binary frames are not supported');
  let msg;
  try {
    msg = JSON.parse(data.toString());
  } catch {
    return sendError(c, 'bad_json', 'frame is not valid JSON');
  }
  if (msg === null || typeof msg !== 'object' || typeof msg.type !== 'string') {
    return sendError(c, 'bad_envelope', 'frame must be an object with a string type');
  }
  const ref = typeof msg.id === 'string' ? msg.id : undefined;
  switch (msg.type) {
    case 'message': {
      const name = msg.room;
      if (typeof name !== 'string' || typeof msg.content !== 'string') {
        return sendError(c, 'bad_envelope', 'room and content are required', ref);
      }
      if (msg.content.length > MAX_CONTENT) return sendError(c, 'too_long', 'content too long', ref);
      const room = rooms.get(name);
      if (!room || !c.rooms.has(name)) return sendError(c, 'not_joined', 'join the room first', ref);
      const seq = ++room.seq;
      const id = ref ?? `b${++serverMsgId}`;
      // Encoded once, framed once, the same Buffer queued to every member.
      const buf = frame(
        JSON.stringify({
          type: 'message',
          id,
          room: name,
          seq,
          time: Date.now(),
          sender: c.user,
          content: msg.content,
        }),
      );
      send(c, { type: 'ack', id, room: name, seq });
      for (const m of room.members) enqueue(m, buf);
      return;
    }
    case 'join': {
      const name = msg.room;
      if (typeof name !== 'string' || !ROOM_RE.test(name)) {
        return sendError(c, 'bad_envelope', 'bad room', ref);
      }
      let room = rooms.get(name);
      if (!room) {
        room = { members: new Set(), seq: 0 };
        rooms.set(name, room);
      }
      room.members.add(c);
      c.rooms.add(name);
      send(c, {
        type: 'joined',
        room: name,
        seq: room.seq,
        epoch: 'baseline',
        recovered: true,
        oldestSeq: room.seq + 1,
      });
      return;
    }
    case 'leave': {
      const name = msg.room;
      const room = rooms.get(name);
      if (!room || !c.rooms.has(name)) return sendError(c, 'not_joined', 'not in that room', ref);
      room.members.delete(c);
      c.rooms.delete(name);
      if (room.members.size === 0) rooms.delete(name);
      return send(c, { type: 'left', room: name });
    }
    case 'ping':
      return send(
        c,
        ref === undefined ? { type: 'pong', time: Date.now() } : { type: 'pong', time: Date.now(), id: ref },
      );
    default:
      return sendError(c, 'unknown_type', `unknown type ${msg.type}`, ref);
  }
}

// ---- handshake: verify before upgrading ----------------------------------------------------
const wss = new WebSocketServer({
  noServer: true,
  maxPayload: MAX_MESSAGE_BYTES,
  perMessageDeflate: false,
  clientTracking: false,
});

/** @param {import('net').Socket} socket @param {number} status @param {string} error */
function refuse(socket, status, error) {
  const body = JSON.stringify({ error, message: error });
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

const server = http.createServer((req, res) => {
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end('{"error":"not_found"}');
});

server.on('upgrade', (req, socket, head) => {
  socket.on('error', () => {});
  if (!req.url || !(req.url === '/ws' || req.url.startsWith('/ws?'))) return refuse(socket, 404, 'not_found');
  const auth = req.headers.authorization;
  let token = auth && auth.startsWith('Bearer ') ? auth.slice(7) : undefined;
  if (!token && req.url.includes('token=')) {
    token = new URL(req.url, 'http://x').searchParams.get('token') ?? undefined;
  }
  if (!token) return refuse(socket, 401, 'unauthorized');
  let claims;
  try {
    claims = jwt.verify(token, KEY, { algorithms: ['HS256'] });
  } catch {
    return refuse(socket, 401, 'unauthorized');
  }
  if (typeof claims !== 'object' || typeof claims.sub !== 'string')
    return refuse(socket, 401, 'unauthorized');
  const user = {
    id: claims.sub,
    name: typeof claims.name === 'string' ? claims.name.slice(0, 64) : claims.sub,
  };
  wss.handleUpgrade(req, socket, head, (ws) => {
    /** @type {Client} */
    const c = {
      ws,
      // `ws` keeps the raw socket here; frames we build are written to it directly.
      sock: /** @type {any} */ (ws)._socket,
      user,
      rooms: new Set(),
      out: [],
      outBytes: 0,
      alive: true,
      closed: false,
    };
    clients.add(c);
    ws.on('message', (data, isBinary) => onMessage(c, /** @type {Buffer} */ (data), isBinary));
    ws.on('pong', () => {
      c.alive = true;
    });
    ws.on('close', () => drop(c));
    ws.on('error', () => drop(c));
    send(c, {
      type: 'welcome',
      session: randomUUID(),
      user,
      time: Date.now(),
      heartbeatMs: HEARTBEAT_MS,
      limits: {
        maxMessageBytes: MAX_MESSAGE_BYTES,
        maxContentLength: MAX_CONTENT,
        ratePerSec: 0,
        queueMessages: 0,
      },
    });
  });
});

// One sweeping heartbeat timer for every connection.
const heartbeat = setInterval(() => {
  for (const c of clients) {
    if (!c.alive) {
      drop(c);
      c.ws.terminate();
      continue;
    }
    c.alive = false;
    c.ws.ping();
  }
}, HEARTBEAT_MS);

server.listen(PORT, HOST, () => {
  const addr = /** @type {import('net').AddressInfo} */ (server.address());
  console.log(`listening ${addr.port}`);
});

function shutdown() {
  clearInterval(heartbeat);
  for (const c of clients) c.ws.terminate();
  server.close();
  setTimeout(() => process.exit(0), 200).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
