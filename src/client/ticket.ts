// How the client proves who it is in the handshake URL. A browser cannot set headers on a
// WebSocket, so the credential goes in the query string, where proxies log it. The client therefore
// trades its token for a single-use ticket first (POST /api/ws-ticket with the token in a header)
// and puts only the ticket in the URL. A server without the endpoint (404/405) gets `?token=`.

/** The part of `fetch` the client uses (browsers' and Node's global fetch fit). */
export type FetchLike = (
  url: string,
  init: { method: 'POST'; headers: Record<string, string>; signal?: AbortSignal },
) => Promise<{ status: number; json(): Promise<unknown> }>;

/** The query parameter of the handshake, or why none could be had now. */
export type HandshakeCredential = { query: string } | { failure: { httpStatus: number } };

/**
 * The ticket endpoint next to a WebSocket URL: `api/ws-ticket` resolved against it, over http(s).
 * `wss://chat.example.com/ws` -> `https://chat.example.com/api/ws-ticket`;
 * `ws://host/chat/ws` -> `http://host/chat/api/ws-ticket`.
 */
export function defaultTicketUrl(wsUrl: string): string | false {
  try {
    const url = new URL('api/ws-ticket', wsUrl);
    if (url.protocol === 'wss:') url.protocol = 'https:';
    else if (url.protocol === 'ws:') url.protocol = 'http:';
    return url.href;
  } catch {
    return false;
  }
}

/** A ticket request without an answer by then is given up (a hung server or proxy). */
const TICKET_TIMEOUT_MS = 10_000;

export class TicketSource {
  constructor(
    /** false: the server offers no tickets (configured, or learnt from a 404). */
    private url: string | false,
    private readonly fetch: FetchLike | undefined,
    private readonly timeoutMs = TICKET_TIMEOUT_MS,
  ) {}

  /** Whether handshakes use tickets (false once the server said it has no endpoint). */
  get enabled(): boolean {
    return this.url !== false && this.fetch !== undefined;
  }

  /**
   * `ticket=...` from the endpoint; `token=...` when the server has no endpoint (404/405), or when
   * no HTTP answer came at all (no server reached, or a cross-origin page the server sends no CORS
   * headers to: the handshake then tells what is wrong). Any other answer is a failure the caller
   * treats like a refused handshake with that status (401: a new token; 429/5xx: back off); so is
   * no answer within the timeout (504).
   */
  async credential(token: string): Promise<HandshakeCredential> {
    const tokenQuery = { query: 'token=' + encodeURIComponent(token) };
    if (this.url === false || this.fetch === undefined) return tokenQuery;
    let status: number;
    let body: unknown;
    const abort = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, this.timeoutMs);
    try {
      const res = await this.fetch(this.url, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        signal: abort.signal,
      });
      status = res.status;
      if (status === 200) body = await res.json();
    } catch {
      if (timedOut) return { failure: { httpStatus: 504 } };
      return tokenQuery;
    } finally {
      clearTimeout(timer);
    }
    if (status === 404 || status === 405) {
      this.url = false;
      return tokenQuery;
    }
    const ticket = (body as { ticket?: unknown } | undefined)?.ticket;
    if (status === 200 && typeof ticket === 'string' && ticket.length > 0) {
      return { query: 'ticket=' + encodeURIComponent(ticket) };
    }
    return { failure: { httpStatus: status === 200 ? 502 : status } };
  }
}
