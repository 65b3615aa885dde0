import 'reflect-metadata';
import { MESSAGE_METADATA } from '@nestjs/websockets/constants.js';
import { getMetadataStorage } from 'class-validator';
import { ChatGateway } from '../gateway/chat.gateway.js';
import { SERVER_FRAME_TYPES } from './wire/frames.js';
import { CLIENT_FRAME_SCHEMAS, type FieldSchema, SERVER_FRAME_SCHEMAS, type ShapeOf } from './wire/schema.js';

// Type-level checks of ShapeOf, the type the tables must satisfy (run by `npm run typecheck`):
// each line marked @ts-expect-error must stay an error, or tsc fails on the unused directive.
interface Probe {
  type: 'probe';
  a: string;
  b?: number;
  c: number | null;
}
const a = { type: 'string', required: true } as const;
const b = { type: 'integer', required: false } as const;
const c = { type: 'integer', required: true, nullable: true } as const;
const bRequired = { ...b, required: true } as const;
export const probeOk: ShapeOf<Probe> = { description: '', fields: { a, b, c } };
// @ts-expect-error a field of the interface is missing
export const probeMissing: ShapeOf<Probe> = { description: '', fields: { a, b } };
// @ts-expect-error a field the interface does not have
export const probeExtra: ShapeOf<Probe> = { description: '', fields: { a, b, c, d: a } };
// @ts-expect-error an optional field marked required
export const probeRequired: ShapeOf<Probe> = { description: '', fields: { a, b: bRequired, c } };
// @ts-expect-error a wrong JSON type
export const probeType: ShapeOf<Probe> = { description: '', fields: { a: { ...a, type: 'integer' }, b, c } };
// @ts-expect-error a nullable field not marked nullable
export const probeNull: ShapeOf<Probe> = { description: '', fields: { a, b, c: { ...c, nullable: false } } };

/** The frame types ChatGateway handles, each with the DTO class its handler validates the frame with. */
function gatewayDtos(): Map<string, new () => object> {
  const dtos = new Map<string, new () => object>();
  const proto = ChatGateway.prototype as unknown as Record<string, unknown>;
  for (const name of Object.getOwnPropertyNames(proto)) {
    const handler = proto[name];
    if (typeof handler !== 'function') continue;
    const type = Reflect.getMetadata(MESSAGE_METADATA, handler) as string | undefined;
    if (type === undefined) continue;
    const params = (Reflect.getMetadata('design:paramtypes', proto, name) ?? []) as (new () => object)[];
    const dto = params.find(
      (p) => getMetadataStorage().getTargetValidationMetadatas(p, '', true, false).length > 0,
    );
    if (dto === undefined) throw new Error(`handler ${name} (${type}) has no DTO parameter`);
    dtos.set(type, dto);
  }
  return dtos;
}

type Checked = Pick<
  FieldSchema,
  'type' | 'required' | 'minLength' | 'maxLength' | 'pattern' | 'minimum' | 'maximum' | 'notWith'
>;

/** What a DTO's class-validator rules say about each field, in the schema table's terms. */
function dtoFields(dto: new () => object): Record<string, Checked> {
  const fields: Record<string, Checked> = {};
  for (const m of getMetadataStorage().getTargetValidationMetadatas(dto, '', true, false)) {
    const f = (fields[m.propertyName] ??= { required: true } as Checked);
    const constraints = m.constraints as unknown[];
    switch (m.name) {
      case 'isOptional':
        f.required = false;
        break;
      case 'isString':
        f.type = 'string';
        break;
      case 'isInt':
        f.type = 'integer';
        break;
      case 'min':
        f.minimum = constraints[0] as number;
        break;
      case 'max':
        f.maximum = constraints[0] as number;
        break;
      case 'isLength':
        [f.minLength, f.maxLength] = constraints as [number, number];
        break;
      case 'matches':
        f.type = 'string';
        f.pattern = (constraints[0] as RegExp).source;
        break;
      case 'notWith':
        f.notWith = constraints[0] as string;
        break;
      default:
        throw new Error(
          `${dto.name}.${m.propertyName}: validator ${m.name} has no counterpart in the schema table`,
        );
    }
  }
  return fields;
}

function tableFields(fields: Record<string, FieldSchema>): Record<string, Checked> {
  const out: Record<string, Checked> = {};
  for (const [name, f] of Object.entries(fields)) {
    const checked: Checked = { type: f.type, required: f.required };
    for (const key of ['minLength', 'maxLength', 'pattern', 'minimum', 'maximum', 'notWith'] as const) {
      if (f[key] !== undefined) (checked as Record<string, unknown>)[key] = f[key];
    }
    out[name] = checked;
  }
  return out;
}

describe('wire schema table', () => {
  it('has an entry for every SERVER_FRAME_TYPES type and no other', () => {
    expect(Object.keys(SERVER_FRAME_SCHEMAS).sort()).toEqual([...SERVER_FRAME_TYPES].sort());
  });

  it('has an entry for every client frame type the gateway handles and no other', () => {
    expect(Object.keys(CLIENT_FRAME_SCHEMAS).sort()).toEqual([...gatewayDtos().keys()].sort());
  });

  it.each(Object.keys(CLIENT_FRAME_SCHEMAS))('agrees with the DTO of client frame %s', (type) => {
    const dto = gatewayDtos().get(type)!;
    const shape = CLIENT_FRAME_SCHEMAS[type as keyof typeof CLIENT_FRAME_SCHEMAS];
    expect(dtoFields(dto)).toEqual(tableFields(shape.fields));
  });
});
