// Tests of the KMS v2 plugin's ciphertext domain: its blobs never open in the AWS API's Decrypt, nor AWS blobs in it.
import { beforeEach, describe, expect, it } from 'vitest';
import { nodeCrypto } from '../crypto/node-provider.ts';
import { CIPHERTEXT_FORMAT_KMSV2, CIPHERTEXT_FORMAT_V1 } from './ciphertext.ts';
import { EngineCore } from './core.ts';
import { generateDataKey } from './ops-datakey.ts';
import { decrypt, encrypt, reEncrypt } from './ops-encrypt.ts';
import { createKey, disableKey } from './ops-keys.ts';
import { isFormat1, openForPlugin, sealForPlugin } from './ops-kmsv2.ts';
import { rotateKeyOnDemand } from './ops-rotation.ts';
import { SYSTEM } from './policy.ts';
import { kmsError, MemoryKeyStore, principal, TestRootKey } from './testing.ts';

const sys = { caller: SYSTEM };
const admin = principal('root', { admin: true });
const seed = () => nodeCrypto.randomBytes(32);

let core: EngineCore;
let keyId: string;

beforeEach(async () => {
  core = await EngineCore.open({
    crypto: nodeCrypto,
    rootKey: new TestRootKey(nodeCrypto),
    store: new MemoryKeyStore(),
  });
  keyId = (await createKey(core, sys, {})).keyId;
});

const flipFormat = (blob: Uint8Array, format: number): Uint8Array => {
  const b = Uint8Array.from(blob);
  b[0] = format;
  return b;
};

describe('the KMS v2 plugin domain (format 2)', () => {
  it('opens a plugin blob under its key and version, and under nothing else', async () => {
    const pt = seed();
    const { ciphertext, keyVersion } = sealForPlugin(core, keyId, pt);
    expect(ciphertext[0]).toBe(CIPHERTEXT_FORMAT_KMSV2);
    expect(ciphertext.length).toBe(32 + 49);
    expect(openForPlugin(core, ciphertext, keyId, keyVersion, false)).toEqual(pt);
    const other = (await createKey(core, sys, {})).keyId;
    expect(kmsError(() => openForPlugin(core, ciphertext, other, 1, false)).message).toBe(
      'invalid ciphertext',
    );
    await rotateKeyOnDemand(core, sys, keyId);
    expect(kmsError(() => openForPlugin(core, ciphertext, keyId, 2, false)).code).toBe(
      'InvalidCiphertextException',
    );
    expect(openForPlugin(core, ciphertext, keyId, 1, false)).toEqual(pt);
  });

  it('is refused by the AWS API: Decrypt and ReEncrypt, even for an admin naming the key', () => {
    const { ciphertext } = sealForPlugin(core, keyId, seed());
    for (const ctx of [sys, admin]) {
      expect(kmsError(() => decrypt(core, ctx, { ciphertextBlob: ciphertext })).code).toBe(
        'InvalidCiphertextException',
      );
      expect(kmsError(() => decrypt(core, ctx, { ciphertextBlob: ciphertext, keyId })).message).toBe(
        'invalid ciphertext',
      );
      expect(
        kmsError(() => reEncrypt(core, ctx, { ciphertextBlob: ciphertext, destinationKeyId: keyId })).code,
      ).toBe('InvalidCiphertextException');
    }
    // Relabelled as format 1, the authenticated header no longer matches: the tag fails.
    const relabelled = flipFormat(ciphertext, CIPHERTEXT_FORMAT_V1);
    expect(kmsError(() => decrypt(core, admin, { ciphertextBlob: relabelled })).code).toBe(
      'InvalidCiphertextException',
    );
  });

  it('refuses AWS API blobs (Encrypt, GenerateDataKey) unless format 1 is accepted for the key', () => {
    const pt = seed();
    const aws = encrypt(core, admin, { keyId, plaintext: pt }).ciphertextBlob;
    const dataKey = generateDataKey(core, admin, { keyId, numberOfBytes: 32 }).ciphertextBlob;
    for (const blob of [aws, dataKey]) {
      expect(isFormat1(blob)).toBe(true);
      expect(kmsError(() => openForPlugin(core, blob, keyId, 1, false)).message).toBe('invalid ciphertext');
      expect(
        kmsError(() => openForPlugin(core, flipFormat(blob, CIPHERTEXT_FORMAT_KMSV2), keyId, 1, true)).code,
      ).toBe('InvalidCiphertextException');
    }
    // A blob the plugin wrote before format 2 is byte for byte an AWS Encrypt under the empty context.
    expect(openForPlugin(core, aws, keyId, 1, true)).toEqual(pt);
  });

  it('checks the key state first, and refuses other formats and short blobs', async () => {
    const { ciphertext } = sealForPlugin(core, keyId, seed());
    expect(kmsError(() => openForPlugin(core, ciphertext.subarray(0, 48), keyId, 1, false)).code).toBe(
      'InvalidCiphertextException',
    );
    expect(kmsError(() => openForPlugin(core, flipFormat(ciphertext, 3), keyId, 1, true)).code).toBe(
      'InvalidCiphertextException',
    );
    await disableKey(core, sys, keyId);
    expect(kmsError(() => openForPlugin(core, ciphertext, keyId, 1, false)).code).toBe('DisabledException');
    expect(kmsError(() => sealForPlugin(core, keyId, seed())).code).toBe('DisabledException');
  });
});
