/**
 * Writes ciphertext-v<format>-golden.json. Run once per format version (node src/engine/testdata/make-golden.ts
 * [1|2]) and commit the output: the vectors pin the format so data written by any release keeps decrypting.
 * Never regenerate vectors for an existing format version.
 */
import { writeFileSync } from 'node:fs';
import { nodeCrypto } from '../../crypto/node-provider.ts';
import { type CiphertextFormat, ciphertextAad, encodeHeader } from '../ciphertext.ts';
import { encodeEncryptionContext } from '../encryption-context.ts';
import { SecretBytes } from '../secret.ts';

const format = Number(process.argv[2] ?? 1) as CiphertextFormat;
type Case = { description: string; keyVersion: number; encryptionContext: Record<string, string>; plaintext: Uint8Array };

const v1Cases: Case[] = [
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

/** Format 2 is the KMS v2 plugin's: 32-byte seeds under the empty context. */
const v2Cases: Case[] = [
  { description: 'KMS v2 seed, version 1', keyVersion: 1, encryptionContext: {}, plaintext: nodeCrypto.randomBytes(32) },
  { description: 'KMS v2 seed, version 4294967295', keyVersion: 0xffffffff, encryptionContext: {}, plaintext: nodeCrypto.randomBytes(32) },
];
const cases = format === 2 ? v2Cases : v1Cases;

const out = cases.map((c) => {
  const key = nodeCrypto.randomBytes(32);
  const keyId = '3f0c2a64-5b1e-4d7a-8c9f-0e1d2c3b4a59';
  const header = encodeHeader(keyId, c.keyVersion, format);
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
writeFileSync(new URL(`./ciphertext-v${format}-golden.json`, import.meta.url), `${JSON.stringify(out, null, 2)}\n`);
