// The wire contract as an AsyncAPI 3 document, generated from the wire module's tables
// (protocol/wire/schema.ts, codes.ts): nothing here names a frame or a field, so a frame added to
// the tables appears in the document without a change here. The document is written from the
// client's point of view: it sends the client frames and receives the server frames.

import { Close, Refusal } from '../protocol/wire/codes.js';
import {
  CLIENT_FRAME_SCHEMAS,
  CLOSE_DESCRIPTIONS,
  ERROR_CODE_DESCRIPTIONS,
  type FieldSchema,
  HANDSHAKE_PARAMS,
  OBJECT_SCHEMAS,
  OTHER_CLOSES,
  SERVER_FRAME_SCHEMAS,
  type ShapeSchema,
} from '../protocol/wire/schema.js';

type Json = Record<string, unknown>;

/** The WebSocket path: the one channel. */
const WS_PATH = '/ws';

function fieldSchema(field: FieldSchema): Json {
  const schema: Json = {};
  if (field.ref !== undefined) {
    schema.$ref = `#/components/schemas/${field.ref}`;
  } else {
    schema.type = field.nullable === true ? [field.type, 'null'] : field.type;
    if (field.items !== undefined) schema.items = { $ref: `#/components/schemas/${field.items}` };
  }
  if (field.description !== undefined) schema.description = field.description;
  if (field.minLength !== undefined) schema.minLength = field.minLength;
  if (field.maxLength !== undefined) schema.maxLength = field.maxLength;
  if (field.pattern !== undefined) schema.pattern = field.pattern;
  if (field.minimum !== undefined) schema.minimum = field.minimum;
  if (field.maximum !== undefined) schema.maximum = field.maximum;
  if (field.enum !== undefined) schema.enum = [...field.enum];
  return schema;
}

/** A shape as a JSON Schema object; frames get `type` as a constant. Unknown fields are allowed (and ignored). */
function shapeSchema(shape: ShapeSchema, frameType?: string): Json {
  const properties: Json = {};
  const required: string[] = [];
  if (frameType !== undefined) {
    properties.type = { type: 'string', const: frameType };
    required.push('type');
  }
  for (const [name, field] of Object.entries(shape.fields)) {
    properties[name] = fieldSchema(field);
    if (field.required) required.push(name);
  }
  return { type: 'object', description: shape.description, required, properties };
}

function errorCodesMarkdown(): string {
  return Object.entries(ERROR_CODE_DESCRIPTIONS)
    .map(([code, text]) => `- \`${code}\`: ${text}`)
    .join('\n');
}

function closesMarkdown(): string {
  const rows = Object.entries(Close).map(
    ([key, c]) =>
      `| ${c.code} | \`${c.reason}\` | ${CLOSE_DESCRIPTIONS[key as keyof typeof Close]} | \`${c.reconnect}\` |`,
  );
  for (const c of OTHER_CLOSES) rows.push(`| ${c.code} | | ${c.description} | \`${c.reconnect}\` |`);
  return ['| code | reason | when | reconnect |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

function refusalsMarkdown(): string {
  return Object.values(Refusal)
    .map((r) => `- ${r.status} \`${r.error}\`: ${r.message}`)
    .join('\n');
}

/** Builds the document; `version` is the package's version. */
export function buildAsyncApiDocument(version: string): Json {
  const schemas: Json = {};
  const messages: Json = {};
  const channelMessages: Json = {};
  const operations: Json = {};
  const directions = [
    { side: 'client', action: 'send', table: CLIENT_FRAME_SCHEMAS as Record<string, ShapeSchema> },
    { side: 'server', action: 'receive', table: SERVER_FRAME_SCHEMAS as Record<string, ShapeSchema> },
  ] as const;
  for (const [name, shape] of Object.entries(OBJECT_SCHEMAS)) schemas[name] = shapeSchema(shape);
  for (const { side, action, table } of directions) {
    for (const [type, shape] of Object.entries(table)) {
      // `message` and `direct` exist in both directions: the keys say which.
      const key = `${side}_${type}`;
      schemas[key] = shapeSchema(shape, type);
      messages[key] = {
        name: type,
        title: `${type} (${side === 'client' ? 'client -> server' : 'server -> client'})`,
        summary: shape.description,
        contentType: 'application/json',
        payload: { $ref: `#/components/schemas/${key}` },
      };
      channelMessages[key] = { $ref: `#/components/messages/${key}` };
      operations[`${action}_${type}`] = {
        action,
        summary: shape.description,
        channel: { $ref: '#/channels/ws' },
        messages: [{ $ref: `#/channels/ws/messages/${key}` }],
      };
    }
  }
  const errorSchema = schemas.server_error as { properties: Record<string, Json> };
  errorSchema.properties.code.description = `Error codes:\n\n${errorCodesMarkdown()}`;

  const query: Json = {};
  const headers: Json = {};
  for (const p of HANDSHAKE_PARAMS) {
    (p.in === 'query' ? query : headers)[p.name] = { type: 'string', description: p.description };
  }

  return {
    asyncapi: '3.1.0',
    info: {
      title: 'ws-gateway wire protocol',
      version,
      description:
        'Wire protocol v1 of ws-gateway (docs/protocol.md), generated from the wire module. Every frame is one ' +
        'UTF-8 text WebSocket message holding one JSON object with a string `type`. Operations are written ' +
        "from the client's point of view: it sends the client frames and receives the server frames.",
    },
    defaultContentType: 'application/json',
    channels: {
      ws: {
        address: WS_PATH,
        title: 'The WebSocket endpoint',
        description: [
          'The token is checked before the upgrade. Refused handshakes are HTTP answers with a JSON body `{error, message}`:',
          '',
          refusalsMarkdown(),
          '',
          'Close codes:',
          '',
          closesMarkdown(),
        ].join('\n'),
        messages: channelMessages,
        bindings: {
          ws: {
            method: 'GET',
            query: { type: 'object', properties: query },
            headers: { type: 'object', properties: headers },
            bindingVersion: '0.1.0',
          },
        },
      },
    },
    operations,
    components: {
      schemas,
      messages,
    },
    'x-error-codes': Object.entries(ERROR_CODE_DESCRIPTIONS).map(([code, description]) => ({
      code,
      description,
    })),
    'x-close-codes': [
      ...Object.entries(Close).map(([key, c]) => ({
        ...c,
        description: CLOSE_DESCRIPTIONS[key as keyof typeof Close],
      })),
      ...OTHER_CLOSES,
    ],
    'x-handshake-refusals': Object.values(Refusal),
  };
}
