/**
 * RSA signatures over a caller-supplied digest (messageType DIGEST). node:crypto's `sign` always hashes, so the
 * encodings are done here and only the raw RSA operation runs in OpenSSL:
 * - PKCS#1 v1.5: `privateEncrypt` with RSA_PKCS1_PADDING (EMSA-PKCS1-v1_5 type 1) over DigestInfo || digest;
 * - PSS: EMSA-PSS (RFC 8017 §9.1) with MGF1 of the same hash and salt length = hash length, then
 *   `privateEncrypt` with RSA_NO_PADDING.
 * Verification recovers the encoded message with `publicDecrypt(RSA_NO_PADDING)` and checks it here.
 */
import {
  constants,
  createHash,
  type KeyObject,
  privateEncrypt,
  publicDecrypt,
  randomFillSync,
  timingSafeEqual,
} from 'node:crypto';
import type { HashAlgorithm } from '../engine/specs.ts';
import { bufferView, ownedBytes, xorInPlace } from './bytes.ts';
import { NODE_HASH } from './key-specs.ts';

/** DER DigestInfo prefixes (RFC 8017 §9.2 note 1). */
const DIGEST_INFO: Readonly<Partial<Record<HashAlgorithm, Buffer>>> = {
  'SHA-256': Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  'SHA-384': Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  'SHA-512': Buffer.from('3051300d060960864801650304020305000440', 'hex'),
};

function digestInfo(hash: HashAlgorithm, digest: Uint8Array): Buffer {
  const prefix = DIGEST_INFO[hash];
  if (prefix === undefined) throw new Error(`crypto: no PKCS#1 v1.5 DigestInfo for ${hash}`);
  return Buffer.concat([prefix, digest]);
}

function modulusBits(key: KeyObject): number {
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (bits === undefined) throw new Error('crypto: not an RSA key');
  return bits;
}

/** s^e mod n as exactly k bytes, or undefined when the signature has the wrong length or is not below n. */
function rsaPublicRaw(key: KeyObject, signature: Uint8Array): Buffer | undefined {
  const k = Math.ceil(modulusBits(key) / 8);
  if (signature.length !== k) return undefined;
  try {
    const m = publicDecrypt({ key, padding: constants.RSA_NO_PADDING }, bufferView(signature));
    return m.length === k ? m : undefined;
  } catch {
    return undefined;
  }
}

export function rsaPkcs1SignDigest(key: KeyObject, hash: HashAlgorithm, digest: Uint8Array): Uint8Array {
  return ownedBytes(privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, digestInfo(hash, digest)));
}

export function rsaPkcs1VerifyDigest(
  key: KeyObject,
  hash: HashAlgorithm,
  digest: Uint8Array,
  signature: Uint8Array,
): boolean {
  const em = rsaPublicRaw(key, signature);
  if (em === undefined) return false;
  const t = digestInfo(hash, digest);
  if (em.length < t.length + 11) return false;
  const expected = Buffer.alloc(em.length, 0xff);
  expected[0] = 0x00;
  expected[1] = 0x01;
  expected[em.length - t.length - 1] = 0x00;
  t.copy(expected, em.length - t.length);
  return timingSafeEqual(em, expected);
}

function mgf1(hash: HashAlgorithm, seed: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  const counter = Buffer.alloc(4);
  for (let offset = 0, i = 0; offset < length; i++) {
    counter.writeUInt32BE(i);
    const block = createHash(NODE_HASH[hash]).update(seed).update(counter).digest();
    out.set(block.subarray(0, Math.min(block.length, length - offset)), offset);
    offset += block.length;
  }
  return out;
}

/** H = Hash(0x00 * 8 || mHash || salt), the PSS M' hash. */
function pssHash(hash: HashAlgorithm, digest: Uint8Array, salt: Uint8Array): Buffer {
  return createHash(NODE_HASH[hash]).update(Buffer.alloc(8)).update(digest).update(salt).digest();
}

export function rsaPssSignDigest(key: KeyObject, hash: HashAlgorithm, digest: Uint8Array): Uint8Array {
  const modBits = modulusBits(key);
  const k = Math.ceil(modBits / 8);
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  const hLen = digest.length;
  const sLen = hLen;
  if (emLen < hLen + sLen + 2) throw new Error('crypto: RSA key too small for PSS with this hash');
  const salt = randomFillSync(new Uint8Array(sLen));
  const h = pssHash(hash, digest, salt);
  const db = new Uint8Array(emLen - hLen - 1);
  db[emLen - sLen - hLen - 2] = 0x01;
  db.set(salt, emLen - sLen - hLen - 1);
  xorInPlace(db, mgf1(hash, h, db.length));
  db[0] = db[0]! & (0xff >> (8 * emLen - emBits));
  const em = Buffer.alloc(k);
  em.set(db, k - emLen);
  em.set(h, k - emLen + db.length);
  em[k - 1] = 0xbc;
  return ownedBytes(privateEncrypt({ key, padding: constants.RSA_NO_PADDING }, em));
}

export function rsaPssVerifyDigest(
  key: KeyObject,
  hash: HashAlgorithm,
  digest: Uint8Array,
  signature: Uint8Array,
): boolean {
  const m = rsaPublicRaw(key, signature);
  if (m === undefined) return false;
  const modBits = modulusBits(key);
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  const hLen = digest.length;
  const sLen = hLen;
  for (let i = 0; i < m.length - emLen; i++) if (m[i] !== 0) return false;
  const em = m.subarray(m.length - emLen);
  if (emLen < hLen + sLen + 2 || em[emLen - 1] !== 0xbc) return false;
  const topMask = 0xff >> (8 * emLen - emBits);
  const db = Uint8Array.from(em.subarray(0, emLen - hLen - 1));
  const h = em.subarray(emLen - hLen - 1, emLen - 1);
  if ((db[0]! & ~topMask) !== 0) return false;
  xorInPlace(db, mgf1(hash, h, db.length));
  db[0] = db[0]! & topMask;
  const separator = emLen - hLen - sLen - 2;
  for (let i = 0; i < separator; i++) if (db[i] !== 0) return false;
  if (db[separator] !== 0x01) return false;
  return timingSafeEqual(pssHash(hash, digest, db.subarray(db.length - sLen)), h);
}
