/**
 * Every request shape the model allows is accepted by the protocol layer: for each of the 54 operations, a
 * request that sets every member of its input shape (values of the right type, generated from the model) gets
 * past content type, JSON and type checks. What the operation then answers is the engine's business (often an
 * AWS error such as NotFoundException for a made-up key), but never a type error, a SerializationException or a
 * 5xx.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODEL, MODEL_OPERATIONS, shapeOf } from './model/model.ts';
import { OPERATIONS } from './operations.ts';
import { type Harness, signedHeaders, startHarness } from './testing/harness.ts';

let h: Harness;

function sample(shapeName: string, depth = 0): unknown {
  const s = shapeOf(shapeName);
  switch (s.type) {
    case 'structure':
      return Object.fromEntries(
        Object.entries(s.members ?? {}).map(([k, m]) => [k, sample(m.shape, depth + 1)]),
      );
    case 'string':
      return s.enum ? s.enum[0] : 'x'.repeat(Math.max(1, s.min ?? 1));
    case 'blob':
      return Buffer.alloc(Math.max(1, s.min ?? 1), 1).toString('base64');
    case 'boolean':
      return false;
    case 'integer':
    case 'long':
      return s.min ?? 1;
    case 'list':
      return [sample(s.member!.shape, depth + 1)];
    case 'map':
      return { k: sample(s.value!.shape, depth + 1) };
    default:
      return 0;
  }
}

async function post(target: string, body: string) {
  const headers = signedHeaders(h.server.endpoint, 'admin', target, body);
  const res = await fetch(h.server.endpoint, { method: 'POST', headers, body });
  return { status: res.status, json: (await res.json()) as { __type?: string; message?: string } };
}

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  expect(h.violations).toEqual([]);
  await h.close();
});

describe('request shapes from the model', () => {
  it('the model has 54 operations; 42 are implemented and the rest answer UnsupportedOperationException', async () => {
    expect(MODEL_OPERATIONS).toHaveLength(54);
    for (const name of Object.keys(OPERATIONS)) expect(MODEL_OPERATIONS).toContain(name);
    expect(Object.keys(OPERATIONS)).toHaveLength(42);
  });

  it('a request with every member set passes the protocol layer for every operation', async () => {
    for (const name of MODEL_OPERATIONS) {
      const input = MODEL.operations[name]!.input;
      const body = JSON.stringify(input ? sample(input.shape) : {});
      const r = await post(`TrentService.${name}`, body);
      const outcome = { name, status: r.status, type: r.json.__type };
      expect(r.status, JSON.stringify(outcome)).toBeLessThan(500);
      expect(['SerializationException', 'UnknownOperationException']).not.toContain(r.json.__type);
      if (r.json.__type === 'ValidationException') {
        expect(r.json.message, name).not.toMatch(/^1 validation error detected: Value at/);
      }
      if (!(name in OPERATIONS)) expect(outcome.type).toBe('UnsupportedOperationException');
    }
  });

  it('random member values of any JSON type never get a 5xx (fuzz, every implemented operation)', async () => {
    const keyId = (await post('TrentService.CreateKey', '{}')).json as { KeyMetadata?: { KeyId: string } };
    const anyValue = fc.oneof(
      fc.constant(keyId.KeyMetadata?.KeyId ?? 'x'),
      fc.string({ maxLength: 40 }),
      fc.base64String({ maxLength: 40 }),
      fc.integer({ min: -5, max: 5000 }),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string({ maxLength: 8 }), fc.integer())),
    );
    const names = Object.keys(OPERATIONS).filter((n) => !['ScheduleKeyDeletion', 'DisableKey'].includes(n));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...names), fc.infiniteStream(anyValue), async (name, values) => {
        const members = Object.keys(shapeOf(MODEL.operations[name]!.input!.shape).members ?? {});
        const body = Object.fromEntries(members.map((m) => [m, values.next().value]));
        const r = await post(`TrentService.${name}`, JSON.stringify(body));
        expect(r.status, `${name} ${JSON.stringify(body)} → ${JSON.stringify(r.json)}`).toBeLessThan(500);
      }),
      { numRuns: Number(process.env.KUBEKMS_FUZZ_RUNS ?? 1000) },
    );
  });
});
