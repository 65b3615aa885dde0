// The Socket.IO peer: Socket.IO 4.8 doing what the gateway does in the bench's publishing
// scenarios, written the way its documentation recommends, and set up to be fair to it:
// - websocket transport only (no long-polling, no upgrade dance), no per-message compression
//   (the gateway runs without it too), maxHttpBufferSize 8192 like the gateway's MAX_MESSAGE_BYTES;
// - auth: an HS256 JWT in the handshake's `auth.token` (or the `token` query parameter), verified
//   once per connection in a middleware by jsonwebtoken with a KeyObject, as the baseline does;
// - `join` (with an ack) puts the socket in a room; `message` (with an ack carrying the room's seq)
//   is broadcast to the room with `io.to(room).emit`, which encodes the packet and its websocket
//   frame once for every member (Socket.IO's own fan-out fast path);
// - with REDIS_URL, `@socket.io/redis-adapter` over ioredis (the client the gateway uses), on
//   channels under REDIS_KEY_PREFIX: every broadcast is published to Redis for the other nodes.
// The seq is per process: Socket.IO has no cluster-wide order, history or dedup, which the gateway
// pays for on every publication.
//
// Frames, as the load generator sees them (Engine.IO v4 / Socket.IO v5 over one websocket):
//   <- 0{"sid":..,"pingInterval":..}   -> 40{"token":"<jwt>"}   <- 40{"sid":..}
//   -> 421["join",{"room":"r"}]         <- 431[{"type":"joined","room":"r","seq":0}]
//   -> 42<n>["message",{"room":"r","id":"..","content":".."}]   <- 43<n>[{"type":"ack",..}]
//   <- 42["message",{"type":"message","id":..,"room":"r","seq":..,"time":..,"sender":..,"content":..}]
//   <- 2 (ping)  -> 3 (pong)
//
// Env: PORT (0 = any; prints `listening <port>`), HOST (127.0.0.1), JWT_SECRET, HEARTBEAT_MS
// (Engine.IO pingInterval, default 30000), REDIS_URL, REDIS_KEY_PREFIX (default `bench-sio`).
import http from 'node:http';
import { createSecretKey } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';

const PORT = Number(process.env.PORT ?? 0);
const HOST = process.env.HOST ?? '127.0.0.1';
const SECRET = process.env.JWT_SECRET;
const HEARTBEAT_MS = Number(process.env.HEARTBEAT_MS ?? 30_000);
const REDIS_URL = process.env.REDIS_URL;
const KEY_PREFIX = process.env.REDIS_KEY_PREFIX ?? 'bench-sio';
const MAX_MESSAGE_BYTES = 8192;
const MAX_CONTENT = 1000;
const ROOM_RE = /^[A-Za-z0-9_\-.:]{1,64}$/;
if (!SECRET) {
  console.error('socketio: JWT_SECRET is required');
  process.exit(2);
}
const KEY = createSecretKey(Buffer.from(SECRET, 'utf8'));

const server = http.createServer((req, res) => {
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end('{"error":"not_found"}');
});

const io = new Server(server, {
  transports: ['websocket'],
  allowUpgrades: false,
  perMessageDeflate: false,
  httpCompression: false,
  maxHttpBufferSize: MAX_MESSAGE_BYTES,
  pingInterval: HEARTBEAT_MS,
  pingTimeout: Math.max(HEARTBEAT_MS, 20_000),
  serveClient: false,
  cors: undefined,
});

/** @type {Redis[]} */
const redisClients = [];
if (REDIS_URL) {
  const pub = new Redis(REDIS_URL, { lazyConnect: false });
  const sub = pub.duplicate();
  redisClients.push(pub, sub);
  for (const c of redisClients) c.on('error', (e) => console.error(`socketio: redis: ${e.message}`));
  io.adapter(createAdapter(pub, sub, { key: KEY_PREFIX }));
}

io.use((socket, next) => {
  const auth = socket.handshake.auth;
  const query = socket.handshake.query.token;
  const token =
    auth && typeof auth.token === 'string' ? auth.token : typeof query === 'string' ? query : undefined;
  if (!token) return next(new Error('unauthorized'));
  let claims;
  try {
    claims = jwt.verify(token, KEY, { algorithms: ['HS256'] });
  } catch {
    return next(new Error('unauthorized'));
  }
  if (typeof claims !== 'object' || typeof claims.sub !== 'string') return next(new Error('unauthorized'));
  socket.data.user = {
    id: claims.sub,
    name: typeof claims.name === 'string' ? claims.name.slice(0, 64) : claims.sub,
  };
  next();
});

/** Per-process seq of each room this process has seen a publication in. */
const seqs = new Map();
let serverMsgId = 0;

io.on('connection', (socket) => {
  socket.on('join', (msg, ack) => {
    if (typeof ack !== 'function') return;
    const room = msg?.room;
    if (typeof room !== 'string' || !ROOM_RE.test(room)) {
      return ack({ type: 'error', code: 'bad_envelope', message: 'bad room' });
    }
    void socket.join(room);
    ack({ type: 'joined', room, seq: seqs.get(room) ?? 0 });
  });

  socket.on('leave', (msg, ack) => {
    const room = msg?.room;
    void socket.leave(room);
    if (typeof ack === 'function') ack({ type: 'left', room });
  });

  socket.on('message', (msg, ack) => {
    if (typeof ack !== 'function') return;
    const room = msg?.room;
    if (typeof room !== 'string' || typeof msg.content !== 'string') {
      return ack({ type: 'error', code: 'bad_envelope', message: 'room and content are required' });
    }
    if (msg.content.length > MAX_CONTENT) {
      return ack({ type: 'error', code: 'too_long', message: 'content too long' });
    }
    if (!socket.rooms.has(room)) {
      return ack({ type: 'error', code: 'not_joined', message: 'join the room first' });
    }
    const seq = (seqs.get(room) ?? 0) + 1;
    seqs.set(room, seq);
    const id = typeof msg.id === 'string' ? msg.id : `s${++serverMsgId}`;
    ack({ type: 'ack', id, room, seq });
    io.to(room).emit('message', {
      type: 'message',
      id,
      room,
      seq,
      time: Date.now(),
      sender: socket.data.user,
      content: msg.content,
    });
  });
});

server.listen(PORT, HOST, () => {
  const addr = /** @type {import('net').AddressInfo} */ (server.address());
  console.log(`listening ${addr.port}${REDIS_URL ? ` (redis adapter, key ${KEY_PREFIX})` : ''}`);
});

function shutdown() {
  io.close();
  for (const c of redisClients) c.disconnect();
  setTimeout(() => process.exit(0), 200).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
