import 'reflect-metadata';
import { describe, expect, it } from '@jest/globals';
import {
  getMetadataStorage,
  IsDefined,
  IsString,
  Length,
  ValidateIf,
  ValidateNested,
  validateSync,
} from 'class-validator';
import * as dtos from './envelope.dto.js';
import { planFastCheck } from './fast-validator.js';

/** Values that sit on and around every rule the envelope DTOs use. */
const PALETTE: unknown[] = [
  undefined,
  null,
  '',
  'a',
  'room-1',
  'a.b:c_d-e',
  'has space',
  'x'.repeat(64),
  'x'.repeat(65),
  'x'.repeat(128),
  'x'.repeat(129),
  'x'.repeat(1000),
  '\uFE0F',
  '\uD83D\uDE00',
  '\uD83D\uDE00'.repeat(64), // 128 code units, 64 characters for isLength
  'é',
  0,
  -1,
  1,
  1.5,
  2 ** 53,
  NaN,
  Infinity,
  true,
  false,
  [],
  ['a'],
  {},
  { a: 1 },
  new String('boxed'),
];

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const DTO_CLASSES = Object.values(dtos).filter(
  (v): v is new () => object => typeof v === 'function' && /Dto$/.test(v.name),
);

describe('planFastCheck', () => {
  it('plans every envelope DTO (none falls back to validateSync for valid frames)', () => {
    expect(DTO_CLASSES.length).toBeGreaterThanOrEqual(6);
    for (const Dto of DTO_CLASSES) expect(planFastCheck(Dto)).not.toBeNull();
  });

  it.each(DTO_CLASSES.map((c) => [c.name, c] as const))(
    '%s: agrees with validateSync on generated instances',
    (_name, Dto) => {
      const check = planFastCheck(Dto)!;
      const fields = declared(Dto);
      const next = rng(Dto.name.length * 7919);
      let valid = 0;
      for (let i = 0; i < 4000; i++) {
        const dto = new Dto() as Record<string, unknown>;
        for (const f of fields) {
          // Optional fields are mostly absent in real frames; without that, a DTO with several
          // constrained fields (JoinDto) rarely yields a valid instance.
          if (next() < 0.3) continue;
          const v = PALETTE[Math.floor(next() * PALETTE.length)];
          if (v !== undefined || next() < 0.5) dto[f] = v;
        }
        const expected = validateSync(dto, { forbidUnknownValues: false }).length === 0;
        if (check(dto) !== expected) {
          throw new Error(`${Dto.name}: fast ${!expected}, validateSync ${expected} for ${show(dto)}`);
        }
        if (expected) valid++;
      }
      // The generator must reach both verdicts, or the comparison proves little.
      expect(valid).toBeGreaterThan(20);
      expect(valid).toBeLessThan(3980);
    },
  );

  it('honours @ValidateIf like validateSync', () => {
    class Conditional {
      @IsString()
      kind!: string;

      @ValidateIf((o: Conditional) => o.kind === 'named')
      @Length(1, 3)
      name?: unknown;
    }
    const check = planFastCheck(Conditional)!;
    const make = (kind: unknown, name: unknown) => Object.assign(new Conditional(), { kind, name });
    for (const [kind, name] of [
      ['named', 'abc'],
      ['named', 'abcd'],
      ['named', 7],
      ['other', 7],
      [1, 'a'],
    ]) {
      const dto = make(kind, name);
      expect(check(dto)).toBe(validateSync(dto).length === 0);
    }
  });

  it('declines what it does not plan: nested validation and @IsDefined', () => {
    class Inner {
      @IsString()
      s!: string;
    }
    class Nested {
      @ValidateNested()
      inner!: Inner;
    }
    class Defined {
      @IsDefined()
      x!: unknown;
    }
    expect(planFastCheck(Nested)).toBeNull();
    expect(planFastCheck(Defined)).toBeNull();
  });
});

function declared(Dto: new () => object): string[] {
  const metas = getMetadataStorage().getTargetValidationMetadatas(Dto, '', true, false);
  return [...new Set(metas.map((m) => m.propertyName))];
}

function show(dto: object): string {
  return JSON.stringify(dto, (_k, v: unknown) => (v === undefined ? '<undefined>' : v));
}
