import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nobleCrypto } from '../crypto/noble-provider.ts';
import { nodeCrypto } from '../crypto/node-provider.ts';
import {
  CIPHERTEXT_FORMAT_KMSV2,
  CIPHERTEXT_FORMAT_V1,
  CIPHERTEXT_OVERHEAD,
  type CiphertextFormat,
  ciphertextAad,
  encodeHeader,
  HEADER_BYTES,
  parseCiphertext,
} from './ciphertext.ts';
import { encodeEncryptionContext } from './encryption-context.ts';
import { KmsError } from './errors.ts';
import { SecretBytes } from './secret.ts';

interface Golden {
  description: string;
  key: string;
  keyId: string;
  keyVersion: number;
  encryptionContext: Record<string, string>;
  plaintext: string;
  ciphertext: string;
}

const goldenOf = (format: CiphertextFormat): Golden[] =>
  JSON.parse(readFileSync(new URL(`./testdata/ciphertext-v${format}-golden.json`, import.meta.url), 'utf8'));

describe('ciphertext formats 1 and 2', () => {
  it('round-trips the header', () => {
    const h = encodeHeader('0b9d6c1e-8f3a-4c2b-9d7e-1a2b3c4d5e6f', 7);
    const blob = new Uint8Array([...h, ...new Uint8Array(28)]);
    const p = parseCiphertext(blob);
    expect(p.keyId).toBe('0b9d6c1e-8f3a-4c2b-9d7e-1a2b3c4d5e6f');
    expect(p.keyVersion).toBe(7);
    expect(p.sealed.length).toBe(28);
  });

  it.each([CIPHERTEXT_FORMAT_V1, CIPHERTEXT_FORMAT_KMSV2] as const)(
    'decrypts every committed golden vector of format %i with both crypto providers',
    (format) => {
      const golden = goldenOf(format);
      expect(golden.length).toBeGreaterThanOrEqual(format === 1 ? 4 : 2);
      for (const g of golden) {
        const blob = Buffer.from(g.ciphertext, 'base64');
        const p = parseCiphertext(blob, [format]);
        expect(p.format).toBe(format);
        expect(p.keyId).toBe(g.keyId);
        expect(p.keyVersion).toBe(g.keyVersion);
        const aad = ciphertextAad(
          blob.subarray(0, HEADER_BYTES),
          encodeEncryptionContext(g.encryptionContext),
        );
        for (const provider of [nodeCrypto, nobleCrypto]) {
          const pt = provider.aesGcmOpen(new SecretBytes(Buffer.from(g.key, 'hex')), p.sealed, aad);
          expect(pt && Buffer.from(pt).toString('base64'), `${g.description} (${provider.name})`).toBe(
            g.plaintext,
          );
        }
      }
    },
  );

  it('parses only the formats asked for: format 2 (KMS v2) is not an AWS API blob, nor format 1 a KMS v2 one', () => {
    const v2 = Buffer.from(goldenOf(CIPHERTEXT_FORMAT_KMSV2)[0]!.ciphertext, 'base64');
    const v1 = Buffer.from(goldenOf(CIPHERTEXT_FORMAT_V1)[0]!.ciphertext, 'base64');
    expect(() => parseCiphertext(v2)).toThrow('invalid ciphertext');
    expect(() => parseCiphertext(v1, [CIPHERTEXT_FORMAT_KMSV2])).toThrow('invalid ciphertext');
    expect(parseCiphertext(v1, [CIPHERTEXT_FORMAT_V1, CIPHERTEXT_FORMAT_KMSV2]).format).toBe(1);
  });

  it('gives InvalidCiphertextException and nothing else for arbitrary bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          parseCiphertext(bytes);
          return bytes.length >= CIPHERTEXT_OVERHEAD && bytes[0] === 1;
        } catch (e) {
          return (
            e instanceof KmsError &&
            e.code === 'InvalidCiphertextException' &&
            e.message === 'invalid ciphertext'
          );
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('refuses version 0, other format bytes and short blobs', () => {
    const good = new Uint8Array([
      ...encodeHeader('0b9d6c1e-8f3a-4c2b-9d7e-1a2b3c4d5e6f', 1),
      ...new Uint8Array(28),
    ]);
    expect(() => parseCiphertext(good.subarray(0, CIPHERTEXT_OVERHEAD - 1))).toThrow('invalid ciphertext');
    const v0 = Uint8Array.from(good);
    v0.set([0, 0, 0, 0], 17);
    expect(() => parseCiphertext(v0)).toThrow('invalid ciphertext');
    const f2 = Uint8Array.from(good);
    f2[0] = 2;
    expect(() => parseCiphertext(f2)).toThrow('invalid ciphertext');
  });
});
