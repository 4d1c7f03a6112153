/**
 * Symmetric primitives on node:crypto (OpenSSL, AES-NI): AES-GCM, HMAC, digests and randomness. AES-GCM seal
 * writes prefix || nonce || ciphertext || tag into one buffer; the nonce is drawn straight into it. Keys are
 * handed to OpenSSL as KeyObjects made once per secret (key-cache.ts), which saves a copy and checks per call.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomFillSync } from 'node:crypto';
import type { SecretBytes } from '../engine/secret.ts';
import type { HashAlgorithm } from '../engine/specs.ts';
import { ownedBytes } from './bytes.ts';
import { checkAesKeyLength, GCM_NONCE_BYTES, GCM_TAG_BYTES } from './gcm-layout.ts';
import { secretKeyOf } from './key-cache.ts';
import { NODE_HASH } from './key-specs.ts';

const GCM_CIPHER = { 16: 'aes-128-gcm', 32: 'aes-256-gcm' } as const;

const gcmCipher = (key: SecretBytes) => GCM_CIPHER[checkAesKeyLength(key.length)];

export function nodeRandomBytes(length: number): Uint8Array {
  return randomFillSync(new Uint8Array(length));
}

export function nodeAesGcmSeal(
  key: SecretBytes,
  plaintext: Uint8Array,
  aad: Uint8Array,
  prefix?: Uint8Array,
): Uint8Array {
  const cipherName = gcmCipher(key);
  const p = prefix?.length ?? 0;
  const out = new Uint8Array(p + GCM_NONCE_BYTES + plaintext.length + GCM_TAG_BYTES);
  if (prefix !== undefined) out.set(prefix);
  const nonce = randomFillSync(out.subarray(p, p + GCM_NONCE_BYTES));
  // GCM's default tag is 16 bytes (GCM_TAG_BYTES); no options object to parse on every call.
  const cipher = createCipheriv(cipherName, secretKeyOf(key), nonce);
  cipher.setAAD(aad);
  out.set(cipher.update(plaintext), p + GCM_NONCE_BYTES);
  cipher.final();
  out.set(cipher.getAuthTag(), out.length - GCM_TAG_BYTES);
  return out;
}

export function nodeAesGcmOpen(
  key: SecretBytes,
  sealed: Uint8Array,
  aad: Uint8Array,
): Uint8Array | undefined {
  const cipherName = gcmCipher(key);
  if (sealed.length < GCM_NONCE_BYTES + GCM_TAG_BYTES) return undefined;
  let plaintext: Buffer | undefined;
  try {
    // The tag handed to setAuthTag is always exactly GCM_TAG_BYTES long (sliced here), so no shorter tag is ever
    // accepted without an authTagLength option to parse on every call.
    const decipher = createDecipheriv(cipherName, secretKeyOf(key), sealed.subarray(0, GCM_NONCE_BYTES));
    decipher.setAuthTag(sealed.subarray(sealed.length - GCM_TAG_BYTES));
    decipher.setAAD(aad);
    plaintext = decipher.update(sealed.subarray(GCM_NONCE_BYTES, sealed.length - GCM_TAG_BYTES));
    decipher.final();
    return ownedBytes(plaintext);
  } catch {
    plaintext?.fill(0);
    return undefined;
  }
}

export function nodeHmac(hash: HashAlgorithm, key: SecretBytes, message: Uint8Array): Uint8Array {
  return ownedBytes(createHmac(NODE_HASH[hash], secretKeyOf(key)).update(message).digest());
}

export function nodeDigest(hash: HashAlgorithm, data: Uint8Array): Uint8Array {
  return ownedBytes(createHash(NODE_HASH[hash]).update(data).digest());
}
