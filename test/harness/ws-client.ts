import WebSocket from 'ws';
import { Conditions } from './wait.js';

export type Frame = Record<string, any> & { type: string };

export class HandshakeRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: any,
  ) {
    super(`handshake refused: ${status} ${JSON.stringify(body)}`);
  }
}

export interface ConnectOptions {
  token?: string;
  /** Send the token as ?token= instead of an Authorization header. */
  query?: boolean;
  headers?: Record<string, string>;
  wsOptions?: WebSocket.ClientOptions;
}

let barriers = 0;

/** How `sayUntilAcked` retries a message answered `unavailable`. */
export interface RetryOptions {
  /** The message's content; its id by default. */
  content?: string;
  /** How long each send waits for its ack or error. */
  answerTimeoutMs?: number;
  /** The pause before sending it again (a client's retry delay). */
  retryDelayMs?: number;
  /** Gives up after an `unavailable` answer once this long has passed since the first send. */
  deadlineMs?: number;
  /** Called on each `unavailable` answer. */
  onUnavailable?: () => void;
}

/**
 * A real `ws` client for tests: keeps every received frame and waits, with a timeout, for a frame
 * of a type (and predicate) or for the close. To show that a frame did NOT come, wait for a later
 * frame that would have followed it (`roundTrip`, or a marker message in the same room).
 */
export class TestClient {
  readonly frames: Frame[] = [];
  closeEvent: { code: number; reason: string } | null = null;
  private readonly taken = new WeakSet<Frame>();
  private readonly conditions = new Conditions();
  private readonly closing: Promise<void>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      this.frames.push(isBinary ? { type: '<binary>' } : JSON.parse((data as Buffer).toString()));
      this.conditions.poke();
    });
    this.closing = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        this.closeEvent = { code, reason: reason.toString() };
        this.conditions.poke();
        resolve();
      }),
    );
    ws.on('error', () => {});
  }

  /** Connects and resolves after `welcome`; rejects with HandshakeRefused on an HTTP refusal. */
  static async connect(url: string, options: ConnectOptions = {}): Promise<TestClient> {
    const headers: Record<string, string> = { ...options.headers };
    let target = url;
    if (options.token !== undefined) {
      if (options.query)
        target += (url.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(options.token);
      else headers.authorization = `Bearer ${options.token}`;
    }
    const ws = new WebSocket(target, { headers, ...options.wsOptions });
    const client = new TestClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => {
          let parsed: unknown = body;
          try {
            parsed = JSON.parse(body);
          } catch {
            /* keep text */
          }
          reject(new HandshakeRefused(res.statusCode ?? 0, parsed));
        });
      });
      ws.once('error', reject);
    });
    await client.next('welcome');
    return client;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /**
   * The next not-yet-taken frame of this type that `match` accepts; it is taken, so the next call
   * returns a later one. Frames of other types are left for their own waits.
   */
  async next(type: string, timeoutMs = 3000, match: (f: Frame) => boolean = () => true): Promise<Frame> {
    const frame = await this.until(
      `frame ${type}`,
      () => this.frames.find((f) => f.type === type && match(f) && !this.taken.has(f)),
      timeoutMs,
    );
    this.taken.add(frame);
    return frame;
  }

  /** The first frame from index `from` on, taken or not, that `match` accepts (earlier frames count). */
  find(match: (f: Frame) => boolean, what: string, timeoutMs = 10_000, from = 0): Promise<Frame> {
    return this.until(
      what,
      () => {
        for (let i = from; i < this.frames.length; i++) if (match(this.frames[i])) return this.frames[i];
        return undefined;
      },
      timeoutMs,
    );
  }

  /** All frames of a type received so far. */
  all(type: string): Frame[] {
    return this.frames.filter((f) => f.type === type);
  }

  /**
   * The frames of a type received before the first frame `marker` accepts: with a marker sent
   * after the event under test, what did NOT arrive because of that event.
   */
  allBefore(type: string, marker: (f: Frame) => boolean): Frame[] {
    const end = this.frames.findIndex(marker);
    return (end < 0 ? this.frames : this.frames.slice(0, end)).filter((f) => f.type === type);
  }

  /** Waits until `count` frames of a type have arrived; returns all of them. */
  async waitFor(type: string, count: number, timeoutMs = 5000): Promise<Frame[]> {
    await this.until(
      `${count} x ${type}`,
      () => (this.all(type).length >= count ? true : undefined),
      timeoutMs,
    );
    return this.all(type);
  }

  /**
   * Sends a ping and waits for its pong. A connection's frames leave in order, so every frame the
   * server had queued for this client before it read the ping has arrived when this resolves.
   */
  async roundTrip(timeoutMs = 3000): Promise<void> {
    const id = `rt-${++barriers}`;
    this.send({ type: 'ping', id });
    await this.next('pong', timeoutMs, (f) => f.id === id);
  }

  /** Waits for the close; resolves with its code and reason. */
  async closed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    await this.conditions.waitFor(
      'close',
      () => this.closeEvent !== null,
      timeoutMs,
      () => this.dump(),
    );
    return this.closeEvent!;
  }

  /** Joins a room and returns the `joined` frame. */
  join(room: string, extra: Record<string, unknown> = {}): Promise<Frame> {
    return join(this, room, extra);
  }

  /** Sends a room message and waits for its ack (throws on an error frame for it). */
  async say(room: string, content: string, id: string, timeoutMs = 10_000): Promise<Frame> {
    this.send({ type: 'message', room, content, id });
    const f = await this.find(
      (f) => (f.type === 'ack' && f.id === id) || (f.type === 'error' && f.ref === id),
      `ack ${id}`,
      timeoutMs,
    );
    if (f.type === 'error') throw new Error(`message ${id} refused: ${JSON.stringify(f)}`);
    return f;
  }

  /**
   * Sends message `id` to `room` and sends it again with the same id while it is answered
   * `unavailable` (Redis down or failing over), as a well-behaved client does; resolves with the ack.
   * Any other error, or an `unavailable` past the deadline, rejects.
   */
  async sayUntilAcked(room: string, id: string, options: RetryOptions = {}): Promise<Frame> {
    const { content = id, answerTimeoutMs = 5000, retryDelayMs = 100, deadlineMs = Infinity } = options;
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      const from = this.frames.length;
      this.send({ type: 'message', room, content, id });
      const f = await this.find(
        (f) => (f.type === 'ack' && f.id === id) || (f.type === 'error' && f.ref === id),
        `the answer to ${id}`,
        answerTimeoutMs,
        from,
      );
      if (f.type === 'ack') return f;
      if (f.code !== 'unavailable') throw new Error(`message ${id} refused: ${JSON.stringify(f)}`);
      options.onUnavailable?.();
      if (Date.now() > deadline) throw new Error(`${id} not acked in time`);
      await new Promise((r) => setTimeout(r, retryDelayMs)); // a client's retry delay, not a wait
    }
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close();
  }

  /** Closes and waits for the close to complete. */
  async closeAndWait(): Promise<void> {
    this.close();
    await this.closing;
  }

  terminate(): void {
    this.ws.terminate();
  }

  /** Waits until `find` returns something; fails early if the connection closes first. */
  private async until<T>(what: string, find: () => T | undefined, timeoutMs: number): Promise<T> {
    let found: T | undefined;
    await this.conditions.waitFor(
      what,
      () => (found = find()) !== undefined || this.closeEvent !== null,
      timeoutMs,
      () => this.dump(),
    );
    if (found === undefined) throw new Error(`closed (${this.closeEvent!.code}) while waiting for ${what}`);
    return found;
  }

  private dump(): string {
    return `last frames: ${JSON.stringify(this.frames.slice(-5))}`;
  }
}

/** Joins a room and returns the `joined` frame. */
export async function join(c: TestClient, room: string, extra: Record<string, unknown> = {}): Promise<Frame> {
  c.send({ type: 'join', room, ...extra });
  return c.next('joined', 3000, (f) => f.room === room);
}
