import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { EventEmitter } from 'node:events';
import { OUTAGE_SUMMARY_MS, RedisOutageLog } from './connection.js';

/** Stands in for an ioredis client: the outage log only listens to its events. */
function fakeRedis(): EventEmitter & Redis {
  return new EventEmitter() as EventEmitter & Redis;
}

describe('RedisOutageLog', () => {
  const lines: string[] = [];
  const logger = {
    log: (m: string) => lines.push(`log ${m}`),
    warn: (m: string) => lines.push(`warn ${m}`),
  } as unknown as Logger;
  let target: string;

  beforeEach(() => {
    jest.useFakeTimers();
    lines.length = 0;
    target = `test-${Math.random()}:6379`;
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('logs once when the first connection is lost, once when the last is back, a summary a minute', () => {
    const log = RedisOutageLog.for(target, logger);
    const [cmd, sub] = [fakeRedis(), fakeRedis()];
    log.watch(cmd, 'cmd');
    log.watch(sub, 'sub');
    for (const r of [cmd, sub]) r.emit('ready');
    expect(lines).toEqual([]);

    // Dozens of failed attempts over both connections for 2.5 minutes.
    for (let s = 0; s < 150; s++) {
      for (const r of [cmd, sub]) {
        r.emit('error', new Error('connect ECONNREFUSED'));
        r.emit('reconnecting');
      }
      jest.advanceTimersByTime(1000);
    }
    cmd.emit('ready');
    expect(lines).toHaveLength(3); // the start and two summaries, nothing for cmd alone
    sub.emit('ready');

    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^warn redis .* unreachable \(connect ECONNREFUSED/);
    expect(lines[1]).toMatch(/^warn redis .* still unreachable after 60\.0 s \(\d+ reconnect attempts/);
    expect(lines[2]).toMatch(/still unreachable after 120\.0 s/);
    expect(lines[3]).toMatch(/^log redis .* reachable again after 150\.0 s \(300 reconnect attempts\)/);
    jest.advanceTimersByTime(OUTAGE_SUMMARY_MS * 2);
    expect(lines).toHaveLength(4); // no summary once it is over

    for (const r of [cmd, sub]) r.emit('end');
  });

  it('says nothing about connections that were closed on purpose', () => {
    const log = RedisOutageLog.for(target, logger);
    const r = fakeRedis();
    log.watch(r, 'cmd');
    r.emit('ready');
    r.emit('end'); // QUIT: no 'reconnecting'
    jest.advanceTimersByTime(OUTAGE_SUMMARY_MS * 2);
    expect(lines).toEqual([]);
  });
});
