import { defaultTicketUrl, type FetchLike, TicketSource } from './ticket.js';

function answering(...answers: Array<{ status: number; body?: unknown } | Error>) {
  const calls: Array<{ url: string; headers: Record<string, string> }> = [];
  const fetch: FetchLike = (url, init) => {
    calls.push({ url, headers: init.headers });
    const a = answers.shift()!;
    if (a instanceof Error) return Promise.reject(a);
    return Promise.resolve({ status: a.status, json: () => Promise.resolve(a.body) });
  };
  return { fetch, calls };
}

describe('defaultTicketUrl', () => {
  it('puts api/ws-ticket next to the WebSocket path, over http(s)', () => {
    expect(defaultTicketUrl('wss://chat.example.com/ws')).toBe('https://chat.example.com/api/ws-ticket');
    expect(defaultTicketUrl('ws://127.0.0.1:8080/ws?x=1')).toBe('http://127.0.0.1:8080/api/ws-ticket');
    expect(defaultTicketUrl('ws://host/chat/ws')).toBe('http://host/chat/api/ws-ticket');
    expect(defaultTicketUrl('not a url')).toBe(false);
  });
});

describe('TicketSource', () => {
  it('trades the token (in a header) for a ticket', async () => {
    const { fetch, calls } = answering({ status: 200, body: { ticket: 'T-1', expiresIn: 30 } });
    const source = new TicketSource('http://h/api/ws-ticket', fetch);
    expect(await source.credential('jwt')).toEqual({ query: 'ticket=T-1' });
    expect(calls).toEqual([{ url: 'http://h/api/ws-ticket', headers: { authorization: 'Bearer jwt' } }]);
  });

  it('falls back to ?token= for good after a 404, and for one attempt when no HTTP answer came', async () => {
    const { fetch, calls } = answering(new TypeError('fetch failed'), { status: 404 });
    const source = new TicketSource('http://h/api/ws-ticket', fetch);
    expect(await source.credential('a b')).toEqual({ query: 'token=a%20b' });
    expect(source.enabled).toBe(true);
    expect(await source.credential('jwt')).toEqual({ query: 'token=jwt' });
    expect(source.enabled).toBe(false);
    expect(await source.credential('jwt')).toEqual({ query: 'token=jwt' });
    expect(calls).toHaveLength(2);
  });

  it('reports any other answer as a failure with its status (401: new token; 429/5xx: back off)', async () => {
    const { fetch } = answering({ status: 401 }, { status: 503 }, { status: 200, body: {} });
    const source = new TicketSource('http://h/t', fetch);
    expect(await source.credential('jwt')).toEqual({ failure: { httpStatus: 401 } });
    expect(await source.credential('jwt')).toEqual({ failure: { httpStatus: 503 } });
    expect(await source.credential('jwt')).toEqual({ failure: { httpStatus: 502 } });
  });

  it('gives up a request that gets no answer in time: a failure (504), not ?token=', async () => {
    const hung: FetchLike = (_url, init) =>
      new Promise((_resolve, reject) =>
        init.signal?.addEventListener('abort', () => reject(new Error('aborted'))),
      );
    const source = new TicketSource('http://h/t', hung, 20);
    expect(await source.credential('jwt')).toEqual({ failure: { httpStatus: 504 } });
  });

  it('uses ?token= without a ticket URL or a fetch', async () => {
    expect(await new TicketSource(false, answering().fetch).credential('t')).toEqual({ query: 'token=t' });
    expect(await new TicketSource('http://h/t', undefined).credential('t')).toEqual({ query: 'token=t' });
  });
});
