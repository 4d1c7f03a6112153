/**
 * The production CryptoProvider: every primitive on node:crypto (OpenSSL 3.5 in Node 24), except signing over a
 * precomputed digest for ECDSA and Ed25519ph, which node:crypto cannot express (see ecdsa-digest.ts,
 * ed25519ph.ts). Parsed keys are cached (key-cache.ts) so repeated operations do not re-parse DER.
 */
import type { CryptoProvider } from '../engine/ports.ts';
import { SecretBytes } from '../engine/secret.ts';
import type { AsymmetricKeySpec } from '../engine/specs.ts';
import { ownedBytes } from './bytes.ts';
import { tryPublicKeyOf } from './key-cache.ts';
import { generateNodeKeyPair } from './key-specs.ts';
import { nodeEcdh } from './node-ecdh.ts';
import { nodeRsaOaepDecrypt, nodeRsaOaepEncrypt } from './node-rsa-oaep.ts';
import { signMessage, verifyMessage } from './node-signing.ts';
import { nodeAesGcmOpen, nodeAesGcmSeal, nodeDigest, nodeHmac, nodeRandomBytes } from './node-symmetric.ts';

function generateKeyPair(spec: AsymmetricKeySpec): { privateKey: SecretBytes; publicKey: Uint8Array } {
  const pair = generateNodeKeyPair(spec);
  return {
    privateKey: new SecretBytes(ownedBytes(pair.privateKey.export({ type: 'pkcs8', format: 'der' }))),
    publicKey: ownedBytes(pair.publicKey.export({ type: 'spki', format: 'der' })),
  };
}

export const nodeCrypto: CryptoProvider = {
  name: 'node',
  randomBytes: nodeRandomBytes,
  aesGcmSeal: nodeAesGcmSeal,
  aesGcmOpen: nodeAesGcmOpen,
  hmac: nodeHmac,
  digest: nodeDigest,
  generateKeyPair,
  sign: signMessage,
  verify: verifyMessage,
  rsaOaepEncrypt: nodeRsaOaepEncrypt,
  rsaOaepDecrypt: nodeRsaOaepDecrypt,
  ecdh: nodeEcdh,
  isValidPublicKey: (spec, publicKey) => tryPublicKeyOf(publicKey, spec) !== undefined,
};
