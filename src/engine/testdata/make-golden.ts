/**
 * Writes ciphertext-v1-golden.json. Run once per format version (node src/engine/testdata/make-golden.ts) and
 * commit the output: the vectors pin the format so data written by any release keeps decrypting. Never
 * regenerate vectors for an existing format version.
 */
import { writeFileSync } from 'node:fs';
import { nodeCrypto } from '../../crypto/node-provider.ts';
import { ciphertextAad, encodeHeader } from '../ciphertext.ts';
import { encodeEncryptionContext } from '../encryption-context.ts';
import { SecretBytes } from '../secret.ts';

const cases: { description: string; keyVersion: number; encryptionContext: Record<string, string>; plaintext: Uint8Array }[] = [
  { description: 'empty context, 32-byte seed (KMS v2 plugin shape)', keyVersion: 1, encryptionContext: {}, plaintext: nodeCrypto.randomBytes(32) },
  { description: 'one pair, 1 byte', keyVersion: 2, encryptionContext: { tenant: 'a' }, plaintext: new Uint8Array([0x42]) },
  {
    description: 'unicode context, several pairs',
    keyVersion: 3,
    encryptionContext: { 'aws-crypto-public-key': 'A1b2', purpose: 'golden', 'ünï': '\u{1F600}' },
    plaintext: new TextEncoder().encode('kubekms golden vector'),
  },
  { description: 'maximum plaintext 4096 bytes, version 4294967295', keyVersion: 0xffffffff, encryptionContext: { k: '' }, plaintext: nodeCrypto.randomBytes(4096) },
];

const out = cases.map((c) => {
  const key = nodeCrypto.randomBytes(32);
  const keyId = '3f0c2a64-5b1e-4d7a-8c9f-0e1d2c3b4a59';
  const header = encodeHeader(keyId, c.keyVersion);
  const blob = nodeCrypto.aesGcmSeal(new SecretBytes(key), c.plaintext, ciphertextAad(header, encodeEncryptionContext(c.encryptionContext)), header);
  return {
    description: c.description,
    key: Buffer.from(key).toString('hex'),
    keyId,
    keyVersion: c.keyVersion,
    encryptionContext: c.encryptionContext,
    plaintext: Buffer.from(c.plaintext).toString('base64'),
    ciphertext: Buffer.from(blob).toString('base64'),
  };
});
writeFileSync(new URL('./ciphertext-v1-golden.json', import.meta.url), `${JSON.stringify(out, null, 2)}\n`);
