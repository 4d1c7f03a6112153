/**
 * Wycheproof vectors (../shared/wycheproof beside the repository) against both providers. Each file's run counts
 * the vectors it checked and asserts the count, so a filter that drops everything cannot pass vacuously.
 */
import { createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { CryptoProvider } from '../engine/ports.ts';
import { SecretBytes } from '../engine/secret.ts';
import type { AsymmetricKeySpec, HashAlgorithm, SigningAlgorithm } from '../engine/specs.ts';
import { isInvalidPublicKeyError } from './invalid-public-key.ts';
import { nobleCrypto } from './noble-provider.ts';
import { nodeCrypto } from './node-provider.ts';

const VECTORS = new URL('../../../shared/wycheproof/', import.meta.url);
const PROVIDERS: readonly CryptoProvider[] = [nodeCrypto, nobleCrypto];

type Result = 'valid' | 'invalid' | 'acceptable';
interface Vector {
  tcId: number;
  result: Result;
  flags?: string[];
}
interface Group<T extends Vector> {
  tests: T[];
}
interface VectorFile<G> {
  numberOfTests: number;
  testGroups: G[];
}

function load<G>(name: string): VectorFile<G> {
  const path = fileURLToPath(new URL(name, VECTORS));
  if (!existsSync(path)) {
    throw new Error(
      `wycheproof: ${path} is missing; the vectors must sit in shared/wycheproof beside the repository (../shared)`,
    );
  }
  return JSON.parse(readFileSync(path, 'utf8')) as VectorFile<G>;
}

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));

class Tally {
  valid = 0;
  invalid = 0;
  acceptable = 0;
  skipped = 0;
  count(result: Result): void {
    this[result]++;
  }
}

/** Runs `check` on every vector, labelling failures with the tcId, and returns the counts. */
function runVectors<T extends Vector>(
  groups: readonly Group<T>[],
  applies: (t: T) => boolean,
  check: (t: T) => void,
): Tally {
  const tally = new Tally();
  for (const group of groups) {
    for (const t of group.tests) {
      if (!applies(t)) {
        tally.skipped++;
        continue;
      }
      try {
        check(t);
      } catch (e) {
        throw new Error(`tcId ${t.tcId} (${t.result}, ${t.flags?.join(',') ?? ''}): ${(e as Error).message}`);
      }
      tally.count(t.result);
    }
  }
  return tally;
}

function expectOutcome(result: Result, accepted: boolean): void {
  if (result === 'valid') expect(accepted, 'valid vector rejected').toBe(true);
  if (result === 'invalid') expect(accepted, 'invalid vector accepted').toBe(false);
}

const both = PROVIDERS.map((p) => [p.name, p] as const);

describe('wycheproof aes_gcm_test.json (12-byte IV, 16-byte tag, AES-128/256)', () => {
  interface AeadVector extends Vector {
    key: string;
    iv: string;
    aad: string;
    msg: string;
    ct: string;
    tag: string;
  }
  interface AeadGroup extends Group<AeadVector> {
    ivSize: number;
    tagSize: number;
    keySize: number;
  }
  it.each(both)('%s opens every valid vector and rejects every invalid one', (_name, provider) => {
    const file = load<AeadGroup>('aes_gcm_test.json');
    const groups = file.testGroups.filter((g) => g.ivSize === 96 && g.tagSize === 128 && g.keySize !== 192);
    const tally = runVectors(
      groups,
      () => true,
      (t) => {
        const sealed = Buffer.concat([hex(t.iv), hex(t.ct), hex(t.tag)]);
        const opened = provider.aesGcmOpen(new SecretBytes(hex(t.key)), sealed, hex(t.aad));
        expectOutcome(t.result, opened !== undefined);
        if (t.result === 'valid') expect(Buffer.from(opened!).toString('hex')).toBe(t.msg);
      },
    );
    expect(tally.valid).toBe(79);
    expect(tally.invalid).toBe(54);
  });
});

describe.each([
  ['hmac_sha224_test.json', 'SHA-224', 224],
  ['hmac_sha256_test.json', 'SHA-256', 256],
  ['hmac_sha384_test.json', 'SHA-384', 384],
  ['hmac_sha512_test.json', 'SHA-512', 512],
] as const)('wycheproof %s (full-length tags)', (file, hash: HashAlgorithm, bits) => {
  interface MacVector extends Vector {
    key: string;
    msg: string;
    tag: string;
  }
  interface MacGroup extends Group<MacVector> {
    tagSize: number;
  }
  it.each(both)('%s computes every valid tag and no invalid one', (_name, provider) => {
    const groups = load<MacGroup>(file).testGroups.filter((g) => g.tagSize === bits);
    const tally = runVectors(
      groups,
      () => true,
      (t) => {
        const mac = provider.hmac(hash, new SecretBytes(hex(t.key)), hex(t.msg));
        expectOutcome(t.result, Buffer.from(mac).toString('hex') === t.tag);
      },
    );
    expect(tally.valid).toBeGreaterThan(20);
    expect(tally.invalid).toBeGreaterThan(20);
  });
});

interface VerifyVector extends Vector {
  msg: string;
  sig: string;
  ctx?: string;
}
interface VerifyGroup extends Group<VerifyVector> {
  publicKeyDer: string;
}

/**
 * Verifies each vector with `verify` on the RAW message and, where the algorithm has a hash, on its DIGEST
 * (which takes the separate digest-signing code paths). A group whose key `isValidPublicKey` refuses must hold
 * only invalid vectors, which then count as rejected.
 */
function verifyFile(
  provider: CryptoProvider,
  file: string,
  spec: AsymmetricKeySpec,
  algorithm: SigningAlgorithm,
  hash: HashAlgorithm | undefined,
  applies: (t: VerifyVector) => boolean = () => true,
): Tally {
  const tally = new Tally();
  for (const group of load<VerifyGroup>(file).testGroups) {
    const publicKey = hex(group.publicKeyDer);
    const keyOk = provider.isValidPublicKey(spec, publicKey);
    const part = runVectors([group], applies, (t) => {
      if (!keyOk) {
        expect(t.result, 'public key refused for a valid vector').not.toBe('valid');
        return;
      }
      const msg = hex(t.msg);
      const sig = hex(t.sig);
      expectOutcome(t.result, provider.verify(spec, algorithm, publicKey, msg, 'RAW', sig));
      if (hash !== undefined) {
        const digest = provider.digest(hash, msg);
        expectOutcome(t.result, provider.verify(spec, algorithm, publicKey, digest, 'DIGEST', sig));
      }
    });
    tally.valid += part.valid;
    tally.invalid += part.invalid;
    tally.acceptable += part.acceptable;
    tally.skipped += part.skipped;
  }
  return tally;
}

describe.each([
  ['ecdsa_secp256r1_sha256_test.json', 'ECC_NIST_P256', 'ECDSA_SHA_256', 'SHA-256'],
  ['ecdsa_secp384r1_sha384_test.json', 'ECC_NIST_P384', 'ECDSA_SHA_384', 'SHA-384'],
  ['ecdsa_secp521r1_sha512_test.json', 'ECC_NIST_P521', 'ECDSA_SHA_512', 'SHA-512'],
  ['ecdsa_secp256k1_sha256_test.json', 'ECC_SECG_P256K1', 'ECDSA_SHA_256', 'SHA-256'],
  ['rsa_pss_2048_sha256_mgf1_32_test.json', 'RSA_2048', 'RSASSA_PSS_SHA_256', 'SHA-256'],
  ['rsa_pss_3072_sha256_mgf1_32_test.json', 'RSA_3072', 'RSASSA_PSS_SHA_256', 'SHA-256'],
  ['rsa_signature_2048_sha256_test.json', 'RSA_2048', 'RSASSA_PKCS1_V1_5_SHA_256', 'SHA-256'],
] as const)('wycheproof %s (RAW and DIGEST)', (file, spec, algorithm, hash) => {
  it('accepts every valid signature and rejects every invalid one', () => {
    const tally = verifyFile(nodeCrypto, file, spec, algorithm, hash);
    expect(tally.valid).toBeGreaterThan(5);
    expect(tally.invalid).toBeGreaterThan(30);
    expect(tally.skipped).toBe(0);
  });
});

describe('wycheproof ed25519_test.json', () => {
  it('accepts every valid signature and rejects every invalid one', () => {
    const tally = verifyFile(
      nodeCrypto,
      'ed25519_test.json',
      'ECC_NIST_EDWARDS25519',
      'ED25519_SHA_512',
      undefined,
    );
    expect(tally.valid).toBe(88);
    expect(tally.invalid).toBe(63);
  });
});

describe.each([
  ['mldsa_44_verify_test.json', 'ML_DSA_44'],
  ['mldsa_65_verify_test.json', 'ML_DSA_65'],
  ['mldsa_87_verify_test.json', 'ML_DSA_87'],
] as const)('wycheproof %s (empty context only)', (file, spec) => {
  it('accepts every valid signature and rejects every invalid one', () => {
    const emptyContext = (t: VerifyVector): boolean => t.ctx === undefined || t.ctx === '';
    const tally = verifyFile(nodeCrypto, file, spec, 'ML_DSA_SHAKE_256', undefined, emptyContext);
    expect(tally.valid).toBeGreaterThan(50);
    expect(tally.invalid).toBeGreaterThan(80);
    expect(tally.skipped).toBeLessThan(15);
  });
});

describe.each([
  'rsa_oaep_2048_sha256_mgf1sha256_test.json',
  'rsa_oaep_3072_sha256_mgf1sha256_test.json',
  'rsa_oaep_4096_sha256_mgf1sha256_test.json',
])('wycheproof %s (empty label only)', (file) => {
  interface OaepVector extends Vector {
    msg: string;
    ct: string;
    label: string;
  }
  interface OaepGroup extends Group<OaepVector> {
    privateKeyPkcs8: string;
  }
  it('decrypts every valid ciphertext and refuses every invalid one', () => {
    let tally = new Tally();
    for (const group of load<OaepGroup>(file).testGroups) {
      const privateKey = new SecretBytes(hex(group.privateKeyPkcs8));
      const part = runVectors(
        [group],
        (t) => t.label === '',
        (t) => {
          const plaintext = nodeCrypto.rsaOaepDecrypt('RSAES_OAEP_SHA_256', privateKey, hex(t.ct));
          expectOutcome(t.result, plaintext !== undefined);
          if (t.result === 'valid') expect(Buffer.from(plaintext!).toString('hex')).toBe(t.msg);
        },
      );
      tally = Object.assign(new Tally(), {
        valid: tally.valid + part.valid,
        invalid: tally.invalid + part.invalid,
        acceptable: tally.acceptable + part.acceptable,
        skipped: tally.skipped + part.skipped,
      });
    }
    expect(tally.valid).toBe(10);
    expect(tally.invalid).toBe(19);
    expect(tally.skipped).toBe(8);
  });
});

describe('wycheproof ecdh_secp256r1_test.json', () => {
  interface EcdhVector extends Vector {
    public: string;
    private: string;
    shared: string;
  }
  /** PKCS#8 for a bare P-256 scalar, via a SEC1 ECPrivateKey without the optional public key. */
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
  it('derives every valid secret and refuses every invalid peer key', () => {
    const file = load<Group<EcdhVector>>('ecdh_secp256r1_test.json');
    const tally = runVectors(
      file.testGroups,
      () => true,
      (t) => {
        let shared: string | undefined;
        try {
          const secret = nodeCrypto.ecdh('ECC_NIST_P256', p256PrivateKey(t.private), hex(t.public));
          shared = Buffer.from(secret.unsafeBytes()).toString('hex');
        } catch (e) {
          expect(isInvalidPublicKeyError(e), `threw ${(e as Error).name}`).toBe(true);
        }
        expectOutcome(t.result, shared !== undefined);
        if (t.result === 'valid') expect(shared).toBe(t.shared);
      },
    );
    expect(tally.valid).toBe(330);
    expect(tally.invalid).toBe(52);
    expect(tally.acceptable).toBe(230);
  });
  it('isValidPublicKey accepts every valid peer key and refuses every invalid one', () => {
    const file = load<Group<EcdhVector>>('ecdh_secp256r1_test.json');
    const tally = runVectors(
      file.testGroups,
      () => true,
      (t) => expectOutcome(t.result, nodeCrypto.isValidPublicKey('ECC_NIST_P256', hex(t.public))),
    );
    expect(tally.valid).toBe(330);
    expect(tally.invalid).toBe(52);
  });
});

describe('wycheproof vectors location', () => {
  it('resolves to the shared folder beside the repository', () => {
    expect(existsSync(fileURLToPath(VECTORS)), `${fileURLToPath(VECTORS)} is missing`).toBe(true);
  });
});
