import {
  constants,
  createHash,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
  verify as nodeVerify,
  publicEncrypt,
} from 'node:crypto';
import { ed25519ph } from '@noble/curves/ed25519.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { nodeCrypto } from '../crypto/node-provider.ts';
import { EngineCore } from './core.ts';
import { decrypt, encrypt } from './ops-encrypt.ts';
import { createKey, disableKey } from './ops-keys.ts';
import { deriveSharedSecret, getPublicKey, sign, verify } from './ops-sign.ts';
import { SYSTEM } from './policy.ts';
import type { KeySpec, KeyUsage, SigningAlgorithm } from './specs.ts';
import { SIGNING_ALGORITHMS } from './specs.ts';
import { kmsError, MemoryKeyStore, principal, TestRootKey } from './testing.ts';

const sys = { caller: SYSTEM };
const admin = principal('admin', { admin: true });
const bytes = (s: string) => new TextEncoder().encode(s);

/** Asserts a ValidationException whose field (and message prefix) is `field`. */
function expectValidation(f: () => unknown, field: string): void {
  const e = kmsError(f);
  expect(e.code).toBe('ValidationException');
  expect(e.field).toBe(field);
  expect(e.message.startsWith(`${field}:`)).toBe(true);
}

const expectCode = (f: () => unknown, code: string) => expect(kmsError(f).code).toBe(code);

/** Written out here (not imported) so that a wrong table in specs.ts fails these tests. */
const RSA_SIGNING = [
  'RSASSA_PSS_SHA_256',
  'RSASSA_PSS_SHA_384',
  'RSASSA_PSS_SHA_512',
  'RSASSA_PKCS1_V1_5_SHA_256',
  'RSASSA_PKCS1_V1_5_SHA_384',
  'RSASSA_PKCS1_V1_5_SHA_512',
] as const;
const SIGN_SPECS: ReadonlyArray<readonly [KeySpec, readonly SigningAlgorithm[]]> = [
  ['RSA_2048', RSA_SIGNING],
  ['RSA_3072', RSA_SIGNING],
  ['RSA_4096', RSA_SIGNING],
  ['ECC_NIST_P256', ['ECDSA_SHA_256']],
  ['ECC_NIST_P384', ['ECDSA_SHA_384']],
  ['ECC_NIST_P521', ['ECDSA_SHA_512']],
  ['ECC_SECG_P256K1', ['ECDSA_SHA_256']],
  ['ECC_NIST_EDWARDS25519', ['ED25519_SHA_512', 'ED25519_PH_SHA_512']],
  ['ML_DSA_44', ['ML_DSA_SHAKE_256']],
  ['ML_DSA_65', ['ML_DSA_SHAKE_256']],
  ['ML_DSA_87', ['ML_DSA_SHAKE_256']],
];

/** node:crypto hash name and digest length of each algorithm; undefined where DIGEST is not allowed. */
function hashOf(alg: SigningAlgorithm): { name: string; bytes: number } | undefined {
  const m = /SHA_(256|384|512)$/.exec(alg);
  if (alg === 'ED25519_SHA_512' || alg === 'ML_DSA_SHAKE_256' || !m) return undefined;
  return { name: `sha${m[1]}`, bytes: Number(m[1]) / 8 };
}

const spki = (der: Uint8Array): KeyObject =>
  createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });

/** Verifies a KMS signature with node:crypto alone, as an offline verifier holding only GetPublicKey would. */
function offlineVerify(
  alg: SigningAlgorithm,
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  const key = spki(publicKey);
  const hash = hashOf(alg);
  if (alg.startsWith('RSASSA_PSS')) {
    // A fixed salt length: OpenSSL then refuses any other salt (e.g. the maximum salt local-kms and moto use).
    return nodeVerify(
      hash!.name,
      message,
      { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: hash!.bytes },
      signature,
    );
  }
  if (alg.startsWith('RSASSA_PKCS1'))
    return nodeVerify(hash!.name, message, { key, padding: constants.RSA_PKCS1_PADDING }, signature);
  if (alg.startsWith('ECDSA')) return nodeVerify(hash!.name, message, { key, dsaEncoding: 'der' }, signature);
  if (alg === 'ED25519_SHA_512' || alg === 'ML_DSA_SHAKE_256')
    return nodeVerify(null, message, key, signature);
  throw new Error(`no offline verifier for ${alg}`);
}

const ed25519Raw = (publicKey: Uint8Array): Uint8Array =>
  Buffer.from(spki(publicKey).export({ format: 'jwk' }).x!, 'base64url');

let core: EngineCore;
const signKeys = new Map<KeySpec, string>();

async function newKey(keySpec: KeySpec, keyUsage?: KeyUsage): Promise<string> {
  return (await createKey(core, sys, { keySpec, ...(keyUsage ? { keyUsage } : {}) })).keyId;
}

beforeAll(async () => {
  core = await EngineCore.open({
    crypto: nodeCrypto,
    rootKey: new TestRootKey(nodeCrypto),
    store: new MemoryKeyStore(),
  });
  for (const [spec] of SIGN_SPECS) signKeys.set(spec, await newKey(spec, 'SIGN_VERIFY'));
}, 60_000);

describe('Sign / Verify for every SIGN_VERIFY spec and algorithm', () => {
  for (const [spec, algorithms] of SIGN_SPECS) {
    for (const alg of algorithms) {
      it(`${spec} ${alg}`, () => {
        const keyId = signKeys.get(spec)!;
        const publicKey = getPublicKey(core, sys, keyId).publicKey;
        const message = bytes(`kubekms signs ${spec} with ${alg}`);
        const tampered = Uint8Array.from(message);
        tampered[0]! ^= 0x01;
        const hash = hashOf(alg);

        if (alg !== 'ED25519_PH_SHA_512') {
          const out = sign(core, sys, { keyId, message, signingAlgorithm: alg });
          expect(out.keyId).toBe(core.arnOf(keyId));
          expect(out.signingAlgorithm).toBe(alg);
          if (alg.startsWith('ECDSA')) expect(out.signature[0]).toBe(0x30); // DER SEQUENCE, not r||s
          expect(
            verify(core, sys, { keyId, message, signature: out.signature, signingAlgorithm: alg })
              .signatureValid,
          ).toBe(true);
          expect(
            verify(core, sys, {
              keyId,
              message,
              messageType: 'RAW',
              signature: out.signature,
              signingAlgorithm: alg,
            }).signatureValid,
          ).toBe(true);
          expect(offlineVerify(alg, publicKey, message, out.signature)).toBe(true);
          expectCode(
            () =>
              verify(core, sys, {
                keyId,
                message: tampered,
                signature: out.signature,
                signingAlgorithm: alg,
              }),
            'KMSInvalidSignatureException',
          );
          const badSig = Uint8Array.from(out.signature);
          badSig[badSig.length - 1]! ^= 0x01;
          expectCode(
            () => verify(core, sys, { keyId, message, signature: badSig, signingAlgorithm: alg }),
            'KMSInvalidSignatureException',
          );
          // RAW with ED25519_PH_SHA_512 is refused below; everything else refuses DIGEST when it has no hash.
        } else {
          expectValidation(() => sign(core, sys, { keyId, message, signingAlgorithm: alg }), 'MessageType');
          expectValidation(
            () => verify(core, sys, { keyId, message, signature: new Uint8Array(64), signingAlgorithm: alg }),
            'MessageType',
          );
        }

        if (hash === undefined) {
          expectValidation(
            () =>
              sign(core, sys, {
                keyId,
                message: new Uint8Array(64),
                messageType: 'DIGEST',
                signingAlgorithm: alg,
              }),
            'MessageType',
          );
          return;
        }
        const digest = createHash(hash.name).update(message).digest();
        const d = sign(core, sys, { keyId, message: digest, messageType: 'DIGEST', signingAlgorithm: alg });
        expect(
          verify(core, sys, {
            keyId,
            message: digest,
            messageType: 'DIGEST',
            signature: d.signature,
            signingAlgorithm: alg,
          }).signatureValid,
        ).toBe(true);
        if (alg === 'ED25519_PH_SHA_512') {
          // AWS hashes the caller's digest once more (FIPS 186-5 §7.8.1 step 1): HashEdDSA over the 64 bytes sent.
          expect(ed25519ph.verify(d.signature, digest, ed25519Raw(publicKey))).toBe(true);
          expect(ed25519ph.verify(d.signature, message, ed25519Raw(publicKey))).toBe(false);
        } else {
          expect(
            verify(core, sys, { keyId, message, signature: d.signature, signingAlgorithm: alg })
              .signatureValid,
          ).toBe(true);
          expect(offlineVerify(alg, publicKey, message, d.signature)).toBe(true);
        }
        const wrongDigest = Uint8Array.from(digest);
        wrongDigest[0]! ^= 0x80;
        expectCode(
          () =>
            verify(core, sys, {
              keyId,
              message: wrongDigest,
              messageType: 'DIGEST',
              signature: d.signature,
              signingAlgorithm: alg,
            }),
          'KMSInvalidSignatureException',
        );
        for (const len of [hash.bytes - 1, hash.bytes + 1, 20]) {
          expectValidation(
            () =>
              sign(core, sys, {
                keyId,
                message: new Uint8Array(len),
                messageType: 'DIGEST',
                signingAlgorithm: alg,
              }),
            'Message',
          );
        }
      });
    }
  }

  it('RSA-PSS salt is the hash length: a maximum-salt verifier setting fails, a hash-length one passes', () => {
    const keyId = signKeys.get('RSA_2048')!;
    const key = spki(getPublicKey(core, sys, keyId).publicKey);
    const message = bytes('salt');
    const { signature } = sign(core, sys, { keyId, message, signingAlgorithm: 'RSASSA_PSS_SHA_256' });
    expect(
      nodeVerify(
        'sha256',
        message,
        { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
        signature,
      ),
    ).toBe(true);
    expect(
      nodeVerify(
        'sha256',
        message,
        { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 256 - 32 - 2 },
        signature,
      ),
    ).toBe(false);
  });

  it('refuses every algorithm that does not fit the spec with InvalidKeyUsageException', () => {
    for (const [spec, algorithms] of SIGN_SPECS) {
      const keyId = signKeys.get(spec)!;
      for (const alg of SIGNING_ALGORITHMS.filter((a) => !algorithms.includes(a))) {
        const e = kmsError(() => sign(core, sys, { keyId, message: bytes('m'), signingAlgorithm: alg }));
        expect(`${spec} ${alg} ${e.code}`).toBe(`${spec} ${alg} InvalidKeyUsageException`);
        expectCode(
          () =>
            verify(core, sys, {
              keyId,
              message: bytes('m'),
              signature: new Uint8Array(64),
              signingAlgorithm: alg,
            }),
          'InvalidKeyUsageException',
        );
      }
    }
  });

  it('refuses EXTERNAL_MU with UnsupportedOperationException', () => {
    const keyId = signKeys.get('ML_DSA_65')!;
    expectCode(
      () =>
        sign(core, sys, {
          keyId,
          message: new Uint8Array(64),
          messageType: 'EXTERNAL_MU',
          signingAlgorithm: 'ML_DSA_SHAKE_256',
        }),
      'UnsupportedOperationException',
    );
  });

  it('validates Message, MessageType, SigningAlgorithm and Signature, naming the field', () => {
    const keyId = signKeys.get('ECC_NIST_P256')!;
    expectValidation(
      () => sign(core, sys, { keyId, message: new Uint8Array(0), signingAlgorithm: 'ECDSA_SHA_256' }),
      'Message',
    );
    expectValidation(
      () => sign(core, sys, { keyId, message: new Uint8Array(4097), signingAlgorithm: 'ECDSA_SHA_256' }),
      'Message',
    );
    expect(
      sign(core, sys, { keyId, message: new Uint8Array(4096), signingAlgorithm: 'ECDSA_SHA_256' }).signature
        .length,
    ).toBeGreaterThan(0);
    expectValidation(
      () => sign(core, sys, { keyId, message: 'text', signingAlgorithm: 'ECDSA_SHA_256' }),
      'Message',
    );
    expectValidation(
      () =>
        sign(core, sys, {
          keyId,
          message: bytes('m'),
          messageType: 'HASHED',
          signingAlgorithm: 'ECDSA_SHA_256',
        }),
      'MessageType',
    );
    expectValidation(
      () => sign(core, sys, { keyId, message: bytes('m'), signingAlgorithm: 'ECDSA_SHA_1' }),
      'SigningAlgorithm',
    );
    expectValidation(
      () =>
        verify(core, sys, {
          keyId,
          message: bytes('m'),
          signature: new Uint8Array(0),
          signingAlgorithm: 'ECDSA_SHA_256',
        }),
      'Signature',
    );
  });

  it('treats a garbage signature as invalid, not as a crash, for RAW and DIGEST', () => {
    for (const [spec, algorithms] of SIGN_SPECS) {
      for (const alg of algorithms) {
        const keyId = signKeys.get(spec)!;
        const hash = hashOf(alg);
        const cases = [
          ...(alg === 'ED25519_PH_SHA_512' ? [] : [{ message: bytes('m'), messageType: 'RAW' }]),
          ...(hash ? [{ message: new Uint8Array(hash.bytes), messageType: 'DIGEST' }] : []),
        ];
        for (const c of cases) {
          for (const signature of [
            new Uint8Array([0x30, 0x02, 0x01]),
            new Uint8Array(7).fill(0xff),
            nodeCrypto.randomBytes(512),
          ]) {
            expectCode(
              () => verify(core, sys, { keyId, ...c, signature, signingAlgorithm: alg }),
              'KMSInvalidSignatureException',
            );
          }
        }
      }
    }
  });
});

describe('Sign / Verify / GetPublicKey: key state and usage', () => {
  it('a disabled key gives DisabledException', async () => {
    const keyId = await newKey('ECC_NIST_P256', 'SIGN_VERIFY');
    const { signature } = sign(core, sys, { keyId, message: bytes('m'), signingAlgorithm: 'ECDSA_SHA_256' });
    await disableKey(core, admin, keyId);
    expectCode(
      () => sign(core, sys, { keyId, message: bytes('m'), signingAlgorithm: 'ECDSA_SHA_256' }),
      'DisabledException',
    );
    expectCode(
      () => verify(core, sys, { keyId, message: bytes('m'), signature, signingAlgorithm: 'ECDSA_SHA_256' }),
      'DisabledException',
    );
    expectCode(() => getPublicKey(core, sys, keyId), 'DisabledException');
  });

  it('symmetric, HMAC and KEY_AGREEMENT keys refuse Sign with InvalidKeyUsageException', async () => {
    for (const keyId of [
      await newKey('SYMMETRIC_DEFAULT'),
      await newKey('HMAC_256'),
      await newKey('ECC_NIST_P256', 'KEY_AGREEMENT'),
    ]) {
      expectCode(
        () => sign(core, sys, { keyId, message: bytes('m'), signingAlgorithm: 'ECDSA_SHA_256' }),
        'InvalidKeyUsageException',
      );
      expectCode(
        () =>
          verify(core, sys, {
            keyId,
            message: bytes('m'),
            signature: new Uint8Array(8),
            signingAlgorithm: 'ECDSA_SHA_256',
          }),
        'InvalidKeyUsageException',
      );
    }
  });

  it('GetPublicKey on symmetric and HMAC keys is UnsupportedOperationException', async () => {
    expectCode(() => getPublicKey(core, sys, 'nope'), 'NotFoundException');
    for (const keyId of [await newKey('SYMMETRIC_DEFAULT'), await newKey('HMAC_512')]) {
      expectCode(() => getPublicKey(core, sys, keyId), 'UnsupportedOperationException');
    }
  });

  it('GetPublicKey returns DER SPKI of the right type and size with the usage and algorithms of the key', () => {
    const expected: Record<string, (k: KeyObject) => unknown> = {
      RSA_2048: (k) => k.asymmetricKeyDetails?.modulusLength === 2048,
      RSA_3072: (k) => k.asymmetricKeyDetails?.modulusLength === 3072,
      RSA_4096: (k) => k.asymmetricKeyDetails?.modulusLength === 4096,
      ECC_NIST_P256: (k) => k.asymmetricKeyDetails?.namedCurve === 'prime256v1',
      ECC_NIST_P384: (k) => k.asymmetricKeyDetails?.namedCurve === 'secp384r1',
      ECC_NIST_P521: (k) => k.asymmetricKeyDetails?.namedCurve === 'secp521r1',
      ECC_SECG_P256K1: (k) => k.asymmetricKeyDetails?.namedCurve === 'secp256k1',
      ECC_NIST_EDWARDS25519: (k) => k.asymmetricKeyType === 'ed25519',
      ML_DSA_44: (k) => k.asymmetricKeyType === 'ml-dsa-44',
      ML_DSA_65: (k) => k.asymmetricKeyType === 'ml-dsa-65',
      ML_DSA_87: (k) => k.asymmetricKeyType === 'ml-dsa-87',
    };
    for (const [spec, algorithms] of SIGN_SPECS) {
      const out = getPublicKey(core, sys, signKeys.get(spec)!);
      expect(out).toMatchObject({ keySpec: spec, keyUsage: 'SIGN_VERIFY', signingAlgorithms: algorithms });
      expect(out.encryptionAlgorithms).toBeUndefined();
      expect(out.keyAgreementAlgorithms).toBeUndefined();
      expect(`${spec}:${String(expected[spec]!(spki(out.publicKey)))}`).toBe(`${spec}:true`);
    }
  });
});

describe('RSA ENCRYPT_DECRYPT', () => {
  const LIMITS = [
    ['RSA_2048', 256, 214, 190],
    ['RSA_3072', 384, 342, 318],
    ['RSA_4096', 512, 470, 446],
  ] as const;
  const encKeys = new Map<string, string>();
  beforeAll(async () => {
    for (const [spec] of LIMITS) encKeys.set(spec, await newKey(spec, 'ENCRYPT_DECRYPT'));
  }, 60_000);

  for (const [spec, modulusBytes, maxSha1, maxSha256] of LIMITS) {
    for (const [alg, max, oaepHash] of [
      ['RSAES_OAEP_SHA_1', maxSha1, 'sha1'],
      ['RSAES_OAEP_SHA_256', maxSha256, 'sha256'],
    ] as const) {
      it(`${spec} ${alg}: round trip at ${max} bytes, offline OAEP, ${max + 1} bytes refused`, () => {
        const keyId = encKeys.get(spec)!;
        const plaintext = nodeCrypto.randomBytes(max);
        const out = encrypt(core, sys, { keyId, plaintext, encryptionAlgorithm: alg });
        expect(out.encryptionAlgorithm).toBe(alg);
        expect(out.ciphertextBlob.length).toBe(modulusBytes); // raw OAEP, no header
        const back = decrypt(core, sys, {
          ciphertextBlob: out.ciphertextBlob,
          keyId,
          encryptionAlgorithm: alg,
        });
        expect(Buffer.from(back.plaintext.unsafeBytes()).equals(Buffer.from(plaintext))).toBe(true);
        expect(back.encryptionAlgorithm).toBe(alg);
        expect(back.keyId).toBe(core.arnOf(keyId));

        const pub = spki(getPublicKey(core, sys, keyId).publicKey);
        const offline = publicEncrypt(
          { key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash },
          bytes('made offline'),
        );
        const dec = decrypt(core, sys, {
          ciphertextBlob: new Uint8Array(offline),
          keyId,
          encryptionAlgorithm: alg,
        });
        expect(new TextDecoder().decode(dec.plaintext.unsafeBytes())).toBe('made offline');

        const other = alg === 'RSAES_OAEP_SHA_1' ? 'RSAES_OAEP_SHA_256' : 'RSAES_OAEP_SHA_1';
        expectCode(
          () => decrypt(core, sys, { ciphertextBlob: out.ciphertextBlob, keyId, encryptionAlgorithm: other }),
          'InvalidCiphertextException',
        );
        expectValidation(
          () => encrypt(core, sys, { keyId, plaintext: new Uint8Array(max + 1), encryptionAlgorithm: alg }),
          'Plaintext',
        );
      });
    }
  }

  it('refuses an encryption context, a missing algorithm, SYMMETRIC_DEFAULT and a missing KeyId', () => {
    const keyId = encKeys.get('RSA_2048')!;
    const ct = encrypt(core, sys, {
      keyId,
      plaintext: bytes('x'),
      encryptionAlgorithm: 'RSAES_OAEP_SHA_256',
    }).ciphertextBlob;
    expectValidation(
      () =>
        encrypt(core, sys, {
          keyId,
          plaintext: bytes('x'),
          encryptionAlgorithm: 'RSAES_OAEP_SHA_256',
          encryptionContext: { a: 'b' },
        }),
      'EncryptionContext',
    );
    expectValidation(
      () =>
        decrypt(core, sys, {
          ciphertextBlob: ct,
          keyId,
          encryptionAlgorithm: 'RSAES_OAEP_SHA_256',
          encryptionContext: { a: 'b' },
        }),
      'EncryptionContext',
    );
    expectCode(() => encrypt(core, sys, { keyId, plaintext: bytes('x') }), 'InvalidKeyUsageException');
    expectCode(
      () => encrypt(core, sys, { keyId, plaintext: bytes('x'), encryptionAlgorithm: 'SYMMETRIC_DEFAULT' }),
      'InvalidKeyUsageException',
    );
    expectCode(() => decrypt(core, sys, { ciphertextBlob: ct, keyId }), 'InvalidKeyUsageException');
    expectCode(() => decrypt(core, sys, { ciphertextBlob: ct }), 'InvalidCiphertextException');
  });

  it('a SIGN_VERIFY RSA key refuses Encrypt, and GetPublicKey lists the OAEP algorithms of an ENCRYPT_DECRYPT key', () => {
    expectCode(
      () =>
        encrypt(core, sys, {
          keyId: signKeys.get('RSA_2048')!,
          plaintext: bytes('x'),
          encryptionAlgorithm: 'RSAES_OAEP_SHA_256',
        }),
      'InvalidKeyUsageException',
    );
    expect(getPublicKey(core, sys, encKeys.get('RSA_3072')!)).toMatchObject({
      keyUsage: 'ENCRYPT_DECRYPT',
      encryptionAlgorithms: ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'],
    });
  });
});

describe('DeriveSharedSecret', () => {
  const CURVES = [
    ['ECC_NIST_P256', 'prime256v1', 32],
    ['ECC_NIST_P384', 'secp384r1', 48],
    ['ECC_NIST_P521', 'secp521r1', 66],
  ] as const;
  const peerOf = (curve: string) => {
    const pair = generateKeyPairSync('ec', { namedCurve: curve });
    return {
      privateKey: pair.privateKey,
      spki: new Uint8Array(pair.publicKey.export({ format: 'der', type: 'spki' })),
    };
  };

  for (const [spec, curve, size] of CURVES) {
    it(`${spec}: equals the secret node:crypto ECDH computes from the other side`, async () => {
      const keyId = await newKey(spec, 'KEY_AGREEMENT');
      const pub = getPublicKey(core, sys, keyId);
      expect(pub).toMatchObject({ keyUsage: 'KEY_AGREEMENT', keyAgreementAlgorithms: ['ECDH'] });
      const peer = peerOf(curve);
      const out = deriveSharedSecret(core, sys, {
        keyId,
        keyAgreementAlgorithm: 'ECDH',
        publicKey: peer.spki,
      });
      const theirs = diffieHellman({ privateKey: peer.privateKey, publicKey: spki(pub.publicKey) });
      expect(out.sharedSecret.length).toBe(size);
      expect(Buffer.from(out.sharedSecret.unsafeBytes()).equals(theirs)).toBe(true);
      expect(out).toMatchObject({ keyId: core.arnOf(keyId), keyAgreementAlgorithm: 'ECDH' });
      expect(JSON.stringify(out)).not.toContain(theirs.toString('base64'));

      const wrongCurve = peerOf(curve === 'prime256v1' ? 'secp384r1' : 'prime256v1').spki;
      const ed = new Uint8Array(
        generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }),
      );
      const truncated = peer.spki.subarray(0, peer.spki.length - 1);
      const offCurve = Uint8Array.from(peer.spki);
      offCurve[offCurve.length - 1]! ^= 0x01; // y no longer matches x
      for (const publicKey of [
        new Uint8Array([1, 2, 3]),
        nodeCrypto.randomBytes(91),
        wrongCurve,
        ed,
        truncated,
        offCurve,
      ]) {
        expectValidation(
          () => deriveSharedSecret(core, sys, { keyId, keyAgreementAlgorithm: 'ECDH', publicKey }),
          'PublicKey',
        );
      }
      expectValidation(
        () => deriveSharedSecret(core, sys, { keyId, keyAgreementAlgorithm: 'ECDH', publicKey: 'pem' }),
        'PublicKey',
      );
      expectValidation(
        () => deriveSharedSecret(core, sys, { keyId, keyAgreementAlgorithm: 'DH', publicKey: peer.spki }),
        'KeyAgreementAlgorithm',
      );
    });
  }

  it('refuses SIGN_VERIFY and symmetric keys with InvalidKeyUsageException', async () => {
    const peer = peerOf('prime256v1');
    for (const keyId of [signKeys.get('ECC_NIST_P256')!, await newKey('SYMMETRIC_DEFAULT')]) {
      expectCode(
        () => deriveSharedSecret(core, sys, { keyId, keyAgreementAlgorithm: 'ECDH', publicKey: peer.spki }),
        'InvalidKeyUsageException',
      );
    }
  });
});
