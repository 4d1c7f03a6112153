/**
 * Wycheproof ECDSA verification vectors (DER signatures), each through RAW (node:crypto) and DIGEST
 * (@noble/curves, prehash off). A file of its own because the pure-JS DIGEST path makes it the slowest.
 */
import { describe, expect, it } from 'vitest';
import { nodeCrypto } from './node-provider.ts';
import { runVerifyFile } from './wycheproof-vectors.ts';

describe.each([
  ['ecdsa_secp256r1_sha256_test.json', 'ECC_NIST_P256', 'ECDSA_SHA_256', 'SHA-256'],
  ['ecdsa_secp384r1_sha384_test.json', 'ECC_NIST_P384', 'ECDSA_SHA_384', 'SHA-384'],
  ['ecdsa_secp521r1_sha512_test.json', 'ECC_NIST_P521', 'ECDSA_SHA_512', 'SHA-512'],
  ['ecdsa_secp256k1_sha256_test.json', 'ECC_SECG_P256K1', 'ECDSA_SHA_256', 'SHA-256'],
] as const)('%s (RAW and DIGEST)', (file, spec, algorithm, hash) => {
  // P-521 takes 20-25 s through the pure-JS DIGEST path on a loaded 2-core machine; the unit default is 30 s.
  it('accepts every valid signature and refuses every invalid one', { timeout: 120_000 }, () => {
    const tally = runVerifyFile(nodeCrypto, file, spec, algorithm, hash);
    expect(tally.valid).toBeGreaterThanOrEqual(160);
    expect(tally.invalid).toBeGreaterThanOrEqual(300);
    expect(tally.acceptable + tally.skipped).toBe(0);
  });
});
