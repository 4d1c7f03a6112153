/**
 * The symmetric ciphertext blob, specified in docs/ciphertext-format.md:
 *
 *   offset  size  field
 *   0       1     format: 0x01 (AWS API; KMS v2 before format 2) or 0x02 (KMS v2 plugin)
 *   1       16    key id (the UUID's 16 bytes)
 *   17      4     key version, unsigned big-endian
 *   21      12    AES-GCM nonce (random)
 *   33      n     AES-256-GCM ciphertext of the plaintext
 *   33+n    16    GCM tag
 *
 * AAD = bytes 0..20 (the header) || canonical encryption context. The header is authenticated, so a blob
 * cannot be moved to another key or version, nor to the other API: the format byte is the blob's domain
 * (docs/adr/0017-ciphertext-domains.md). Overhead: 49 bytes.
 */
import { invalidCiphertext } from './errors.ts';

/** Made by the AWS API (Encrypt, GenerateDataKey*, ReEncrypt); also every KMS v2 blob made before format 2. */
export const CIPHERTEXT_FORMAT_V1 = 0x01;
/** Made by the KMS v2 plugin: same layout, its own domain. */
export const CIPHERTEXT_FORMAT_KMSV2 = 0x02;
export type CiphertextFormat = typeof CIPHERTEXT_FORMAT_V1 | typeof CIPHERTEXT_FORMAT_KMSV2;

export const HEADER_BYTES = 21;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
export const CIPHERTEXT_OVERHEAD = HEADER_BYTES + NONCE_BYTES + TAG_BYTES;

export interface ParsedCiphertext {
  readonly format: CiphertextFormat;
  readonly keyId: string;
  readonly keyVersion: number;
  /** nonce || ciphertext || tag. The header (bytes 0..20) is rebuilt from the key's cache for the AAD. */
  readonly sealed: Uint8Array;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function uuidToBytes(uuid: string): Uint8Array {
  if (!UUID_RE.test(uuid)) throw new Error(`ciphertext: not a lowercase UUID: ${uuid}`);
  const hex = uuid.replaceAll('-', '');
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function bytesToUuid(b: Uint8Array): string {
  const h = (i: number) => HEX[b[i]!]!;
  return `${h(0)}${h(1)}${h(2)}${h(3)}-${h(4)}${h(5)}-${h(6)}${h(7)}-${h(8)}${h(9)}-${h(10)}${h(11)}${h(12)}${h(13)}${h(14)}${h(15)}`;
}

export function encodeHeader(
  keyId: string,
  keyVersion: number,
  format: CiphertextFormat = CIPHERTEXT_FORMAT_V1,
): Uint8Array {
  const h = new Uint8Array(HEADER_BYTES);
  h[0] = format;
  h.set(uuidToBytes(keyId), 1);
  new DataView(h.buffer).setUint32(17, keyVersion);
  return h;
}

/**
 * The last key ids seen in blobs, raw bytes → id string: a Decrypt under a recent key reuses one string (already
 * hashed by the key map) instead of building a new one. Key ids are not secret.
 */
const recentIds: { bytes: Uint8Array; id: string }[] = [];
let nextSlot = 0;

function keyIdAt(blob: Uint8Array): string {
  outer: for (const e of recentIds) {
    for (let i = 0; i < 16; i++) if (e.bytes[i] !== blob[i + 1]) continue outer;
    return e.id;
  }
  const bytes = blob.slice(1, 17);
  const id = bytesToUuid(bytes);
  recentIds[nextSlot] = { bytes, id };
  nextSlot = (nextSlot + 1) % 16;
  return id;
}

/** The key version of a blob at least HEADER_BYTES long (0 is never a valid version). */
const versionAt = (blob: Uint8Array): number =>
  ((blob[17]! << 24) | (blob[18]! << 16) | (blob[19]! << 8) | blob[20]!) >>> 0;

/**
 * Parses a blob of one of `formats`. Anything else is InvalidCiphertextException, nothing more: a wrong length,
 * version 0, or a format byte of another domain.
 */
export function parseCiphertext(
  blob: Uint8Array,
  formats: readonly CiphertextFormat[] = [CIPHERTEXT_FORMAT_V1],
): ParsedCiphertext {
  const format = blob[0] as CiphertextFormat;
  if (blob.length < CIPHERTEXT_OVERHEAD || !formats.includes(format)) throw invalidCiphertext();
  const keyVersion = versionAt(blob);
  if (keyVersion === 0) throw invalidCiphertext();
  return {
    format,
    keyId: keyIdAt(blob),
    keyVersion,
    sealed: blob.subarray(HEADER_BYTES),
  };
}

/** AAD = header || encoded encryption context, in one buffer. */
export function ciphertextAad(header: Uint8Array, encodedContext: Uint8Array): Uint8Array {
  const aad = new Uint8Array(header.length + encodedContext.length);
  aad.set(header, 0);
  aad.set(encodedContext, header.length);
  return aad;
}
