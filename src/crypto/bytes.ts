/**
 * Byte helpers shared by the providers. Results handed to the engine are plain `Uint8Array`s that own their
 * memory: never a `Buffer` (whose `slice` aliases) and never a view into Node's shared allocation pool.
 */

/** `bytes` as a plain Uint8Array over the same memory when it owns its ArrayBuffer, else a copy. */
export function ownedBytes(bytes: Uint8Array): Uint8Array {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) {
    return new Uint8Array(bytes.buffer, 0, bytes.byteLength);
  }
  return Uint8Array.from(bytes);
}

/** A Buffer view over `bytes` without a copy, for node:crypto calls that want one. */
export function bufferView(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The number of bytes the outer DER TLV of `der` claims, or -1 when the header is malformed. */
export function derOuterLength(der: Uint8Array): number {
  if (der.length < 2) return -1;
  const first = der[1]!;
  if (first < 0x80) return 2 + first;
  const count = first & 0x7f;
  if (count === 0 || count > 3 || der.length < 2 + count) return -1;
  let length = 0;
  for (let i = 0; i < count; i++) length = length * 256 + der[2 + i]!;
  return 2 + count + length;
}

/** XORs `mask` into `target` in place (lengths must match). */
export function xorInPlace(target: Uint8Array, mask: Uint8Array): void {
  for (let i = 0; i < target.length; i++) target[i] = target[i]! ^ mask[i]!;
}
