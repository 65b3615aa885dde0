// GET /asyncapi.json from the built gateway: a valid AsyncAPI 3 document (checked by
// @asyncapi/parser, the reference parser) that names every client and server frame type, the error
// codes and the close codes of the wire module.

import { Parser } from '@asyncapi/parser';
import { Close, ErrorCode } from '../../src/protocol/wire/codes.js';
import { SERVER_FRAME_TYPES } from '../../src/protocol/wire/frames.js';
import { CLIENT_FRAME_SCHEMAS } from '../../src/protocol/wire/schema.js';
import { GatewayProcess } from '../harness/index.js';

/** Diagnostics at error severity (Spectral: 0 error, 1 warning, 2 information, 3 hint). */
async function problems(doc: unknown): Promise<string[]> {
  const { diagnostics } = await new Parser().parse(JSON.stringify(doc));
  return diagnostics
    .filter((d) => (d.severity as number) <= 1)
    .map((d) => `${d.code} at ${d.path.join('.')}: ${d.message}`);
}

interface Doc {
  asyncapi: string;
  channels: Record<
    string,
    { address: string; messages: Record<string, unknown>; bindings: { ws: Record<string, unknown> } }
  >;
  operations: Record<string, { action: string; messages: { $ref: string }[] }>;
  components: {
    messages: Record<string, { name: string }>;
    schemas: Record<string, { properties: Record<string, { enum?: string[] }> }>;
  };
  'x-close-codes': { code: number; reason?: string }[];
}

let server: GatewayProcess;
let doc: Doc;

beforeAll(async () => {
  server = await GatewayProcess.start();
  const res = await fetch(`${server.httpUrl}/asyncapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  doc = (await res.json()) as Doc;
});

afterAll(async () => {
  await server?.stop();
});

/** The frame types the operations of one action carry, read through their message references. */
function typesOf(action: 'send' | 'receive'): string[] {
  const types: string[] = [];
  for (const op of Object.values(doc.operations)) {
    if (op.action !== action) continue;
    for (const { $ref } of op.messages) {
      const key = /^#\/channels\/ws\/messages\/(.+)$/.exec($ref)![1];
      expect(doc.channels.ws.messages[key]).toBeDefined();
      types.push(doc.components.messages[key].name);
    }
  }
  return types.sort();
}

describe('GET /asyncapi.json', () => {
  it('is a valid AsyncAPI 3 document', async () => {
    expect(doc.asyncapi).toMatch(/^3\./);
    expect(await problems(doc)).toEqual([]);
  });

  it('is rejected by the parser when broken, so the check above can fail', async () => {
    const broken = structuredClone(doc);
    delete broken.components.messages.client_join;
    expect((await problems(broken)).length).toBeGreaterThan(0);
  });

  it('has one channel, /ws, with the handshake as ws bindings', () => {
    expect(Object.values(doc.channels).map((c) => c.address)).toEqual(['/ws']);
    const ws = doc.channels.ws.bindings.ws as {
      query: { properties: object };
      headers: { properties: object };
    };
    expect(Object.keys(ws.query.properties)).toEqual(expect.arrayContaining(['token', 'rooms']));
    expect(Object.keys(ws.headers.properties)).toEqual(['Authorization']);
  });

  it('sends every client frame type and receives every SERVER_FRAME_TYPES type', () => {
    expect(typesOf('send')).toEqual(Object.keys(CLIENT_FRAME_SCHEMAS).sort());
    expect(typesOf('receive')).toEqual([...SERVER_FRAME_TYPES].sort());
  });

  it('lists the error codes and the close codes', () => {
    expect(doc.components.schemas.server_error.properties.code.enum!.sort()).toEqual(
      Object.values(ErrorCode).sort(),
    );
    const closes = doc['x-close-codes'];
    for (const c of Object.values(Close)) {
      expect(closes).toContainEqual(expect.objectContaining({ code: c.code, reason: c.reason }));
    }
  });
});
