import { inspect } from 'node:util';
import { beforeEach, describe, expect, it } from 'vitest';
import { nodeCrypto } from '../crypto/node-provider.ts';
import { EngineCore } from './core.ts';
import { KmsError } from './errors.ts';
import { createAlias } from './ops-aliases.ts';
import {
  generateDataKey,
  generateDataKeyPair,
  generateDataKeyWithoutPlaintext,
  generateRandom,
} from './ops-datakey.ts';
import { decrypt, encrypt, reEncrypt } from './ops-encrypt.ts';
import { createKey, disableKey, scheduleKeyDeletion } from './ops-keys.ts';
import { rotateKeyOnDemand } from './ops-rotation.ts';
import { SYSTEM } from './policy.ts';
import { MemoryKeyStore, principal, TestRootKey } from './testing.ts';

const sys = { caller: SYSTEM };
const bytes = (s: string) => new TextEncoder().encode(s);
const code = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    if (e instanceof KmsError) return e.code;
    throw e;
  }
  return 'no error';
};

let core: EngineCore;
let keyId: string;

beforeEach(async () => {
  core = await EngineCore.open({
    crypto: nodeCrypto,
    rootKey: new TestRootKey(nodeCrypto),
    store: new MemoryKeyStore(),
  });
  keyId = (await createKey(core, sys, { description: 'test' })).keyId;
});

describe('Encrypt / Decrypt', () => {
  it('round-trips with and without context, answering with the key ARN', () => {
    const ec = { tenant: 'a', app: 'b' };
    const out = encrypt(core, sys, { keyId, plaintext: bytes('hello'), encryptionContext: ec });
    expect(out.keyId).toBe(`arn:aws:kms:us-east-1:000000000000:key/${keyId}`);
    expect(out.ciphertextBlob.length).toBe(5 + 49);
    const back = decrypt(core, sys, {
      ciphertextBlob: out.ciphertextBlob,
      encryptionContext: { app: 'b', tenant: 'a' },
    });
    expect(new TextDecoder().decode(back.plaintext.unsafeBytes())).toBe('hello');
    expect(back.keyId).toBe(out.keyId);
  });

  it('fails with InvalidCiphertextException for any context difference', () => {
    const out = encrypt(core, sys, { keyId, plaintext: bytes('x'), encryptionContext: { a: 'b' } });
    for (const ec of [undefined, {}, { a: 'B' }, { a: 'b', c: 'd' }, { A: 'b' }]) {
      expect(
        code(() => decrypt(core, sys, { ciphertextBlob: out.ciphertextBlob, encryptionContext: ec })),
      ).toBe('InvalidCiphertextException');
    }
  });

  it('gives the same opaque error for truncated, tampered and foreign blobs', () => {
    const blob = encrypt(core, sys, { keyId, plaintext: bytes('secret') }).ciphertextBlob;
    const errors = new Set<string>();
    for (let i = 0; i < blob.length; i++) {
      const t = Uint8Array.from(blob);
      t[i]! ^= 0x01;
      try {
        decrypt(core, sys, { ciphertextBlob: t });
        throw new Error(`tampered byte ${i} decrypted`);
      } catch (e) {
        errors.add(`${(e as KmsError).code}:${(e as KmsError).message}`);
      }
    }
    errors.add(
      `${code(() => decrypt(core, sys, { ciphertextBlob: blob.subarray(0, 40) }))}:invalid ciphertext`,
    );
    expect([...errors]).toEqual(['InvalidCiphertextException:invalid ciphertext']);
  });

  it('resolves aliases and key ARNs, and refuses a KeyId naming another key', async () => {
    await createAlias(core, principal('admin', { admin: true }), 'alias/app', keyId);
    const other = (await createKey(core, sys, {})).keyId;
    const blob = encrypt(core, sys, { keyId: 'alias/app', plaintext: bytes('x') }).ciphertextBlob;
    expect(decrypt(core, sys, { ciphertextBlob: blob, keyId: core.arnOf(keyId) }).keyId).toBe(
      core.arnOf(keyId),
    );
    expect(code(() => decrypt(core, sys, { ciphertextBlob: blob, keyId: other }))).toBe(
      'IncorrectKeyException',
    );
  });

  it('validates input with errors that name the field', () => {
    expect(() => encrypt(core, sys, { keyId, plaintext: new Uint8Array(0) })).toThrow(
      /^Plaintext: must be at least 1 bytes/,
    );
    expect(() => encrypt(core, sys, { keyId, plaintext: new Uint8Array(4097) })).toThrow(
      /^Plaintext: must be at most 4096/,
    );
    expect(() => encrypt(core, sys, { keyId, plaintext: 'str' })).toThrow(/^Plaintext: must be bytes/);
    expect(() => encrypt(core, sys, { keyId, plaintext: bytes('x'), encryptionAlgorithm: 'ROT13' })).toThrow(
      /^EncryptionAlgorithm:/,
    );
    expect(() => decrypt(core, sys, { ciphertextBlob: new Uint8Array(6145) })).toThrow(
      /^CiphertextBlob: must be at most 6144/,
    );
    expect(code(() => encrypt(core, sys, { keyId: 'nope', plaintext: bytes('x') }))).toBe(
      'NotFoundException',
    );
    expect(code(() => encrypt(core, sys, { keyId: 'alias/missing', plaintext: bytes('x') }))).toBe(
      'NotFoundException',
    );
  });

  it('checks state before crypto: disabled and pending deletion keys refuse', async () => {
    const blob = encrypt(core, sys, { keyId, plaintext: bytes('x') }).ciphertextBlob;
    await disableKey(core, principal('admin', { admin: true }), keyId);
    expect(code(() => encrypt(core, sys, { keyId, plaintext: bytes('x') }))).toBe('DisabledException');
    expect(code(() => decrypt(core, sys, { ciphertextBlob: blob }))).toBe('DisabledException');
    await scheduleKeyDeletion(core, principal('admin', { admin: true }), keyId, 7);
    expect(code(() => decrypt(core, sys, { ciphertextBlob: blob }))).toBe('KMSInvalidStateException');
  });

  it('keeps old versions decryptable after rotation and encrypts with the new one', async () => {
    const before = encrypt(core, sys, { keyId, plaintext: bytes('old') });
    await rotateKeyOnDemand(core, principal('admin', { admin: true }), keyId);
    const after = encrypt(core, sys, { keyId, plaintext: bytes('new') });
    expect(before.keyVersion).toBe(1);
    expect(after.keyVersion).toBe(2);
    expect(
      new TextDecoder().decode(
        decrypt(core, sys, { ciphertextBlob: before.ciphertextBlob }).plaintext.unsafeBytes(),
      ),
    ).toBe('old');
    expect(decrypt(core, sys, { ciphertextBlob: after.ciphertextBlob }).keyVersion).toBe(2);
  });

  it('denies by default and allows through policy', async () => {
    const alice = principal('alice');
    expect(code(() => encrypt(core, alice, { keyId, plaintext: bytes('x') }))).toBe('AccessDeniedException');
    const own = (await createKey(core, alice, {})).keyId;
    const blob = encrypt(core, alice, { keyId: own, plaintext: bytes('x') }).ciphertextBlob;
    expect(code(() => decrypt(core, principal('bob'), { ciphertextBlob: blob }))).toBe(
      'AccessDeniedException',
    );
  });
});

describe('ReEncrypt', () => {
  it('moves a ciphertext to another key and context without exposing it', async () => {
    const dest = (await createKey(core, sys, {})).keyId;
    const blob = encrypt(core, sys, {
      keyId,
      plaintext: bytes('move me'),
      encryptionContext: { a: '1' },
    }).ciphertextBlob;
    const out = reEncrypt(core, sys, {
      ciphertextBlob: blob,
      sourceEncryptionContext: { a: '1' },
      destinationKeyId: dest,
      destinationEncryptionContext: { b: '2' },
    });
    expect(out.sourceKeyId).toBe(core.arnOf(keyId));
    expect(out.keyId).toBe(core.arnOf(dest));
    const back = decrypt(core, sys, { ciphertextBlob: out.ciphertextBlob, encryptionContext: { b: '2' } });
    expect(new TextDecoder().decode(back.plaintext.unsafeBytes())).toBe('move me');
  });
});

describe('data keys and randomness', () => {
  it('GenerateDataKey honours NumberOfBytes and KeySpec, and the blob decrypts to the same key', () => {
    for (const [input, len] of [
      [{ numberOfBytes: 7 }, 7],
      [{ keySpec: 'AES_128' }, 16],
      [{ keySpec: 'AES_256' }, 32],
    ] as const) {
      const dk = generateDataKey(core, sys, { keyId, ...input, encryptionContext: { x: 'y' } });
      expect(dk.plaintext.length).toBe(len);
      const back = decrypt(core, sys, { ciphertextBlob: dk.ciphertextBlob, encryptionContext: { x: 'y' } });
      expect(back.plaintext.equals(dk.plaintext)).toBe(true);
    }
  });

  it('needs exactly one of KeySpec and NumberOfBytes', () => {
    expect(() => generateDataKey(core, sys, { keyId })).toThrow(/KeySpec or NumberOfBytes is required/);
    expect(() => generateDataKey(core, sys, { keyId, keySpec: 'AES_256', numberOfBytes: 32 })).toThrow(
      /not both/,
    );
    expect(() => generateDataKey(core, sys, { keyId, numberOfBytes: 1025 })).toThrow(
      /^NumberOfBytes: must be between 1 and 1024/,
    );
  });

  it('WithoutPlaintext returns only the blob', () => {
    const dk = generateDataKeyWithoutPlaintext(core, sys, { keyId, numberOfBytes: 32 });
    expect(Object.keys(dk).sort()).toEqual(['ciphertextBlob', 'keyId', 'keyVersion']);
  });

  it('GenerateDataKeyPair wraps a PKCS#8 private key that matches the public key', async () => {
    const { createPrivateKey, createPublicKey } = await import('node:crypto');
    const pair = generateDataKeyPair(core, sys, { keyId, keyPairSpec: 'ECC_NIST_P256' });
    const priv = createPrivateKey({
      key: Buffer.from(pair.privateKeyPlaintext.unsafeBytes()),
      format: 'der',
      type: 'pkcs8',
    });
    const pub = createPublicKey({ key: Buffer.from(pair.publicKey), format: 'der', type: 'spki' });
    expect(
      createPublicKey(priv)
        .export({ format: 'der', type: 'spki' })
        .equals(pub.export({ format: 'der', type: 'spki' })),
    ).toBe(true);
    expect(
      decrypt(core, sys, { ciphertextBlob: pair.privateKeyCiphertextBlob }).plaintext.equals(
        pair.privateKeyPlaintext,
      ),
    ).toBe(true);
  });

  it('GenerateRandom gives 1-1024 bytes', () => {
    expect(generateRandom(core, 1024).length).toBe(1024);
    expect(() => generateRandom(core, 0)).toThrow(/^NumberOfBytes/);
    expect(() => generateRandom(core, undefined)).toThrow(/^NumberOfBytes/);
  });

  it('never prints secret bytes', () => {
    const dk = generateDataKey(core, sys, { keyId, numberOfBytes: 32 });
    expect(JSON.stringify(dk)).toContain('"plaintext":"[secret]"');
    expect(inspect(dk)).toContain('[secret]');
    expect(String(dk.plaintext)).toBe('[secret]');
  });
});
