/**
 * Issue 16.2: the key that wraps kube-apiserver's DEK seeds serves the KMS v2 plugin only. Through the AWS API,
 * administrators included, no data operation and no CreateGrant on it: a KMS v2 ciphertext never opens there, no
 * seed can be made there for the plugin, and no grant can hand either to someone else. Reads still show the key.
 */
import {
  CreateAliasCommand,
  CreateGrantCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  ListAliasesCommand,
  ReEncryptCommand,
} from '@aws-sdk/client-kms';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureClusterKey, SECRETS_KEY_ALIAS } from '../engine/ops-maintenance.ts';
import { KmsV2Plugin } from '../kmsv2/plugin.ts';
import { CREDENTIALS, errorName, type Harness, startHarness } from './testing/harness.ts';

let h: Harness;
afterEach(async () => {
  expect(h.violations).toEqual([]);
  await h.close();
});

describe('the Secrets key through the AWS API', () => {
  it('refuses every data operation and CreateGrant for the admin; DescribeKey and ListAliases show it', async () => {
    h = await startHarness();
    const keyId = await ensureClusterKey(
      h.core,
      SECRETS_KEY_ALIAS,
      'kubekms: wraps kube-apiserver DEK seeds',
    );
    const plugin = new KmsV2Plugin({ core: h.core, secretsKey: SECRETS_KEY_ALIAS });
    const seed = plugin.encrypt(new Uint8Array(32).fill(7));
    const admin = h.client('admin');
    const mine = (await admin.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    for (const ref of [SECRETS_KEY_ALIAS, keyId, h.core.arnOf(keyId)]) {
      const calls: [string, Promise<unknown>][] = [
        ['Encrypt', admin.send(new EncryptCommand({ KeyId: ref, Plaintext: new Uint8Array(32) }))],
        ['GenerateDataKey', admin.send(new GenerateDataKeyCommand({ KeyId: ref, KeySpec: 'AES_256' }))],
        [
          'GenerateDataKeyWithoutPlaintext',
          admin.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: ref, KeySpec: 'AES_256' })),
        ],
        ['Decrypt', admin.send(new DecryptCommand({ KeyId: ref, CiphertextBlob: seed.ciphertext }))],
        [
          'CreateGrant',
          admin.send(
            new CreateGrantCommand({
              KeyId: ref,
              GranteePrincipal: CREDENTIALS.alice.caller.name,
              Operations: ['Decrypt'],
            }),
          ),
        ],
      ];
      for (const [op, p] of calls) expect(`${op} ${await errorName(p)}`).toBe(`${op} AccessDeniedException`);
    }
    // A KMS v2 ciphertext sent without a KeyId does not open either (it is not an AWS API ciphertext: ADR 0017).
    expect(await errorName(admin.send(new DecryptCommand({ CiphertextBlob: seed.ciphertext })))).toMatch(
      /^(AccessDeniedException|InvalidCiphertextException)$/,
    );
    expect(
      await errorName(
        admin.send(new ReEncryptCommand({ CiphertextBlob: seed.ciphertext, DestinationKeyId: mine })),
      ),
    ).toMatch(/^(AccessDeniedException|InvalidCiphertextException)$/);
    expect(h.seen.some((s) => s.status === 200 && s.operation === 'Decrypt')).toBe(false);
    const described = await admin.send(new DescribeKeyCommand({ KeyId: SECRETS_KEY_ALIAS }));
    expect(described.KeyMetadata?.KeyId).toBe(keyId);
    const aliases = await admin.send(new ListAliasesCommand({}));
    expect(aliases.Aliases?.map((a) => a.AliasName)).toContain(SECRETS_KEY_ALIAS);
    // The plugin itself is unaffected.
    const opened = plugin.decrypt(seed.ciphertext, seed.keyId, {}, 'uid');
    expect(Buffer.from(opened)).toEqual(Buffer.alloc(32, 7));
  });

  it('a customer key named by --secrets-key: its AWS-made ciphertexts and earlier grants stop working', async () => {
    h = await startHarness({ pluginOnlyKeys: [SECRETS_KEY_ALIAS, 'alias/app-secrets'] });
    const admin = h.client('admin');
    const keyId = (await admin.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const blob = (await admin.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('seed') })))
      .CiphertextBlob!;
    await admin.send(
      new CreateGrantCommand({
        KeyId: keyId,
        GranteePrincipal: CREDENTIALS.alice.caller.name,
        Operations: ['Decrypt'],
      }),
    );
    expect(await errorName(h.client('alice').send(new DecryptCommand({ CiphertextBlob: blob })))).toBe('OK');
    // The key becomes the Secrets key.
    await admin.send(new CreateAliasCommand({ AliasName: 'alias/app-secrets', TargetKeyId: keyId }));
    expect(await errorName(h.client('alice').send(new DecryptCommand({ CiphertextBlob: blob })))).toBe(
      'AccessDeniedException',
    );
    expect(await errorName(admin.send(new DecryptCommand({ CiphertextBlob: blob })))).toBe(
      'AccessDeniedException',
    );
    const other = (await admin.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    expect(
      await errorName(admin.send(new ReEncryptCommand({ CiphertextBlob: blob, DestinationKeyId: other }))),
    ).toBe('AccessDeniedException');
    expect(h.seen.filter((s) => s.status === 200 && s.operation === 'Decrypt')).toHaveLength(1);
  });
});
