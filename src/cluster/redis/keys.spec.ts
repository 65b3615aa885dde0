import { idempotencyKey } from '../idempotency.js';
import { RedisKeys } from './keys.js';
import { keySlot } from './slot.js';

describe('RedisKeys slots (Redis Cluster)', () => {
  const keys = new RedisKeys('gw:', true);

  it("recordSlot is the slot of the record's key, whatever the user id holds", () => {
    const users = ['u1', 'user 0', 'a}b', '}x', 'x}', '{a}', 'a{b', 'ünïcødé', '😀}', 'a'.repeat(300), ''];
    const ids = ['m1', '}', '{x}', 'é', ''];
    const wrong: string[] = [];
    for (const user of users) {
      for (const id of ids) {
        const key = idempotencyKey(user, 'message', id);
        if (keys.recordSlot(key) !== keySlot(keys.record(key))) wrong.push(`${user}/${id}`);
      }
    }
    // Keys of other kinds (dedup entries) too.
    for (const key of [idempotencyKey('u1', 'direct', 'd1'), 'claim:x']) {
      if (keys.recordSlot(key) !== keySlot(keys.record(key))) wrong.push(key);
    }
    expect(wrong).toEqual([]);
  });

  it("roomSlot is the slot of every key of the room's", () => {
    for (const room of ['r', 'bench', 'room-17', 'çà', '😀']) {
      const slot = keys.roomSlot(room);
      for (const key of [keys.meta(room), keys.log(room), keys.skips(room), keys.roomChannel(room)])
        expect(keySlot(key)).toBe(slot);
    }
  });
});
