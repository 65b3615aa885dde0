// The chat page in a real Chromium (Debian's, driven by playwright-core) against the real gateway
// (`node dist/main.js` as a child process): two people chatting, presence, an XSS attempt, the
// length limit, the scroll rule, rooms, the paste-a-token path, and a server restart with both
// pages open.

import { jest } from '@jest/globals';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { GatewayProcess, PROJECT_ROOT, signToken } from '../harness/index.js';
import { ChatPage, PHONE } from './chat-page.js';
import { pageSuite } from './page-suite.js';
import { TcpGate } from './tcp-gate.js';

jest.setTimeout(90_000);

const ARTIFACTS = join(PROJECT_ROOT, 'test-artifacts');
const XSS = '<img src=x onerror=alert(1)>';

// A high rate limit: the scroll test fills the log quickly from a raw client.
const suite = pageSuite({ development: true, env: { JWT_SECRET: '', RATE_LIMIT_PER_SEC: '1000' } });
const { openChat, rawClient, uid } = suite;

describe('chat page', () => {
  it("two pages chat in general and see each other's messages and presence", async () => {
    const alice = await openChat(suite.server.httpUrl, 'Alice');
    const bob = await openChat(suite.server.httpUrl, 'Bob');

    // Bob got Alice from the members snapshot; Alice got Bob from presence.
    await alice.waitForMember('Bob');
    await bob.waitForMember('Alice');
    await alice.page.waitForSelector('#log .system >> text=Bob joined');

    await alice.send('hello from alice');
    expect(await alice.page.inputValue('#message-input')).toBe('');
    await bob.waitForMessage('hello from alice');
    await bob.send('hi alice, bob here');
    await alice.waitForMessage('hi alice, bob here');
    await bob.waitForMessage('hi alice, bob here');

    for (const page of [alice, bob]) {
      const log = (await page.messages()).slice(-2);
      expect(log.map((m) => [m.sender, m.content])).toEqual([
        ['Alice', 'hello from alice'],
        ['Bob', 'hi alice, bob here'],
      ]);
      for (const m of log) expect(m.time).toMatch(/\d{1,2}:\d{2}:\d{2}/);
      expect(await page.status()).toBe('connected');
    }

    // Bob leaves: Alice's member list follows.
    await bob.close();
    await alice.waitForMember('Bob', false);
    expect(alice.pageErrors).toEqual([]);
  });

  it('shows an HTML/script payload as literal text and runs nothing', async () => {
    const alice = await openChat(suite.server.httpUrl, 'Mallory');
    const bob = await openChat(suite.server.httpUrl, 'Victim');
    await alice.send(XSS);
    await bob.waitForMessage(XSS);
    await alice.waitForMessage(XSS);

    // A name is user input too.
    const raw = await rawClient(suite.server, '<script>alert(2)</script>');
    await raw.say('general', `${XSS} from a raw client`, uid('xss'));
    await bob.waitForMessage(`${XSS} from a raw client`);
    await alice.waitForMessage(`${XSS} from a raw client`);

    for (const page of [alice, bob]) {
      expect(await page.page.$$('#log img, #log script, #member-list script')).toHaveLength(0);
      expect(await page.members()).toContain('<script>alert(2)</script>');
      const senders = (await page.messages()).map((m) => m.sender);
      expect(senders).toContain('<script>alert(2)</script>');
      expect(page.dialogs).toEqual([]);
      expect(page.pageErrors).toEqual([]);
    }
  });

  it('refuses content over the limit before sending it, with the count shown', async () => {
    const alice = await openChat(suite.server.httpUrl, 'Verbose');
    // The page shows the limit from welcome.limits.maxContentLength (MAX_CONTENT_LENGTH, default 1000).
    const limit = Number((await alice.page.textContent('#char-count'))?.split('/')[1]);
    expect(limit).toBe(1000);
    const before = (await alice.messages()).length;
    const long = 'x'.repeat(limit + 1);
    await alice.page.fill('#message-input', long);
    expect(await alice.page.textContent('#char-count')).toBe(`${limit + 1}/${limit}`);
    expect(await alice.page.getAttribute('#char-count', 'class')).toContain('over');
    await alice.page.press('#message-input', 'Enter');
    await alice.waitForError('too_long');
    const [error] = (await alice.errors()).filter((e) => e.code === 'too_long');
    expect(error.text).toContain(`${limit + 1}/${limit}`);
    // The text stays for the user to shorten, and nothing went out.
    expect(await alice.page.inputValue('#message-input')).toBe(long);
    await alice.send('x'.repeat(limit));
    await alice.waitForMessage('x'.repeat(limit));
    expect((await alice.messages()).length).toBe(before + 1);
  });

  it.each([
    ['a desktop', undefined],
    ['a phone', PHONE],
  ])(
    'keeps the scroll position when scrolled up, and follows new messages at the bottom, on %s',
    async (_, viewport) => {
      const reader = await openChat(suite.server.httpUrl, 'Reader', viewport);
      const raw = await rawClient(suite.server, 'Chatty');
      for (let i = 0; i < 60; i++)
        raw.send({ type: 'message', room: 'general', content: `filler ${i}`, id: uid('fill') });
      await reader.waitForMessage('filler 59');
      const filled = await reader.logScroll();
      expect(filled.height).toBeGreaterThan(filled.client * 2);
      // It followed while at the bottom.
      expect(filled.top + filled.client).toBeGreaterThanOrEqual(filled.height - 2);

      await reader.scrollLogTo('top');
      await raw.say('general', 'while scrolled up', uid('up'));
      await reader.waitForMessage('while scrolled up');
      expect((await reader.logScroll()).top).toBe(0);

      await reader.scrollLogTo('bottom');
      await raw.say('general', 'while at the bottom', uid('down'));
      await reader.waitForMessage('while at the bottom');
      const after = await reader.logScroll();
      expect(after.top + after.client).toBeGreaterThanOrEqual(after.height - 2);
    },
  );

  it('joins and leaves rooms, each with its own log and members', async () => {
    const alice = await openChat(suite.server.httpUrl, 'Roamer');
    const raw = await rawClient(suite.server, 'Local', 'lobby.2');
    await alice.page.fill('#room-input', 'lobby.2');
    await alice.page.press('#room-input', 'Enter');
    await alice.waitForRoomJoined('lobby.2');
    expect(await alice.page.textContent('#room-title')).toBe('# lobby.2');
    await alice.waitForMember('Local');
    await raw.say('lobby.2', 'welcome to the lobby', uid('lobby'));
    await alice.waitForMessage('welcome to the lobby');

    await alice.page.click('#room-list li[data-room="general"] .room-name');
    expect(await alice.contents()).not.toContain('welcome to the lobby');
    await alice.page.click('[data-testid="leave-lobby.2"]');
    await alice.page.waitForSelector('#room-list li[data-room="lobby.2"]', { state: 'detached' });
    await raw.find((f) => f.type === 'presence' && f.status === 'left', 'presence left');

    await alice.page.fill('#room-input', 'bad room!');
    await alice.page.press('#room-input', 'Enter');
    await alice.waitForError('bad_room');
  });

  it('says so when the browser has no WebSocket', async () => {
    const chat = await ChatPage.load(suite.browser, suite.server.httpUrl, '/', () => {
      // @ts-expect-error simulating a browser without WebSocket
      delete window.WebSocket;
    });
    suite.keep(chat);
    await chat.page.waitForSelector('#unsupported', { state: 'visible' });
    expect(await chat.page.isHidden('#login')).toBe(true);
    expect(await chat.page.textContent('#unsupported')).toContain('does not support WebSocket');
  });
});

describe('chat page without dev tokens', () => {
  const secret = 'browser-e2e-secret-0123456789abcdef012345';
  let strict: GatewayProcess;

  beforeAll(async () => {
    strict = await GatewayProcess.start({
      development: true,
      env: { AUTH_DEV_TOKENS: 'false', JWT_SECRET: secret },
    });
  });

  afterAll(async () => {
    await strict?.stop();
  });

  const sign = (sub: string, extra: Record<string, unknown> = {}) =>
    signToken({ sub, name: sub, exp: Math.floor(Date.now() / 1000) + 600, ...extra }, { key: secret });

  it('takes a pasted token when POST /auth/dev-token answers 404, and shows a forbidden room as an error', async () => {
    const chat = await ChatPage.load(suite.browser, strict.httpUrl);
    suite.keep(chat);
    await chat.signIn('Paster');
    await chat.page.waitForSelector('#token-form', { state: 'visible' });
    await chat.page.fill('#token-input', sign('paster', { rooms: ['general'] }));
    await chat.page.click('#token-button');
    await chat.waitForStatus('connected');
    await chat.waitForRoomJoined('general');
    expect(await chat.page.textContent('#me')).toContain('paster');

    await chat.page.fill('#room-input', 'secret');
    await chat.page.press('#room-input', 'Enter');
    await chat.waitForError('forbidden');
    await chat.page.waitForSelector('#room-list li[data-room="secret"]', { state: 'detached' });
  });

  it('takes the token from the URL fragment and keeps it out of the address bar', async () => {
    const chat = await ChatPage.load(suite.browser, strict.httpUrl, `/#token=${sign('fragment-user')}`);
    suite.keep(chat);
    await chat.signIn('Whoever');
    await chat.waitForStatus('connected');
    expect(await chat.page.textContent('#me')).toContain('fragment-user');
    expect(chat.page.url()).not.toContain('token=');
  });
});

describe('server restart with both pages open', () => {
  let srv: GatewayProcess;
  let gate: TcpGate;

  beforeAll(async () => {
    // Development mode (no JWT_SECRET): the restarted server has a new secret, so the pages must
    // get new tokens, and a new history epoch, so they must not drop its messages as seen.
    srv = await GatewayProcess.start({ development: true, env: { JWT_SECRET: '' } });
    gate = await TcpGate.start(srv.port);
  });

  afterAll(async () => {
    await gate?.stop();
    await srv?.stop();
  });

  it('both pages show reconnecting then connected, and messages sent during the outage appear exactly once, in order', async () => {
    const alice = await openChat(gate.url, 'Alice');
    const bob = await openChat(gate.url, 'Bob');
    await alice.send('before the restart');
    await bob.waitForMessage('before the restart');

    // The pages cannot come back until the gate opens again: whatever the third client sends
    // meanwhile is sent during their outage.
    gate.close();
    await srv.kill();
    await Promise.all([alice.waitForStatus('reconnecting'), bob.waitForStatus('reconnecting')]);
    await srv.start();

    const carol = await rawClient(srv, 'Carol');
    const outage = ['during the outage 1', 'during the outage 2', 'during the outage 3'];
    for (const content of outage) await carol.say('general', content, uid('outage'));
    expect(await alice.status()).toBe('reconnecting');
    expect(await bob.status()).toBe('reconnecting');

    gate.open();
    await Promise.all([alice.waitForStatus('connected', 30_000), bob.waitForStatus('connected', 30_000)]);
    await Promise.all([alice.waitForRoomJoined('general'), bob.waitForRoomJoined('general')]);
    for (const page of [alice, bob]) await page.waitForMessage(outage[2]);
    await carol.say('general', 'after the restart', uid('after'));
    await alice.send('alice is back');
    for (const page of [alice, bob]) {
      await page.waitForMessage('after the restart');
      await page.waitForMessage('alice is back');
    }

    for (const page of [alice, bob]) {
      const contents = await page.contents();
      expect(contents).toEqual(['before the restart', ...outage, 'after the restart', 'alice is back']);
      expect(page.pageErrors).toEqual([]);
    }
    await alice.page.waitForSelector('#log .system.gap');
    // The restarted server lost its history: the pages say what they loaded and that some may be missing.
    for (const page of [alice, bob]) {
      const back = (await page.systemLines()).filter((l) => l.text.startsWith('back online'));
      expect(back).toEqual([
        {
          className: 'system back-online partial',
          text: 'back online, 3 missed messages loaded; some messages may be missing',
        },
      ]);
    }

    mkdirSync(ARTIFACTS, { recursive: true });
    await alice.page.screenshot({ path: join(ARTIFACTS, 'chat-restart.png') });
  });
});
