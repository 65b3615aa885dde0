import { HookFailure, type PublishDecision, type PublishHookRequest } from './gateway-hooks.js';
import { PublishBatcher } from './publish-batcher.js';

/** A backend the test answers: every batch sent, with the means to settle it. */
function backend() {
  const sent: {
    requests: PublishHookRequest[];
    timeoutMs: number;
    count: number;
    answer: (a: unknown) => void;
    fail: (e: unknown) => void;
  }[] = [];
  const send = (body: string, timeoutMs: number, count: number) =>
    new Promise<unknown>((answer, fail) => {
      sent.push({
        requests: (JSON.parse(body) as { requests: PublishHookRequest[] }).requests,
        timeoutMs,
        count,
        answer,
        fail,
      });
    });
  return { sent, send };
}

const request = (id: string, content = id): PublishHookRequest => ({
  user: { id: 'u', name: 'U', claims: {} },
  ip: '127.0.0.1',
  room: 'r',
  id,
  content,
});

/** Lets the end-of-turn flush run. */
const endOfTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('PublishBatcher', () => {
  it('sends the calls of one turn as one batch, in order, and answers each with its own result', async () => {
    const { sent, send } = backend();
    const b = new PublishBatcher(10, 4, 2000, send);
    const asked = ['a', 'b', 'c'].map((id) => b.ask(request(id)));
    expect(sent).toHaveLength(0); // not before the end of the turn
    await endOfTurn();
    expect(sent).toHaveLength(1);
    expect(sent[0].requests).toEqual([request('a'), request('b'), request('c')]);
    expect(sent[0].count).toBe(3);
    expect(sent[0].timeoutMs).toBeGreaterThan(1900);
    const results: PublishDecision[] = [
      { allow: true },
      { allow: false, code: 'no', message: 'not b' },
      { allow: true, content: 'C', skipHistory: true },
    ];
    sent[0].answer({ results });
    expect(await Promise.all(asked)).toEqual(results);

    const later = b.ask(request('d'));
    await endOfTurn();
    expect(sent).toHaveLength(2);
    sent[1].answer({ results: [{ allow: true }] });
    expect(await later).toEqual({ allow: true });
  });

  it('splits a turn past the batch size', async () => {
    const { sent, send } = backend();
    const b = new PublishBatcher(2, 4, 2000, send);
    const asked = ['a', 'b', 'c', 'd', 'e'].map((id) => b.ask(request(id)));
    await endOfTurn();
    expect(sent.map((s) => s.requests.map((r) => r.id))).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    for (const s of sent)
      s.answer({ results: s.requests.map((r) => ({ allow: true, content: r.id! + '!' })) });
    expect((await Promise.all(asked)).map((d) => d.allow && d.content)).toEqual([
      'a!',
      'b!',
      'c!',
      'd!',
      'e!',
    ]);
  });

  it('holds calls while every batch slot waits for an answer, and sends them together when one comes back', async () => {
    const { sent, send } = backend();
    const b = new PublishBatcher(10, 1, 2000, send);
    const first = b.ask(request('a'));
    await endOfTurn();
    const queued = [b.ask(request('b'))];
    await endOfTurn();
    queued.push(b.ask(request('c')));
    await endOfTurn();
    expect(sent).toHaveLength(1);
    sent[0].answer({ results: [{ allow: true }] });
    await first;
    await endOfTurn();
    expect(sent.map((s) => s.requests.map((r) => r.id))).toEqual([['a'], ['b', 'c']]);
    sent[1].answer({ results: [{ allow: true }, { allow: true }] });
    await Promise.all(queued);
  });

  it('fails every message of a batch that failed or whose answer does not match it', async () => {
    const { sent, send } = backend();
    const b = new PublishBatcher(10, 4, 2000, send);
    const cases: [unknown, RegExp][] = [
      [new HookFailure('answered HTTP 500'), /answered HTTP 500/],
      [{ allow: true }, /no "results" list/],
      [{ results: 'yes' }, /no "results" list/],
      [null, /no "results" list/],
      [{ results: [{ allow: true }] }, /1 results for 2 requests/],
      [{ results: [{ allow: true }, { allow: true }, { allow: true }] }, /3 results for 2 requests/],
    ];
    for (const [i, [answer, problem]] of cases.entries()) {
      const asked = [b.ask(request(`x${i}`)), b.ask(request(`y${i}`))];
      await endOfTurn();
      const s = sent[i];
      if (answer instanceof Error) s.fail(answer);
      else s.answer(answer);
      for (const r of await Promise.allSettled(asked)) {
        expect(r.status).toBe('rejected');
        expect((r as PromiseRejectedResult).reason).toBeInstanceOf(HookFailure);
        expect(String((r as PromiseRejectedResult).reason)).toMatch(problem);
      }
    }
  });

  it('an error that is not a HookFailure (a socket error) fails the batch as unreachable', async () => {
    const { sent, send } = backend();
    const b = new PublishBatcher(10, 4, 2000, send);
    const asked = b.ask(request('a'));
    await endOfTurn();
    sent[0].fail(new Error('ECONNRESET'));
    await expect(asked).rejects.toThrow(HookFailure);
    await expect(asked).rejects.toThrow(/unreachable: .*ECONNRESET/);
  });

  it('a malformed entry fails only its own message', async () => {
    const { sent, send } = backend();
    const b = new PublishBatcher(10, 4, 2000, send);
    const asked = ['a', 'b', 'c', 'd'].map((id) => b.ask(request(id)));
    await endOfTurn();
    sent[0].answer({ results: [{ allow: true }, { allow: 'yes' }, null, { allow: false }] });
    const settled = await Promise.allSettled(asked);
    expect(settled.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect(String((settled[1] as PromiseRejectedResult).reason)).toMatch(
      /result 1 of the batch has no boolean "allow"/,
    );
  });

  it('a message that waited HOOK_TIMEOUT_MS for a batch slot fails without being sent', async () => {
    const { sent, send } = backend();
    const b = new PublishBatcher(10, 1, 30, send);
    const first = b.ask(request('a')).catch((e: unknown) => e);
    await endOfTurn();
    const stale = b.ask(request('stale')).catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const fresh = b.ask(request('fresh'));
    sent[0].fail(new HookFailure('no answer within 30 ms'));
    expect(await first).toBeInstanceOf(HookFailure);
    expect(String(await stale)).toMatch(/no answer within 30 ms \(waited for a free connection\)/);
    await endOfTurn();
    expect(sent.map((s) => s.requests.map((r) => r.id))).toEqual([['a'], ['fresh']]);
    expect(sent[1].timeoutMs).toBeLessThanOrEqual(30);
    sent[1].answer({ results: [{ allow: true }] });
    await fresh;
  });

  it('close() fails what waits and refuses new calls', async () => {
    const { sent, send } = backend();
    const b = new PublishBatcher(10, 4, 2000, send);
    const waiting = b.ask(request('a'));
    b.close();
    await expect(waiting).rejects.toThrow(/shutting down/);
    await expect(b.ask(request('b'))).rejects.toThrow(/shutting down/);
    await endOfTurn();
    expect(sent).toHaveLength(0);
  });
});
