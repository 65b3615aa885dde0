// Drives the chat page (public/index.html + app.js) in one Playwright page, through the ids and
// data-testids the page promises.

import type { Browser, BrowserContext, Dialog, Page } from 'playwright-core';

export interface LoggedMessage {
  seq: number;
  id: string;
  sender: string;
  time: string;
  content: string;
}

/** Where an element is, in CSS pixels of the viewport. */
export interface Box {
  left: number;
  top: number;
  right: number;
  bottom: number;
  width: number;
  height: number;
}

/** Layout facts measured in the page, for the viewport tests. */
export interface LayoutFacts {
  viewport: { width: number; height: number };
  /** The document's scroll width: more than the viewport means a horizontal scrollbar. */
  scrollWidth: number;
  log: Box;
  /** The text column of every message in the log. */
  contents: Box[];
  send: Box;
  /** The Send button is the topmost element at its own centre (nothing covers it). */
  sendOnTop: boolean;
  messageInput: Box;
}

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

export class ChatPage {
  /** Messages of every dialog (alert, confirm...) the page opened: the XSS test wants none. */
  readonly dialogs: string[] = [];
  /** Uncaught exceptions in the page. */
  readonly pageErrors: string[] = [];

  private constructor(
    readonly context: BrowserContext,
    readonly page: Page,
  ) {
    page.on('dialog', (dialog: Dialog) => {
      this.dialogs.push(dialog.message());
      void dialog.dismiss().catch(() => undefined);
    });
    page.on('pageerror', (err) => this.pageErrors.push(String(err)));
  }

  /**
   * A fresh browser context (its own storage) with the page loaded, not yet signed in. `before`
   * runs after the page exists and before it loads (routes, listeners).
   */
  static async load(
    browser: Browser,
    baseUrl: string,
    path = '/',
    init?: () => void,
    options: { viewport?: { width: number; height: number }; before?: (page: Page) => Promise<void> } = {},
  ): Promise<ChatPage> {
    const context = await browser.newContext({ viewport: options.viewport ?? { width: 1100, height: 720 } });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const chat = new ChatPage(context, page);
    if (init) await page.addInitScript(init);
    if (options.before) await options.before(page);
    await page.goto(baseUrl + path);
    return chat;
  }

  /** Loads the page, signs in with `name` (dev token) and waits until `general` is joined. */
  static async open(
    browser: Browser,
    baseUrl: string,
    name: string,
    viewport?: { width: number; height: number },
  ): Promise<ChatPage> {
    const chat = await ChatPage.load(browser, baseUrl, '/', undefined, { viewport });
    await chat.signIn(name);
    await chat.waitForStatus('connected');
    await chat.waitForRoomJoined('general');
    return chat;
  }

  async signIn(name: string): Promise<void> {
    await this.page.fill('#name-input', name);
    await this.page.press('#name-input', 'Enter');
  }

  async status(): Promise<string> {
    return (await this.page.textContent('#status')) ?? '';
  }

  async waitForStatus(
    text: 'connecting' | 'connected' | 'reconnecting' | 'offline',
    timeoutMs = 15_000,
  ): Promise<void> {
    await this.page.waitForFunction((t) => document.getElementById('status')?.textContent === t, text, {
      timeout: timeoutMs,
    });
  }

  /** Waits until the room list says `room` is joined (on a phone the list may be out of sight). */
  async waitForRoomJoined(room: string): Promise<void> {
    await this.page.waitForSelector(`#room-list li[data-room="${room}"][data-state="joined"]`, {
      state: 'attached',
      timeout: 15_000,
    });
  }

  /** Types `text` into the composer and presses Enter. */
  async send(text: string): Promise<void> {
    await this.page.fill('#message-input', text);
    await this.page.press('#message-input', 'Enter');
  }

  async messages(): Promise<LoggedMessage[]> {
    return this.page.$$eval('#log .msg', (nodes) =>
      nodes.map((n) => ({
        seq: Number((n as HTMLElement).dataset.seq),
        id: (n as HTMLElement).dataset.id ?? '',
        sender: n.querySelector('.sender')?.textContent ?? '',
        time: n.querySelector('.time')?.textContent ?? '',
        content: n.querySelector('.content')?.textContent ?? '',
      })),
    );
  }

  async contents(): Promise<string[]> {
    return (await this.messages()).map((m) => m.content);
  }

  /** Waits until the log shows a message with exactly this content. */
  async waitForMessage(content: string, timeoutMs = 15_000): Promise<void> {
    await this.page.waitForFunction(
      (c) => [...document.querySelectorAll('#log .msg .content')].some((n) => n.textContent === c),
      content,
      { timeout: timeoutMs },
    );
  }

  async members(): Promise<string[]> {
    return this.page.$$eval('#member-list li', (nodes) => nodes.map((n) => n.textContent ?? ''));
  }

  async waitForMember(name: string, present = true): Promise<void> {
    await this.page.waitForFunction(
      ([n, p]) => [...document.querySelectorAll('#member-list li')].some((li) => li.textContent === n) === p,
      [name, present] as const,
      { timeout: 15_000 },
    );
  }

  async errors(): Promise<Array<{ code: string; text: string }>> {
    return this.page.$$eval('#errors li', (nodes) =>
      nodes.map((n) => ({
        code: (n as HTMLElement).dataset.code ?? '',
        text: n.querySelector('.error-text')?.textContent ?? '',
      })),
    );
  }

  /** The system lines of the log (joins, reconnects, gaps), as shown. */
  async systemLines(): Promise<Array<{ className: string; text: string }>> {
    return this.page.$$eval('#log .system', (nodes) =>
      nodes.map((n) => ({ className: n.className, text: n.textContent ?? '' })),
    );
  }

  async waitForSystemLine(pattern: RegExp, timeoutMs = 15_000): Promise<void> {
    await this.page.waitForFunction(
      ([source, flags]) => {
        const re = new RegExp(source, flags);
        return [...document.querySelectorAll('#log .system')].some((n) => re.test(n.textContent ?? ''));
      },
      [pattern.source, pattern.flags] as const,
      { timeout: timeoutMs },
    );
  }

  /** The bounding box of the element `selector` matches. */
  async box(selector: string): Promise<Box> {
    return this.page.$eval(selector, (e) => {
      const r = e.getBoundingClientRect();
      return { left: r.left, top: r.top, right: r.right, bottom: r.bottom, width: r.width, height: r.height };
    });
  }

  /** Measures the layout as the user sees it (the viewport, the log, the composer). */
  async layout(): Promise<LayoutFacts> {
    return this.page.evaluate(() => {
      const box = (e: Element): Box => {
        const r = e.getBoundingClientRect();
        return {
          left: r.left,
          top: r.top,
          right: r.right,
          bottom: r.bottom,
          width: r.width,
          height: r.height,
        };
      };
      const byId = (id: string) => document.getElementById(id) as HTMLElement;
      const send = byId('send-button');
      const s = send.getBoundingClientRect();
      const onTop = document.elementFromPoint(s.left + s.width / 2, s.top + s.height / 2);
      return {
        viewport: { width: window.innerWidth, height: window.innerHeight },
        scrollWidth: document.documentElement.scrollWidth,
        log: box(byId('log')),
        contents: [...document.querySelectorAll('#log .msg .content')].map(box),
        send: box(send),
        sendOnTop: onTop !== null && send.contains(onTop),
        messageInput: box(byId('message-input')),
      };
    });
  }

  async waitForError(code: string): Promise<void> {
    await this.page.waitForSelector(`#errors li[data-code="${code}"]`, { timeout: 15_000 });
  }

  /** scrollTop, scrollHeight and clientHeight of the log. */
  async logScroll(): Promise<{ top: number; height: number; client: number }> {
    return this.page.$eval('#log', (log) => ({
      top: log.scrollTop,
      height: log.scrollHeight,
      client: log.clientHeight,
    }));
  }

  async scrollLogTo(where: 'top' | 'bottom'): Promise<void> {
    await this.page.$eval(
      '#log',
      (log, w) => {
        log.scrollTop = w === 'top' ? 0 : log.scrollHeight;
      },
      where,
    );
  }

  async close(): Promise<void> {
    await this.context.close();
  }
}
