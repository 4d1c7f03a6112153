/**
 * node:crypto against @noble: the two providers must agree on every symmetric primitive, open each other's
 * ciphertexts, and both refuse any tampering.
 */
import { gcm } from '@noble/ciphers/aes.js';
import { describe, expect, it } from 'vitest';
import { SecretBytes } from '../engine/secret.ts';
import type { HashAlgorithm } from '../engine/specs.ts';
import { nobleCrypto } from './noble-provider.ts';
import { nodeCrypto } from './node-provider.ts';

const HASHES: readonly HashAlgorithm[] = ['SHA-1', 'SHA-224', 'SHA-256', 'SHA-384', 'SHA-512'];
const PROVIDERS = [nodeCrypto, nobleCrypto] as const;
const random = (n: number): Uint8Array => nodeCrypto.randomBytes(n);
const randomInt = (max: number): number => Math.floor(Math.random() * (max + 1));
const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Plaintext lengths: the edges around the AES block and the KMS limits, then random ones up to 5000. */
const LENGTHS = [
  0,
  1,
  15,
  16,
  17,
  31,
  32,
  33,
  255,
  256,
  4095,
  4096,
  4097,
  5000,
  ...Array.from({ length: 150 }, () => randomInt(5000)),
];

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[bit >> 3] = out[bit >> 3]! ^ (1 << (bit & 7));
  return out;
}

describe('AES-GCM: node and noble agree', () => {
  it.each(LENGTHS.map((n, i) => [n, i % 2 === 0 ? 32 : 16] as const))(
    'length %i with a %i-byte key: cross-open, same ciphertext for the same nonce',
    (length, keyBytes) => {
      const key = new SecretBytes(random(keyBytes));
      const plaintext = random(length);
      const aad = random(randomInt(64));
      const prefix = random(randomInt(8));
      for (const [sealer, opener] of [PROVIDERS, [...PROVIDERS].reverse()]) {
        const out = sealer!.aesGcmSeal(key, plaintext, aad, prefix);
        expect(out.length).toBe(prefix.length + 12 + length + 16);
        expect(hexOf(out.subarray(0, prefix.length))).toBe(hexOf(prefix));
        const sealed = out.subarray(prefix.length);
        expect(hexOf(opener!.aesGcmOpen(key, sealed, aad)!)).toBe(hexOf(plaintext));
        const nonce = sealed.subarray(0, 12);
        expect(hexOf(gcm(key.unsafeBytes(), nonce, aad).encrypt(plaintext))).toBe(hexOf(sealed.subarray(12)));
      }
    },
  );

  it('both refuse every single-bit flip of nonce, ciphertext and tag, and of the AAD', () => {
    const key = new SecretBytes(random(32));
    const aad = random(20);
    const sealed = nodeCrypto.aesGcmSeal(key, random(40), aad);
    for (let bit = 0; bit < sealed.length * 8; bit++) {
      const tampered = flipBit(sealed, bit);
      for (const p of PROVIDERS)
        expect(p.aesGcmOpen(key, tampered, aad), `${p.name} bit ${bit}`).toBeUndefined();
    }
    for (let bit = 0; bit < aad.length * 8; bit++) {
      for (const p of PROVIDERS) expect(p.aesGcmOpen(key, sealed, flipBit(aad, bit))).toBeUndefined();
    }
  });

  it('both refuse a wrong key, truncation and extension', () => {
    const key = new SecretBytes(random(16));
    const sealed = nobleCrypto.aesGcmSeal(key, random(10), new Uint8Array());
    for (const p of PROVIDERS) {
      expect(p.aesGcmOpen(new SecretBytes(random(16)), sealed, new Uint8Array())).toBeUndefined();
      for (let n = 0; n < sealed.length; n++)
        expect(p.aesGcmOpen(key, sealed.subarray(0, n), new Uint8Array())).toBeUndefined();
      const extended = new Uint8Array(sealed.length + 1);
      extended.set(sealed);
      expect(p.aesGcmOpen(key, extended, new Uint8Array())).toBeUndefined();
    }
  });

  it('both throw for keys that are not 16 or 32 bytes', () => {
    for (const p of PROVIDERS) {
      for (const n of [0, 15, 24, 33]) {
        const key = new SecretBytes(random(n));
        expect(() => p.aesGcmSeal(key, random(4), new Uint8Array())).toThrow(/^crypto: /);
        expect(() => p.aesGcmOpen(key, random(40), new Uint8Array())).toThrow(/^crypto: /);
      }
    }
  });

  it('uses a fresh nonce for every seal', () => {
    const key = new SecretBytes(random(32));
    for (const p of PROVIDERS) {
      const nonces = new Set<string>();
      for (let i = 0; i < 1000; i++)
        nonces.add(hexOf(p.aesGcmSeal(key, new Uint8Array(), new Uint8Array()).subarray(0, 12)));
      expect(nonces.size).toBe(1000);
    }
  });
});

describe('HMAC and digests: node and noble agree', () => {
  it.each(HASHES.filter((h) => h !== 'SHA-1'))(
    'HMAC %s over random keys (0..200 bytes) and messages',
    (hash) => {
      for (let i = 0; i < 200; i++) {
        const key = new SecretBytes(random(i === 0 ? 0 : randomInt(200)));
        const message = random(randomInt(3000));
        expect(hexOf(nodeCrypto.hmac(hash, key, message))).toBe(hexOf(nobleCrypto.hmac(hash, key, message)));
      }
    },
  );

  it.each(HASHES)('digest %s over random lengths', (hash) => {
    for (let i = 0; i < 200; i++) {
      const data = random(i < 3 ? i : randomInt(5000));
      expect(hexOf(nodeCrypto.digest(hash, data))).toBe(hexOf(nobleCrypto.digest(hash, data)));
    }
  });

  it('digests match the FIPS 180 "abc" answers', () => {
    const abc = new TextEncoder().encode('abc');
    const expected: Record<HashAlgorithm, string> = {
      'SHA-1': 'a9993e364706816aba3e25717850c26c9cd0d89d',
      'SHA-224': '23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7',
      'SHA-256': 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
      'SHA-384':
        'cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7',
      'SHA-512':
        'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    };
    for (const p of PROVIDERS) for (const h of HASHES) expect(hexOf(p.digest(h, abc))).toBe(expected[h]);
  });

  it('a tampered MAC no longer matches in either provider', () => {
    const key = new SecretBytes(random(32));
    const message = random(100);
    const mac = nodeCrypto.hmac('SHA-256', key, message);
    for (let bit = 0; bit < message.length * 8; bit += 7) {
      for (const p of PROVIDERS)
        expect(hexOf(p.hmac('SHA-256', key, flipBit(message, bit)))).not.toBe(hexOf(mac));
    }
  });
});

describe('randomBytes', () => {
  it.each(PROVIDERS.map((p) => [p.name, p] as const))(
    '%s returns exactly the bytes asked for',
    (_name, p) => {
      for (const n of [0, 1, 12, 32, 1024, 65536, 70000]) expect(p.randomBytes(n)).toHaveLength(n);
      expect(hexOf(p.randomBytes(32))).not.toBe(hexOf(p.randomBytes(32)));
    },
  );
});
