/**
 * The pure-JS CryptoProvider: every symmetric primitive (AES-GCM, HMAC, digests, randomness) on @noble/ciphers and
 * @noble/hashes, independent of OpenSSL. It is the second implementation the differential tests check node:crypto
 * against, and a selectable provider where OpenSSL is unwanted. Asymmetric operations delegate to nodeCrypto:
 * a pure-JS RSA is not worth having, and ECDSA/Ed25519ph over digests already use @noble/curves there.
 */
import { gcm } from '@noble/ciphers/aes.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha1 } from '@noble/hashes/legacy.js';
import { sha224, sha256, sha384, sha512 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import type { CryptoProvider } from '../engine/ports.ts';
import type { SecretBytes } from '../engine/secret.ts';
import type { HashAlgorithm } from '../engine/specs.ts';
import { checkAesKeyLength, GCM_NONCE_BYTES, GCM_TAG_BYTES } from './gcm-layout.ts';
import { nodeCrypto } from './node-provider.ts';

const HASHES = {
  'SHA-1': sha1,
  'SHA-224': sha224,
  'SHA-256': sha256,
  'SHA-384': sha384,
  'SHA-512': sha512,
} as const;
/** crypto.getRandomValues refuses more than 65536 bytes per call. */
const RANDOM_CHUNK = 65536;

function nobleRandomBytes(length: number): Uint8Array {
  if (length <= RANDOM_CHUNK) return randomBytes(length);
  const out = new Uint8Array(length);
  for (let offset = 0; offset < length; offset += RANDOM_CHUNK) {
    out.set(randomBytes(Math.min(RANDOM_CHUNK, length - offset)), offset);
  }
  return out;
}

function nobleAesGcmSeal(
  key: SecretBytes,
  plaintext: Uint8Array,
  aad: Uint8Array,
  prefix?: Uint8Array,
): Uint8Array {
  const k = key.unsafeBytes();
  checkAesKeyLength(k.length);
  const p = prefix?.length ?? 0;
  const out = new Uint8Array(p + GCM_NONCE_BYTES + plaintext.length + GCM_TAG_BYTES);
  if (prefix !== undefined) out.set(prefix);
  const nonce = randomBytes(GCM_NONCE_BYTES);
  out.set(nonce, p);
  out.set(gcm(k, nonce, aad).encrypt(plaintext), p + GCM_NONCE_BYTES);
  return out;
}

function nobleAesGcmOpen(key: SecretBytes, sealed: Uint8Array, aad: Uint8Array): Uint8Array | undefined {
  const k = key.unsafeBytes();
  checkAesKeyLength(k.length);
  if (sealed.length < GCM_NONCE_BYTES + GCM_TAG_BYTES) return undefined;
  try {
    return gcm(k, sealed.subarray(0, GCM_NONCE_BYTES), aad).decrypt(sealed.subarray(GCM_NONCE_BYTES));
  } catch {
    return undefined;
  }
}

function nobleHmac(hash: HashAlgorithm, key: SecretBytes, message: Uint8Array): Uint8Array {
  return hmac(HASHES[hash], key.unsafeBytes(), message);
}

function nobleDigest(hash: HashAlgorithm, data: Uint8Array): Uint8Array {
  return HASHES[hash](data);
}

export const nobleCrypto: CryptoProvider = {
  ...nodeCrypto,
  name: 'noble',
  randomBytes: nobleRandomBytes,
  aesGcmSeal: nobleAesGcmSeal,
  aesGcmOpen: nobleAesGcmOpen,
  hmac: nobleHmac,
  digest: nobleDigest,
};
