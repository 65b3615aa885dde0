import type { ChildProcess } from 'node:child_process';
import type { Redis } from 'ioredis';

/** Types of redis-process.mjs (start a redis-server, talk to one by port, stop one by PID). */
export declare function startRedisServer(
  args: string[],
  port: number,
  timeoutMs: number,
  onSpawn?: (proc: ChildProcess) => void,
): Promise<void>;
export declare function withAdmin<T>(
  port: number,
  run: (r: Redis) => Promise<T>,
  options?: { password?: string; connectTimeout?: number },
): Promise<T>;
export declare function killByPid(proc: ChildProcess): Promise<void>;
