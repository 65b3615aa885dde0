import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { uniqueName } from './contract-kit.js';
import type { PresenceStore } from '../../src/cluster/presence.js';

export interface PresenceFactory {
  create(): Promise<PresenceStore>;
  dispose(): Promise<void>;
}

const alice = { id: 'alice', name: 'Alice' };
const bob = { id: 'bob', name: 'Bob' };

/** The PresenceStore semantics (presence.ts), for any implementation. */
export function presenceContract(name: string, makeFactory: () => PresenceFactory): void {
  describe(`PresenceStore contract: ${name}`, () => {
    let factory: PresenceFactory;
    let p: PresenceStore;
    let room: string;

    beforeEach(async () => {
      factory = makeFactory();
      p = await factory.create();
      room = uniqueName('room');
    });
    afterEach(() => factory.dispose());

    it('counts users, not connections: first add and last remove say so', async () => {
      expect(await p.add(room, alice, 'c1')).toBe(true);
      expect(await p.add(room, alice, 'c2')).toBe(false);
      expect(await p.add(room, bob, 'c3')).toBe(true);
      expect(await p.count(room)).toBe(2);
      expect(await p.remove(room, 'alice', 'c1')).toBe(false);
      expect(await p.count(room)).toBe(2);
      expect(await p.remove(room, 'alice', 'c2')).toBe(true);
      expect(await p.count(room)).toBe(1);
      expect(await p.members(room, 10)).toEqual([bob]);
    });

    it('adding the same connection twice is one connection', async () => {
      expect(await p.add(room, alice, 'c1')).toBe(true);
      expect(await p.add(room, alice, 'c1')).toBe(false);
      expect(await p.remove(room, 'alice', 'c1')).toBe(true);
      expect(await p.count(room)).toBe(0);
    });

    it('removing an unknown connection is false and changes nothing', async () => {
      await p.add(room, alice, 'c1');
      expect(await p.remove(room, 'alice', 'nope')).toBe(false);
      expect(await p.remove(room, 'carol', 'c1')).toBe(false);
      expect(await p.remove(uniqueName('empty'), 'alice', 'c1')).toBe(false);
      expect(await p.count(room)).toBe(1);
    });

    it('members lists each user once with a name, at most limit', async () => {
      await p.add(room, alice, 'c1');
      await p.add(room, alice, 'c2');
      await p.add(room, bob, 'c3');
      const all = await p.members(room, 10);
      expect(all.sort((a, b) => a.id.localeCompare(b.id))).toEqual([alice, bob]);
      expect(await p.members(room, 1)).toHaveLength(1);
      expect(await p.members(room, 0)).toEqual([]);
      expect(await p.members(uniqueName('empty'), 10)).toEqual([]);
    });

    it('rooms are independent', async () => {
      const other = uniqueName('other');
      await p.add(room, alice, 'c1');
      expect(await p.add(other, alice, 'c1')).toBe(true);
      expect(await p.remove(room, 'alice', 'c1')).toBe(true);
      expect(await p.count(other)).toBe(1);
    });
  });
}
