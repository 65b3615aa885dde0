// The typed client as a package import: `ws-gateway/client` (package.json "exports") resolves to
// the built browser ESM and its declarations, for Node and for TypeScript with NodeNext or bundler
// resolution. A temp dir with node_modules/ws-gateway linked to this project plays the user's app.

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GatewayProcess, PROJECT_ROOT, requireBuild, userToken } from '../harness/index.js';

const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');

let app: string;
let server: GatewayProcess;

beforeAll(async () => {
  requireBuild();
  app = mkdtempSync(join(tmpdir(), 'ws-gateway-export-'));
  mkdirSync(join(app, 'node_modules'));
  symlinkSync(PROJECT_ROOT, join(app, 'node_modules', 'ws-gateway'), 'dir');
  symlinkSync(join(PROJECT_ROOT, 'node_modules', 'ws'), join(app, 'node_modules', 'ws'), 'dir');
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  server = await GatewayProcess.start();
});

afterAll(async () => {
  await server?.stop();
  if (app !== undefined) rmSync(app, { recursive: true, force: true });
});

/** Runs a command in the app dir; resolves with its exit code and output (killed after 20 s). */
function run(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: app,
      env: { ...process.env, NODE_OPTIONS: '', ...env },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe("import { GatewayClient } from 'ws-gateway/client'", () => {
  it('connects, joins and sends from a Node process with ws as WebSocketImpl', async () => {
    writeFileSync(
      join(app, 'chat.mjs'),
      `import { GatewayClient } from 'ws-gateway/client';
import WebSocket from 'ws';
const client = new GatewayClient({ url: process.env.URL, token: process.env.TOKEN, WebSocketImpl: WebSocket });
const welcome = await client.connect();
await client.join('export-room');
const ack = await client.send('export-room', 'hello');
await client.close();
console.log(JSON.stringify({ user: welcome.user.id, room: ack.room, seq: ack.seq }));
`,
    );
    const { code, out } = await run(['chat.mjs'], { URL: server.wsUrl, TOKEN: userToken('exporter') });
    expect({ code, out }).toEqual({
      code: 0,
      out: `${JSON.stringify({ user: 'exporter', room: 'export-room', seq: 1 })}\n`,
    });
  });

  it.each([
    ['NodeNext', { module: 'NodeNext', moduleResolution: 'NodeNext' }],
    ['bundler', { module: 'ESNext', moduleResolution: 'bundler' }],
  ])('has types that resolve with moduleResolution %s', async (_name, resolution) => {
    const dir = join(app, `ts-${resolution.moduleResolution}`);
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          ...resolution,
          target: 'ES2022',
          // The client's types name web platform globals (AbortSignal for the ticket fetch): a
          // consumer has them from the DOM lib (a bundler build) or @types/node (Node).
          lib: ['ES2022', 'DOM'],
          types: [],
          strict: true,
          noEmit: true,
        },
        files: ['check.ts'],
      }),
    );
    // The @ts-expect-error lines fail the compile if the types were `any` (an unresolved import).
    writeFileSync(
      join(dir, 'check.ts'),
      `import { GatewayClient, type GatewayClientOptions, type SendResult } from 'ws-gateway/client';
const options: GatewayClientOptions = { url: 'ws://127.0.0.1/ws', token: 't' };
const client = new GatewayClient(options);
export const sent: Promise<SendResult> = client.send('room', 'text');
// @ts-expect-error not an option
export const bad: GatewayClientOptions = { url: 'ws://x', nope: 1 };
// @ts-expect-error send takes a string
client.send('room', 42);
`,
    );
    const { code, out } = await run([TSC, '-p', join(dir, 'tsconfig.json')]);
    expect({ code, out }).toEqual({ code: 0, out: '' });
  });
});
