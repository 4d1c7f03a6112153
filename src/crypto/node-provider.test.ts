/**
 * The node provider, spec by spec: key formats, signing in both message types checked against node:crypto
 * itself, AWS KMS's PSS salt length, OAEP limits, ECDH agreement and refusal, and that secrets stay secret.
 */
import {
  type BinaryLike,
  constants,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  type KeyObject,
  sign as nodeSign,
  verify as nodeVerify,
  privateDecrypt,
} from 'node:crypto';
import { inspect } from 'node:util';
import { ed25519ph } from '@noble/curves/ed25519.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { SecretBytes } from '../engine/secret.ts';
import {
  type AsymmetricKeySpec,
  type EccKeySpec,
  HASH_BYTES,
  HASH_OF_SIGNING,
  isAsymmetricSpec,
  KEY_SPECS,
  type RsaEncryptionAlgorithm,
  SIGNING_ALGORITHMS_BY_SPEC,
  type SigningAlgorithm,
} from '../engine/specs.ts';
import { isInvalidPublicKeyError } from './invalid-public-key.ts';
import { nobleCrypto } from './noble-provider.ts';
import { nodeCrypto as crypto } from './node-provider.ts';
import { selectCryptoProvider } from './provider.ts';

const SPECS = KEY_SPECS.filter(isAsymmetricSpec);
const ECC_SPECS: readonly EccKeySpec[] = [
  'ECC_NIST_P256',
  'ECC_NIST_P384',
  'ECC_NIST_P521',
  'ECC_SECG_P256K1',
];
const NODE_HASH = { 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' } as const;
const message = new TextEncoder().encode('kubekms signs this message');
const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const fromHex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));

type Pair = { privateKey: SecretBytes; publicKey: Uint8Array };
const pairs = new Map<AsymmetricKeySpec, Pair>();
const pairOf = (spec: AsymmetricKeySpec): Pair => pairs.get(spec)!;

beforeAll(() => {
  for (const spec of SPECS) pairs.set(spec, crypto.generateKeyPair(spec));
});

/** The node:crypto public key with the options that verify `algorithm` exactly as AWS KMS signs it. */
function nodeVerifyKey(publicKey: Uint8Array, algorithm: SigningAlgorithm, saltLength?: number) {
  const key = createPublicKey({ key: Buffer.from(publicKey), format: 'der', type: 'spki' });
  if (algorithm.startsWith('RSASSA_PSS')) {
    const hash = HASH_OF_SIGNING[algorithm]!;
    return { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: saltLength ?? HASH_BYTES[hash] };
  }
  if (algorithm.startsWith('ECDSA')) return { key, dsaEncoding: 'der' as const };
  return { key, padding: constants.RSA_PKCS1_PADDING };
}

function nodeAccepts(
  publicKey: Uint8Array,
  algorithm: SigningAlgorithm,
  data: BinaryLike,
  signature: Uint8Array,
) {
  const hash = HASH_OF_SIGNING[algorithm];
  const name = hash === undefined ? null : NODE_HASH[hash as keyof typeof NODE_HASH];
  return nodeVerify(name, data as Uint8Array, nodeVerifyKey(publicKey, algorithm), signature);
}

describe('generateKeyPair', () => {
  it.each(SPECS)('%s: PKCS#8 and SPKI DER that node:crypto parses back as the right key', (spec) => {
    const { privateKey, publicKey } = pairOf(spec);
    const priv = createPrivateKey({
      key: Buffer.from(privateKey.unsafeBytes()),
      format: 'der',
      type: 'pkcs8',
    });
    const pub = createPublicKey({ key: Buffer.from(publicKey), format: 'der', type: 'spki' });
    expect(hexOf(createPublicKey(priv).export({ type: 'spki', format: 'der' }))).toBe(hexOf(publicKey));
    expect(crypto.isValidPublicKey(spec, publicKey)).toBe(true);
    if (spec.startsWith('RSA_')) {
      expect(pub.asymmetricKeyDetails?.modulusLength).toBe(Number(spec.slice(4)));
      expect(pub.asymmetricKeyDetails?.publicExponent).toBe(65537n);
    }
    expect(Object.getPrototypeOf(publicKey)).toBe(Uint8Array.prototype);
  });

  it('never shows the private key when printed or serialised', () => {
    const pair = pairOf('ECC_NIST_P256');
    const secretHex = hexOf(pair.privateKey.unsafeBytes());
    const secretB64 = Buffer.from(pair.privateKey.unsafeBytes()).toString('base64');
    for (const text of [inspect(pair, { depth: 5 }), JSON.stringify(pair), String(pair.privateKey)]) {
      expect(text).not.toContain(secretHex);
      expect(text).not.toContain(secretB64);
      expect(text).toContain('[secret]');
    }
  });
});

describe('isValidPublicKey', () => {
  it('accepts each key for its own spec only', () => {
    for (const spec of SPECS) {
      for (const other of SPECS)
        expect(crypto.isValidPublicKey(other, pairOf(spec).publicKey), `${spec} as ${other}`).toBe(
          spec === other,
        );
    }
  });

  it('refuses garbage, truncation and trailing bytes; accepts a compressed point', () => {
    const der = pairOf('ECC_NIST_P256').publicKey;
    expect(crypto.isValidPublicKey('ECC_NIST_P256', new Uint8Array())).toBe(false);
    expect(crypto.isValidPublicKey('ECC_NIST_P256', crypto.randomBytes(91))).toBe(false);
    expect(crypto.isValidPublicKey('ECC_NIST_P256', der.subarray(0, der.length - 1))).toBe(false);
    expect(crypto.isValidPublicKey('ECC_NIST_P256', Uint8Array.from([...der, 0]))).toBe(false);
    const compressed = createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' }).export({
      format: 'jwk',
    });
    expect(compressed.kty).toBe('EC');
    const x = Buffer.from(compressed.x!, 'base64url');
    const y = Buffer.from(compressed.y!, 'base64url');
    const spkiCompressed = Buffer.concat([
      Buffer.from('3039301306072a8648ce3d020106082a8648ce3d030107032200', 'hex'),
      Buffer.from([2 + (y[31]! & 1)]),
      x,
    ]);
    expect(createPublicKey({ key: spkiCompressed, format: 'der', type: 'spki' }).asymmetricKeyType).toBe(
      'ec',
    );
    expect(crypto.isValidPublicKey('ECC_NIST_P256', spkiCompressed)).toBe(true);
    const other = crypto.generateKeyPair('ECC_NIST_P256');
    const shared = crypto.ecdh('ECC_NIST_P256', other.privateKey, spkiCompressed);
    expect(shared.equals(crypto.ecdh('ECC_NIST_P256', other.privateKey, der))).toBe(true);
  });
});

const SIGNING_CASES = SPECS.flatMap((spec) =>
  SIGNING_ALGORITHMS_BY_SPEC[spec]!.map((alg) => [spec, alg] as const),
);

describe('RSA signature length (RFC 8017 8.2.2 step 1)', () => {
  it('refuses a signature with its leading zero byte removed, which OpenSSL alone would accept', () => {
    const { privateKey, publicKey } = pairOf('RSA_2048');
    let msg: Uint8Array = new Uint8Array(0);
    let signature: Uint8Array = new Uint8Array(0);
    const alg = 'RSASSA_PSS_SHA_256'; // OpenSSL's PSS verify left-pads a short signature; PKCS#1 v1.5's does not
    for (let i = 0; i < 20_000; i++) {
      msg = new TextEncoder().encode(`message ${i}`);
      signature = crypto.sign('RSA_2048', alg, privateKey, msg, 'RAW');
      if (signature[0] === 0) break;
    }
    expect(signature[0]).toBe(0);
    expect(nodeAccepts(publicKey, alg, msg, signature.subarray(1))).toBe(true);
    expect(crypto.verify('RSA_2048', alg, publicKey, msg, 'RAW', signature)).toBe(true);
    expect(crypto.verify('RSA_2048', alg, publicKey, msg, 'RAW', signature.subarray(1))).toBe(false);
    const digest = crypto.digest(HASH_OF_SIGNING[alg]!, msg);
    expect(crypto.verify('RSA_2048', alg, publicKey, digest, 'DIGEST', signature.subarray(1))).toBe(false);
  });
});

describe('sign and verify', () => {
  it.each(SIGNING_CASES)(
    '%s %s: RAW round trip, node:crypto agrees, wrong message and tampering fail',
    (spec, alg) => {
      const { privateKey, publicKey } = pairOf(spec);
      const signature = crypto.sign(spec, alg, privateKey, message, 'RAW');
      expect(Object.getPrototypeOf(signature)).toBe(Uint8Array.prototype);
      expect(crypto.verify(spec, alg, publicKey, message, 'RAW', signature)).toBe(true);
      if (alg !== 'ED25519_PH_SHA_512') expect(nodeAccepts(publicKey, alg, message, signature)).toBe(true);
      expect(crypto.verify(spec, alg, publicKey, message.subarray(1), 'RAW', signature)).toBe(false);
      const tampered = Uint8Array.from(signature);
      tampered[tampered.length >> 1] = tampered[tampered.length >> 1]! ^ 0x01;
      expect(crypto.verify(spec, alg, publicKey, message, 'RAW', tampered)).toBe(false);
      expect(crypto.verify(spec, alg, publicKey, message, 'RAW', signature.subarray(1))).toBe(false);
      expect(crypto.verify(spec, alg, publicKey, message, 'RAW', new Uint8Array())).toBe(false);
      const other = crypto.generateKeyPair(spec.startsWith('RSA') ? 'RSA_2048' : spec);
      if (spec !== 'RSA_3072' && spec !== 'RSA_4096') {
        expect(crypto.verify(spec, alg, other.publicKey, message, 'RAW', signature)).toBe(false);
      }
    },
  );

  const DIGEST_CASES = SIGNING_CASES.filter(([, alg]) => HASH_OF_SIGNING[alg] !== undefined);
  it.each(DIGEST_CASES)('%s %s: DIGEST signatures verify as signatures of the RAW message', (spec, alg) => {
    const { privateKey, publicKey } = pairOf(spec);
    const hash = HASH_OF_SIGNING[alg]!;
    const digest = crypto.digest(hash, message);
    const fromDigest = crypto.sign(spec, alg, privateKey, digest, 'DIGEST');
    expect(crypto.verify(spec, alg, publicKey, message, 'RAW', fromDigest)).toBe(true);
    expect(crypto.verify(spec, alg, publicKey, digest, 'DIGEST', fromDigest)).toBe(true);
    if (alg !== 'ED25519_PH_SHA_512') expect(nodeAccepts(publicKey, alg, message, fromDigest)).toBe(true);
    const fromRaw = crypto.sign(spec, alg, privateKey, message, 'RAW');
    expect(crypto.verify(spec, alg, publicKey, digest, 'DIGEST', fromRaw)).toBe(true);
    const otherDigest = crypto.digest(hash, message.subarray(1));
    expect(crypto.verify(spec, alg, publicKey, otherDigest, 'DIGEST', fromDigest)).toBe(false);
    expect(() => crypto.sign(spec, alg, privateKey, digest.subarray(1), 'DIGEST')).toThrow(
      /^crypto: .*digest must be/,
    );
    expect(() => crypto.verify(spec, alg, publicKey, message, 'DIGEST', fromDigest)).toThrow(/^crypto: /);
  });

  it.each(['RSA_2048', 'RSA_4096'] as const)(
    '%s PSS uses salt length = hash length (RAW and DIGEST)',
    (spec) => {
      const { privateKey, publicKey } = pairOf(spec);
      for (const alg of ['RSASSA_PSS_SHA_256', 'RSASSA_PSS_SHA_384', 'RSASSA_PSS_SHA_512'] as const) {
        const hash = HASH_OF_SIGNING[alg]!;
        const nodeHash = NODE_HASH[hash as keyof typeof NODE_HASH];
        for (const signature of [
          crypto.sign(spec, alg, privateKey, message, 'RAW'),
          crypto.sign(spec, alg, privateKey, crypto.digest(hash, message), 'DIGEST'),
        ]) {
          expect(
            nodeVerify(nodeHash, message, nodeVerifyKey(publicKey, alg, HASH_BYTES[hash]), signature),
          ).toBe(true);
          expect(nodeVerify(nodeHash, message, nodeVerifyKey(publicKey, alg, 0), signature)).toBe(false);
          const auto = { ...nodeVerifyKey(publicKey, alg), saltLength: constants.RSA_PSS_SALTLEN_AUTO };
          expect(nodeVerify(nodeHash, message, auto, signature)).toBe(true);
        }
        // A PSS signature with another salt length does not verify.
        const priv = createPrivateKey({
          key: Buffer.from(privateKey.unsafeBytes()),
          format: 'der',
          type: 'pkcs8',
        });
        const salt0 = nodeSign(nodeHash, message, {
          key: priv,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: 0,
        });
        expect(crypto.verify(spec, alg, publicKey, message, 'RAW', salt0)).toBe(false);
        expect(crypto.verify(spec, alg, publicKey, crypto.digest(hash, message), 'DIGEST', salt0)).toBe(
          false,
        );
      }
    },
  );

  it('RSA PKCS#1 v1.5 and Ed25519 signatures are deterministic, PSS ones are salted', () => {
    const rsa = pairOf('RSA_2048');
    const a = crypto.sign('RSA_2048', 'RSASSA_PKCS1_V1_5_SHA_256', rsa.privateKey, message, 'RAW');
    const d = crypto.sign(
      'RSA_2048',
      'RSASSA_PKCS1_V1_5_SHA_256',
      rsa.privateKey,
      crypto.digest('SHA-256', message),
      'DIGEST',
    );
    expect(hexOf(a)).toBe(hexOf(d));
    const p1 = crypto.sign(
      'RSA_2048',
      'RSASSA_PSS_SHA_256',
      rsa.privateKey,
      crypto.digest('SHA-256', message),
      'DIGEST',
    );
    const p2 = crypto.sign(
      'RSA_2048',
      'RSASSA_PSS_SHA_256',
      rsa.privateKey,
      crypto.digest('SHA-256', message),
      'DIGEST',
    );
    expect(hexOf(p1)).not.toBe(hexOf(p2));
  });

  it('Ed25519ph matches RFC 8032 §7.3 and noble, for RAW and DIGEST', () => {
    const seed = fromHex('833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42');
    const publicKey = fromHex(
      '302a300506032b6570032100ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf',
    );
    const privateKey = new SecretBytes(fromHex('302e020100300506032b657004220420' + hexOf(seed)));
    const abc = new TextEncoder().encode('abc');
    const expected =
      '98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae41' +
      '31f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406';
    const spec = 'ECC_NIST_EDWARDS25519';
    expect(hexOf(crypto.sign(spec, 'ED25519_PH_SHA_512', privateKey, abc, 'RAW'))).toBe(expected);
    const prehash = createHash('sha512').update(abc).digest();
    expect(hexOf(crypto.sign(spec, 'ED25519_PH_SHA_512', privateKey, prehash, 'DIGEST'))).toBe(expected);
    expect(hexOf(ed25519ph.sign(abc, seed))).toBe(expected);
    expect(crypto.verify(spec, 'ED25519_PH_SHA_512', publicKey, abc, 'RAW', fromHex(expected))).toBe(true);
    // Ed25519ph and pure Ed25519 signatures are not interchangeable.
    expect(crypto.verify(spec, 'ED25519_SHA_512', publicKey, abc, 'RAW', fromHex(expected))).toBe(false);
    const pure = crypto.sign(spec, 'ED25519_SHA_512', privateKey, abc, 'RAW');
    expect(crypto.verify(spec, 'ED25519_PH_SHA_512', publicKey, abc, 'RAW', pure)).toBe(false);
  });

  it('refuses DIGEST for pure Ed25519 and ML-DSA, and algorithms or keys of another spec', () => {
    const ed = pairOf('ECC_NIST_EDWARDS25519');
    const digest = crypto.digest('SHA-512', message);
    expect(() =>
      crypto.sign('ECC_NIST_EDWARDS25519', 'ED25519_SHA_512', ed.privateKey, digest, 'DIGEST'),
    ).toThrow(/^crypto: ED25519_SHA_512 does not sign digests/);
    const ml = pairOf('ML_DSA_65');
    expect(() => crypto.sign('ML_DSA_65', 'ML_DSA_SHAKE_256', ml.privateKey, digest, 'DIGEST')).toThrow(
      /^crypto: /,
    );
    expect(() =>
      crypto.sign('ECC_NIST_P256', 'ECDSA_SHA_384', pairOf('ECC_NIST_P256').privateKey, message, 'RAW'),
    ).toThrow(/^crypto: ECDSA_SHA_384 is not a signing algorithm of ECC_NIST_P256/);
    const p384 = pairOf('ECC_NIST_P384').privateKey;
    const error = captureError(() => crypto.sign('ECC_NIST_P256', 'ECDSA_SHA_256', p384, message, 'RAW'));
    expect(error.message).toBe('crypto: private key is not a ECC_NIST_P256 key');
    expect(() =>
      crypto.verify(
        'ECC_NIST_P256',
        'ECDSA_SHA_256',
        pairOf('ECC_NIST_P384').publicKey,
        message,
        'RAW',
        new Uint8Array(8),
      ),
    ).toThrow(/^crypto: public key is not a valid ECC_NIST_P256/);
    const garbage = new SecretBytes(crypto.randomBytes(48));
    const parseError = captureError(() =>
      crypto.sign('ECC_NIST_P256', 'ECDSA_SHA_256', garbage, message, 'RAW'),
    );
    expect(parseError.message).toBe('crypto: private key is not a valid PKCS#8 key');
    expect(parseError.message).not.toContain(hexOf(garbage.unsafeBytes()));
  });

  it('a copy of the private key (a new SecretBytes) signs the same', () => {
    const { privateKey, publicKey } = pairOf('ECC_NIST_P256');
    const copy = SecretBytes.copyOf(privateKey.unsafeBytes());
    const signature = crypto.sign('ECC_NIST_P256', 'ECDSA_SHA_256', copy, message, 'RAW');
    expect(crypto.verify('ECC_NIST_P256', 'ECDSA_SHA_256', publicKey, message, 'RAW', signature)).toBe(true);
  });
});

describe('RSA-OAEP', () => {
  const RSA_SPECS = ['RSA_2048', 'RSA_3072', 'RSA_4096'] as const;
  const ALGS: readonly RsaEncryptionAlgorithm[] = ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'];
  const OAEP_HASH = { RSAES_OAEP_SHA_1: 'sha1', RSAES_OAEP_SHA_256: 'sha256' } as const;

  it.each(RSA_SPECS.flatMap((s) => ALGS.map((a) => [s, a] as const)))(
    '%s %s round trip and node:crypto agrees',
    (spec, alg) => {
      const { privateKey, publicKey } = pairOf(spec);
      const plaintext = crypto.randomBytes(100);
      const ciphertext = crypto.rsaOaepEncrypt(alg, publicKey, plaintext);
      expect(ciphertext.length).toBe(Number(spec.slice(4)) / 8);
      expect(hexOf(crypto.rsaOaepDecrypt(alg, privateKey, ciphertext)!)).toBe(hexOf(plaintext));
      const priv = createPrivateKey({
        key: Buffer.from(privateKey.unsafeBytes()),
        format: 'der',
        type: 'pkcs8',
      });
      const padding = constants.RSA_PKCS1_OAEP_PADDING;
      expect(hexOf(privateDecrypt({ key: priv, padding, oaepHash: OAEP_HASH[alg] }, ciphertext))).toBe(
        hexOf(plaintext),
      );
      const otherAlg = alg === 'RSAES_OAEP_SHA_1' ? 'RSAES_OAEP_SHA_256' : 'RSAES_OAEP_SHA_1';
      expect(crypto.rsaOaepDecrypt(otherAlg, privateKey, ciphertext)).toBeUndefined();
    },
  );

  it('RSA_2048 takes at most 214 bytes with SHA-1 and 190 with SHA-256', () => {
    const { privateKey, publicKey } = pairOf('RSA_2048');
    for (const [alg, max] of [
      ['RSAES_OAEP_SHA_1', 214],
      ['RSAES_OAEP_SHA_256', 190],
    ] as const) {
      const plaintext = crypto.randomBytes(max);
      const ciphertext = crypto.rsaOaepEncrypt(alg, publicKey, plaintext);
      expect(hexOf(crypto.rsaOaepDecrypt(alg, privateKey, ciphertext)!)).toBe(hexOf(plaintext));
      expect(() => crypto.rsaOaepEncrypt(alg, publicKey, crypto.randomBytes(max + 1))).toThrow(/^crypto: /);
      expect(
        crypto.rsaOaepDecrypt(alg, privateKey, crypto.rsaOaepEncrypt(alg, publicKey, new Uint8Array())),
      ).toHaveLength(0);
    }
  });

  it('decrypt returns undefined for tampered, truncated, extended and foreign ciphertexts', () => {
    const { privateKey, publicKey } = pairOf('RSA_2048');
    const ciphertext = crypto.rsaOaepEncrypt('RSAES_OAEP_SHA_256', publicKey, crypto.randomBytes(32));
    const tampered = Uint8Array.from(ciphertext);
    tampered[100] = tampered[100]! ^ 0x40;
    const foreign = crypto.rsaOaepEncrypt(
      'RSAES_OAEP_SHA_256',
      crypto.generateKeyPair('RSA_2048').publicKey,
      new Uint8Array(4),
    );
    for (const bad of [
      tampered,
      ciphertext.subarray(1),
      Uint8Array.from([...ciphertext, 0]),
      new Uint8Array(),
      foreign,
      new Uint8Array(256).fill(0xff),
    ]) {
      expect(crypto.rsaOaepDecrypt('RSAES_OAEP_SHA_256', privateKey, bad)).toBeUndefined();
    }
  });

  it('refuses non-RSA keys', () => {
    expect(() =>
      crypto.rsaOaepEncrypt('RSAES_OAEP_SHA_256', pairOf('ECC_NIST_P256').publicKey, new Uint8Array(1)),
    ).toThrow(/^crypto: /);
    expect(() =>
      crypto.rsaOaepDecrypt('RSAES_OAEP_SHA_256', pairOf('ECC_NIST_P256').privateKey, new Uint8Array(256)),
    ).toThrow(/^crypto: /);
  });
});

describe('ECDH', () => {
  const SECRET_BYTES = {
    ECC_NIST_P256: 32,
    ECC_NIST_P384: 48,
    ECC_NIST_P521: 66,
    ECC_SECG_P256K1: 32,
  } as const;

  it.each(ECC_SPECS)('%s: both sides derive the same x coordinate, as node:crypto does', (spec) => {
    const a = crypto.generateKeyPair(spec);
    const b = crypto.generateKeyPair(spec);
    const ab = crypto.ecdh(spec, a.privateKey, b.publicKey);
    const ba = crypto.ecdh(spec, b.privateKey, a.publicKey);
    expect(ab).toBeInstanceOf(SecretBytes);
    expect(ab.length).toBe(SECRET_BYTES[spec]);
    expect(ab.equals(ba)).toBe(true);
    const node = diffieHellman({
      privateKey: keyObject(a.privateKey.unsafeBytes(), 'pkcs8'),
      publicKey: keyObject(b.publicKey, 'spki'),
    });
    expect(hexOf(ab.unsafeBytes())).toBe(node.toString('hex'));
    expect(inspect(ab)).toBe('[secret]');
  });

  it('throws InvalidPublicKey for malformed, wrong-curve, wrong-type and off-curve peer keys', () => {
    const own = pairOf('ECC_NIST_P256').privateKey;
    const valid = pairOf('ECC_NIST_P256').publicKey;
    const offCurve = Uint8Array.from(valid);
    offCurve[offCurve.length - 1] = offCurve[offCurve.length - 1]! ^ 0x01;
    for (const peer of [
      new Uint8Array(),
      crypto.randomBytes(91),
      pairOf('ECC_NIST_P384').publicKey,
      pairOf('ECC_SECG_P256K1').publicKey,
      pairOf('RSA_2048').publicKey,
      pairOf('ECC_NIST_EDWARDS25519').publicKey,
      offCurve,
    ]) {
      const error = captureError(() => crypto.ecdh('ECC_NIST_P256', own, peer));
      expect(isInvalidPublicKeyError(error), error.message).toBe(true);
      expect(error.message).toMatch(/^crypto: /);
    }
  });

  it('throws a plain Error when the own private key is not of the spec', () => {
    const error = captureError(() =>
      crypto.ecdh('ECC_NIST_P384', pairOf('ECC_NIST_P256').privateKey, pairOf('ECC_NIST_P384').publicKey),
    );
    expect(isInvalidPublicKeyError(error)).toBe(false);
    expect(error.message).toMatch(/^crypto: private key is not a ECC_NIST_P384 key/);
  });
});

describe('selectCryptoProvider', () => {
  it('returns the provider of that name', () => {
    expect(selectCryptoProvider('node')).toBe(crypto);
    expect(selectCryptoProvider('noble')).toBe(nobleCrypto);
    expect(nobleCrypto.name).toBe('noble');
  });

  it('the noble provider shares the asymmetric operations of the node provider', () => {
    const { privateKey, publicKey } = pairOf('ECC_NIST_P256');
    const signature = nobleCrypto.sign('ECC_NIST_P256', 'ECDSA_SHA_256', privateKey, message, 'RAW');
    expect(crypto.verify('ECC_NIST_P256', 'ECDSA_SHA_256', publicKey, message, 'RAW', signature)).toBe(true);
  });
});

function keyObject(der: Uint8Array, type: 'pkcs8' | 'spki'): KeyObject {
  const key = Buffer.from(der);
  return type === 'pkcs8'
    ? createPrivateKey({ key, format: 'der', type })
    : createPublicKey({ key, format: 'der', type });
}

function captureError(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}
