// Runs outside Jest's module sandbox (where ws's zlib streams stall): connects with
// permessage-deflate, round-trips a compressible message, then sends an oversized compressed one.
// Prints one JSON line: {extensions, echoed, closeCode}.
import WebSocket from 'ws';

const [url, token] = process.argv.slice(2);
const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: true });
const result = { extensions: '', echoed: false, closeCode: 0 };
const big = 'y'.repeat(900);
ws.on('open', () => (result.extensions = ws.extensions));
ws.on('message', (data) => {
  const f = JSON.parse(data.toString());
  if (f.type === 'welcome') ws.send(JSON.stringify({ type: 'join', room: 'z' }));
  if (f.type === 'joined') ws.send(JSON.stringify({ type: 'message', room: 'z', content: big, id: 'zz' }));
  if (f.type === 'message' && f.content === big) {
    result.echoed = true;
    ws.send(JSON.stringify({ type: 'message', room: 'z', content: 'a'.repeat(3000) }), { compress: true });
  }
});
ws.on('close', (code) => {
  result.closeCode = code;
  console.log(JSON.stringify(result));
  process.exit(0);
});
ws.on('error', () => {});
setTimeout(() => {
  console.log(JSON.stringify(result));
  process.exit(1);
}, 5000);
