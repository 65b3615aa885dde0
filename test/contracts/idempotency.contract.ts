import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { uniqueName } from './contract-kit.js';
import { type IdempotencyStore, idempotencyKey } from '../../src/cluster/idempotency.js';

export interface IdempotencyFactory {
  create(): Promise<IdempotencyStore>;
  dispose(): Promise<void>;
}

/** The IdempotencyStore semantics (idempotency.ts), for any implementation. */
export function idempotencyContract(name: string, makeFactory: () => IdempotencyFactory): void {
  describe(`IdempotencyStore contract: ${name}`, () => {
    let factory: IdempotencyFactory;
    let d: IdempotencyStore;

    beforeEach(async () => {
      factory = makeFactory();
      d = await factory.create();
    });
    afterEach(() => factory.dispose());

    it('remembers an entry for the window', async () => {
      const key = idempotencyKey('alice', 'message', uniqueName('id'));
      expect(await d.get(key)).toBeUndefined();
      await d.set(key, { room: 'r', seq: 7 }, 60000);
      expect(await d.get(key)).toEqual({ room: 'r', seq: 7 });
    });

    it('keeps users and kinds apart', async () => {
      const id = uniqueName('id');
      await d.set(idempotencyKey('alice', 'message', id), { room: 'r', seq: 1 }, 60000);
      expect(await d.get(idempotencyKey('bob', 'message', id))).toBeUndefined();
      expect(await d.get(idempotencyKey('alice', 'direct', id))).toBeUndefined();
      await d.set(idempotencyKey('alice', 'direct', id), {}, 60000);
      expect(await d.get(idempotencyKey('alice', 'direct', id))).toEqual({});
    });

    it('claims a key once: the first caller wins, racing or later ones do not', async () => {
      const key = idempotencyKey('orders', 'push', uniqueName('id'));
      const [a, b] = await Promise.all([d.claim(key, 60000), d.claim(key, 60000)]);
      expect([a, b].sort()).toEqual([false, true]);
      expect(await d.claim(key, 60000)).toBe(false);
      expect(await d.claim(idempotencyKey('billing', 'push', key), 60000)).toBe(true);
    });

    it('a released claim can be claimed again, once; releasing an unknown key does nothing', async () => {
      const key = idempotencyKey('orders', 'push', uniqueName('id'));
      expect(await d.claim(key, 60000)).toBe(true);
      await d.release(key);
      expect(await d.get(key)).toBeUndefined();
      const [a, b] = await Promise.all([d.claim(key, 60000), d.claim(key, 60000)]);
      expect([a, b].sort()).toEqual([false, true]);
      await d.release(idempotencyKey('orders', 'push', uniqueName('never')));
      expect(await d.claim(key, 60000)).toBe(false);
    });

    it("takes a sender's message id once, whichever room; a released id can be taken again", async () => {
      const key = idempotencyKey('alice', 'message', uniqueName('id'));
      const [a, b] = await Promise.all([d.take(key, 'room-a', 60000), d.take(key, 'room-b', 60000)]);
      expect([a, b].filter((x) => x === undefined)).toHaveLength(1);
      const winner = a === undefined ? 'room-a' : 'room-b';
      expect(a ?? b).toEqual({ room: winner });
      expect(await d.take(key, 'room-c', 60000)).toEqual({ room: winner });
      expect(await d.take(idempotencyKey('bob', 'message', key), 'room-c', 60000)).toBeUndefined();
      await d.release(key);
      expect(await d.take(key, 'room-c', 60000)).toBeUndefined();
      expect(await d.take(key, 'room-a', 60000)).toEqual({ room: 'room-c' });
    });

    it('forgets an entry after its TTL', async () => {
      const key = idempotencyKey('alice', 'message', uniqueName('id'));
      await d.set(key, { room: 'r', seq: 1 }, 50);
      await new Promise((r) => setTimeout(r, 120));
      expect(await d.get(key)).toBeUndefined();
    });
  });
}
