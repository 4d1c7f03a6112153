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

/** XORs `mask` into `target` in place (lengths must match). */
export function xorInPlace(target: Uint8Array, mask: Uint8Array): void {
  for (let i = 0; i < target.length; i++) target[i] = target[i]! ^ mask[i]!;
}
