import { HubEventBus } from './event-bus.js';
import type { EventSink } from './event-sink.js';

describe('HubEventBus', () => {
  const sender = { id: 'ana', name: 'Ana' };
  const message = { id: 'm1', room: 'r', seq: 7, time: 5, sender, content: 'hi' };

  it('with no listener and no sink, a message costs nothing and the ack is not delayed', () => {
    const bus = new HubEventBus();
    const result = { id: 'm1', seq: 7 };
    expect(bus.message(message)).toBeUndefined();
    expect(bus.acked(message, result, (e) => e)).toBe(result);
  });

  it("emits one message event with the epoch (the broker's, else the local one)", () => {
    const bus = new HubEventBus();
    bus.setUp('inst', 0, { epoch: 'E0' });
    const seen: unknown[] = [];
    bus.on('message', (e) => seen.push(e));
    expect(bus.message(message)).toBeUndefined(); // no sink: nothing to wait for
    expect(bus.message({ ...message, seq: 8, epoch: 'E1' })).toBeUndefined();
    expect(seen).toEqual([
      { room: 'r', epoch: 'E0', seq: 7, id: 'm1', time: 5, sender, content: 'hi' },
      { room: 'r', epoch: 'E1', seq: 8, id: 'm1', time: 5, sender, content: 'hi' },
    ]);
    bus.stop();
  });

  it('the ack waits for the sink, and a failed append fails the publish (mapped)', async () => {
    const bus = new HubEventBus();
    let fail = false;
    const appended: string[] = [];
    const sink: EventSink = {
      append(type) {
        appended.push(type);
        return fail ? Promise.reject(new Error('down')) : Promise.resolve();
      },
    };
    bus.sink = sink;
    await expect(bus.acked(message, 'ok', (e) => e)).resolves.toBe('ok');
    fail = true;
    await expect(bus.acked(message, 'ok', () => new Error('unavailable'))).rejects.toThrow('unavailable');
    expect(appended).toEqual(['message', 'message']);
  });

  it('connections become connected/disconnected with the instance, and presence through the tracker', () => {
    const bus = new HubEventBus();
    bus.setUp('inst-1', 0, {});
    const seen: string[] = [];
    for (const type of ['connected', 'disconnected', 'online', 'offline', 'joined', 'left'] as const) {
      bus.on(type, (e: { instance?: string }) => seen.push(e.instance ? `${type}@${e.instance}` : type));
    }
    bus.connectionOpened('c1', sender, '127.0.0.1');
    bus.roomJoined('c1', sender, 'r');
    bus.roomLeft('c1', sender, 'r', 'disconnect');
    bus.connectionClosed('c1', sender, 1000, '');
    expect(seen).toEqual(['connected@inst-1', 'online', 'joined', 'left', 'disconnected@inst-1', 'offline']);
    bus.stop();
  });
});
