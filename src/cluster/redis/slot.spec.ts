import { keySlot, SLOTS, slotTag } from './slot.js';

describe('Redis Cluster hash slots', () => {
  it('hashes like the server: CRC16/XMODEM of the key or of its first non-empty {tag}', () => {
    // Answers of CLUSTER KEYSLOT on redis-server 7.
    expect(keySlot('somekey')).toBe(11058);
    expect(keySlot('foo{hash_tag}')).toBe(2515);
    expect(keySlot('bar{hash_tag}')).toBe(2515);
    expect(keySlot('gw:room:{r1}')).toBe(2121);
    expect(keySlot('gw:room:{r1}:meta')).toBe(2121);
    expect(keySlot('123456789')).toBe(0x31c3);
    // An empty tag does not count: the whole key is hashed; only the first tag counts.
    expect(keySlot('{}x')).not.toBe(keySlot(''));
    expect(keySlot('a{b}{c}')).toBe(keySlot('b'));
  });

  it('hashes the UTF-8 bytes of a key that is not ASCII (answers of cluster-key-slot, ioredis own)', () => {
    expect(keySlot('gw:sender:5:{ünïc}:m1')).toBe(111);
    expect(keySlot('€uro')).toBe(997);
    expect(keySlot('a{😀}b')).toBe(2959);
    expect(keySlot('{é}')).toBe(10180);
  });

  it('finds a tag for every slot', () => {
    const wrong: number[] = [];
    for (let slot = 0; slot < SLOTS; slot++) if (keySlot(`g:{${slotTag(slot)}}`) !== slot) wrong.push(slot);
    expect(wrong).toEqual([]);
  });
});
