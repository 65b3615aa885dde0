import type { Connection } from '../hub/connection.js';
import { HubError } from '../hub/hub-error.js';
import type { HubService } from '../hub/hub.service.js';
import type { HooksService, PublishVerdict } from './hooks.service.js';
import { PublishLanes } from './publish-lanes.js';

const MAX_PENDING = 16;

/** A hook whose answers the test gives, one per message, in any order. */
function controlledHook() {
  const pending = new Map<string, { resolve: (c: string) => void; reject: (e: unknown) => void }>();
  const hooks = {
    maxPendingPublishes: MAX_PENDING,
    publish: (_c: Connection, _room: string, content: string, id: string | undefined) =>
      new Promise<PublishVerdict>((resolve, reject) =>
        pending.set(id ?? content, { resolve: (c) => resolve({ content: c, skipHistory: false }), reject }),
      ),
  } as unknown as HooksService;
  return { hooks, pending };
}

function connection(publish: string[] | null = null): Connection {
  return {
    joined: (room: string) => room === 'r',
    principal: { id: 'u', name: 'u', rooms: null, exp: null, scopes: [], publish },
  } as unknown as Connection;
}

describe('PublishLanes', () => {
  it('publishes a connection’s messages in the order sent, whatever order the hook answers in', async () => {
    const published: string[] = [];
    const hub = {
      publishFromClient: (_c: Connection, _room: string, content: string) => {
        published.push(content);
      },
    } as unknown as HubService;
    const { hooks, pending } = controlledHook();
    const lanes = new PublishLanes(hub, hooks);
    const c = connection();
    const done = ['a', 'b', 'c'].map((id) => lanes.submit(c, 'r', id, id));
    pending.get('c')!.resolve('C');
    pending.get('b')!.reject(new HubError('forbidden', 'no'));
    await Promise.resolve();
    expect(published).toEqual([]);
    pending.get('a')!.resolve('A');
    const results = await Promise.allSettled(done);
    expect(published).toEqual(['A', 'C']);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });

  it('answers rate_limited past maxPendingPublishes (HOOK_PUBLISH_MAX_PENDING) waiting messages, and takes more once they left', async () => {
    const hub = { publishFromClient: () => undefined } as unknown as HubService;
    const { hooks, pending } = controlledHook();
    const lanes = new PublishLanes(hub, hooks);
    const c = connection();
    const done = Array.from({ length: MAX_PENDING }, (_, i) => lanes.submit(c, 'r', 'x', `m${i}`));
    // rate_limited, retry later: the hook's backlog, not the client's doing (no ERROR_LIMIT count).
    let refused: unknown;
    try {
      void lanes.submit(c, 'r', 'x', 'over');
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(HubError);
    expect(refused).toMatchObject({ code: 'rate_limited', temporary: true, byClient: false });
    for (const p of pending.values()) p.resolve('x');
    await Promise.all(done);
    const next = lanes.submit(c, 'r', 'x', 'again');
    pending.get('again')!.resolve('x');
    await next;
  });

  it('refuses what the hub would refuse before asking the hook', () => {
    const { hooks, pending } = controlledHook();
    const lanes = new PublishLanes({} as HubService, hooks);
    expect(() => lanes.submit(connection(), 'elsewhere', 'x', 'n1')).toThrow(/join room "elsewhere"/);
    expect(() => lanes.submit(connection([]), 'r', 'x', 'n2')).toThrow(/does not allow publishing/);
    expect(pending.size).toBe(0);
  });
});
