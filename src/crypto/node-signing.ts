/**
 * sign/verify for every asymmetric spec, matching AWS KMS semantics. RAW messages go through node:crypto's
 * one-shot `sign`/`verify` (which hash them); DIGEST messages go through rsa-digest.ts, ecdsa-digest.ts and
 * ed25519ph.ts, since node:crypto cannot sign a precomputed hash. Pure Ed25519 and ML-DSA take RAW only.
 */
import {
  constants,
  createHash,
  sign as nodeSign,
  verify as nodeVerify,
  type SignKeyObjectInput,
} from 'node:crypto';
import type { SecretBytes } from '../engine/secret.ts';
import {
  type AsymmetricKeySpec,
  HASH_BYTES,
  HASH_OF_SIGNING,
  type HashAlgorithm,
  type MessageType,
  SIGNING_ALGORITHMS_BY_SPEC,
  type SigningAlgorithm,
} from '../engine/specs.ts';
import { bufferView, ownedBytes } from './bytes.ts';
import { ecdsaSignDigest, ecdsaVerifyDigest } from './ecdsa-digest.ts';
import { ed25519phSign, ed25519phVerify } from './ed25519ph.ts';
import { type ParsedKey, privateKeyOf, publicKeyOf } from './key-cache.ts';
import { isEccSpec, NODE_HASH } from './key-specs.ts';
import {
  rsaPkcs1SignDigest,
  rsaPkcs1VerifyDigest,
  rsaPssSignDigest,
  rsaPssVerifyDigest,
} from './rsa-digest.ts';

/** Checks the spec/algorithm/message-type combination and the digest length; returns the algorithm's hash. */
function checkRequest(
  spec: AsymmetricKeySpec,
  algorithm: SigningAlgorithm,
  message: Uint8Array,
  messageType: MessageType,
): HashAlgorithm | undefined {
  if (!SIGNING_ALGORITHMS_BY_SPEC[spec]?.includes(algorithm)) {
    throw new Error(`crypto: ${algorithm} is not a signing algorithm of ${spec}`);
  }
  const hash = HASH_OF_SIGNING[algorithm];
  if (messageType === 'DIGEST') {
    if (hash === undefined) throw new Error(`crypto: ${algorithm} does not sign digests`);
    if (message.length !== HASH_BYTES[hash])
      throw new Error(`crypto: ${algorithm} digest must be ${HASH_BYTES[hash]} bytes`);
  }
  return hash;
}

/** The key with the options node:crypto needs for a RAW signature: DER ECDSA, RSA padding and PSS salt. */
function keyInput(
  spec: AsymmetricKeySpec,
  algorithm: SigningAlgorithm,
  parsed: ParsedKey,
  hash: HashAlgorithm,
): SignKeyObjectInput {
  if (isEccSpec(spec)) return { key: parsed.key, dsaEncoding: 'der' };
  return algorithm.startsWith('RSASSA_PSS')
    ? { key: parsed.key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: HASH_BYTES[hash] }
    : { key: parsed.key, padding: constants.RSA_PKCS1_PADDING };
}

function sha512(message: Uint8Array): Uint8Array {
  return createHash('sha512').update(message).digest();
}

export function signMessage(
  spec: AsymmetricKeySpec,
  algorithm: SigningAlgorithm,
  privateKey: SecretBytes,
  message: Uint8Array,
  messageType: MessageType,
): Uint8Array {
  const hash = checkRequest(spec, algorithm, message, messageType);
  const parsed = privateKeyOf(privateKey, spec);
  const data = bufferView(message);
  if (algorithm === 'ED25519_PH_SHA_512') {
    return ed25519phSign(parsed, messageType === 'RAW' ? sha512(message) : message);
  }
  if (hash === undefined) return ownedBytes(nodeSign(null, data, parsed.key));
  if (messageType === 'RAW') {
    return ownedBytes(nodeSign(NODE_HASH[hash], data, keyInput(spec, algorithm, parsed, hash)));
  }
  if (isEccSpec(spec)) return ecdsaSignDigest(spec, parsed, message);
  return algorithm.startsWith('RSASSA_PSS')
    ? rsaPssSignDigest(parsed.key, hash, message)
    : rsaPkcs1SignDigest(parsed.key, hash, message);
}

/**
 * RFC 8017 (8.1.2, 8.2.2) step 1: an RSA signature is exactly k octets. OpenSSL left-pads a shorter one, so a
 * signature with a leading zero byte would also verify with that byte removed — refused here.
 */
function hasModulusLength(parsed: ParsedKey, signature: Uint8Array): boolean {
  const bits = parsed.key.asymmetricKeyDetails?.modulusLength;
  return bits === undefined || signature.length === Math.ceil(bits / 8);
}

export function verifyMessage(
  spec: AsymmetricKeySpec,
  algorithm: SigningAlgorithm,
  publicKey: Uint8Array,
  message: Uint8Array,
  messageType: MessageType,
  signature: Uint8Array,
): boolean {
  const hash = checkRequest(spec, algorithm, message, messageType);
  const parsed = publicKeyOf(publicKey, spec);
  const data = bufferView(message);
  const sig = bufferView(signature);
  if (!isEccSpec(spec) && !hasModulusLength(parsed, signature)) return false;
  if (algorithm === 'ED25519_PH_SHA_512') {
    return ed25519phVerify(parsed, messageType === 'RAW' ? sha512(message) : message, signature);
  }
  try {
    if (hash === undefined) return nodeVerify(null, data, parsed.key, sig);
    if (messageType === 'RAW') {
      return nodeVerify(NODE_HASH[hash], data, keyInput(spec, algorithm, parsed, hash), sig);
    }
  } catch {
    return false;
  }
  if (isEccSpec(spec)) return ecdsaVerifyDigest(spec, parsed, message, signature);
  return algorithm.startsWith('RSASSA_PSS')
    ? rsaPssVerifyDigest(parsed.key, hash, message, signature)
    : rsaPkcs1VerifyDigest(parsed.key, hash, message, signature);
}
