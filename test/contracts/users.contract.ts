import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { uniqueName } from './contract-kit.js';
import type { UserDirectory } from '../../src/cluster/users.js';

export interface UsersFactory {
  /** A directory as one instance has it; a second call is another instance (same backend). */
  create(): Promise<UserDirectory>;
  dispose(): Promise<void>;
}

/** The UserDirectory semantics (users.ts), for any implementation. */
export function usersContract(name: string, makeFactory: () => UsersFactory): void {
  describe(`UserDirectory contract: ${name}`, () => {
    let factory: UsersFactory;
    let d: UserDirectory;
    let user: string;

    beforeEach(async () => {
      factory = makeFactory();
      d = await factory.create();
      user = uniqueName('user');
    });
    afterEach(() => factory.dispose());

    it('leases up to the limit, then refuses until one is released', async () => {
      expect(await d.acquire(user, 'c1', 2)).toBe(true);
      expect(await d.acquire(user, 'c2', 2)).toBe(true);
      expect(await d.acquire(user, 'c3', 2)).toBe(false);
      expect(await d.acquire(user, 'c1', 2)).toBe(true); // the same lease again
      await d.release(user, 'c1');
      expect(await d.acquire(user, 'c3', 2)).toBe(true);
      expect(await d.acquire(uniqueName('other'), 'c9', 2)).toBe(true);
      expect(await d.acquire(user, 'c4', 0)).toBe(true); // 0 = no limit
    });

    it('answers the connections and the rooms they joined, each room once', async () => {
      expect(await d.lookup(user)).toEqual({ connections: 0, rooms: [] });
      await d.acquire(user, 'c1', 0);
      await d.acquire(user, 'c2', 0);
      await d.update(user, 'c1', ['b', 'a']);
      await d.update(user, 'c2', ['a']);
      expect(await d.lookup(user)).toEqual({ connections: 2, rooms: ['a', 'b'] });
      await d.update(user, 'c1', []);
      expect(await d.lookup(user)).toEqual({ connections: 2, rooms: ['a'] });
      await d.release(user, 'c2');
      await d.release(user, 'c1');
      expect(await d.lookup(user)).toEqual({ connections: 0, rooms: [] });
    });

    it('ignores rooms of a connection that holds no lease', async () => {
      await d.update(user, 'ghost', ['x']);
      expect(await d.lookup(user)).toEqual({ connections: 0, rooms: [] });
    });
  });
}
