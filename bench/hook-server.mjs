// An allow-all HTTP publish hook for the bench's hook1000 scenario: reads each request's body and
// answers {"allow":true} over kept-alive connections. It does not check signatures: what the bench
// measures is the gateway's side of the round trip. Prints "hook listening <port>" when ready.
import { createServer } from 'node:http';

const ANSWER = Buffer.from('{"allow":true}');
const server = createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': ANSWER.length });
    res.end(ANSWER);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(`hook listening ${typeof address === 'object' && address ? address.port : 0}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
