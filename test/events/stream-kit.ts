import { Redis } from 'ioredis';
import { poll } from '../harness/index.js';

export interface StreamEvent {
  id: string;
  type: string;
  data: any;
}

/** Reads the gateway's event stream `<prefix>events` as a test sees it (XRANGE, whole). */
export class StreamReader {
  readonly redis: Redis;
  readonly key: string;

  constructor(url: string, prefix: string) {
    this.redis = new Redis(url, { protocol: 2, maxRetriesPerRequest: 1 });
    this.key = `${prefix}events`;
  }

  async all(): Promise<StreamEvent[]> {
    const entries = await this.redis.xrange(this.key, '-', '+');
    return entries.map(([id, fields]) => toEvent(id, fields));
  }

  /** Polls the stream (it announces nothing to a reader that does not block) until `match` holds. */
  async waitFor(
    what: string,
    match: (events: StreamEvent[]) => boolean,
    timeoutMs = 10_000,
  ): Promise<StreamEvent[]> {
    let events: StreamEvent[] = [];
    await poll(
      async () => {
        events = await this.all();
        return match(events);
      },
      timeoutMs,
      what,
    );
    return events;
  }

  close(): void {
    this.redis.disconnect();
  }
}

export function toEvent(id: string, fields: string[]): StreamEvent {
  const f: Record<string, string> = {};
  for (let i = 0; i < fields.length; i += 2) f[fields[i]] = fields[i + 1];
  return { id, type: f.type, data: JSON.parse(f.data) };
}

/** The presence transitions of one user (and room) in stream order: online/offline or joined/left. */
export function transitions(events: StreamEvent[], userId: string, room?: string): string[] {
  return events
    .filter((e) =>
      room === undefined
        ? (e.type === 'online' || e.type === 'offline') && e.data.user.id === userId
        : (e.type === 'joined' || e.type === 'left') && e.data.user.id === userId && e.data.room === room,
    )
    .map((e) => e.type);
}

/** Whether a list of transitions strictly alternates, starting with the arrival. */
export function alternates(list: string[], up: string, down: string): boolean {
  return list.every((t, i) => t === (i % 2 === 0 ? up : down));
}
