/** RSAES-OAEP on node:crypto: OAEP and MGF1 use the same hash (SHA-1 or SHA-256), the label is empty. */
import { constants, privateDecrypt, publicEncrypt } from 'node:crypto';
import type { SecretBytes } from '../engine/secret.ts';
import { HASH_OF_OAEP, type RsaEncryptionAlgorithm } from '../engine/specs.ts';
import { bufferView, ownedBytes } from './bytes.ts';
import { type ParsedKey, privateKeyOf, tryPublicKeyOf } from './key-cache.ts';
import { NODE_HASH } from './key-specs.ts';

const RSA_SPECS = ['RSA_2048', 'RSA_3072', 'RSA_4096'] as const;

function rsaPublicKey(der: Uint8Array): ParsedKey {
  for (const spec of RSA_SPECS) {
    const parsed = tryPublicKeyOf(der, spec);
    if (parsed !== undefined) return parsed;
  }
  throw new Error('crypto: public key is not an RSA_2048/3072/4096 SubjectPublicKeyInfo');
}

export function nodeRsaOaepEncrypt(
  algorithm: RsaEncryptionAlgorithm,
  publicKey: Uint8Array,
  plaintext: Uint8Array,
): Uint8Array {
  const { key } = rsaPublicKey(publicKey);
  const oaepHash = NODE_HASH[HASH_OF_OAEP[algorithm]];
  try {
    return ownedBytes(
      publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, bufferView(plaintext)),
    );
  } catch {
    throw new Error(`crypto: ${algorithm} cannot encrypt ${plaintext.length} bytes with this key`);
  }
}

export function nodeRsaOaepDecrypt(
  algorithm: RsaEncryptionAlgorithm,
  privateKey: SecretBytes,
  ciphertext: Uint8Array,
): Uint8Array | undefined {
  const { key } = privateKeyOf(privateKey);
  if (key.asymmetricKeyType !== 'rsa') throw new Error('crypto: RSA-OAEP needs an RSA private key');
  const oaepHash = NODE_HASH[HASH_OF_OAEP[algorithm]];
  try {
    return ownedBytes(
      privateDecrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, bufferView(ciphertext)),
    );
  } catch {
    return undefined;
  }
}
