/**
 * Ciphertext headers and the AAD of the empty encryption context, built once per (key record, version, format)
 * and reused by every Encrypt and Decrypt under it: the hot paths allocate neither. A record is replaced on every
 * change, so its entries go with it.
 */
import { type CiphertextFormat, ciphertextAad, encodeHeader, HEADER_BYTES } from './ciphertext.ts';
import { type EncryptionContext, encodeEncryptionContext } from './encryption-context.ts';
import type { KeyRecord } from './records.ts';

export interface Header {
  /** Bytes 0..20 of a blob of this key version and format. */
  readonly bytes: Uint8Array;
  /** bytes || encoding of the empty context. */
  readonly emptyContextAad: Uint8Array;
}

const byRecord = new WeakMap<KeyRecord, Map<number, Header>>();

/** Call only for a version the key holds, so that the cache stays bounded by the key's versions. */
export function headerOf(r: KeyRecord, version: number, format: CiphertextFormat): Header {
  let m = byRecord.get(r);
  if (!m) {
    m = new Map();
    byRecord.set(r, m);
  }
  const slot = version * 4 + format;
  let h = m.get(slot);
  if (!h) {
    const bytes = encodeHeader(r.keyId, version, format);
    h = { bytes, emptyContextAad: ciphertextAad(bytes, encodeEncryptionContext({})) };
    m.set(slot, h);
  }
  return h;
}

function isEmptyContext(ec: EncryptionContext): boolean {
  for (const _ in ec) return false;
  return true;
}

/** The AAD of a blob with this header under `ec`. */
export function aadOf(h: Header, ec: EncryptionContext): Uint8Array {
  return isEmptyContext(ec) ? h.emptyContextAad : ciphertextAad(h.bytes, encodeEncryptionContext(ec));
}

/** True when bytes 1..20 of `blob` (key id and version) are those of `h`; the format byte is checked apart. */
export function sameKeyAndVersion(blob: Uint8Array, h: Header): boolean {
  const b = h.bytes;
  for (let i = 1; i < HEADER_BYTES; i++) if (blob[i] !== b[i]) return false;
  return true;
}
