/**
 * Encryption context: validation and the canonical, length-prefixed encoding bound as AAD (invariant 6).
 *
 *   encode(ctx) = u32be(n) || for each pair, sorted by the UTF-8 bytes of its key:
 *                              u32be(len(key)) || key || u32be(len(value)) || value
 *
 * Every pair carries its own lengths, so no two different contexts encode the same way (unlike the
 * key||value concatenations of the AWS emulators, where {"ab":"c"} and {"a":"bc"} collide). An absent context
 * and an empty one are the same context, as in AWS KMS.
 */
import { validation } from './errors.ts';

export type EncryptionContext = Readonly<Record<string, string>>;

/** Largest canonical encoding we accept (bytes). Documented in docs/ciphertext-format.md. */
export const ENCRYPTION_CONTEXT_MAX_BYTES = 8192;

const utf8 = new TextEncoder();
const EMPTY = new Uint8Array([0, 0, 0, 0]);

/** Checks the shape of a context that came from outside (any JSON value) and returns it typed. */
const NO_CONTEXT: EncryptionContext = Object.freeze({});

export function parseEncryptionContext(value: unknown, field = 'EncryptionContext'): EncryptionContext {
  if (value === undefined || value === null) return NO_CONTEXT;
  if (typeof value !== 'object' || Array.isArray(value))
    throw validation(field, 'must be a map of string to string');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw validation(`${field}.${k}`, 'value must be a string');
    // defineProperty, not assignment: a key named __proto__ must stay a pair of the context, not be dropped.
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** The canonical encoding. Throws a ValidationException naming `field` when the context is too large. */
export function encodeEncryptionContext(ctx: EncryptionContext, field = 'EncryptionContext'): Uint8Array {
  const keys = Object.keys(ctx);
  if (keys.length === 0) return EMPTY;
  const pairs = keys.map((k) => [utf8.encode(k), utf8.encode(ctx[k]!)] as const);
  pairs.sort((x, y) => compareBytes(x[0], y[0]));
  let size = 4;
  for (const [k, v] of pairs) size += 8 + k.length + v.length;
  if (size > ENCRYPTION_CONTEXT_MAX_BYTES) {
    throw validation(field, `encoded size ${size} bytes exceeds ${ENCRYPTION_CONTEXT_MAX_BYTES}`);
  }
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, pairs.length);
  let off = 4;
  for (const [k, v] of pairs) {
    view.setUint32(off, k.length);
    out.set(k, off + 4);
    off += 4 + k.length;
    view.setUint32(off, v.length);
    out.set(v, off + 4);
    off += 4 + v.length;
  }
  return out;
}

/** The keys of a context, for audit logs (values are never logged). */
export function encryptionContextKeys(ctx: EncryptionContext | undefined): string[] {
  return ctx ? Object.keys(ctx).sort() : [];
}
