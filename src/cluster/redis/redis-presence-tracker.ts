import type { EventType, GatewayEvents, LeftReason } from '../../events/events.js';
import type { EmitLocal } from '../../events/event-bus.js';
import type { PresenceTracker } from '../../events/presence-tracker.js';
import type { UserRef } from '../../protocol/frames.js';
import { isCluster, type RedisClient } from './connection.js';
import { RedisKeys } from './keys.js';
import { PRESENCE_ARRIVE_LUA, PRESENCE_DEPART_LUA, PRESENCE_SWEEP_LUA } from './presence-events-lua.js';

export interface RedisPresenceTrackerOptions {
  prefix: string;
  /** PRESENCE_TTL_MS: a lease not refreshed for this long belongs to a crashed instance. */
  leaseMs: number;
  /** PRESENCE_GRACE_MS. */
  graceMs: number;
  /** EVENTS_MAXLEN. */
  maxlen: number;
}

interface Held {
  user: UserRef;
  room: string;
  connections: Set<string>;
}

/**
 * Cluster-wide presence events (see presence-events-lua.ts): each connection holds a lease per
 * subject (the user; the user in a room), refreshed every third of PRESENCE_TTL_MS; the transitions
 * are decided in Lua and appended to the stream there, and the instance whose script decided one
 * emits it in process. Every instance sweeps (expired leases, due departures) on a timer.
 */
export class RedisPresenceTracker implements PresenceTracker {
  private readonly keys: [string, string, string];
  /** What the presence-event keys start with (RedisKeys.presenceEventsPrefix). */
  private readonly statePrefix: string;
  private readonly held = new Map<string, Held>();
  private readonly timers: NodeJS.Timeout[] = [];
  private failing = false;

  constructor(
    private readonly redis: RedisClient,
    private readonly options: RedisPresenceTrackerOptions,
    private readonly emit: EmitLocal,
    private readonly log: { warn(msg: string): void },
  ) {
    const keys = new RedisKeys(options.prefix, isCluster(redis));
    const prefix = (this.statePrefix = keys.presenceEventsPrefix());
    this.keys = [`${prefix}pres:leases`, `${prefix}pres:due`, keys.eventStream()];
    redis.defineCommand('gwPresArrive', { numberOfKeys: 3, lua: PRESENCE_ARRIVE_LUA });
    redis.defineCommand('gwPresDepart', { numberOfKeys: 3, lua: PRESENCE_DEPART_LUA });
    redis.defineCommand('gwPresSweep', { numberOfKeys: 3, lua: PRESENCE_SWEEP_LUA });
    const every = (ms: number, f: () => Promise<void>) => {
      const timer = setInterval(() => void f(), Math.max(50, ms));
      timer.unref();
      this.timers.push(timer);
    };
    every(Math.floor(options.leaseMs / 3), () => this.refresh());
    every(Math.floor(Math.min(options.graceMs || options.leaseMs, options.leaseMs) / 4), () => this.sweep());
  }

  open(user: UserRef, connectionId: string): void {
    this.arrive(`u\n${user.id}`, user, '', connectionId);
  }

  close(user: UserRef, connectionId: string): void {
    this.depart(`u\n${user.id}`, connectionId, 'disconnect');
  }

  join(room: string, user: UserRef, connectionId: string): void {
    this.arrive(`r\n${room}\n${user.id}`, user, room, connectionId);
  }

  leave(room: string, user: UserRef, connectionId: string, reason: LeftReason): void {
    this.depart(`r\n${room}\n${user.id}`, connectionId, reason);
  }

  stop(): void {
    for (const t of this.timers.splice(0)) clearInterval(t);
    this.held.clear();
  }

  private arrive(subject: string, user: UserRef, room: string, connectionId: string): void {
    let h = this.held.get(subject);
    if (h === undefined) this.held.set(subject, (h = { user, room, connections: new Set() }));
    h.connections.add(connectionId);
    this.call('gwPresArrive', subject, connectionId, this.options.leaseMs, user.id, user.name, room);
  }

  private depart(subject: string, connectionId: string, reason: LeftReason): void {
    const h = this.held.get(subject);
    if (h === undefined || !h.connections.delete(connectionId)) return;
    if (h.connections.size === 0) this.held.delete(subject);
    this.call('gwPresDepart', subject, connectionId, reason, this.options.graceMs);
  }

  /** Re-writes this instance's leases (an arrival that failed while Redis was away happens now). */
  private async refresh(): Promise<void> {
    if (this.held.size === 0) return;
    const pipeline = this.redis.pipeline();
    const { leaseMs } = this.options;
    for (const [subject, h] of this.held) {
      for (const c of h.connections) {
        (pipeline as unknown as PipelineCommands).gwPresArrive(
          ...this.keys,
          ...this.head(),
          subject,
          c,
          leaseMs,
          h.user.id,
          h.user.name,
          h.room,
        );
      }
    }
    try {
      const results = (await pipeline.exec()) ?? [];
      for (const [err, reply] of results) if (err === null) this.announce(reply);
      this.ok();
    } catch (err) {
      this.failed(err);
    }
  }

  private async sweep(): Promise<void> {
    try {
      const reply = await (this.redis as unknown as Commands).gwPresSweep(
        ...this.keys,
        ...this.head(),
        this.options.graceMs,
        1000,
      );
      this.announce(reply);
      this.ok();
    } catch (err) {
      this.failed(err);
    }
  }

  private call(command: 'gwPresArrive' | 'gwPresDepart', ...args: (string | number)[]): void {
    const commands = this.redis as unknown as Commands;
    commands[command](...this.keys, ...this.head(), ...args)
      .then((reply) => {
        this.announce(reply);
        this.ok();
      })
      .catch((err: unknown) => this.failed(err));
  }

  private head(): [string, number] {
    return [this.statePrefix, this.options.maxlen];
  }

  /** Emits in process what a script announced: {type, json, type, json, ...}. */
  private announce(reply: unknown): void {
    if (!Array.isArray(reply)) return;
    for (let i = 0; i + 1 < reply.length; i += 2) {
      const type = reply[i] as EventType;
      this.emit(type, JSON.parse(reply[i + 1] as string) as GatewayEvents[typeof type]);
    }
  }

  private ok(): void {
    this.failing = false;
  }

  private failed(err: unknown): void {
    if (this.failing) return;
    this.failing = true;
    // A lost connection is the outage RedisOutageLog reports once for every connection; only a
    // failure on a live connection (a script error, say) is worth a line of its own.
    if (this.redis.status !== 'ready') return;
    this.log.warn(
      `presence events: ${(err as Error)?.message ?? err}; leases are re-written when Redis is back`,
    );
  }
}

type Commands = Record<
  'gwPresArrive' | 'gwPresDepart' | 'gwPresSweep',
  (...args: (string | number)[]) => Promise<unknown>
>;

/** On a pipeline a command queues and answers the pipeline; replies come from `exec`. */
type PipelineCommands = Record<'gwPresArrive', (...args: (string | number)[]) => unknown>;
