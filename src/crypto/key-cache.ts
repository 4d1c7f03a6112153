/**
 * Parsed key caches, so repeated sign/verify/decrypt does not re-parse DER. Private and secret keys are cached per
 * SecretBytes object (a WeakMap: the entry lives exactly as long as the engine keeps the secret); public keys in
 * a bounded LRU keyed by their DER bytes. Each entry remembers the spec it was last checked against.
 *
 * Wiping a SecretBytes does not evict its parsed key: callers must not use a secret after wiping it anyway.
 */
import { createPrivateKey, createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import type { SecretBytes } from '../engine/secret.ts';
import type { AsymmetricKeySpec } from '../engine/specs.ts';
import { bufferView } from './bytes.ts';
import { keyMatchesSpec } from './key-specs.ts';

export interface ParsedKey {
  readonly key: KeyObject;
  /** The spec this key was last checked against. */
  checkedSpec: AsymmetricKeySpec | undefined;
  /** Raw key bytes for @noble/curves (EC public point, EC scalar, Ed25519 seed), filled on first use. */
  raw: Uint8Array | undefined;
}

const PUBLIC_CACHE_MAX = 1024;
const secretKeys = new WeakMap<SecretBytes, KeyObject>();

/** A secret (AES or HMAC) key as a KeyObject, made once per SecretBytes. */
export function secretKeyOf(secret: SecretBytes): KeyObject {
  let key = secretKeys.get(secret);
  if (key === undefined) {
    key = createSecretKey(secret.unsafeBytes());
    secretKeys.set(secret, key);
  }
  return key;
}
const privateKeys = new WeakMap<SecretBytes, ParsedKey>();
const publicKeys = new Map<string, ParsedKey>();

/** The parsed PKCS#8 private key, checked against `spec` when one is given; throws if it is not one. */
export function privateKeyOf(secret: SecretBytes, spec?: AsymmetricKeySpec): ParsedKey {
  let parsed = privateKeys.get(secret);
  if (parsed === undefined) {
    let key: KeyObject;
    try {
      key = createPrivateKey({ key: bufferView(secret.unsafeBytes()), format: 'der', type: 'pkcs8' });
    } catch {
      throw new Error('crypto: private key is not a valid PKCS#8 key');
    }
    parsed = { key, checkedSpec: undefined, raw: undefined };
    privateKeys.set(secret, parsed);
  }
  if (spec !== undefined && parsed.checkedSpec !== spec) {
    if (!keyMatchesSpec(parsed.key, spec)) throw new Error(`crypto: private key is not a ${spec} key`);
    parsed.checkedSpec = spec;
  }
  return parsed;
}

/** The parsed public key if `der` is a canonical DER SubjectPublicKeyInfo of `spec`, else undefined. */
export function tryPublicKeyOf(der: Uint8Array, spec: AsymmetricKeySpec): ParsedKey | undefined {
  const id = bufferView(der).toString('base64');
  let parsed = publicKeys.get(id);
  if (parsed !== undefined) {
    publicKeys.delete(id);
    publicKeys.set(id, parsed);
  } else {
    const key = parseCanonicalSpki(der);
    if (key === undefined) return undefined;
    parsed = { key, checkedSpec: undefined, raw: undefined };
    if (publicKeys.size >= PUBLIC_CACHE_MAX) publicKeys.delete(publicKeys.keys().next().value!);
    publicKeys.set(id, parsed);
  }
  if (parsed.checkedSpec !== spec) {
    if (!keyMatchesSpec(parsed.key, spec)) return undefined;
    parsed.checkedSpec = spec;
  }
  return parsed;
}

/**
 * The key if `der` parses as SPKI and is exactly the encoding OpenSSL re-exports for it: named curves only
 * (no explicit curve parameters), minimal DER, no trailing bytes. EC points may be compressed or uncompressed.
 */
function parseCanonicalSpki(der: Uint8Array): KeyObject | undefined {
  try {
    const view = bufferView(der);
    const key = createPublicKey({ key: view, format: 'der', type: 'spki' });
    return key.export({ type: 'spki', format: 'der' }).equals(view) ? key : undefined;
  } catch {
    return undefined;
  }
}

/** As tryPublicKeyOf, but throws (a programming error: the engine passes its own keys) when `der` is not one. */
export function publicKeyOf(der: Uint8Array, spec: AsymmetricKeySpec): ParsedKey {
  const parsed = tryPublicKeyOf(der, spec);
  if (parsed === undefined) throw new Error(`crypto: public key is not a valid ${spec} SubjectPublicKeyInfo`);
  return parsed;
}
