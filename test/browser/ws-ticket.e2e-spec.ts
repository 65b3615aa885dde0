// The chat page in a real Chromium against the real gateway: its WebSocket URL carries a single-use
// ticket, never the token (URLs end up in proxy logs), and neither appears in the gateway's log.

import { jest } from '@jest/globals';
import type { Browser } from 'playwright-core';
import { GatewayProcess } from '../harness/index.js';
import { ChatPage } from './chat-page.js';
import { launchChromium } from './chromium.js';

jest.setTimeout(90_000);

let browser: Browser;
let server: GatewayProcess;
let chat: ChatPage | undefined;

beforeAll(async () => {
  browser = await launchChromium();
  server = await GatewayProcess.start({
    development: true,
    env: { JWT_SECRET: '', LOG_LEVEL: 'debug' },
  });
});

afterAll(async () => {
  await chat?.close();
  await browser?.close();
  await server?.stop();
});

it("the page's WebSocket URL has a ticket and no token", async () => {
  const sockets: string[] = [];
  const ticketAnswers: string[] = [];
  chat = await ChatPage.load(browser, server.httpUrl, '/', undefined, {
    before: async (page) => {
      page.on('websocket', (ws) => sockets.push(ws.url()));
      page.on('response', (res) => {
        if (res.url().endsWith('/api/ws-ticket')) {
          void res.text().then(
            (t) => ticketAnswers.push(t),
            () => undefined,
          );
        }
      });
    },
  });
  await chat.signIn('Tess');
  await chat.waitForStatus('connected');
  await chat.waitForRoomJoined('general');

  expect(sockets.length).toBeGreaterThanOrEqual(1);
  for (const url of sockets) {
    const params = new URL(url).searchParams;
    expect(params.get('token')).toBeNull();
    expect(params.get('ticket')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  }
  // No JWT (the page's token included: every JWT starts with eyJ) nor ticket in the gateway's output.
  const log = server.log();
  expect(log).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
  for (const url of sockets) expect(log).not.toContain(new URL(url).searchParams.get('ticket')!);
  expect(ticketAnswers.length).toBeGreaterThanOrEqual(1);
});
