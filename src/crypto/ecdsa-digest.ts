/**
 * ECDSA over a caller-supplied digest (messageType DIGEST) with @noble/curves (`prehash: false`): node:crypto's
 * `sign`/`verify` always hash the input and OpenSSL's digest-less ECDSA is not reachable from Node.
 * Signatures are DER; verification accepts only canonical DER and both low and high S, like OpenSSL.
 */
import type { KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import type { ECDSA } from '@noble/curves/abstract/weierstrass.js';
import type { EccKeySpec } from '../engine/specs.ts';
import type { ParsedKey } from './key-cache.ts';

const require = createRequire(import.meta.url);
let curves: Readonly<Record<EccKeySpec, ECDSA>> | undefined;

/** The curves, loaded on the first DIGEST-mode call (they cost ~10 MB resident; the KMS v2 plugin never signs). */
function curve(spec: EccKeySpec): ECDSA {
  if (!curves) {
    const nist = require('@noble/curves/nist.js') as typeof import('@noble/curves/nist.js');
    const k1 = require('@noble/curves/secp256k1.js') as typeof import('@noble/curves/secp256k1.js');
    curves = {
      ECC_NIST_P256: nist.p256,
      ECC_NIST_P384: nist.p384,
      ECC_NIST_P521: nist.p521,
      ECC_SECG_P256K1: k1.secp256k1,
    };
  }
  return curves[spec];
}

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
  return curve(spec).sign(digest, privateKey.raw, { prehash: false, format: 'der' });
}

export function ecdsaVerifyDigest(
  spec: EccKeySpec,
  publicKey: ParsedKey,
  digest: Uint8Array,
  signature: Uint8Array,
): boolean {
  publicKey.raw ??= publicPoint(publicKey.key);
  const c = curve(spec);
  try {
    const canonical = c.Signature.fromBytes(signature, 'der').toBytes('der');
    if (!Buffer.from(canonical).equals(signature)) return false;
    return c.verify(signature, digest, publicKey.raw, { prehash: false, lowS: false, format: 'der' });
  } catch {
    return false;
  }
}
