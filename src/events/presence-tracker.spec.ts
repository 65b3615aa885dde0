import { jest } from '@jest/globals';
import type { GatewayEvents } from './events.js';
import { LocalPresenceTracker } from './presence-tracker.js';

type Seen = [string, unknown];

describe('LocalPresenceTracker (one instance)', () => {
  const ana = { id: 'ana', name: 'Ana' };
  let seen: Seen[];
  let tracker: LocalPresenceTracker;

  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000 });
    seen = [];
    tracker = new LocalPresenceTracker(
      5000,
      <K extends keyof GatewayEvents>(type: K, data: GatewayEvents[K]) => seen.push([type, data]),
    );
  });
  afterEach(() => {
    tracker.stop();
    jest.useRealTimers();
  });

  const types = () => seen.map(([t]) => t);

  it('announces the first connection, and the last one only after the grace', () => {
    tracker.open(ana, 'c1');
    tracker.open(ana, 'c2');
    expect(seen).toEqual([['online', { user: ana, time: 1_000 }]]);
    tracker.close(ana, 'c1');
    tracker.close(ana, 'c2');
    jest.advanceTimersByTime(4999);
    expect(types()).toEqual(['online']);
    jest.advanceTimersByTime(1);
    expect(seen[1]).toEqual(['offline', { user: ana, time: 6_000 }]);
  });

  it('a reload within the grace is neither offline nor online', () => {
    tracker.open(ana, 'c1');
    tracker.close(ana, 'c1');
    jest.advanceTimersByTime(3000);
    tracker.open(ana, 'c2');
    jest.advanceTimersByTime(10_000);
    expect(types()).toEqual(['online']);
    tracker.close(ana, 'c2');
    jest.advanceTimersByTime(5000);
    expect(types()).toEqual(['online', 'offline']);
  });

  it('online and offline alternate whatever the order of opens and closes', () => {
    for (let i = 0; i < 50; i++) {
      tracker.open(ana, `a${i}`);
      if (i % 3 === 0) tracker.close(ana, `a${i - 1}`);
      tracker.close(ana, `a${i}`);
      jest.advanceTimersByTime((i % 4) * 2000);
    }
    jest.advanceTimersByTime(5000);
    const t = types();
    expect(t.length % 2).toBe(0);
    t.forEach((type, i) => expect(type).toBe(i % 2 === 0 ? 'online' : 'offline'));
  });

  it('joined/left per room, with the reason of the last leave', () => {
    tracker.join('r', ana, 'c1');
    tracker.join('r', ana, 'c2');
    tracker.join('s', ana, 'c1');
    tracker.leave('r', ana, 'c1', 'leave');
    tracker.leave('r', ana, 'c2', 'disconnect');
    jest.advanceTimersByTime(5000);
    expect(seen).toEqual([
      ['joined', { room: 'r', user: ana, time: 1_000 }],
      ['joined', { room: 's', user: ana, time: 1_000 }],
      ['left', { room: 'r', user: ana, reason: 'disconnect', time: 6_000 }],
    ]);
  });

  it('an unknown connection closing changes nothing', () => {
    tracker.close(ana, 'nobody');
    tracker.leave('r', ana, 'nobody', 'leave');
    jest.advanceTimersByTime(10_000);
    expect(seen).toEqual([]);
  });
});
