import { Logger } from '@nestjs/common';
import type { GatewayConfig } from '../config/config.js';
import { Close, ErrorCode } from '../protocol/codes.js';
import type { ErrorFrame, ServerFrame } from '../protocol/frames.js';
import type { FieldProblem } from '../protocol/ws-error.js';
import { monotonicNow } from './clock.js';
import type { Connection } from './connection.js';
import { encodeFrame } from './frame.js';
import { HubCounters } from './hub-counters.js';
import type { HubEventBus } from './hub-events.js';
import { BatchCache } from './send-queue.js';

/** A held write pass waits this long at most for the publications on their way (holdPassWhile). */
const HOLD_MS = 1;

/**
 * Connections written per step of a write pass. A longer pass yields to the event loop between
 * steps: what came in meanwhile (a Redis reply to an id take or a publish script, a batch's own
 * delivery, a client's message) is handled after a step instead of after the whole pass, and its
 * frames ride the rest of the pass. With 1000 members a pass is 1000 socket writes, and a message
 * on Redis crosses two or three passes (id take, script, delivery): at N=1000, p50 halved.
 */
export const PASS_CHUNK = 64;
const NO_PASS: Connection[] = [];

/**
 * Write scheduling for every connection (centrifuge's writer.go, above each connection's SendQueue):
 * a frame is queued on its connection at once, and the connection goes on this turn's dirty list;
 * one setImmediate per turn starts a pass that flushes every dirty connection, each in one socket
 * write, PASS_CHUNK connections per event-loop turn. A frame for a connection that the running pass
 * has not reached yet rides it; one for a connection it has written waits for the next pass. A
 * queue that overflows is evicted (closed 1013). Every outbound frame passes here: nothing writes to
 * a socket behind the queue's back.
 */
export class Writer {
  private readonly logger = new Logger('Hub');
  private dirty: Connection[] = [];
  /** The write pass in progress (its connections still scheduled from passAt on). */
  private pass: Connection[] = NO_PASS;
  private passAt = 0;
  /**
   * Batches written since the last pass ended, shared by every flush until the next pass ends: the
   * mid-turn flushes of a busy room's members (each passing its queue bound at the same frame) and
   * the pass's own write one concatenation instead of one each. Without it, at 3.5M deliveries/s
   * 75% of the server's Buffer.concat time was such per-member copies.
   */
  private turnCache = new BatchCache();
  private flushScheduled = false;
  /** See holdPassWhile. */
  private publishing: (() => boolean) | null = null;
  /** See sendBeforePass. */
  private beforePass: (() => void) | null = null;
  /** The last pass was held: the next one writes, whatever is on its way. */
  private held = false;

  constructor(
    readonly counters: HubCounters,
    private readonly events: HubEventBus,
    private readonly config: Pick<GatewayConfig, 'closeTimeoutMs' | 'errorWindowMs' | 'errorLimit'>,
  ) {}

  /**
   * Publications on their way through the broker (Redis): the write pass of a turn that sent some
   * waits for them ONCE, until the next frame is queued (their own delivery, which comes back within
   * a Redis round trip) or HOLD_MS, whichever is first, and then writes everything in one pass.
   * Without it a message read in one turn is written a whole pass later (on a busy instance with
   * 1000 members, a pass is ~10 ms of socket writes), after a pass of frames that did not wait.
   */
  holdPassWhile(publishing: () => boolean): void {
    this.publishing = publishing;
  }

  /**
   * Runs at the start of every write pass: what is waiting for the end of the turn to go to Redis
   * (the turn's publish scripts, its id takes) is sent first, so that Redis works on it while this
   * instance writes to its sockets. Otherwise a pass scheduled earlier in the turn ran first, and
   * on a busy instance with 1000 members each step of a publication waited ~5 ms for it.
   */
  sendBeforePass(send: () => void): void {
    this.beforePass = send;
  }

  /** Encodes a frame for one connection and queues it. */
  send<F extends ServerFrame>(c: Connection, frame: F): void {
    HubCounters.bump(this.counters.framesOut, frame.type);
    this.enqueue(c, encodeFrame(frame));
  }

  /** Queues a pre-built frame; the writer runs once per event-loop turn for all dirty connections. */
  enqueue(c: Connection, frame: Buffer): void {
    const queue = c.queue;
    this.counters.bytesOut += frame.length;
    if (!queue.push(frame, this.turnCache)) {
      this.evict(c);
      return;
    }
    if (!queue.scheduled) {
      queue.scheduled = true;
      this.dirty.push(c);
    }
    // Outside the `if`: a held pass leaves its connections scheduled, and any new frame ends the hold.
    if (!this.flushScheduled) this.scheduleFlush();
  }

  private scheduleFlush(): void {
    this.flushScheduled = true;
    setImmediate(this.flushAll);
  }

  private readonly flushAll = (): void => {
    this.flushScheduled = false;
    let pass = this.pass;
    if (this.passAt >= pass.length) {
      if (this.dirty.length === 0) return;
      this.beforePass?.();
      if (!this.held && this.publishing !== null && this.publishing()) {
        this.held = true;
        setTimeout(this.endHold, HOLD_MS);
        return;
      }
      this.held = false;
      pass = this.pass = this.dirty;
      this.passAt = 0;
      this.dirty = [];
    } else {
      this.beforePass?.();
    }
    const cache = this.turnCache;
    const end = Math.min(pass.length, this.passAt + PASS_CHUNK);
    for (let i = this.passAt; i < end; i++) {
      const c = pass[i];
      c.queue.scheduled = false;
      if (!c.queue.flush(cache)) this.evict(c);
    }
    this.passAt = end;
    if (end < pass.length) {
      if (!this.flushScheduled) this.scheduleFlush();
      return;
    }
    this.pass = NO_PASS;
    this.passAt = 0;
    this.turnCache = new BatchCache();
    if (this.dirty.length > 0 && !this.flushScheduled) this.scheduleFlush();
  };

  private readonly endHold = (): void => {
    if (this.held && !this.flushScheduled) this.scheduleFlush();
  };

  /**
   * Sends an `error` frame and closes 1008 after ERROR_LIMIT of the client's own errors within
   * ERROR_WINDOW_MS. The server's own failures (`unavailable`, `internal`, and whatever the caller
   * says is not `counted`: a slow publish hook's refusals) are not the client's doing and do not
   * count: a Redis outage or a slow backend must not close clients that retry politely.
   */
  error(
    c: Connection,
    code: ErrorCode,
    message: string,
    ref?: unknown,
    details?: FieldProblem[],
    counted = true,
  ): void {
    if (!c.open) return;
    const frame: ErrorFrame = { type: 'error', code, message };
    if (typeof ref === 'string' && ref.length > 0 && ref.length <= 64) frame.ref = ref;
    if (details) frame.details = details;
    this.send(c, frame);
    HubCounters.bump(this.counters.errors, code);
    if (!counted || code === ErrorCode.Unavailable || code === ErrorCode.Internal) return;
    const now = monotonicNow();
    const times = (c.errorTimes ??= []);
    times.push(now);
    while (times.length > 0 && times[0] <= now - this.config.errorWindowMs) times.shift();
    if (times.length >= this.config.errorLimit) {
      this.close(c, Close.TooManyErrors.code, Close.TooManyErrors.reason);
    }
  }

  /** Flushes queued frames now (used before closing a connection). */
  flush(c: Connection): void {
    if (!c.queue.flush()) this.evict(c);
  }

  /** Queue overflow: the connection is dead or stuck. Drop its frames and close 1013. */
  private evict(c: Connection): void {
    if (!c.open) return;
    const queued = c.queue.length;
    this.counters.evictions++;
    this.logger.warn(`slow consumer ${c.id} (user ${c.principal.id}): ${queued} frames queued, closing 1013`);
    this.events.evicted(c.id, c.user, queued);
    this.close(c, Close.SlowConsumer.code, Close.SlowConsumer.reason, false);
  }

  /**
   * Starts closing a connection: optionally flushes what is queued, then sends the close frame. The
   * sweeper destroys the socket if the close handshake has not finished by CLOSE_TIMEOUT_MS.
   */
  close(c: Connection, code: number, reason: string, flushFirst = true): void {
    if (!c.open) return;
    if (flushFirst) c.queue.flush();
    c.queue.drop();
    c.closeDeadline = monotonicNow() + this.config.closeTimeoutMs;
    try {
      c.ws.close(code, reason);
    } catch {
      c.ws.terminate();
    }
  }
}
