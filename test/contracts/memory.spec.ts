import { brokerContract } from './broker.contract.js';
import { idempotencyContract } from './idempotency.contract.js';
import { presenceContract } from './presence.contract.js';
import { MemoryBroker } from '../../src/cluster/memory/memory-broker.js';
import { MemoryDedup } from '../../src/cluster/memory/memory-dedup.js';
import { idempotencyKey as dedupKey } from '../../src/cluster/idempotency.js';
import { MemoryPresence } from '../../src/cluster/memory/memory-presence.js';
import { MemoryUsers } from '../../src/cluster/memory/memory-users.js';
import { usersContract } from './users.contract.js';

brokerContract('memory', () => ({
  create: (historySize) => Promise.resolve(new MemoryBroker(historySize)),
  dispose: () => Promise.resolve(),
}));

presenceContract('memory', () => ({
  create: () => Promise.resolve(new MemoryPresence()),
  dispose: () => Promise.resolve(),
}));

usersContract('memory', () => ({
  create: () => Promise.resolve(new MemoryUsers()),
  dispose: () => Promise.resolve(),
}));

idempotencyContract('memory', () => ({
  create: () => Promise.resolve(new MemoryDedup()),
  dispose: () => Promise.resolve(),
}));

describe('MemoryDedup window', () => {
  it('remembers an id for at least the TTL and forgets it by 1.5 TTL', () => {
    let now = 1000;
    const d = new MemoryDedup(() => now);
    d.set('a', { seq: 1 }, 100); // generations of 50 ms from 1000
    now = 1049;
    d.set('b', { seq: 2 }, 100); // set late in the first generation
    now = 1099;
    expect(d.get('a')).toEqual({ seq: 1 });
    now = 1148;
    expect(d.get('b')).toEqual({ seq: 2 }); // 99 ms after its set
    expect(d.get('a')).toEqual({ seq: 1 }); // 148 ms: still within 1.5 TTL
    now = 1150;
    expect(d.get('a')).toBeUndefined(); // 150 ms: its generation is gone
    expect(d.get('b')).toBeUndefined(); // 101 ms, same generation
    expect(d.size).toBe(0);
  });

  it('drops everything after a long quiet spell and keeps working', () => {
    let now = 0;
    const d = new MemoryDedup(() => now);
    for (let i = 0; i < 1000; i++) d.set(`k${i}`, { seq: i }, 1000);
    expect(d.size).toBe(1000);
    now = 60_000;
    expect(d.get('k1')).toBeUndefined();
    expect(d.size).toBe(0);
    d.set('z', { seq: 1 }, 1000);
    now = 60_999;
    expect(d.get('z')).toEqual({ seq: 1 });
  });

  it('finds every one of 200000 ids across table growth and generations, and no other', () => {
    let now = 0;
    const d = new MemoryDedup(() => now);
    for (let i = 0; i < 200_000; i++) {
      if (i === 100_000) now = 600; // the second half lands in the next generation
      d.set(dedupKey(`u${i % 7}`, 'message', `id-${i}`), { room: 'r', seq: i }, 1000);
    }
    expect(d.size).toBe(200_000);
    for (let i = 0; i < 200_000; i += 997) {
      expect(d.get(dedupKey(`u${i % 7}`, 'message', `id-${i}`))).toEqual({ room: 'r', seq: i });
      expect(d.get(dedupKey(`u${(i + 1) % 7}`, 'message', `id-${i}`))).toBeUndefined();
    }
    d.set(dedupKey('u0', 'message', 'id-0'), { room: 'r', seq: -1 }, 1000); // set again
    expect(d.get(dedupKey('u0', 'message', 'id-0'))).toEqual({ room: 'r', seq: -1 });
  });
});
