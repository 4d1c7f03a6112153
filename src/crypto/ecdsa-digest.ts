/**
 * ECDSA over a caller-supplied digest (messageType DIGEST) with @noble/curves (`prehash: false`): node:crypto's
 * `sign`/`verify` always hash the input and OpenSSL's digest-less ECDSA is not reachable from Node.
 * Signatures are DER; verification accepts only canonical DER and both low and high S, like OpenSSL.
 */
import type { KeyObject } from 'node:crypto';
import type { ECDSA } from '@noble/curves/abstract/weierstrass.js';
import { p256, p384, p521 } from '@noble/curves/nist.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import type { EccKeySpec } from '../engine/specs.ts';
import type { ParsedKey } from './key-cache.ts';

const CURVES: Readonly<Record<EccKeySpec, ECDSA>> = {
  ECC_NIST_P256: p256,
  ECC_NIST_P384: p384,
  ECC_NIST_P521: p521,
  ECC_SECG_P256K1: secp256k1,
};

function jwkField(key: KeyObject, field: 'x' | 'y' | 'd'): Buffer {
  const value = key.export({ format: 'jwk' })[field];
  if (typeof value !== 'string') throw new Error('crypto: EC key has no JWK field ' + field);
  return Buffer.from(value, 'base64url');
}

/** The uncompressed public point 04 || x || y of an EC public key. */
function publicPoint(key: KeyObject): Uint8Array {
  const x = jwkField(key, 'x');
  const y = jwkField(key, 'y');
  const point = new Uint8Array(1 + x.length + y.length);
  point[0] = 0x04;
  point.set(x, 1);
  point.set(y, 1 + x.length);
  return point;
}

export function ecdsaSignDigest(spec: EccKeySpec, privateKey: ParsedKey, digest: Uint8Array): Uint8Array {
  privateKey.raw ??= Uint8Array.from(jwkField(privateKey.key, 'd'));
  return CURVES[spec].sign(digest, privateKey.raw, { prehash: false, format: 'der' });
}

export function ecdsaVerifyDigest(
  spec: EccKeySpec,
  publicKey: ParsedKey,
  digest: Uint8Array,
  signature: Uint8Array,
): boolean {
  publicKey.raw ??= publicPoint(publicKey.key);
  const curve = CURVES[spec];
  try {
    const canonical = curve.Signature.fromBytes(signature, 'der').toBytes('der');
    if (!Buffer.from(canonical).equals(signature)) return false;
    return curve.verify(signature, digest, publicKey.raw, { prehash: false, lowS: false, format: 'der' });
  } catch {
    return false;
  }
}
