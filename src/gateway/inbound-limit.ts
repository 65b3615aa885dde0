import type { WebSocket } from 'ws';
import type { HubCounters } from '../hub/hub-counters.js';

/**
 * Back-pressure on what clients send. In memory a frame is handled whole (its delivery to every
 * member included) before the next one is read, so a server past its limit reads more slowly and TCP
 * slows the senders down. With Redis a `message` is read, handed to the publish script and done with
 * until Redis answers: reading is far cheaper than delivering, so an overloaded instance read every
 * publication it was sent, held them all (1.3 GB at 8M deliveries/s offered, N=100) and delivered
 * them seconds late, and Redis cut its subscriber off past its pub/sub output limit (every member
 * `reset`).
 *
 * So the frames whose handling waits (for Redis, a hook) are counted across the instance. Past
 * INBOUND_MAX_PENDING, a connection that sends one more such frame is no longer read (`ws.pause()`:
 * its frames wait in the kernel and in the client, which TCP slows down) until the count is back to
 * half; then every paused connection is read again. Nothing is dropped or refused. A connection that
 * only sends what is answered at once (`ping`) is never paused.
 */
export class InboundLimit {
  private readonly paused: WebSocket[] = [];
  private readonly resumeAt: number;

  constructor(
    private readonly max: number,
    private readonly counters: HubCounters,
  ) {
    this.resumeAt = Math.floor(max / 2);
  }

  /** A frame of `ws` whose handling waits has started. */
  started(ws: WebSocket): void {
    if (++this.counters.inboundPending > this.max && !ws.isPaused) {
      ws.pause();
      this.paused.push(ws);
      this.counters.readPauses++;
    }
  }

  /** One of those frames is answered. */
  settled(): void {
    if (--this.counters.inboundPending <= this.resumeAt && this.paused.length > 0) {
      for (const ws of this.paused) ws.resume();
      this.paused.length = 0;
    }
  }
}
