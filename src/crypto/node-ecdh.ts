/**
 * ECDH on node:crypto: the raw shared secret (the x coordinate, field-size bytes) for P-256/384/521 and
 * secp256k1. A peer key that does not parse as an SPKI of the same curve, or whose point OpenSSL refuses,
 * throws InvalidPublicKeyError.
 */
import { diffieHellman, type KeyObject } from 'node:crypto';
import { SecretBytes } from '../engine/secret.ts';
import type { EccKeySpec } from '../engine/specs.ts';
import { InvalidPublicKeyError } from './invalid-public-key.ts';
import { privateKeyOf, tryPublicKeyOf } from './key-cache.ts';

export function nodeEcdh(spec: EccKeySpec, privateKey: SecretBytes, peerPublicKey: Uint8Array): SecretBytes {
  const own = privateKeyOf(privateKey, spec).key;
  const peer = tryPublicKeyOf(peerPublicKey, spec)?.key;
  if (peer === undefined)
    throw new InvalidPublicKeyError(`crypto: peer public key is not a valid ${spec} key`);
  return new SecretBytes(derive(own, peer));
}

function derive(privateKey: KeyObject, publicKey: KeyObject): Uint8Array {
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey, publicKey });
  } catch {
    throw new InvalidPublicKeyError('crypto: key agreement with the peer public key failed');
  }
  const out = Uint8Array.from(shared);
  shared.fill(0);
  return out;
}
