/**
 * The AWS Encryption SDK for JavaScript against kubekms, unmodified: a KMS keyring whose clientProvider points
 * at the listener (getClient(KMS, {endpoint, credentials})), key ARNs in the installation's region. A 1 MiB
 * message round-trips; a message encrypted for two keys decrypts with a keyring holding only the second one.
 */
import { randomBytes } from 'node:crypto';
import { buildClient, CommitmentPolicy, getClient, KmsKeyringNode } from '@aws-crypto/client-node';
import { CreateKeyCommand, DisableKeyCommand, KMS } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CREDENTIALS, type Harness, startHarness } from './testing/harness.ts';

let h: Harness;
let arn1: string;
let arn2: string;
const { encrypt, decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);

beforeAll(async () => {
  h = await startHarness();
  const admin = h.client();
  arn1 = (await admin.send(new CreateKeyCommand({ Description: 'esdk 1' }))).KeyMetadata!.Arn!;
  arn2 = (await admin.send(new CreateKeyCommand({ Description: 'esdk 2' }))).KeyMetadata!.Arn!;
});

afterAll(async () => {
  expect(h.violations).toEqual([]);
  await h.close();
});

function keyring(generatorKeyId: string, keyIds: string[] = []) {
  const c = CREDENTIALS.admin;
  const clientProvider = getClient(KMS, {
    endpoint: h.server.endpoint,
    credentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey },
  });
  return new KmsKeyringNode({ generatorKeyId, keyIds, clientProvider });
}

describe('AWS Encryption SDK (@aws-crypto/client-node)', () => {
  it('encrypts and decrypts a 1 MiB message through a KMS keyring', async () => {
    const plaintext = randomBytes(1024 * 1024);
    const context = { purpose: 'test', tenant: 'a' };
    const { result, messageHeader } = await encrypt(keyring(arn1), plaintext, { encryptionContext: context });
    expect(messageHeader.encryptedDataKeys.map((k) => k.providerInfo)).toEqual([arn1]);
    const out = await decrypt(keyring(arn1), result);
    expect(Buffer.compare(out.plaintext, plaintext)).toBe(0);
    expect(out.messageHeader.encryptionContext).toMatchObject(context);
    expect(
      h.seen.filter((s) => s.operation === 'GenerateDataKey' && s.status === 200).length,
    ).toBeGreaterThan(0);
  });

  it('a message for two keys decrypts with the second key alone (the first disabled)', async () => {
    const plaintext = randomBytes(4096);
    const { result, messageHeader } = await encrypt(keyring(arn1, [arn2]), plaintext);
    expect(messageHeader.encryptedDataKeys.map((k) => k.providerInfo)).toEqual([arn1, arn2]);
    await h.client().send(new DisableKeyCommand({ KeyId: arn1 }));
    await expect(decrypt(keyring(arn1), result)).rejects.toThrow();
    const out = await decrypt(keyring(arn2), result);
    expect(Buffer.compare(out.plaintext, plaintext)).toBe(0);
  });
});
