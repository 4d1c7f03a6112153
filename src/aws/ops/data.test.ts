/**
 * Data operations through @aws-sdk/client-kms against a real listener: Encrypt, Decrypt, ReEncrypt,
 * GenerateDataKey[WithoutPlaintext], GenerateDataKeyPair[WithoutPlaintext], GenerateRandom. Happy paths, every
 * key state, usage mismatch, encryption context mismatch, DryRun, Recipient, and denial for a non-admin caller.
 */
import { createPublicKey, constants as cryptoConstants, publicEncrypt } from 'node:crypto';
import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateKeyCommand,
  type CreateKeyCommandInput,
  DecryptCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyPairCommand,
  GenerateDataKeyPairWithoutPlaintextCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  GenerateRandomCommand,
  GetPublicKeyCommand,
  type KMSClient,
  ReEncryptCommand,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARN, errorName, type Harness, startHarness } from '../testing/harness.ts';

let h: Harness;
let admin: KMSClient;
let alice: KMSClient;
let key: string; // key id
let arn: string;

const utf8 = (s: string) => Buffer.from(s);
const text = (b: Uint8Array | undefined) => Buffer.from(b!).toString();

async function newKey(input: CreateKeyCommandInput = {}): Promise<string> {
  return (await admin.send(new CreateKeyCommand(input))).KeyMetadata!.KeyId!;
}

beforeAll(async () => {
  h = await startHarness();
  admin = h.client('admin');
  alice = h.client('alice');
  key = await newKey({ Description: 'data' });
  arn = `arn:aws:kms:${ARN.region}:${ARN.account}:key/${key}`;
  await admin.send(new CreateAliasCommand({ AliasName: 'alias/data', TargetKeyId: key }));
});

afterAll(async () => {
  expect(h.violations).toEqual([]);
  expect(h.seen.filter((s) => s.status >= 500)).toEqual([]);
  await h.close();
});

describe('Encrypt / Decrypt', () => {
  it('round-trips under every key identifier form and answers the key ARN', async () => {
    for (const id of [key, arn, 'alias/data', `arn:aws:kms:${ARN.region}:${ARN.account}:alias/data`]) {
      const e = await admin.send(
        new EncryptCommand({ KeyId: id, Plaintext: utf8('hello'), EncryptionContext: { a: 'b' } }),
      );
      expect(e.KeyId).toBe(arn);
      expect(e.EncryptionAlgorithm).toBe('SYMMETRIC_DEFAULT');
      const d = await admin.send(
        new DecryptCommand({ CiphertextBlob: e.CiphertextBlob, EncryptionContext: { a: 'b' } }),
      );
      expect(text(d.Plaintext)).toBe('hello');
      expect(d.KeyId).toBe(arn);
      expect(d.KeyMaterialId).toMatch(/^[0-9a-f]{64}$/);
      const named = await admin.send(
        new DecryptCommand({ CiphertextBlob: e.CiphertextBlob, KeyId: id, EncryptionContext: { a: 'b' } }),
      );
      expect(named.KeyId).toBe(arn);
    }
  });

  it('refuses a different encryption context, a corrupt blob and a KeyId naming another key', async () => {
    const e = await admin.send(
      new EncryptCommand({ KeyId: key, Plaintext: utf8('x'), EncryptionContext: { a: 'b' } }),
    );
    const blob = e.CiphertextBlob!;
    expect(await errorName(admin.send(new DecryptCommand({ CiphertextBlob: blob })))).toBe(
      'InvalidCiphertextException',
    );
    expect(
      await errorName(
        admin.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { a: 'B' } })),
      ),
    ).toBe('InvalidCiphertextException');
    expect(
      await errorName(
        admin.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { a: 'b', c: 'd' } })),
      ),
    ).toBe('InvalidCiphertextException');
    const corrupt = Uint8Array.from(blob);
    corrupt[corrupt.length - 1]! ^= 1;
    expect(
      await errorName(
        admin.send(new DecryptCommand({ CiphertextBlob: corrupt, EncryptionContext: { a: 'b' } })),
      ),
    ).toBe('InvalidCiphertextException');
    expect(await errorName(admin.send(new DecryptCommand({ CiphertextBlob: utf8('not a blob') })))).toBe(
      'InvalidCiphertextException',
    );
    const other = await newKey();
    expect(
      await errorName(
        admin.send(new DecryptCommand({ CiphertextBlob: blob, KeyId: other, EncryptionContext: { a: 'b' } })),
      ),
    ).toBe('IncorrectKeyException');
  });

  it('binds an encryption context key named __proto__ like any other', async () => {
    const ec = JSON.parse('{"__proto__":"x"}') as Record<string, string>;
    const e = await admin.send(
      new EncryptCommand({ KeyId: key, Plaintext: utf8('p'), EncryptionContext: ec }),
    );
    expect(await errorName(admin.send(new DecryptCommand({ CiphertextBlob: e.CiphertextBlob })))).toBe(
      'InvalidCiphertextException',
    );
    const d = await admin.send(
      new DecryptCommand({ CiphertextBlob: e.CiphertextBlob, EncryptionContext: ec }),
    );
    expect(text(d.Plaintext)).toBe('p');
  });

  it('validates sizes, algorithms and unknown keys', async () => {
    expect(
      await errorName(admin.send(new EncryptCommand({ KeyId: key, Plaintext: new Uint8Array(4097) }))),
    ).toBe('ValidationException');
    expect(
      await errorName(
        admin.send(
          new EncryptCommand({ KeyId: key, Plaintext: utf8('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }),
        ),
      ),
    ).toBe('InvalidKeyUsageException');
    expect(
      await errorName(
        admin.send(
          new EncryptCommand({ KeyId: '00000000-0000-4000-8000-000000000000', Plaintext: utf8('x') }),
        ),
      ),
    ).toBe('NotFoundException');
    expect(
      await errorName(admin.send(new EncryptCommand({ KeyId: 'alias/none', Plaintext: utf8('x') }))),
    ).toBe('NotFoundException');
    const hmac = await newKey({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
    expect(await errorName(admin.send(new EncryptCommand({ KeyId: hmac, Plaintext: utf8('x') })))).toBe(
      'InvalidKeyUsageException',
    );
  });

  it('encrypts with RSA keys (OAEP), and decrypts ciphertext made offline with GetPublicKey', async () => {
    const rsa = await newKey({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' });
    const e = await admin.send(
      new EncryptCommand({ KeyId: rsa, Plaintext: utf8('rsa'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }),
    );
    const d = await admin.send(
      new DecryptCommand({
        KeyId: rsa,
        CiphertextBlob: e.CiphertextBlob,
        EncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
      }),
    );
    expect(text(d.Plaintext)).toBe('rsa');
    expect(d.KeyMaterialId).toBeUndefined();
    const pub = await admin.send(new GetPublicKeyCommand({ KeyId: rsa }));
    const offline = publicEncrypt(
      {
        key: createPublicKey({ key: Buffer.from(pub.PublicKey!), format: 'der', type: 'spki' }),
        padding: cryptoConstants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: 'sha256',
      },
      utf8('offline'),
    );
    const d2 = await admin.send(
      new DecryptCommand({ KeyId: rsa, CiphertextBlob: offline, EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' }),
    );
    expect(text(d2.Plaintext)).toBe('offline');
    expect(
      await errorName(
        admin.send(
          new EncryptCommand({
            KeyId: rsa,
            Plaintext: new Uint8Array(191),
            EncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
          }),
        ),
      ),
    ).toBe('ValidationException');
    expect(
      await errorName(
        admin.send(
          new EncryptCommand({
            KeyId: rsa,
            Plaintext: utf8('x'),
            EncryptionAlgorithm: 'RSAES_OAEP_SHA_1',
            EncryptionContext: { a: 'b' },
          }),
        ),
      ),
    ).toBe('ValidationException');
  });

  it('answers DryRunOperationException after the checks, and refuses Recipient', async () => {
    expect(
      await errorName(admin.send(new EncryptCommand({ KeyId: key, Plaintext: utf8('x'), DryRun: true }))),
    ).toBe('DryRunOperationException');
    expect(
      await errorName(alice.send(new EncryptCommand({ KeyId: key, Plaintext: utf8('x'), DryRun: true }))),
    ).toBe('AccessDeniedException');
    const e = await admin.send(new EncryptCommand({ KeyId: key, Plaintext: utf8('x') }));
    expect(
      await errorName(admin.send(new DecryptCommand({ CiphertextBlob: e.CiphertextBlob, DryRun: true }))),
    ).toBe('DryRunOperationException');
    expect(
      await errorName(
        admin.send(new DecryptCommand({ KeyId: key, DryRun: true, DryRunModifiers: ['IGNORE_CIPHERTEXT'] })),
      ),
    ).toBe('DryRunOperationException');
    expect(
      await errorName(
        admin.send(new DecryptCommand({ DryRun: true, DryRunModifiers: ['IGNORE_CIPHERTEXT'] })),
      ),
    ).toBe('ValidationException');
    expect(
      await errorName(
        admin.send(
          new DecryptCommand({
            CiphertextBlob: e.CiphertextBlob,
            Recipient: { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', AttestationDocument: utf8('doc') },
          }),
        ),
      ),
    ).toBe('UnsupportedOperationException');
  });
});

describe('ReEncrypt', () => {
  it('moves a ciphertext to another key without revealing it', async () => {
    const dest = await newKey();
    const e = await admin.send(
      new EncryptCommand({ KeyId: key, Plaintext: utf8('move'), EncryptionContext: { s: '1' } }),
    );
    const r = await admin.send(
      new ReEncryptCommand({
        CiphertextBlob: e.CiphertextBlob,
        SourceEncryptionContext: { s: '1' },
        DestinationKeyId: dest,
        DestinationEncryptionContext: { d: '2' },
      }),
    );
    expect(r.SourceKeyId).toBe(arn);
    expect(r.KeyId).toContain(dest);
    expect(r.SourceKeyMaterialId).toMatch(/^[0-9a-f]{64}$/);
    expect(r.DestinationKeyMaterialId).toMatch(/^[0-9a-f]{64}$/);
    const d = await admin.send(
      new DecryptCommand({ CiphertextBlob: r.CiphertextBlob, EncryptionContext: { d: '2' } }),
    );
    expect(text(d.Plaintext)).toBe('move');
    expect(
      await errorName(
        admin.send(new ReEncryptCommand({ CiphertextBlob: e.CiphertextBlob, DestinationKeyId: dest })),
      ),
    ).toBe('InvalidCiphertextException');
    expect(
      await errorName(
        admin.send(
          new ReEncryptCommand({
            CiphertextBlob: e.CiphertextBlob,
            SourceKeyId: dest,
            SourceEncryptionContext: { s: '1' },
            DestinationKeyId: dest,
          }),
        ),
      ),
    ).toBe('IncorrectKeyException');
  });
});

describe('data keys and random bytes', () => {
  it('GenerateDataKey honours KeySpec and NumberOfBytes; the blob decrypts to the data key', async () => {
    const a = await admin.send(new GenerateDataKeyCommand({ KeyId: 'alias/data', KeySpec: 'AES_128' }));
    expect(a.Plaintext).toHaveLength(16);
    expect(a.KeyId).toBe(arn);
    const b = await admin.send(
      new GenerateDataKeyCommand({
        KeyId: key,
        NumberOfBytes: 32,
        EncryptionContext: { 'aws-crypto-public-key': 'p' },
      }),
    );
    expect(b.Plaintext).toHaveLength(32);
    const d = await admin.send(
      new DecryptCommand({
        CiphertextBlob: b.CiphertextBlob,
        EncryptionContext: { 'aws-crypto-public-key': 'p' },
      }),
    );
    expect(Buffer.from(d.Plaintext!).equals(Buffer.from(b.Plaintext!))).toBe(true);
    expect(await errorName(admin.send(new GenerateDataKeyCommand({ KeyId: key })))).toBe(
      'ValidationException',
    );
    expect(
      await errorName(
        admin.send(new GenerateDataKeyCommand({ KeyId: key, KeySpec: 'AES_256', NumberOfBytes: 32 })),
      ),
    ).toBe('ValidationException');
    expect(await errorName(admin.send(new GenerateDataKeyCommand({ KeyId: key, NumberOfBytes: 1025 })))).toBe(
      'ValidationException',
    );
    const w = await admin.send(
      new GenerateDataKeyWithoutPlaintextCommand({ KeyId: key, KeySpec: 'AES_256' }),
    );
    expect(w.KeyId).toBe(arn);
    expect((w as { Plaintext?: unknown }).Plaintext).toBeUndefined();
    const wd = await admin.send(new DecryptCommand({ CiphertextBlob: w.CiphertextBlob }));
    expect(wd.Plaintext).toHaveLength(32);
  });

  it('GenerateDataKeyPair[WithoutPlaintext] return a DER key pair whose private key decrypts from the blob', async () => {
    const p = await admin.send(new GenerateDataKeyPairCommand({ KeyId: key, KeyPairSpec: 'ECC_NIST_P256' }));
    expect(p.KeyPairSpec).toBe('ECC_NIST_P256');
    expect(
      createPublicKey({ key: Buffer.from(p.PublicKey!), format: 'der', type: 'spki' }).asymmetricKeyType,
    ).toBe('ec');
    const d = await admin.send(new DecryptCommand({ CiphertextBlob: p.PrivateKeyCiphertextBlob }));
    expect(Buffer.from(d.Plaintext!).equals(Buffer.from(p.PrivateKeyPlaintext!))).toBe(true);
    const w = await admin.send(
      new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: key, KeyPairSpec: 'RSA_2048' }),
    );
    expect(w.KeyId).toBe(arn);
    expect(w.PrivateKeyCiphertextBlob!.length).toBeGreaterThan(1000);
    expect(
      await errorName(admin.send(new GenerateDataKeyPairCommand({ KeyId: key, KeyPairSpec: 'SM2' }))),
    ).toBe('ValidationException');
  });

  it('GenerateRandom gives 1-1024 bytes to any authenticated caller', async () => {
    expect((await alice.send(new GenerateRandomCommand({ NumberOfBytes: 1024 }))).Plaintext).toHaveLength(
      1024,
    );
    expect(await errorName(admin.send(new GenerateRandomCommand({ NumberOfBytes: 0 })))).toBe(
      'ValidationException',
    );
    expect(await errorName(admin.send(new GenerateRandomCommand({})))).toBe('ValidationException');
    expect(
      await errorName(admin.send(new GenerateRandomCommand({ NumberOfBytes: 8, CustomKeyStoreId: 'cks-1' }))),
    ).toBe('UnsupportedOperationException');
  });
});

describe('key states', () => {
  const ops = (c: KMSClient, id: string, blob: Uint8Array) => ({
    Encrypt: () => c.send(new EncryptCommand({ KeyId: id, Plaintext: utf8('x') })),
    Decrypt: () => c.send(new DecryptCommand({ CiphertextBlob: blob })),
    ReEncrypt: () => c.send(new ReEncryptCommand({ CiphertextBlob: blob, DestinationKeyId: key })),
    GenerateDataKey: () => c.send(new GenerateDataKeyCommand({ KeyId: id, NumberOfBytes: 32 })),
    GenerateDataKeyWithoutPlaintext: () =>
      c.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: id, NumberOfBytes: 32 })),
    GenerateDataKeyPair: () =>
      c.send(new GenerateDataKeyPairCommand({ KeyId: id, KeyPairSpec: 'ECC_NIST_P256' })),
    GenerateDataKeyPairWithoutPlaintext: () =>
      c.send(new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: id, KeyPairSpec: 'ECC_NIST_P256' })),
  });

  it('Disabled → DisabledException, PendingDeletion → KMSInvalidStateException, then back to Enabled', async () => {
    const id = await newKey();
    const blob = (await admin.send(new EncryptCommand({ KeyId: id, Plaintext: utf8('x') }))).CiphertextBlob!;
    await admin.send(new DisableKeyCommand({ KeyId: id }));
    for (const [name, f] of Object.entries(ops(admin, id, blob))) {
      expect([name, await errorName(f())]).toEqual([name, 'DisabledException']);
    }
    await admin.send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 7 }));
    for (const [name, f] of Object.entries(ops(admin, id, blob))) {
      expect([name, await errorName(f())]).toEqual([name, 'KMSInvalidStateException']);
    }
    await admin.send(new CancelKeyDeletionCommand({ KeyId: id }));
    expect(await errorName(ops(admin, id, blob).Encrypt())).toBe('DisabledException');
    await admin.send(new EnableKeyCommand({ KeyId: id }));
    for (const [name, f] of Object.entries(ops(admin, id, blob)))
      expect([name, await errorName(f())]).toEqual([name, 'OK']);
  });

  it('a caller without policy or grant is denied every data operation', async () => {
    const blob = (await admin.send(new EncryptCommand({ KeyId: key, Plaintext: utf8('x') }))).CiphertextBlob!;
    for (const [name, f] of Object.entries(ops(alice, key, blob))) {
      expect([name, await errorName(f())]).toEqual([name, 'AccessDeniedException']);
    }
  });
});
