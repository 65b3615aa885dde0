// A room the token may read but not post to (its `publish` claim), in a real Chromium against the
// real gateway: the page shows it read-only (composer disabled, with a note) and posts elsewhere.

import { jest } from '@jest/globals';
import type { Browser } from 'playwright-core';
import { GatewayProcess, userToken } from '../harness/index.js';
import { ChatPage } from './chat-page.js';
import { launchChromium } from './chromium.js';

jest.setTimeout(90_000);

let browser: Browser;
let server: GatewayProcess;
let chat: ChatPage | null = null;

beforeAll(async () => {
  browser = await launchChromium();
  // Without dev tokens the page takes its token from the URL fragment.
  server = await GatewayProcess.start({ env: { AUTH_DEV_TOKENS: 'false' } });
});

afterAll(async () => {
  await chat?.close();
  await browser?.close();
  await server?.stop();
});

it('shows a read-only room as such and posts in a room the token allows', async () => {
  const token = userToken('reader', { name: 'Reader', publish: ['open-*'] });
  chat = await ChatPage.load(browser, server.httpUrl, `/#token=${encodeURIComponent(token)}`);
  await chat.signIn('Reader');
  await chat.waitForStatus('connected');
  await chat.waitForRoomJoined('general');
  const page = chat.page;
  await page.waitForSelector('#room-list li[data-room="general"][data-read-only="true"]', {
    state: 'attached',
  });
  expect(await page.isDisabled('#message-input')).toBe(true);
  expect(await page.isDisabled('#send-button')).toBe(true);
  expect(await page.getAttribute('#message-input', 'placeholder')).toMatch(/read-only/i);

  await page.fill('#room-input', 'open-1');
  await page.press('#room-input', 'Enter');
  await chat.waitForRoomJoined('open-1');
  expect(await page.isDisabled('#message-input')).toBe(false);
  expect(await page.$('#room-list li[data-room="open-1"][data-read-only="true"]')).toBeNull();
  await chat.send('hello from a room I may post in');
  await chat.waitForMessage('hello from a room I may post in');
  expect(chat.pageErrors).toEqual([]);
});
