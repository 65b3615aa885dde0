// An allow-all HTTP publish hook for the bench's hook1000 scenario: reads each request's body and
// answers over kept-alive connections: `POST /publish` with {"allow":true}, `POST /publish/batch`
// (HOOK_PUBLISH_BATCH > 1) with one {"allow":true} per request of the batch, as a backend must
// (it parses the body to count them). It does not check signatures: what the bench measures is the
// gateway's side of the round trip. Prints "hook listening <port>" when ready.
import { createServer } from 'node:http';

const ALLOW = '{"allow":true}';
const ANSWER = Buffer.from(ALLOW);
/** `{"results":[...]}` for n requests, built once per size. */
const batchAnswers = new Map();
const batchAnswer = (n) => {
  let b = batchAnswers.get(n);
  if (!b) batchAnswers.set(n, (b = Buffer.from(`{"results":[${Array(n).fill(ALLOW).join(',')}]}`)));
  return b;
};

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body = ANSWER;
    if (req.url?.endsWith('/publish/batch')) {
      const requests = JSON.parse(Buffer.concat(chunks).toString('utf8')).requests;
      body = batchAnswer(Array.isArray(requests) ? requests.length : 0);
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(`hook listening ${typeof address === 'object' && address ? address.port : 0}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
