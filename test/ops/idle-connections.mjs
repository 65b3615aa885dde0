// Opens COUNT idle WebSocket connections to URL (Authorization: Bearer TOKEN), CONCURRENCY
// handshakes at a time, prints `{"open":COUNT}` once every one got its welcome, and holds them
// until its stdin closes (the parent ends it). A child process, so that the test's own event loop
// does not carry thousands of sockets while it times scrapes.
import WebSocket from 'ws';

const { URL: url, TOKEN: token, COUNT = '4000', CONCURRENCY = '100' } = process.env;
const count = Number(COUNT);
const sockets = [];
let next = 0;
let open = 0;

function openOne() {
  if (next >= count) return;
  next++;
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
  sockets.push(ws);
  ws.once('message', () => {
    open++;
    if (open === count) process.stdout.write(JSON.stringify({ open }) + '\n');
    openOne();
  });
  ws.on('error', (err) => {
    process.stderr.write(`connection failed: ${err.message}\n`);
    process.exit(1);
  });
}

for (let i = 0; i < Number(CONCURRENCY); i++) openOne();
process.stdin.resume();
process.stdin.on('end', () => {
  for (const ws of sockets) ws.terminate();
  process.exit(0);
});
