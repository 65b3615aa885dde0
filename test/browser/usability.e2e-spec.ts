// What a newcomer meets on the chat page, in a real Chromium against the real gateway: the name
// survives a reload, a blank name is refused with a reason, the badge says "connecting" until the
// first connection, errors go away, the page says when it is back online and what it caught up
// on, and the tab has an icon.

import { jest } from '@jest/globals';
import type { Page, Response } from 'playwright-core';
import { ChatPage } from './chat-page.js';
import { pageSuite } from './page-suite.js';
import { TcpGate } from './tcp-gate.js';

jest.setTimeout(90_000);

/** The page's ERROR_TTL_MS. */
const ERROR_TTL_MS = 8000;
const NAME_KEY = 'ws-gateway.chat.name';

const suite = pageSuite({ development: true, env: { JWT_SECRET: '' } });
const { openChat, rawClient, uid } = suite;

async function loadChat(before?: (page: Page) => Promise<void>): Promise<ChatPage> {
  const chat = await ChatPage.load(suite.browser, suite.server.httpUrl, '/', undefined, { before });
  suite.keep(chat);
  return chat;
}

/** Records every text the status badge shows, from the first script on (window.__statuses). */
function recordStatuses(): void {
  const seen: string[] = [];
  (window as unknown as { __statuses: string[] }).__statuses = seen;
  document.addEventListener('DOMContentLoaded', () => {
    const badge = document.getElementById('status') as HTMLElement;
    const note = () => {
      const text = badge.hidden ? '(hidden)' : (badge.textContent ?? '');
      if (seen[seen.length - 1] !== text) seen.push(text);
    };
    note();
    new MutationObserver(note).observe(badge, {
      attributes: true,
      childList: true,
      characterData: true,
      subtree: true,
    });
  });
}

describe('the display name', () => {
  it('is kept across a reload, and forgotten on sign out', async () => {
    const chat = await openChat(suite.server.httpUrl, 'Keeper');
    expect(await chat.page.evaluate((key) => localStorage.getItem(key), NAME_KEY)).toBe('Keeper');

    await chat.page.reload();
    await chat.waitForStatus('connected');
    await chat.waitForRoomJoined('general');
    expect(await chat.page.textContent('#me')).toBe('signed in as Keeper');
    expect(await chat.page.isHidden('#login')).toBe(true);
    await chat.send('still me after a reload');
    await chat.waitForMessage('still me after a reload');
    expect((await chat.messages()).at(-1)?.sender).toBe('Keeper');

    await chat.page.click('#sign-out');
    await chat.page.waitForSelector('#login', { state: 'visible' });
    expect(await chat.page.evaluate((key) => localStorage.getItem(key), NAME_KEY)).toBeNull();
    expect(await chat.page.inputValue('#name-input')).toBe('');
    // Signed out stays signed out.
    await chat.page.reload();
    await chat.page.waitForSelector('#login', { state: 'visible' });
    expect(await chat.page.isHidden('#chat')).toBe(true);
    expect(chat.pageErrors).toEqual([]);
  });

  it('says why a blank name is refused, without asking the server', async () => {
    const chat = await loadChat();
    const tokenRequests: string[] = [];
    chat.page.on('request', (r) => {
      if (r.url().includes('/auth/dev-token')) tokenRequests.push(r.url());
    });
    for (const blank of ['', '   ']) {
      await chat.page.evaluate(() => {
        document.getElementById('login-error')!.textContent = '';
      });
      await chat.page.fill('#name-input', blank);
      await chat.page.press('#name-input', 'Enter');
      await chat.page.waitForFunction(() => document.getElementById('login-error')?.textContent !== '');
      expect(await chat.page.textContent('#login-error')).toBe(
        'Please enter a display name: it cannot be blank or only spaces.',
      );
    }
    expect(tokenRequests).toEqual([]);
    expect(await chat.page.isVisible('#login')).toBe(true);

    // A name the server refuses shows the server's reason.
    await chat.page.evaluate(() => {
      (document.getElementById('name-input') as HTMLInputElement).value = 'bell\u0007name';
    });
    await chat.page.press('#name-input', 'Enter');
    await chat.page.waitForFunction(() =>
      document.getElementById('login-error')?.textContent?.startsWith('Could not get a token'),
    );
    expect(await chat.page.textContent('#login-error')).toContain('control characters');
    expect(await chat.page.isHidden('#status')).toBe(true);
  });
});

describe('the status badge', () => {
  it('says "connecting", never "offline" or "reconnecting", until the first connection', async () => {
    let block = true;
    let attempts = 0;
    let thirdAttempt = () => {};
    const refusedThrice = new Promise<void>((resolve) => (thirdAttempt = resolve));
    const chat = await loadChat(async (page) => {
      await page.addInitScript(recordStatuses);
      // The first WebSocket attempts are closed at once: the page must still say "connecting".
      await page.routeWebSocket(/\/ws(\?|$)/, (ws) => {
        if (++attempts === 3) thirdAttempt();
        if (block) void ws.close({ code: 1011, reason: 'test: not yet' });
        else ws.connectToServer();
      });
    });
    expect(await chat.page.isHidden('#status')).toBe(true);
    expect(await chat.page.textContent('#status')).not.toBe('offline');

    await chat.signIn('Patient');
    await chat.page.waitForFunction(() => document.getElementById('status')?.textContent === 'connecting');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      refusedThrice,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`only ${attempts} WebSocket attempts in 15 s`)), 15_000);
      }),
    ]).finally(() => clearTimeout(timer));
    expect(await chat.status()).toBe('connecting');

    block = false;
    await chat.waitForStatus('connected');
    await chat.waitForRoomJoined('general');
    const statuses = await chat.page.evaluate(
      () => (window as unknown as { __statuses: string[] }).__statuses,
    );
    expect(statuses).toEqual(['(hidden)', 'connecting', 'connected']);
  });
});

describe('errors', () => {
  it('can be dismissed, and fade by themselves', async () => {
    const chat = await openChat(suite.server.httpUrl, 'Wordy');
    const tooLong = 'x'.repeat(1001);
    await chat.page.fill('#message-input', tooLong);
    await chat.page.press('#message-input', 'Enter');
    await chat.waitForError('too_long');
    expect((await chat.errors()).map((e) => e.text)).toEqual(['Message too long: 1001/1000 characters']);
    await chat.page.click('#errors li[data-code="too_long"] [data-testid="dismiss-error"]');
    await chat.page.waitForSelector('#errors li', { state: 'detached', timeout: 1000 });

    await chat.page.press('#message-input', 'Enter');
    await chat.waitForError('too_long');
    const shownAt = Date.now();
    await chat.page.waitForSelector('#errors li', { state: 'detached', timeout: ERROR_TTL_MS + 5000 });
    const lasted = Date.now() - shownAt;
    expect(lasted).toBeGreaterThanOrEqual(ERROR_TTL_MS - 1000);
    // The text is still there for the user to shorten.
    expect(await chat.page.inputValue('#message-input')).toBe(tooLong);
  });
});

describe('back online', () => {
  let gate: TcpGate;

  beforeAll(async () => {
    gate = await TcpGate.start(suite.server.port);
  });

  afterAll(async () => {
    await gate?.stop();
  });

  it('says so after a reconnect, with the number of missed messages it loaded', async () => {
    const chat = await openChat(gate.url, 'Commuter');
    const raw = await rawClient(suite.server, 'Stayer');
    await chat.waitForMember('Stayer');

    // The network drops; the gateway keeps running and keeps the room's history.
    gate.close();
    gate.dropAll();
    await chat.waitForStatus('reconnecting');
    const missed = ['in the tunnel 1', 'in the tunnel 2', 'in the tunnel 3'];
    for (const content of missed) await raw.say('general', content, uid('tunnel'));
    expect(await chat.status()).toBe('reconnecting');

    gate.open();
    await chat.waitForStatus('connected', 30_000);
    await chat.waitForSystemLine(/^back online/);
    for (const content of missed) await chat.waitForMessage(content);
    const lines = await chat.systemLines();
    const back = lines.filter((l) => l.text.startsWith('back online'));
    expect(back).toEqual([
      { className: 'system back-online', text: 'back online, 3 missed messages loaded' },
    ]);
    // The note comes after the messages it counts.
    const log = await chat.page.$$eval('#log > *', (nodes) => nodes.map((n) => n.textContent ?? ''));
    expect(log.indexOf('back online, 3 missed messages loaded')).toBeGreaterThan(
      log.findIndex((t) => t.endsWith('in the tunnel 3')),
    );

    // Nothing missed the second time.
    gate.close();
    gate.dropAll();
    await chat.waitForStatus('reconnecting');
    gate.open();
    await chat.waitForStatus('connected', 30_000);
    await chat.waitForSystemLine(/^back online, no missed messages$/);
    expect(chat.pageErrors).toEqual([]);
  });
});

describe('the favicon', () => {
  it('is declared and served, and the page loads without a failed request', async () => {
    const failed: string[] = [];
    const chat = await loadChat(async (page) => {
      page.on('response', (r: Response) => {
        if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
      });
    });
    await chat.signIn('Iconic');
    await chat.waitForStatus('connected');
    await chat.waitForRoomJoined('general');
    const href = await chat.page.$eval('link[rel="icon"]', (l) => (l as HTMLLinkElement).href);
    const icon = await chat.page.request.get(href);
    expect(icon.status()).toBe(200);
    expect(icon.headers()['content-type']).toContain('image/svg+xml');
    expect((await icon.text()).trimStart()).toMatch(/^<svg/);
    expect(failed).toEqual([]);
  });
});
