/**
 * Wycheproof vectors against both providers: AES-GCM, HMAC, Ed25519, ML-DSA, RSA-PSS, RSA PKCS#1 v1.5,
 * RSA-OAEP and ECDH (ECDSA is in wycheproof-ecdsa.test.ts). Every run asserts how many vectors it checked, so a
 * filter that drops everything cannot pass.
 */
import { createPrivateKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { CryptoProvider } from '../engine/ports.ts';
import { SecretBytes } from '../engine/secret.ts';
import type { HashAlgorithm } from '../engine/specs.ts';
import { isInvalidPublicKeyError } from './invalid-public-key.ts';
import { nobleCrypto } from './noble-provider.ts';
import { nodeCrypto } from './node-provider.ts';
import {
  hex,
  hexOf,
  loadVectors,
  runVectors,
  runVerifyFile,
  type Vector,
  type VectorGroup,
  type VerifyVector,
  WYCHEPROOF_DIR,
} from './wycheproof-vectors.ts';

const BOTH: readonly (readonly [string, CryptoProvider])[] = [nodeCrypto, nobleCrypto].map(
  (p) => [p.name, p] as const,
);

it('finds the vendored vectors in test/vectors/wycheproof', () => {
  expect(existsSync(fileURLToPath(WYCHEPROOF_DIR)), `${fileURLToPath(WYCHEPROOF_DIR)} is missing`).toBe(true);
});

describe('aes_gcm_test.json (12-byte IV, 16-byte tag, AES-128/256: what our sealed format can carry)', () => {
  interface AeadVector extends Vector {
    key: string;
    iv: string;
    aad: string;
    msg: string;
    ct: string;
    tag: string;
  }
  interface AeadGroup extends VectorGroup<AeadVector> {
    ivSize: number;
    tagSize: number;
    keySize: number;
  }
  it.each(BOTH)('%s opens every valid vector and refuses every invalid one', (_name, provider) => {
    const groups = loadVectors<AeadGroup>('aes_gcm_test.json').testGroups;
    const applicable = groups.filter((g) => g.ivSize === 96 && g.tagSize === 128 && g.keySize !== 192);
    const tally = runVectors(
      applicable,
      () => true,
      (t) => {
        const sealed = Buffer.concat([hex(t.iv), hex(t.ct), hex(t.tag)]);
        const opened = provider.aesGcmOpen(new SecretBytes(hex(t.key)), sealed, hex(t.aad));
        return opened !== undefined && (t.result !== 'valid' || hexOf(opened) === t.msg);
      },
    );
    expect(tally).toEqual({ valid: 79, invalid: 54, acceptable: 0, skipped: 0 });
    const skipped = groups.filter((g) => !applicable.includes(g)).reduce((n, g) => n + g.tests.length, 0);
    expect(skipped).toBe(316 - 133);
  });
});

describe.each([
  ['hmac_sha224_test.json', 'SHA-224', 224],
  ['hmac_sha256_test.json', 'SHA-256', 256],
  ['hmac_sha384_test.json', 'SHA-384', 384],
  ['hmac_sha512_test.json', 'SHA-512', 512],
] as const)('%s (full-length tags)', (file, hash: HashAlgorithm, bits) => {
  interface MacVector extends Vector {
    key: string;
    msg: string;
    tag: string;
  }
  interface MacGroup extends VectorGroup<MacVector> {
    tagSize: number;
  }
  it.each(BOTH)('%s computes every valid tag and no invalid one', (_name, provider) => {
    const groups = loadVectors<MacGroup>(file).testGroups.filter((g) => g.tagSize === bits);
    const tally = runVectors(
      groups,
      () => true,
      (t) => hexOf(provider.hmac(hash, new SecretBytes(hex(t.key)), hex(t.msg))) === t.tag,
    );
    expect(tally.valid).toBeGreaterThanOrEqual(30);
    expect(tally.invalid).toBeGreaterThanOrEqual(50);
  });
});

describe('ed25519_test.json', () => {
  it('accepts every valid signature and refuses every invalid one', () => {
    const tally = runVerifyFile(
      nodeCrypto,
      'ed25519_test.json',
      'ECC_NIST_EDWARDS25519',
      'ED25519_SHA_512',
      undefined,
    );
    expect(tally).toEqual({ valid: 88, invalid: 63, acceptable: 0, skipped: 0 });
  });
});

describe.each([
  ['mldsa_44_verify_test.json', 'ML_DSA_44'],
  ['mldsa_65_verify_test.json', 'ML_DSA_65'],
  ['mldsa_87_verify_test.json', 'ML_DSA_87'],
] as const)('%s (empty context only: AWS signs with none)', (file, spec) => {
  it('accepts every valid signature and refuses every invalid one', () => {
    const emptyContext = (t: VerifyVector): boolean => t.ctx === undefined || t.ctx === '';
    const tally = runVerifyFile(nodeCrypto, file, spec, 'ML_DSA_SHAKE_256', undefined, emptyContext);
    expect(tally.valid).toBeGreaterThan(60);
    expect(tally.invalid).toBeGreaterThan(90);
    expect(tally.skipped).toBeLessThan(12);
  });
});

describe.each([
  ['rsa_pss_2048_sha256_mgf1_32_test.json', 'RSA_2048', 'RSASSA_PSS_SHA_256'],
  ['rsa_pss_3072_sha256_mgf1_32_test.json', 'RSA_3072', 'RSASSA_PSS_SHA_256'],
  ['rsa_signature_2048_sha256_test.json', 'RSA_2048', 'RSASSA_PKCS1_V1_5_SHA_256'],
] as const)('%s (RAW and DIGEST)', (file, spec, algorithm) => {
  it('accepts every valid signature and refuses every invalid one', () => {
    const tally = runVerifyFile(nodeCrypto, file, spec, algorithm, 'SHA-256');
    expect(tally.valid).toBeGreaterThanOrEqual(9);
    expect(tally.invalid).toBeGreaterThanOrEqual(45);
  });
});

describe.each([
  'rsa_oaep_2048_sha256_mgf1sha256_test.json',
  'rsa_oaep_3072_sha256_mgf1sha256_test.json',
  'rsa_oaep_4096_sha256_mgf1sha256_test.json',
])('%s (empty label only: AWS uses none)', (file) => {
  interface OaepVector extends Vector {
    msg: string;
    ct: string;
    label: string;
  }
  interface OaepGroup extends VectorGroup<OaepVector> {
    privateKeyPkcs8: string;
  }
  it('decrypts every valid ciphertext and refuses every invalid one', () => {
    const [group, ...rest] = loadVectors<OaepGroup>(file).testGroups;
    expect(rest).toHaveLength(0);
    const privateKey = new SecretBytes(hex(group!.privateKeyPkcs8));
    const tally = runVectors(
      [group!],
      (t) => t.label === '',
      (t) => {
        const plaintext = nodeCrypto.rsaOaepDecrypt('RSAES_OAEP_SHA_256', privateKey, hex(t.ct));
        return plaintext !== undefined && (t.result !== 'valid' || hexOf(plaintext) === t.msg);
      },
    );
    expect(tally).toEqual({ valid: 10, invalid: 19, acceptable: 0, skipped: 8 });
  });
});

describe('ecdh_secp256r1_test.json', () => {
  interface EcdhVector extends Vector {
    public: string;
    private: string;
    shared: string;
  }
  /** PKCS#8 for a bare P-256 scalar, by way of a SEC1 ECPrivateKey without the optional public key. */
  function p256PrivateKey(scalarHex: string): SecretBytes {
    const scalar = Buffer.from(scalarHex.padStart(64, '0').slice(-64), 'hex');
    const sec1 = Buffer.concat([
      Buffer.from('30310201010420', 'hex'),
      scalar,
      Buffer.from('a00a06082a8648ce3d030107', 'hex'),
    ]);
    const key = createPrivateKey({ key: sec1, format: 'der', type: 'sec1' });
    return new SecretBytes(Uint8Array.from(key.export({ type: 'pkcs8', format: 'der' })));
  }
  const groups = () => loadVectors<VectorGroup<EcdhVector>>('ecdh_secp256r1_test.json').testGroups;

  it('derives every valid secret and throws InvalidPublicKey for every invalid peer key', () => {
    const tally = runVectors(
      groups(),
      () => true,
      (t) => {
        try {
          const secret = nodeCrypto.ecdh('ECC_NIST_P256', p256PrivateKey(t.private), hex(t.public));
          return t.result !== 'valid' || hexOf(secret.unsafeBytes()) === t.shared;
        } catch (e) {
          if (!isInvalidPublicKeyError(e)) throw e;
          return false;
        }
      },
    );
    expect(tally).toEqual({ valid: 330, invalid: 52, acceptable: 230, skipped: 0 });
  });

  it('isValidPublicKey accepts every valid peer key and refuses every invalid one', () => {
    const tally = runVectors(
      groups(),
      () => true,
      (t) => nodeCrypto.isValidPublicKey('ECC_NIST_P256', hex(t.public)),
    );
    expect(tally.valid + tally.invalid).toBe(382);
  });
});
