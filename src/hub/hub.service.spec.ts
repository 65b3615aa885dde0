import { loadConfig } from '../config/config.js';
import { MemoryBroker } from '../cluster/memory/memory-broker.js';
import { MemoryDedup } from '../cluster/memory/memory-dedup.js';
import { MemoryPresence } from '../cluster/memory/memory-presence.js';
import { Refusal } from '../protocol/codes.js';
import { HubService } from './hub.service.js';

function hub(env: Record<string, string>): HubService {
  const config = loadConfig({ JWT_SECRET: 'x'.repeat(32), ...env });
  return new HubService(
    config,
    new MemoryBroker(config.historySize),
    new MemoryPresence(),
    new MemoryDedup(),
  );
}

describe('HubService registry: admission', () => {
  it('counts per IP, per user and in total, and release frees the slot', () => {
    const h = hub({ MAX_CONNECTIONS: '3', MAX_CONNECTIONS_PER_IP: '2', MAX_CONNECTIONS_PER_USER: '2' });
    expect(h.admit('10.0.0.1', 'a')).toBeNull();
    expect(h.admit('10.0.0.1', 'b')).toBeNull();
    expect(h.admit('10.0.0.1', 'c')).toBe(Refusal.TooManyConnections); // per IP
    expect(h.admit('10.0.0.2', 'a')).toBeNull();
    expect(h.admit('10.0.0.3', 'd')).toBe(Refusal.ServerFull); // total
    h.release('10.0.0.1', 'b');
    expect(h.admit('10.0.0.3', 'a')).toBe(Refusal.TooManyConnections); // per user: a has 2
    expect(h.admit('10.0.0.3', 'd')).toBeNull();
  });

  it('treats 0 as no limit, and refuses everything while draining', () => {
    const h = hub({ MAX_CONNECTIONS: '0', MAX_CONNECTIONS_PER_IP: '0', MAX_CONNECTIONS_PER_USER: '0' });
    for (let i = 0; i < 5000; i++) expect(h.admit('1.1.1.1', 'same')).toBeNull();
    h.startDraining();
    expect(h.admit('2.2.2.2', 'other')).toBe(Refusal.Draining);
  });

  it('publishes with contiguous seqs and dedups a retried id per sender', async () => {
    const h = hub({});
    const alice = { id: 'alice', name: 'Alice' };
    expect(await h.publish('r', 'one', { sender: alice, id: 'x' })).toEqual({ id: 'x', seq: 1 });
    expect(await h.publish('r', 'again', { sender: alice, id: 'x' })).toEqual({ id: 'x', seq: 1 });
    expect((await h.publish('r', 'other sender', { sender: { id: 'bob', name: 'Bob' }, id: 'x' })).seq).toBe(
      2,
    );
    const [a, b] = await Promise.all([
      h.publish('r', 'race', { sender: alice, id: 'y' }),
      h.publish('r', 'race', { sender: alice, id: 'y' }),
    ]);
    expect(a).toEqual(b);
    expect(a.seq).toBe(3);
    expect((await h.publish('r', 'no id')).seq).toBe(4);
  });
});
