import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { uniqueName } from './contract-kit.js';
import { type DedupStore, dedupKey } from './dedup.js';

export interface DedupFactory {
  create(): Promise<DedupStore>;
  dispose(): Promise<void>;
}

/** The DedupStore semantics (dedup.ts), for any implementation. */
export function dedupContract(name: string, makeFactory: () => DedupFactory): void {
  describe(`DedupStore contract: ${name}`, () => {
    let factory: DedupFactory;
    let d: DedupStore;

    beforeEach(async () => {
      factory = makeFactory();
      d = await factory.create();
    });
    afterEach(() => factory.dispose());

    it('remembers an entry for the window', async () => {
      const key = dedupKey('alice', 'message', uniqueName('id'));
      expect(await d.get(key)).toBeUndefined();
      await d.set(key, { room: 'r', seq: 7 }, 60000);
      expect(await d.get(key)).toEqual({ room: 'r', seq: 7 });
    });

    it('keeps users and kinds apart', async () => {
      const id = uniqueName('id');
      await d.set(dedupKey('alice', 'message', id), { room: 'r', seq: 1 }, 60000);
      expect(await d.get(dedupKey('bob', 'message', id))).toBeUndefined();
      expect(await d.get(dedupKey('alice', 'direct', id))).toBeUndefined();
      await d.set(dedupKey('alice', 'direct', id), {}, 60000);
      expect(await d.get(dedupKey('alice', 'direct', id))).toEqual({});
    });

    it('forgets an entry after its TTL', async () => {
      const key = dedupKey('alice', 'message', uniqueName('id'));
      await d.set(key, { room: 'r', seq: 1 }, 50);
      await new Promise((r) => setTimeout(r, 120));
      expect(await d.get(key)).toBeUndefined();
    });
  });
}
