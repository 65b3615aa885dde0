import { brokerContract } from '../broker.contract.js';
import { dedupContract } from '../dedup.contract.js';
import { presenceContract } from '../presence.contract.js';
import { MemoryBroker } from './memory-broker.js';
import { MemoryDedup } from './memory-dedup.js';
import { MemoryPresence } from './memory-presence.js';

brokerContract('memory', () => ({
  create: (historySize) => Promise.resolve(new MemoryBroker(historySize)),
  dispose: () => Promise.resolve(),
}));

presenceContract('memory', () => ({
  create: () => Promise.resolve(new MemoryPresence()),
  dispose: () => Promise.resolve(),
}));

dedupContract('memory', () => ({
  create: () => Promise.resolve(new MemoryDedup()),
  dispose: () => Promise.resolve(),
}));

describe('MemoryDedup window', () => {
  it('forgets an id after the TTL and keeps one that was set again', async () => {
    let now = 1000;
    const d = new MemoryDedup(() => now);
    await d.set('a', { seq: 1 }, 100);
    await d.set('b', { seq: 2 }, 100);
    now = 1050;
    await d.set('a', { seq: 3 }, 100); // set again: expires at 1150
    now = 1120;
    await d.set('c', { seq: 4 }, 100); // sweeps the first 'a' slot and 'b'
    expect(await d.get('a')).toEqual({ seq: 3 });
    expect(await d.get('b')).toBeUndefined();
    expect(d.size).toBe(2);
    now = 1300;
    expect(await d.get('a')).toBeUndefined();
    await d.set('z', {}, 100);
    expect(d.size).toBe(1);
  });
});
