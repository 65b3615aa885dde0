import type { ChildProcess } from 'node:child_process';
import type { Redis } from 'ioredis';

/** Types of redis-cluster.mjs (a local Redis Cluster of three masters, with a replica each by default). */
export declare class RedisClusterSet {
  constructor(options?: { firstPort?: number; nodeTimeoutMs?: number; password?: string; replicas?: 0 | 1 });
  readonly firstPort: number;
  readonly nodeTimeoutMs: number;
  readonly password: string | undefined;
  /** Replicas per master: 1 (six nodes, the default) or 0 (three masters). */
  readonly replicas: 0 | 1;
  readonly ports: number[];
  readonly dir: string;
  readonly procs: Map<number, ChildProcess>;
  /** REDIS_CLUSTER_NODES for a gateway. */
  get nodeList(): string;
  /** The gateway's environment for Cluster mode (REDIS_CLUSTER_NODES, REDIS_PASSWORD). */
  get env(): Record<string, string>;
  start(timeoutMs?: number): Promise<void>;
  settled(timeoutMs?: number): Promise<void>;
  masters(): Promise<{ port: number; slots: number; id: string }[]>;
  slotRanges(): Promise<{ from: number; to: number; port: number }[]>;
  masterOf(key: string): Promise<number>;
  masterOfSlot(slot: number): Promise<number>;
  migrateSlot(slot: number, toPort: number): Promise<void>;
  kill(port: number): Promise<void>;
  failedOver(oldPort: number, timeoutMs?: number): Promise<void>;
  restart(port: number): Promise<void>;
  admin<T>(port: number, run: (r: Redis) => Promise<T>): Promise<T>;
  dispose(): Promise<void>;
  runningPorts(): number[];
  mastersSeenBy(r: Redis): Promise<{ port: number; slots: number; id: string }[]>;
  startNode(port: number, timeoutMs?: number): Promise<void>;
}
