// The chat page shows a room's recent history on its first join (`join` with `last`), in a real
// Chromium against the real gateway: a newcomer sees the conversation so far, and a reload shows it
// again under the same name instead of an empty room.

import { jest } from '@jest/globals';
import { pageSuite } from './page-suite.js';

jest.setTimeout(90_000);

/** The page's RECENT_ON_JOIN. */
const RECENT = 50;

const suite = pageSuite({ development: true, env: { JWT_SECRET: '', RATE_LIMIT_PER_SEC: '1000' } });

it('shows the room’s recent messages on first join, and again after a reload under the same name', async () => {
  const elder = await suite.rawClient(suite.server, 'Elder');
  const older = Array.from({ length: RECENT + 5 }, (_, i) => `older ${i + 1}`);
  for (const [i, content] of older.entries()) await elder.say('general', content, `older-${i + 1}`);

  const chat = await suite.openChat(suite.server.httpUrl, 'Historian');
  await chat.waitForMessage(older.at(-1)!);
  expect(await chat.contents()).toEqual(older.slice(-RECENT));

  await chat.send('said before the reload');
  await chat.waitForMessage('said before the reload');

  await chat.page.reload();
  await chat.waitForStatus('connected');
  await chat.waitForRoomJoined('general');
  await chat.waitForMessage('said before the reload');
  expect(await chat.page.textContent('#me')).toBe('signed in as Historian');
  const shown = await chat.messages();
  expect(shown.map((m) => m.content)).toEqual([...older.slice(-(RECENT - 1)), 'said before the reload']);
  expect(shown.at(-1)?.sender).toBe('Historian');
  expect(shown.map((m) => m.seq)).toEqual(
    Array.from({ length: RECENT }, (_, i) => older.length + 2 - RECENT + i),
  );
  expect(chat.pageErrors).toEqual([]);
});
