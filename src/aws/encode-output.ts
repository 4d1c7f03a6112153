/**
 * Response bodies on the wire: bytes as standard base64, absent members left out. SecretBytes (plaintexts,
 * data keys, shared secrets) are encoded and then wiped, so the adapter holds no key material after the call.
 */
import { SecretBytes } from '../engine/secret.ts';

function toWire(value: unknown, secrets: SecretBytes[]): unknown {
  if (value instanceof SecretBytes) {
    secrets.push(value);
    return Buffer.from(value.unsafeBytes().buffer, value.unsafeBytes().byteOffset, value.length).toString(
      'base64',
    );
  }
  if (value instanceof Uint8Array)
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  if (Array.isArray(value)) return value.map((v) => toWire(v, secrets));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    const o = value as Record<string, unknown>;
    // Bodies are plain objects built by the handlers: own enumerable members only, no Object.entries array.
    for (const k in o) {
      const v = o[k];
      if (v === undefined || v === null) continue;
      out[k] = toWire(v, secrets);
    }
    return out;
  }
  return value;
}

/** The JSON text of a response body. Wipes every SecretBytes it encoded. */
export function encodeOutput(body: Readonly<Record<string, unknown>> | undefined): string {
  if (body === undefined) return '{}';
  const secrets: SecretBytes[] = [];
  try {
    return JSON.stringify(toWire(body, secrets));
  } finally {
    for (const s of secrets) s.wipe();
  }
}
