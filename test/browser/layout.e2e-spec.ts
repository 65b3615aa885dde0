// The chat page's layout in a real Chromium, measured rather than eyeballed: on a phone (360 and
// 390 px wide) and on a desktop (1280x800). Nothing scrolls sideways, the message column takes the
// width, Send is on screen and not covered, and on a phone the room list sits behind the Rooms
// button. Screenshots go to test-artifacts/; the desktop one is the README's picture.

import { jest } from '@jest/globals';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../harness/index.js';
import { ChatPage, DESKTOP, PHONE, type Box, type LayoutFacts } from './chat-page.js';
import { pageSuite } from './page-suite.js';

jest.setTimeout(90_000);

const ARTIFACTS = join(PROJECT_ROOT, 'test-artifacts');
const LONG =
  'A message long enough to wrap on a phone: it should read as a few lines of text across the screen, ' +
  'not one letter a line.';

const suite = pageSuite({ development: true, env: { JWT_SECRET: '' } });
const { uid } = suite;
beforeAll(() => mkdirSync(ARTIFACTS, { recursive: true }));

const openChat = (name: string, viewport: { width: number; height: number }) =>
  suite.openChat(suite.server.httpUrl, name, viewport);
const rawClient = (name: string, room: string) => suite.rawClient(suite.server, name, room);

/** Every edge of `box` inside the viewport. */
function expectInViewport(box: Box, viewport: { width: number; height: number }): void {
  expect(box.left).toBeGreaterThanOrEqual(0);
  expect(box.top).toBeGreaterThanOrEqual(0);
  expect(box.right).toBeLessThanOrEqual(viewport.width);
  expect(box.bottom).toBeLessThanOrEqual(viewport.height);
}

/** What holds at every width: no sideways scrolling, Send usable, messages across the column. */
function expectUsable(facts: LayoutFacts, minColumn: number): void {
  expect(facts.scrollWidth).toBeLessThanOrEqual(facts.viewport.width);
  expectInViewport(facts.send, facts.viewport);
  expect(facts.sendOnTop).toBe(true);
  expectInViewport(facts.messageInput, facts.viewport);
  expect(facts.messageInput.width).toBeGreaterThanOrEqual(150);
  expect(facts.log.width).toBeGreaterThanOrEqual(minColumn);
  expect(facts.contents.length).toBeGreaterThan(0);
  for (const content of facts.contents) {
    expect(content.width).toBeGreaterThanOrEqual(minColumn - 40);
    expect(content.right).toBeLessThanOrEqual(facts.log.right);
  }
}

describe('chat page layout on a phone', () => {
  it.each([PHONE, { width: 360, height: 740 }])(
    'fits $width x $height: no sideways scroll, a full-width message column, Send on screen',
    async (viewport) => {
      const login = await ChatPage.load(suite.browser, suite.server.httpUrl, '/', undefined, { viewport });
      suite.keep(login);
      const loginBox = await login.box('#login');
      expectInViewport(loginBox, viewport);
      // Before sign-in the bar still names the page; after it, the room goes to Rooms, name and badge.
      expect(await login.page.isVisible('.topbar h1')).toBe(true);
      expect(await login.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
        viewport.width,
      );

      const chat = await openChat(`Phone ${viewport.width}`, viewport);
      const raw = await rawClient('Desk', 'general');
      await raw.say('general', LONG, uid('long'));
      await chat.waitForMessage(LONG);
      const facts = await chat.layout();
      expect(facts.viewport).toEqual(viewport);
      expect(await chat.page.isVisible('.topbar h1')).toBe(false);
      expect(await chat.page.isVisible('#me')).toBe(true);
      // The log spans the screen but for the page's padding and border.
      expectUsable(facts, viewport.width - 24);
      // The long message wraps into a few lines, not one letter a line.
      const long = facts.contents[facts.contents.length - 1];
      expect(long.height).toBeLessThan(long.width);

      if (viewport.width === PHONE.width) {
        await chat.page.screenshot({
          path: join(ARTIFACTS, `chat-${viewport.width}x${viewport.height}.png`),
        });
      }
    },
  );

  it('keeps the room list behind the Rooms button, which opens and closes it', async () => {
    const chat = await openChat('Thumb', PHONE);
    const raw = await rawClient('Other', 'phone.room');

    expect(await chat.page.isVisible('#room-list')).toBe(false);
    expect(await chat.page.isVisible('#member-list')).toBe(false);
    expect(await chat.page.isVisible('#rooms-toggle')).toBe(true);
    expect(await chat.page.getAttribute('#rooms-toggle', 'aria-expanded')).toBe('false');

    // Open: the list is there, on screen, with the join form.
    await chat.page.click('#rooms-toggle');
    await chat.page.waitForSelector('#room-list li[data-room="general"]', { state: 'visible' });
    expect(await chat.page.getAttribute('#rooms-toggle', 'aria-expanded')).toBe('true');
    const drawer = await chat.box('#sidebar');
    expectInViewport(drawer, PHONE);
    expect(drawer.width).toBeGreaterThanOrEqual(240);
    await chat.page.screenshot({ path: join(ARTIFACTS, 'chat-390x844-rooms.png') });

    // Joining a room from the drawer closes it and shows the room.
    await chat.page.fill('#room-input', 'phone.room');
    await chat.page.press('#room-input', 'Enter');
    await chat.waitForRoomJoined('phone.room');
    await chat.page.waitForSelector('#room-list', { state: 'hidden' });
    expect(await chat.page.textContent('#room-title')).toBe('# phone.room');

    // Picking a room in the drawer closes it too.
    await chat.page.click('#rooms-toggle');
    await chat.page.click('#room-list li[data-room="general"] .room-name');
    await chat.page.waitForSelector('#room-list', { state: 'hidden' });
    expect(await chat.page.textContent('#room-title')).toBe('# general');

    // A message in the other room shows as unread on the button, since the list is out of sight.
    await raw.say('phone.room', 'psst, over here', uid('unread'));
    await chat.page.waitForFunction(() => document.getElementById('unread-total')?.textContent === '1');
    expect(await chat.page.getAttribute('#rooms-toggle', 'aria-label')).toBe('Rooms, 1 unread');

    // Escape closes the drawer, and so does a tap outside it.
    await chat.page.click('#rooms-toggle');
    await chat.page.waitForSelector('#room-list', { state: 'visible' });
    await chat.page.keyboard.press('Escape');
    await chat.page.waitForSelector('#room-list', { state: 'hidden' });
    await chat.page.click('#rooms-toggle');
    await chat.page.waitForSelector('#room-list', { state: 'visible' });
    await chat.page.mouse.click(PHONE.width - 20, PHONE.height / 2);
    await chat.page.waitForSelector('#room-list', { state: 'hidden' });
    expect(await chat.page.getAttribute('#rooms-toggle', 'aria-expanded')).toBe('false');
    expect(chat.pageErrors).toEqual([]);
  });
});

describe('chat page layout on a desktop', () => {
  it('shows the sidebar beside a wide message column at 1280x800, no Rooms button', async () => {
    const alice = await openChat('Alice', DESKTOP);
    const bob = await rawClient('Bob', 'general');
    await rawClient('Carol', 'random');

    await alice.page.fill('#room-input', 'random');
    await alice.page.press('#room-input', 'Enter');
    await alice.waitForRoomJoined('random');
    await alice.page.click('#room-list li[data-room="general"] .room-name');
    await alice.waitForMember('Bob');
    await bob.say('general', 'Morning! Is the deploy done?', uid('chat'));
    await alice.waitForMessage('Morning! Is the deploy done?');
    await alice.send('Yes, all green. The phone layout is in too.');
    await alice.waitForMessage('Yes, all green. The phone layout is in too.');
    await bob.say('general', LONG, uid('chat'));
    await alice.waitForMessage(LONG);

    expect(await alice.page.isVisible('#room-list')).toBe(true);
    expect(await alice.page.isVisible('#member-list')).toBe(true);
    expect(await alice.page.isVisible('#rooms-toggle')).toBe(false);
    const facts = await alice.layout();
    expect(facts.viewport).toEqual(DESKTOP);
    expectUsable(facts, 900);
    // A line this long fits on one line of a desktop's column.
    const long = facts.contents[facts.contents.length - 1];
    expect(long.height).toBeLessThan(2 * 24);

    const shot = join(ARTIFACTS, 'chat-1280x800.png');
    await alice.page.screenshot({ path: shot });
    // The README's copy is written once (or on request, UPDATE_SCREENSHOTS=1), so that a test run
    // does not leave the work tree dirty with a picture that differs only in its clock.
    const readmeShot = join(PROJECT_ROOT, 'docs', 'chat.png');
    if (!existsSync(readmeShot) || process.env.UPDATE_SCREENSHOTS === '1') {
      mkdirSync(join(PROJECT_ROOT, 'docs'), { recursive: true });
      copyFileSync(shot, readmeShot);
    }
    expect(alice.pageErrors).toEqual([]);
  });
});
