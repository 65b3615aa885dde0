import { MemoryTicketStore } from './memory-ticket-store.js';
import type { Principal } from './principal.js';
import { TicketStoreFullError } from './ticket-store.js';

const alice: Principal = { id: 'alice', name: 'Alice', rooms: ['team:*'], exp: null, scopes: [] };

describe('MemoryTicketStore', () => {
  it('hands a ticket out once, before its expiry only', async () => {
    let now = 1000;
    const store = new MemoryTicketStore(10, () => now);
    await store.put('k1', alice, 500);
    await store.put('k2', alice, 500);
    expect(await store.take('k1')).toEqual(alice);
    expect(await store.take('k1')).toBeNull();
    now = 1500;
    expect(await store.take('k2')).toBeNull();
    expect(await store.take('never')).toBeNull();
  });

  it('is bounded: expired tickets are swept, and a full store refuses new ones', async () => {
    let now = 0;
    const store = new MemoryTicketStore(3, () => now);
    for (const k of ['a', 'b', 'c']) await store.put(k, alice, 100);
    await expect(store.put('d', alice, 100)).rejects.toBeInstanceOf(TicketStoreFullError);
    // Older tickets are not dropped to make room: 'a' still works.
    expect(await store.take('a')).toEqual(alice);
    now = 100;
    await store.put('e', alice, 100);
    expect(store.size).toBe(1);
  });
});
