import WebSocket from 'ws';

export type Frame = Record<string, any> & { type: string };

export class HandshakeRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: any,
  ) {
    super(`handshake refused: ${status} ${JSON.stringify(body)}`);
  }
}

/**
 * A real `ws` client for tests: keeps every received frame, and waits for a frame of a type, or for
 * the close, with a timeout (never a sleep).
 */
export class TestClient {
  readonly frames: Frame[] = [];
  private cursor = 0;
  private waiters: (() => void)[] = [];
  closeEvent: { code: number; reason: string } | null = null;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      this.frames.push(isBinary ? { type: '<binary>' } : JSON.parse((data as Buffer).toString()));
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closeEvent = { code, reason: reason.toString() };
      this.wake();
    });
    ws.on('error', () => {});
  }

  /** Connects and resolves after `welcome`; rejects with HandshakeRefused on an HTTP refusal. */
  static async connect(
    url: string,
    options: {
      token?: string;
      query?: boolean;
      headers?: Record<string, string>;
      wsOptions?: WebSocket.ClientOptions;
    } = {},
  ): Promise<TestClient> {
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

  /** The next not-yet-consumed frame of this type (frames of other types are skipped, not consumed). */
  async next(type: string, timeoutMs = 3000, match: (f: Frame) => boolean = () => true): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = this.cursor; i < this.frames.length; i++) {
        const f = this.frames[i];
        if (f.type === type && match(f) && !(f as any).__taken) {
          Object.defineProperty(f, '__taken', { value: true, enumerable: false });
          return f;
        }
      }
      if (this.closeEvent) throw new Error(`closed (${this.closeEvent.code}) while waiting for ${type}`);
      await this.wait(deadline, `frame ${type}`);
    }
  }

  /** All frames of a type received so far. */
  all(type: string): Frame[] {
    return this.frames.filter((f) => f.type === type);
  }

  /** Waits until `count` frames of a type have arrived. */
  async waitFor(type: string, count: number, timeoutMs = 5000): Promise<Frame[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.all(type).length < count) {
      if (this.closeEvent)
        throw new Error(`closed (${this.closeEvent.code}) with ${this.all(type).length}/${count} ${type}`);
      await this.wait(deadline, `${count} x ${type} (have ${this.all(type).length})`);
    }
    return this.all(type);
  }

  async closed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closeEvent) await this.wait(deadline, 'close');
    return this.closeEvent;
  }

  /** Resolves after `ms` unless a frame of `type` arrives (then rejects): to assert absence. */
  async expectNo(type: string, ms: number): Promise<void> {
    const before = this.all(type).length;
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      try {
        await this.wait(deadline, '');
      } catch {
        break;
      }
      if (this.all(type).length > before)
        throw new Error(`unexpected ${type}: ${JSON.stringify(this.all(type).at(-1))}`);
    }
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close();
  }

  terminate(): void {
    this.ws.terminate();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private wait(deadline: number, what: string): Promise<void> {
    const remaining = deadline - Date.now();
    if (remaining <= 0) return Promise.reject(new Error(`timed out waiting for ${what}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        reject(new Error(`timed out waiting for ${what}`));
      }, remaining);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push(done);
    });
  }
}

/** Joins a room and returns the `joined` frame. */
export async function join(c: TestClient, room: string, extra: Record<string, unknown> = {}): Promise<Frame> {
  c.send({ type: 'join', room, ...extra });
  return c.next('joined', 3000, (f) => f.room === room);
}
