/**
 * The symmetric ciphertext blob (format v1), specified in docs/ciphertext-format.md:
 *
 *   offset  size  field
 *   0       1     format version, 0x01
 *   1       16    key id (the UUID's 16 bytes)
 *   17      4     key version, unsigned big-endian
 *   21      12    AES-GCM nonce (random)
 *   33      n     AES-256-GCM ciphertext of the plaintext
 *   33+n    16    GCM tag
 *
 * AAD = bytes 0..20 (the header) || canonical encryption context. The header is authenticated, so a blob
 * cannot be moved to another key or version. Overhead: 49 bytes.
 */
import { invalidCiphertext } from './errors.ts';

export const CIPHERTEXT_FORMAT_V1 = 0x01;
export const HEADER_BYTES = 21;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
export const CIPHERTEXT_OVERHEAD = HEADER_BYTES + NONCE_BYTES + TAG_BYTES;

export interface CiphertextHeader {
  readonly keyId: string;
  readonly keyVersion: number;
}

export interface ParsedCiphertext extends CiphertextHeader {
  /** Bytes 0..20, to be authenticated as the first part of the AAD. */
  readonly header: Uint8Array;
  /** nonce || ciphertext || tag. */
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

export function encodeHeader(keyId: string, keyVersion: number): Uint8Array {
  const h = new Uint8Array(HEADER_BYTES);
  h[0] = CIPHERTEXT_FORMAT_V1;
  h.set(uuidToBytes(keyId), 1);
  new DataView(h.buffer).setUint32(17, keyVersion);
  return h;
}

/** Parses a blob. Anything that is not a well-formed v1 blob is InvalidCiphertextException, nothing more. */
export function parseCiphertext(blob: Uint8Array): ParsedCiphertext {
  if (blob.length < CIPHERTEXT_OVERHEAD || blob[0] !== CIPHERTEXT_FORMAT_V1) throw invalidCiphertext();
  const header = blob.subarray(0, HEADER_BYTES);
  const keyVersion = ((blob[17]! << 24) | (blob[18]! << 16) | (blob[19]! << 8) | blob[20]!) >>> 0;
  if (keyVersion === 0) throw invalidCiphertext();
  return {
    header,
    keyId: bytesToUuid(blob.subarray(1, 17)),
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
