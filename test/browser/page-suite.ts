// The set-up every browser spec shares: one Chromium and one gateway for the file, and the pages and
// raw clients a test opens closed after it, whatever it asserted.
import type { Browser } from 'playwright-core';
import { GatewayProcess, type GatewayProcessOptions, TestClient } from '../harness/index.js';
import { ChatPage } from './chat-page.js';
import { launchChromium } from './chromium.js';

export interface PageSuite {
  readonly browser: Browser;
  readonly server: GatewayProcess;
  /** The chat page at `baseUrl`, signed in as `name`; closed after the test. */
  openChat(baseUrl: string, name: string, viewport?: { width: number; height: number }): Promise<ChatPage>;
  /** A raw client of `srv` with a dev token for `name`, joined to `room`; closed after the test. */
  rawClient(srv: GatewayProcess, name: string, room?: string): Promise<TestClient>;
  /** Closes `page` after the test. */
  keep(page: ChatPage): ChatPage;
  /** A name no other test of the run uses. */
  uid(label: string): string;
}

/** Registers the file's hooks (beforeAll, afterEach, afterAll); call at the top level of a spec. */
export function pageSuite(options: GatewayProcessOptions): PageSuite {
  let browser: Browser | undefined;
  let server: GatewayProcess | undefined;
  const pages: ChatPage[] = [];
  const raws: TestClient[] = [];
  let counter = 0;

  beforeAll(async () => {
    browser = await launchChromium();
    server = await GatewayProcess.start(options);
  });
  afterEach(async () => {
    await Promise.all(pages.splice(0).map((p) => p.close()));
    await Promise.all(raws.splice(0).map((r) => r.closeAndWait()));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  const suite: PageSuite = {
    get browser() {
      if (browser === undefined) throw new Error('the suite has not started');
      return browser;
    },
    get server() {
      if (server === undefined) throw new Error('the suite has not started');
      return server;
    },
    keep(page) {
      pages.push(page);
      return page;
    },
    async openChat(baseUrl, name, viewport) {
      return suite.keep(await ChatPage.open(suite.browser, baseUrl, name, viewport));
    },
    async rawClient(srv, name, room = 'general') {
      const raw = await TestClient.connect(srv.wsUrl, { token: await srv.devToken(name), query: true });
      raws.push(raw);
      await raw.join(room);
      return raw;
    },
    uid: (label) => `${label}-${Date.now().toString(36)}-${counter++}`,
  };
  return suite;
}
