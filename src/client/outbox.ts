import { TEMPORARY_ERRORS } from '../protocol/wire/codes.js';
import type {
  AckFrame,
  DirectFrameOut,
  ErrorFrame,
  Limits,
  MessageFrameOut,
} from '../protocol/wire/frames.js';
import { MAX_ID_LENGTH } from '../protocol/wire/limits.js';
import { GatewayError } from './gateway-error.js';

export type OutgoingFrame = MessageFrameOut | DirectFrameOut;

interface PendingSend {
  id: string;
  frame: OutgoingFrame;
  /** queued: in the outbox; sent: handed to the socket (or its pacing queue); waiting: retry timer. */
  state: 'queued' | 'sent' | 'waiting';
  retries: number;
  timer?: ReturnType<typeof setTimeout>;
  resolve: (ack: AckFrame) => void;
  reject: (err: GatewayError) => void;
}

/** What the outbox needs from the connection. */
export interface OutboxHost {
  /** The socket is open and welcomed. */
  isLive(): boolean;
  /** False while the frame's room is being (re)joined: its messages go out after `joined`. */
  ready(frame: OutgoingFrame): boolean;
  write(frame: OutgoingFrame): void;
  /** The server's limits from the last `welcome`. */
  limits(): Limits | undefined;
}

export interface OutboxOptions {
  /** At most this many unacknowledged sends. */
  limit: number;
  /** Times a send answered with a temporary error is retried. */
  maxRetries: number;
  /** Delay before the first retry, doubled per retry up to maxRetryDelayMs. */
  retryDelayMs: number;
  maxRetryDelayMs: number;
}

/**
 * Unacknowledged `message` and `direct` frames, by id, in the order they were sent. Each is written
 * once per connection and settled by its `ack` or its `error` (found by `ref`); a temporary error
 * (TEMPORARY_ERRORS) or a lost connection sends it again with the same id, which the server's dedup
 * makes safe.
 */
export class Outbox {
  private readonly sends = new Map<string, PendingSend>();

  constructor(
    private readonly host: OutboxHost,
    private readonly options: OutboxOptions,
  ) {}

  get size(): number {
    return this.sends.size;
  }

  /** Checks the frame against the limits it can know, then queues it; resolves with its `ack`. */
  add(frame: OutgoingFrame): Promise<AckFrame> {
    const id = frame.id as string;
    if (typeof frame.content !== 'string')
      return Promise.reject(new GatewayError('invalid', 'content must be a string'));
    if (id.length < 1 || id.length > MAX_ID_LENGTH)
      return Promise.reject(new GatewayError('invalid', `id must be 1..${MAX_ID_LENGTH} characters`));
    const limits = this.host.limits();
    if (limits && frame.content.length > limits.maxContentLength) {
      return Promise.reject(
        new GatewayError(
          'too_long',
          `content is ${frame.content.length} characters, the limit is ${limits.maxContentLength}`,
          { ref: id },
        ),
      );
    }
    if (limits && new TextEncoder().encode(JSON.stringify(frame)).length > limits.maxMessageBytes) {
      // The server would close the connection 1009 for it.
      return Promise.reject(
        new GatewayError('too_large', `frame is larger than ${limits.maxMessageBytes} bytes`, { ref: id }),
      );
    }
    if (this.sends.has(id)) return Promise.reject(new GatewayError('invalid', `id ${id} is already pending`));
    if (this.sends.size >= this.options.limit) {
      return Promise.reject(
        new GatewayError(
          'outbox_full',
          `${this.sends.size} sends are waiting (outboxLimit ${this.options.limit})`,
          { ref: id },
        ),
      );
    }
    return new Promise<AckFrame>((resolve, reject) => {
      this.sends.set(id, { id, frame, state: 'queued', retries: 0, resolve, reject });
      this.flush();
    });
  }

  /** Writes queued sends in order, each once its room is joined on this connection. */
  flush(): void {
    if (!this.host.isLive()) return;
    for (const send of this.sends.values()) {
      if (send.state !== 'queued') continue;
      if (!this.host.ready(send.frame)) continue;
      send.state = 'sent';
      this.host.write(send.frame);
    }
  }

  ack(frame: AckFrame): void {
    const send = this.sends.get(frame.id);
    if (send) {
      this.sends.delete(frame.id);
      clearTimeout(send.timer);
      send.resolve(frame);
    }
  }

  /** An `error` frame with a `ref`: retries or rejects the send with that id, if there is one. */
  error(frame: ErrorFrame): void {
    const send = frame.ref === undefined ? undefined : this.sends.get(frame.ref);
    if (send === undefined) return;
    if (TEMPORARY_ERRORS.has(frame.code) && send.retries < this.options.maxRetries) {
      send.state = 'waiting';
      const delay = Math.min(this.options.maxRetryDelayMs, this.options.retryDelayMs * 2 ** send.retries);
      send.retries++;
      send.timer = setTimeout(() => {
        send.timer = undefined;
        if (send.state !== 'waiting') return;
        send.state = 'queued';
        this.flush();
      }, delay);
      return;
    }
    this.sends.delete(send.id);
    send.reject(GatewayError.fromFrame(frame));
  }

  /** The connection is gone: what was written goes out again on the next one. */
  requeue(): void {
    for (const send of this.sends.values()) {
      if (send.state === 'sent') send.state = 'queued';
    }
  }

  /** Rejects every pending send with `err` and empties the outbox. */
  rejectAll(err: GatewayError): void {
    for (const send of this.sends.values()) {
      clearTimeout(send.timer);
      send.reject(err);
    }
    this.sends.clear();
  }
}
