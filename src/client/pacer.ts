import type { ClientFrame } from '../protocol/wire/frames.js';
import { TokenBucket } from '../protocol/wire/token-bucket.js';

/** Below the server's refill rate so that clock drift never makes a paced frame `rate_limited`. */
const PACE_SAFETY = 0.9;

/** Where paced frames go: the open, welcomed socket. */
export interface FrameSink {
  send(data: string): void;
}

interface QueuedWrite {
  frame: ClientFrame;
  onWrite?: () => void;
}

/**
 * The client's outgoing frames in order, written as fast as the server's rate limit allows
 * (`welcome.limits.ratePerSec`, charged to a token bucket a little slower than the server's), so
 * that pacing, not the server, makes a burst wait. `onWrite` runs when the frame reaches the socket.
 */
export class Pacer {
  private queue: QueuedWrite[] = [];
  private bucket: TokenBucket | null = null;
  private timer?: ReturnType<typeof setTimeout>;

  /**
   * @param enabled false writes at once, unpaced.
   * @param sink the socket while it is open and welcomed, else null (frames wait).
   */
  constructor(
    private readonly enabled: boolean,
    private readonly sink: () => FrameSink | null,
  ) {}

  /** A new connection's rate (0 or absent: unlimited); its bucket starts full. */
  start(ratePerSec: number | undefined): void {
    this.bucket =
      ratePerSec && ratePerSec > 0
        ? new TokenBucket(ratePerSec * PACE_SAFETY, ratePerSec, performance.now())
        : null;
  }

  write(frame: ClientFrame, onWrite?: () => void): void {
    this.queue.push({ frame, onWrite });
    this.drain();
  }

  /** Stops the pacing timer; queued frames stay until `clear` or the next write. */
  pause(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Forgets the queued frames (their socket is gone). */
  clear(): void {
    this.pause();
    this.queue = [];
  }

  /** Writes what the bucket allows; the rest waits for tokens. */
  private drain(): void {
    while (this.queue.length > 0) {
      const sink = this.sink();
      if (sink === null) return;
      const bucket = this.enabled ? this.bucket : null;
      if (bucket !== null && !bucket.take(performance.now())) {
        if (!this.timer) {
          this.timer = setTimeout(() => {
            this.timer = undefined;
            this.drain();
          }, bucket.waitMs(performance.now()));
        }
        return;
      }
      const next = this.queue.shift() as QueuedWrite;
      sink.send(JSON.stringify(next.frame));
      next.onWrite?.();
    }
  }
}
