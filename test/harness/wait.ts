/**
 * Conditions re-checked whenever their owner sees an event (a frame, a close, a client event):
 * `waitFor` resolves as soon as `check` holds, and rejects after `timeoutMs` with what it waited
 * for. This is the one event-driven wait of the tests; the frame and event waits of TestClient and
 * ClientRecorder are built on it.
 */
export class Conditions {
  private readonly waiters = new Set<{ check: () => boolean; done: () => void }>();

  waitFor(
    description: string,
    check: () => boolean,
    timeoutMs = 10_000,
    dump: () => string = () => '',
  ): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        check,
        done: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        const extra = dump();
        reject(
          new Error(`timed out after ${timeoutMs} ms waiting for ${description}${extra ? '\n' + extra : ''}`),
        );
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** Re-checks every pending condition (call it after each event). */
  poke(): void {
    for (const w of [...this.waiters]) {
      if (w.check()) {
        this.waiters.delete(w);
        w.done();
      }
    }
  }
}

/**
 * Polls `check` every 20 ms until it holds. Only for state that announces nothing (a server-side
 * counter, a Redis key, a slot freed after the close was seen): wherever a frame or an event
 * exists, wait on that instead.
 */
export async function poll(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The next `event` of an EventEmitter whose arguments `match` accepts (a hub lifecycle event, for
 * instance), or a rejection after `timeoutMs`. Start waiting before doing what triggers it.
 */
export function nextEvent<A extends unknown[]>(
  emitter: {
    on(event: string, fn: (...args: A) => void): unknown;
    off(event: string, fn: (...args: A) => void): unknown;
  },
  event: string,
  match: (...args: A) => boolean = () => true,
  timeoutMs = 5000,
): Promise<A> {
  return new Promise<A>((resolve, reject) => {
    const listener = (...args: A) => {
      if (!match(...args)) return;
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(args);
    };
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for event ${event}`));
    }, timeoutMs);
    emitter.on(event, listener);
  });
}
