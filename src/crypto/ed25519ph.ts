/**
 * Ed25519ph (RFC 8032 §5.1, phflag = 1, empty context) over a 64-byte SHA-512 prehash, with @noble/curves:
 * node:crypto has pure Ed25519 and Ed25519ctx but no Ed25519ph. The noble instance below takes the prehash
 * itself as its "message" (an identity prehash function), so RAW messages are hashed by node:crypto first and
 * DIGEST messages are signed as given. Verification is RFC 8032 strict (no ZIP-215 leniency).
 */
import type { KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import type { EdDSA } from '@noble/curves/abstract/edwards.js';
import type { ParsedKey } from './key-cache.ts';

const require = createRequire(import.meta.url);

const PREHASH_BYTES = 64;
/** dom2(phflag = 1, context = empty). */
const DOM2_PH = Buffer.concat([
  Buffer.from('SigEd25519 no Ed25519 collisions', 'latin1'),
  Buffer.from([1, 0]),
]);

function clamp(bytes: Uint8Array): Uint8Array {
  bytes[0] = bytes[0]! & 248;
  bytes[31] = (bytes[31]! & 127) | 64;
  return bytes;
}

let instance: EdDSA | undefined;

/** The noble instance, built on the first Ed25519ph call (the curve costs ~10 MB resident; most processes never sign). */
function ed25519phOverPrehash(): EdDSA {
  if (instance) return instance;
  const { eddsa } =
    require('@noble/curves/abstract/edwards.js') as typeof import('@noble/curves/abstract/edwards.js');
  const { ed25519 } = require('@noble/curves/ed25519.js') as typeof import('@noble/curves/ed25519.js');
  const { sha512 } = require('@noble/hashes/sha2.js') as typeof import('@noble/hashes/sha2.js');
  instance = eddsa(ed25519.Point, sha512, {
    adjustScalarBytes: clamp,
    domain: (data: Uint8Array, context: Uint8Array, phflag: boolean) => {
      if (!phflag || context.length !== 0) throw new Error('crypto: Ed25519ph takes no context');
      const out = new Uint8Array(DOM2_PH.length + data.length);
      out.set(DOM2_PH);
      out.set(data, DOM2_PH.length);
      return out;
    },
    prehash: (prehash: Uint8Array) => {
      if (prehash.length !== PREHASH_BYTES) throw new Error('crypto: Ed25519ph prehash must be 64 bytes');
      return prehash;
    },
    zip215: false,
  });
  return instance;
}

function jwkBytes(key: KeyObject, field: 'x' | 'd'): Uint8Array {
  const value = key.export({ format: 'jwk' })[field];
  if (typeof value !== 'string') throw new Error('crypto: Ed25519 key has no JWK field ' + field);
  return Uint8Array.from(Buffer.from(value, 'base64url'));
}

export function ed25519phSign(privateKey: ParsedKey, prehash: Uint8Array): Uint8Array {
  privateKey.raw ??= jwkBytes(privateKey.key, 'd');
  return ed25519phOverPrehash().sign(prehash, privateKey.raw);
}

export function ed25519phVerify(publicKey: ParsedKey, prehash: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64 || prehash.length !== PREHASH_BYTES) return false;
  publicKey.raw ??= jwkBytes(publicKey.key, 'x');
  try {
    return ed25519phOverPrehash().verify(signature, prehash, publicKey.raw);
  } catch {
    return false;
  }
}
