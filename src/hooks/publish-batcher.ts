import { HookFailure, type PublishDecision, type PublishHookRequest } from './gateway-hooks.js';

/**
 * Sends one batch: the request body, the time left before its oldest message times out, and how
 * many messages it holds. Resolves with the backend's parsed JSON answer; rejects with HookFailure
 * (timeout, non-2xx, unreachable, not JSON).
 */
export type SendBatch = (body: string, timeoutMs: number, count: number) => Promise<unknown>;

interface Waiting {
  /** The message's `/publish` body, serialized once, when it was asked. */
  body: string;
  /** Date.now() past which it has failed (HOOK_TIMEOUT_MS after it was asked). */
  deadline: number;
  resolve: (d: PublishDecision) => void;
  reject: (err: HookFailure) => void;
}

/**
 * The HTTP publish hook with HOOK_PUBLISH_BATCH > 1: the publish calls asked during one event-loop
 * turn, from every connection, leave together at the end of the turn (setImmediate) as one
 * `{"requests": [...]}` body, split past `max`; the backend's `{"results": [...]}` answers them in
 * the same order. At most `maxInFlight` batches wait for an answer at once: further calls queue
 * and leave as bigger batches when one comes back, so a busy backend gets fewer, fuller requests.
 *
 * Per message, exactly what the single call gives: its decision, or HookFailure when the batch
 * failed (timeout, non-2xx, unreachable, not JSON, no `results` list of the right length; every
 * message of the batch fails), when its own entry has no boolean `allow` (that message only), or
 * when it waited HOOK_TIMEOUT_MS in the queue. A message's timeout counts from when it was asked,
 * as the single call's does. Per-connection order is not this class's concern: PublishLanes holds
 * the answers back in order, whatever batch each came in.
 */
export class PublishBatcher {
  private queue: Waiting[] = [];
  private inFlight = 0;
  private scheduled: NodeJS.Immediate | null = null;
  private closed = false;

  constructor(
    private readonly max: number,
    private readonly maxInFlight: number,
    private readonly timeoutMs: number,
    private readonly send: SendBatch,
  ) {}

  ask(request: PublishHookRequest): Promise<PublishDecision> {
    if (this.closed) return Promise.reject(new HookFailure('the gateway is shutting down'));
    const body = JSON.stringify(request);
    return new Promise<PublishDecision>((resolve, reject) => {
      this.queue.push({ body, deadline: Date.now() + this.timeoutMs, resolve, reject });
      this.schedule();
    });
  }

  /** Fails what waits (in-flight batches fail as their requests are destroyed). */
  close(): void {
    this.closed = true;
    if (this.scheduled !== null) clearImmediate(this.scheduled);
    this.scheduled = null;
    const waiting = this.queue;
    this.queue = [];
    for (const w of waiting) w.reject(new HookFailure('the gateway is shutting down'));
  }

  private schedule(): void {
    if (this.scheduled === null && this.inFlight < this.maxInFlight)
      this.scheduled = setImmediate(this.flush);
  }

  private readonly flush = (): void => {
    this.scheduled = null;
    const now = Date.now();
    while (this.queue.length > 0 && this.inFlight < this.maxInFlight) {
      const batch = this.queue.length <= this.max ? this.queue : this.queue.slice(0, this.max);
      this.queue = batch === this.queue ? [] : this.queue.slice(this.max);
      this.dispatch(batch, now);
    }
  };

  private dispatch(waiting: Waiting[], now: number): void {
    // Only when the backend is stuck (every batch slot taken for HOOK_TIMEOUT_MS) has one expired.
    let batch = waiting;
    if (waiting[0].deadline <= now) {
      batch = [];
      for (const w of waiting) {
        if (w.deadline > now) batch.push(w);
        else
          w.reject(new HookFailure(`no answer within ${this.timeoutMs} ms (waited for a free connection)`));
      }
      if (batch.length === 0) return;
    }
    let body = '{"requests":[';
    for (let i = 0; i < batch.length; i++) body += i === 0 ? batch[i].body : ',' + batch[i].body;
    body += ']}';
    this.inFlight++;
    this.send(body, batch[0].deadline - now, batch.length).then(
      (answer) => {
        this.done();
        settle(batch, answer);
      },
      (err: unknown) => {
        this.done();
        fail(batch, err instanceof HookFailure ? err : new HookFailure(`unreachable: ${String(err)}`));
      },
    );
  }

  /** A batch came back: its slot takes what queued meanwhile, at the end of this turn. */
  private done(): void {
    this.inFlight--;
    if (this.queue.length > 0 && !this.closed) this.schedule();
  }
}

/** Each message its entry of the backend's `results`, or the batch's failure when they do not match. */
function settle(batch: Waiting[], answer: unknown): void {
  const results = (answer as { results?: unknown } | null)?.results;
  if (!Array.isArray(results)) return fail(batch, new HookFailure('the batch answer has no "results" list'));
  if (results.length !== batch.length) {
    const problem = `the batch answer has ${results.length} results for ${batch.length} requests`;
    return fail(batch, new HookFailure(problem));
  }
  for (let i = 0; i < batch.length; i++) {
    const d = results[i] as PublishDecision | null;
    if (typeof d === 'object' && d !== null && typeof d.allow === 'boolean') batch[i].resolve(d);
    else batch[i].reject(new HookFailure(`result ${i} of the batch has no boolean "allow"`));
  }
}

function fail(batch: Waiting[], failure: HookFailure): void {
  for (const w of batch) w.reject(failure);
}
