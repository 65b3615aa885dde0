import { jest } from '@jest/globals';
import { Pacer } from './pacer.js';

describe('Pacer', () => {
  beforeEach(() => jest.useFakeTimers({ now: 0 }));
  afterEach(() => jest.useRealTimers());

  it('writes a burst of ratePerSec at once, then a little slower than the server refills', () => {
    const sent: string[] = [];
    const pacer = new Pacer(true, () => ({ send: (data) => sent.push(data) }));
    pacer.start(10);
    for (let i = 0; i < 12; i++) pacer.write({ type: 'ping', id: String(i) });
    expect(sent).toHaveLength(10);
    // 0.9 x 10 per second: the next token after 112 ms, not the server's 100.
    jest.advanceTimersByTime(111);
    expect(sent).toHaveLength(10);
    jest.advanceTimersByTime(1);
    expect(sent).toHaveLength(11);
    jest.advanceTimersByTime(112);
    expect(sent.map((s) => (JSON.parse(s) as { id: string }).id)).toEqual(
      Array.from({ length: 12 }, (_, i) => String(i)),
    );
  });

  it('holds frames while there is no socket, and runs onWrite when one is written', () => {
    const sent: string[] = [];
    let open = false;
    const pacer = new Pacer(true, () => (open ? { send: (data) => sent.push(data) } : null));
    const written: string[] = [];
    pacer.write({ type: 'ping', id: 'a' }, () => written.push('a'));
    expect(sent).toEqual([]);
    open = true;
    pacer.write({ type: 'ping', id: 'b' }, () => written.push('b'));
    expect(written).toEqual(['a', 'b']);
    pacer.clear();
    open = false;
    pacer.write({ type: 'ping', id: 'c' });
    pacer.clear();
    open = true;
    pacer.write({ type: 'ping', id: 'd' });
    expect(sent.map((s) => (JSON.parse(s) as { id: string }).id)).toEqual(['a', 'b', 'd']);
  });

  it('does not pace when disabled', () => {
    const sent: string[] = [];
    const pacer = new Pacer(false, () => ({ send: (data) => sent.push(data) }));
    pacer.start(1);
    for (let i = 0; i < 5; i++) pacer.write({ type: 'ping' });
    expect(sent).toHaveLength(5);
  });
});
