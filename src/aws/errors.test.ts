import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, ERROR_KIND, KmsError } from '../engine/errors.ts';
import { AwsError, ENGINE_STATUS, PROTOCOL_ERROR_CODES, PROTOCOL_STATUS, toHttpError } from './errors.ts';
import { STS_ERROR_CODES, STS_STATUS } from './sts/errors.ts';

describe('AWS error mapping', () => {
  it('maps every engine code and every protocol code, and the two never overlap', () => {
    expect(Object.keys(ENGINE_STATUS).sort()).toEqual([...ERROR_CODES].sort());
    expect(Object.keys(PROTOCOL_STATUS).sort()).toEqual([...PROTOCOL_ERROR_CODES].sort());
    const engine = new Set<string>(ERROR_CODES);
    expect(PROTOCOL_ERROR_CODES.filter((c) => engine.has(c))).toEqual([]);
  });

  it("agrees with the engine's error kinds: 4xx for the caller's and conflicts, 503 unavailable, 500 internal", () => {
    const byKind = { user: 400, conflict: 400, unavailable: 503, internal: 500 } as const;
    for (const c of ERROR_CODES) expect(`${c} ${ENGINE_STATUS[c]}`).toBe(`${c} ${byKind[ERROR_KIND[c]]}`);
  });

  it('answers only retryable server faults with 5xx, and hides unexpected errors', () => {
    const fives = ERROR_CODES.filter((c) => ENGINE_STATUS[c] >= 500).sort();
    expect(fives).toEqual(['DependencyTimeoutException', 'KMSInternalException']);
    expect(toHttpError(new KmsError('NotFoundException', 'x'))).toMatchObject({
      status: 400,
      type: 'NotFoundException',
    });
    expect(toHttpError(new AwsError('RequestEntityTooLargeException', 'big'))).toMatchObject({ status: 413 });
    expect(toHttpError(new Error('secret detail'))).toEqual({
      status: 500,
      type: 'KMSInternalException',
      message: 'internal error',
      unexpected: true,
    });
  });

  it('documents every code in docs/aws-api.md with its status', () => {
    const doc = readFileSync(new URL('../../docs/aws-api.md', import.meta.url), 'utf8');
    const rows = new Map(
      [...doc.matchAll(/^\| `(\w+)` \| (\d{3}) \|/gm)].map((m) => [m[1]!, Number(m[2])] as const),
    );
    for (const c of ERROR_CODES) expect(rows.get(c), c).toBe(ENGINE_STATUS[c]);
    for (const c of PROTOCOL_ERROR_CODES) expect(rows.get(c), c).toBe(PROTOCOL_STATUS[c]);
    for (const c of STS_ERROR_CODES) expect(rows.get(c), c).toBe(STS_STATUS[c]);
  });
});
