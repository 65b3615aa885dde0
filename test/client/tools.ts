// Kept only for test/browser (maintained on another branch) until it imports test/harness itself;
// then delete this file. The client is test/harness/ws-client.ts, the signer test/harness/tokens.ts.
import { type Frame, signToken, TestClient } from '../harness/index.js';

/** The browser tests' "third client": a TestClient with a query token and predicate waits. */
export class RawClient {
  private constructor(private readonly c: TestClient) {}

  static async open(wsUrl: string, token: string): Promise<RawClient> {
    return new RawClient(await TestClient.connect(wsUrl, { token, query: true }));
  }

  get frames(): Frame[] {
    return this.c.frames;
  }

  send(frame: Record<string, unknown>): void {
    this.c.send(frame);
  }

  next(match: (f: Frame) => boolean, description: string, timeoutMs = 10_000): Promise<Frame> {
    return this.c.find(match, description, timeoutMs);
  }

  join(room: string): Promise<Frame> {
    return this.c.join(room);
  }

  say(room: string, content: string, id: string): Promise<Frame> {
    return this.c.say(room, content, id);
  }

  close(): Promise<void> {
    return this.c.closeAndWait();
  }
}

export function signHs256(secret: string, claims: Record<string, unknown>): string {
  return signToken(claims, { key: secret });
}
