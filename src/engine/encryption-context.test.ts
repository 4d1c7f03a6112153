import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ENCRYPTION_CONTEXT_MAX_BYTES,
  encodeEncryptionContext,
  parseEncryptionContext,
} from './encryption-context.ts';
import { KmsError } from './errors.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('encryption context encoding', () => {
  it('is independent of key order', () => {
    expect(hex(encodeEncryptionContext({ a: '1', b: '2' }))).toBe(
      hex(encodeEncryptionContext({ b: '2', a: '1' })),
    );
  });

  it('separates pairs that concatenate to the same string (the emulators collision)', () => {
    expect(hex(encodeEncryptionContext({ ab: 'c' }))).not.toBe(hex(encodeEncryptionContext({ a: 'bc' })));
    expect(hex(encodeEncryptionContext({ a: 'b', c: 'd' }))).not.toBe(
      hex(encodeEncryptionContext({ a: 'bcd' })),
    );
  });

  it('has a fixed layout: count, then length-prefixed key and value', () => {
    expect(hex(encodeEncryptionContext({ k: 'vv' }))).toBe(
      '00000001' + '00000001' + '6b' + '00000002' + '7676',
    );
    expect(hex(encodeEncryptionContext({}))).toBe('00000000');
  });

  it('sorts by UTF-8 bytes, not UTF-16 code units', () => {
    // U+FF61 (EF BD A1) sorts before U+1F600 (F0 9F 98 80) in UTF-8; in UTF-16 the surrogate D83D sorts first.
    const enc = encodeEncryptionContext({ '\u{1F600}': 'x', '\uFF61': 'y' });
    expect(hex(enc).indexOf('efbda1')).toBeLessThan(hex(enc).indexOf('f09f9880'));
  });

  it('is injective (property)', () => {
    const ctx = fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 4 });
    fc.assert(
      fc.property(ctx, ctx, (a, b) => {
        const same = JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
        return (hex(encodeEncryptionContext(a)) === hex(encodeEncryptionContext(b))) === same;
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses a context larger than the limit, naming the field', () => {
    const big = { k: 'x'.repeat(ENCRYPTION_CONTEXT_MAX_BYTES) };
    expect(() => encodeEncryptionContext(big, 'SourceEncryptionContext')).toThrow(
      /SourceEncryptionContext: encoded size/,
    );
  });

  it('parses only maps of strings', () => {
    expect(parseEncryptionContext(undefined)).toEqual({});
    expect(() => parseEncryptionContext([1])).toThrow(KmsError);
    expect(() => parseEncryptionContext({ a: 1 })).toThrow(/EncryptionContext\.a: value must be a string/);
  });

  it('keeps a pair whose key is __proto__ (it is bound like any other)', () => {
    const ctx = parseEncryptionContext(JSON.parse('{"__proto__":"x"}'));
    expect(Object.keys(ctx)).toEqual(['__proto__']);
    expect(hex(encodeEncryptionContext(ctx))).not.toBe(hex(encodeEncryptionContext({})));
  });
});
