/**
 * Management operations through @aws-sdk/client-kms: key lifecycle, rotation, aliases, grants, key policies and
 * tags, with pagination, key-state errors, and authorization of an ordinary principal through the key policy
 * and through grants (with encryption context constraints and grant tokens).
 */
import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateGrantCommand,
  CreateKeyCommand,
  type CreateKeyCommandInput,
  DecryptCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  DisableKeyRotationCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  type KMSClient,
  ListAliasesCommand,
  ListGrantsCommand,
  ListKeyPoliciesCommand,
  ListKeyRotationsCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
  ListRetirableGrantsCommand,
  PutKeyPolicyCommand,
  paginateListKeys,
  RetireGrantCommand,
  RevokeGrantCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateAliasCommand,
  UpdateKeyDescriptionCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARN, CREDENTIALS, errorName, type Harness, startHarness } from '../testing/harness.ts';

let h: Harness;
let admin: KMSClient;
let alice: KMSClient;
let bob: KMSClient;
const ALICE = CREDENTIALS.alice.caller.name;
const BOB = CREDENTIALS.bob.caller.name;
const pt = Buffer.from('secret');

async function newKey(input: CreateKeyCommandInput = {}, c?: KMSClient): Promise<string> {
  return (await (c ?? admin).send(new CreateKeyCommand(input))).KeyMetadata!.KeyId!;
}

const policyDoc = (statements: object[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });

beforeAll(async () => {
  h = await startHarness();
  admin = h.client('admin');
  alice = h.client('alice');
  bob = h.client('bob');
});

afterAll(async () => {
  expect(h.violations).toEqual([]);
  expect(h.seen.filter((s) => s.status >= 500)).toEqual([]);
  await h.close();
});

describe('key lifecycle', () => {
  it('CreateKey and DescribeKey give AWS KeyMetadata for every key type', async () => {
    const out = await admin.send(
      new CreateKeyCommand({ Description: 'd', Tags: [{ TagKey: 'team', TagValue: 'a' }] }),
    );
    const m = out.KeyMetadata!;
    expect(m).toMatchObject({
      AWSAccountId: ARN.account,
      Arn: `arn:aws:kms:${ARN.region}:${ARN.account}:key/${m.KeyId}`,
      Enabled: true,
      KeyState: 'Enabled',
      KeyUsage: 'ENCRYPT_DECRYPT',
      KeySpec: 'SYMMETRIC_DEFAULT',
      CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT',
      Origin: 'AWS_KMS',
      KeyManager: 'CUSTOMER',
      MultiRegion: false,
      EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
      Description: 'd',
    });
    expect(m.CreationDate).toBeInstanceOf(Date);
    expect(Math.abs(m.CreationDate!.getTime() - Date.now())).toBeLessThan(60_000);
    for (const [spec, usage, member] of [
      ['HMAC_384', 'GENERATE_VERIFY_MAC', 'MacAlgorithms'],
      ['RSA_2048', 'SIGN_VERIFY', 'SigningAlgorithms'],
      ['ECC_NIST_P521', 'KEY_AGREEMENT', 'KeyAgreementAlgorithms'],
      ['ML_DSA_44', 'SIGN_VERIFY', 'SigningAlgorithms'],
    ] as const) {
      const d = (
        await admin.send(new DescribeKeyCommand({ KeyId: await newKey({ KeySpec: spec, KeyUsage: usage }) }))
      ).KeyMetadata!;
      expect([spec, d.KeyUsage, d[member]?.length]).toEqual([spec, usage, expect.any(Number)]);
      expect(d.EncryptionAlgorithms).toBeUndefined();
    }
  });

  it('CreateKey refuses what kubekms does not support and invalid combinations', async () => {
    const cases: [CreateKeyCommandInput, string][] = [
      [{ Origin: 'EXTERNAL' }, 'UnsupportedOperationException'],
      [{ MultiRegion: true }, 'UnsupportedOperationException'],
      [{ CustomKeyStoreId: 'cks-1' }, 'UnsupportedOperationException'],
      [{ KeySpec: 'RSA_2048' }, 'ValidationException'],
      [{ KeySpec: 'ECC_NIST_P256', KeyUsage: 'ENCRYPT_DECRYPT' }, 'ValidationException'],
      [{ KeySpec: 'SYMMETRIC_DEFAULT', CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT' }, 'ValidationException'],
      [{ Description: 'x'.repeat(8193) }, 'ValidationException'],
      [{ Tags: [{ TagKey: 'aws:x', TagValue: 'y' }] }, 'TagException'],
      [{ Policy: '{not json' }, 'MalformedPolicyDocumentException'],
    ];
    for (const [input, want] of cases)
      expect([input, await errorName(admin.send(new CreateKeyCommand(input)))]).toEqual([input, want]);
    expect(
      (
        await admin.send(
          new CreateKeyCommand({ CustomerMasterKeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' }),
        )
      ).KeyMetadata!.KeySpec,
    ).toBe('HMAC_256');
  });

  it('ListKeys paginates with Truncated and NextMarker (and the SDK paginator follows them)', async () => {
    for (let i = 0; i < 5; i++) await newKey();
    const first = await admin.send(new ListKeysCommand({ Limit: 2 }));
    expect(first.Keys).toHaveLength(2);
    expect(first.Truncated).toBe(true);
    expect(first.NextMarker).toBeTruthy();
    const second = await admin.send(new ListKeysCommand({ Limit: 2, Marker: first.NextMarker }));
    expect(second.Keys![0]!.KeyId).not.toBe(first.Keys![0]!.KeyId);
    const all: string[] = [];
    for await (const page of paginateListKeys({ client: admin, pageSize: 3 }, {}))
      all.push(...page.Keys!.map((k) => k.KeyId!));
    expect(new Set(all).size).toBe(h.core.counts().keys);
    const last = await admin.send(new ListKeysCommand({ Limit: 1000 }));
    expect(last.Truncated).toBe(false);
    expect(last.NextMarker).toBeUndefined();
    expect(await errorName(admin.send(new ListKeysCommand({ Limit: 0 })))).toBe('ValidationException');
  });

  it('Enable/Disable, Schedule/Cancel deletion and UpdateKeyDescription follow the AWS state machine', async () => {
    const id = await newKey();
    await admin.send(new DisableKeyCommand({ KeyId: id }));
    expect((await admin.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata).toMatchObject({
      Enabled: false,
      KeyState: 'Disabled',
    });
    await admin.send(new EnableKeyCommand({ KeyId: id }));
    expect(await errorName(admin.send(new CancelKeyDeletionCommand({ KeyId: id })))).toBe(
      'KMSInvalidStateException',
    );
    expect(
      await errorName(admin.send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 6 }))),
    ).toBe('ValidationException');
    const s = await admin.send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 7 }));
    expect(s).toMatchObject({ KeyState: 'PendingDeletion', PendingWindowInDays: 7 });
    expect(s.KeyId).toContain(id);
    expect(s.DeletionDate!.getTime() - Date.now()).toBeGreaterThan(6.9 * 86_400_000);
    const d = (await admin.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!;
    expect(d.PendingDeletionWindowInDays).toBe(7);
    expect(d.DeletionDate).toBeInstanceOf(Date);
    expect(await errorName(admin.send(new ScheduleKeyDeletionCommand({ KeyId: id })))).toBe(
      'KMSInvalidStateException',
    );
    expect(await errorName(admin.send(new EnableKeyCommand({ KeyId: id })))).toBe('KMSInvalidStateException');
    expect(
      await errorName(admin.send(new UpdateKeyDescriptionCommand({ KeyId: id, Description: 'x' }))),
    ).toBe('OK');
    expect(
      await errorName(admin.send(new CreateAliasCommand({ AliasName: 'alias/doomed', TargetKeyId: id }))),
    ).toBe('KMSInvalidStateException');
    expect(
      await errorName(
        admin.send(new CreateGrantCommand({ KeyId: id, GranteePrincipal: ALICE, Operations: ['Encrypt'] })),
      ),
    ).toBe('KMSInvalidStateException');
    expect((await admin.send(new CancelKeyDeletionCommand({ KeyId: id }))).KeyId).toContain(id);
    expect((await admin.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!.KeyState).toBe('Disabled');
    expect(
      await errorName(
        admin.send(new CreateGrantCommand({ KeyId: id, GranteePrincipal: ALICE, Operations: ['Encrypt'] })),
      ),
    ).toBe('DisabledException');
    await admin.send(new UpdateKeyDescriptionCommand({ KeyId: id, Description: 'new' }));
    expect((await admin.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!.Description).toBe('new');
    expect(
      await errorName(admin.send(new DescribeKeyCommand({ KeyId: '11111111-1111-4111-8111-111111111111' }))),
    ).toBe('NotFoundException');
  });

  it('the cluster-managed Secrets key appears as an AWS-managed key that users cannot change', async () => {
    const { ensureClusterKey } = await import('../../engine/ops-maintenance.ts');
    const id = await ensureClusterKey(h.core, 'alias/kubekms/secrets', 'cluster key');
    const d = (await admin.send(new DescribeKeyCommand({ KeyId: 'alias/kubekms/secrets' }))).KeyMetadata!;
    expect(d).toMatchObject({ KeyId: id, KeyManager: 'AWS' });
    expect(await errorName(admin.send(new DisableKeyCommand({ KeyId: id })))).toBe(
      'UnsupportedOperationException',
    );
  });
});

describe('rotation', () => {
  it('Enable/Disable/GetKeyRotationStatus, RotateKeyOnDemand and ListKeyRotations; old ciphertext still decrypts', async () => {
    const id = await newKey();
    expect((await admin.send(new GetKeyRotationStatusCommand({ KeyId: id }))).KeyRotationEnabled).toBe(false);
    await admin.send(new EnableKeyRotationCommand({ KeyId: id, RotationPeriodInDays: 90 }));
    const s = await admin.send(new GetKeyRotationStatusCommand({ KeyId: id }));
    expect(s).toMatchObject({ KeyRotationEnabled: true, RotationPeriodInDays: 90 });
    expect(s.NextRotationDate!.getTime() - Date.now()).toBeGreaterThan(89 * 86_400_000);
    expect(
      await errorName(admin.send(new EnableKeyRotationCommand({ KeyId: id, RotationPeriodInDays: 89 }))),
    ).toBe('ValidationException');
    const before = await admin.send(new EncryptCommand({ KeyId: id, Plaintext: pt }));
    const material1 = (await admin.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!
      .CurrentKeyMaterialId;
    expect((await admin.send(new RotateKeyOnDemandCommand({ KeyId: id }))).KeyId).toContain(id);
    await admin.send(new RotateKeyOnDemandCommand({ KeyId: id }));
    const material3 = (await admin.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata!
      .CurrentKeyMaterialId;
    expect(material3).not.toBe(material1);
    const d = await admin.send(new DecryptCommand({ CiphertextBlob: before.CiphertextBlob }));
    expect(Buffer.from(d.Plaintext!).toString()).toBe('secret');
    expect(d.KeyMaterialId).toBe(material1);
    const page1 = await admin.send(new ListKeyRotationsCommand({ KeyId: id, Limit: 1 }));
    expect(page1.Rotations).toHaveLength(1);
    expect(page1.Rotations![0]).toMatchObject({ RotationType: 'ON_DEMAND', KeyMaterialState: 'NON_CURRENT' });
    expect(page1.Truncated).toBe(true);
    const page2 = await admin.send(
      new ListKeyRotationsCommand({ KeyId: id, Limit: 1, Marker: page1.NextMarker }),
    );
    expect(page2.Rotations![0]).toMatchObject({ KeyMaterialState: 'CURRENT', KeyMaterialId: material3 });
    expect(page2.Truncated).toBe(false);
    const all = await admin.send(
      new ListKeyRotationsCommand({ KeyId: id, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }),
    );
    expect(all.Rotations).toHaveLength(3);
    expect(all.Rotations![0]!.RotationDate).toBeUndefined();
    await admin.send(new DisableKeyRotationCommand({ KeyId: id }));
    expect((await admin.send(new GetKeyRotationStatusCommand({ KeyId: id }))).KeyRotationEnabled).toBe(false);
  });

  it('rotation refuses asymmetric keys and disabled keys', async () => {
    const ec = await newKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    expect(await errorName(admin.send(new EnableKeyRotationCommand({ KeyId: ec })))).toBe(
      'UnsupportedOperationException',
    );
    expect(await errorName(admin.send(new RotateKeyOnDemandCommand({ KeyId: ec })))).toBe(
      'UnsupportedOperationException',
    );
    const id = await newKey();
    await admin.send(new DisableKeyCommand({ KeyId: id }));
    expect(await errorName(admin.send(new EnableKeyRotationCommand({ KeyId: id })))).toBe(
      'DisabledException',
    );
    expect(await errorName(admin.send(new RotateKeyOnDemandCommand({ KeyId: id })))).toBe(
      'DisabledException',
    );
    expect(await errorName(alice.send(new RotateKeyOnDemandCommand({ KeyId: id })))).toBe(
      'AccessDeniedException',
    );
  });
});

describe('aliases', () => {
  it('Create/Update/Delete/ListAliases with names, ARNs and errors', async () => {
    const a = await newKey();
    const b = await newKey();
    await admin.send(new CreateAliasCommand({ AliasName: 'alias/app', TargetKeyId: a }));
    expect(
      await errorName(admin.send(new CreateAliasCommand({ AliasName: 'alias/app', TargetKeyId: a }))),
    ).toBe('AlreadyExistsException');
    expect(
      await errorName(admin.send(new CreateAliasCommand({ AliasName: 'alias/aws/s3', TargetKeyId: a }))),
    ).toBe('InvalidAliasNameException');
    expect(await errorName(admin.send(new CreateAliasCommand({ AliasName: 'app', TargetKeyId: a })))).toBe(
      'InvalidAliasNameException',
    );
    const list = await admin.send(new ListAliasesCommand({ KeyId: a }));
    expect(list.Aliases).toEqual([
      expect.objectContaining({
        AliasName: 'alias/app',
        AliasArn: `arn:aws:kms:${ARN.region}:${ARN.account}:alias/app`,
        TargetKeyId: a,
      }),
    ]);
    await admin.send(new UpdateAliasCommand({ AliasName: 'alias/app', TargetKeyId: b }));
    expect((await admin.send(new DescribeKeyCommand({ KeyId: 'alias/app' }))).KeyMetadata!.KeyId).toBe(b);
    const hmac = await newKey({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
    expect(
      await errorName(admin.send(new UpdateAliasCommand({ AliasName: 'alias/app', TargetKeyId: hmac }))),
    ).toBe('ValidationException');
    for (let i = 0; i < 3; i++)
      await admin.send(new CreateAliasCommand({ AliasName: `alias/page-${i}`, TargetKeyId: a }));
    const p1 = await admin.send(new ListAliasesCommand({ Limit: 2 }));
    expect(p1).toMatchObject({ Truncated: true });
    const p2 = await admin.send(new ListAliasesCommand({ Limit: 100, Marker: p1.NextMarker }));
    expect(p2.Truncated).toBe(false);
    await admin.send(new DeleteAliasCommand({ AliasName: 'alias/app' }));
    expect(await errorName(admin.send(new DeleteAliasCommand({ AliasName: 'alias/app' })))).toBe(
      'NotFoundException',
    );
    expect(
      await errorName(alice.send(new CreateAliasCommand({ AliasName: 'alias/alice', TargetKeyId: a }))),
    ).toBe('AccessDeniedException');
  });
});

describe('key policies', () => {
  it('GetKeyPolicy answers IAM-style JSON; PutKeyPolicy grants an ordinary principal exactly the listed actions', async () => {
    const id = await newKey();
    const got = await admin.send(new GetKeyPolicyCommand({ KeyId: id }));
    expect(got.PolicyName).toBe('default');
    const doc = JSON.parse(got.Policy!);
    expect(doc.Statement[0]).toMatchObject({
      Effect: 'Allow',
      Principal: { AWS: [CREDENTIALS.admin.caller.name] },
      Action: ['kms:*'],
      Resource: '*',
    });
    expect((await admin.send(new ListKeyPoliciesCommand({ KeyId: id }))).PolicyNames).toEqual(['default']);
    expect(await errorName(alice.send(new EncryptCommand({ KeyId: id, Plaintext: pt })))).toBe(
      'AccessDeniedException',
    );
    await admin.send(
      new PutKeyPolicyCommand({
        KeyId: id,
        Policy: policyDoc([
          ...doc.Statement,
          {
            Sid: 'AliceUses',
            Effect: 'Allow',
            Principal: { AWS: ALICE },
            Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:DescribeKey'],
            Resource: '*',
          },
        ]),
      }),
    );
    const e = await alice.send(new EncryptCommand({ KeyId: id, Plaintext: pt }));
    expect(
      Buffer.from(
        (await alice.send(new DecryptCommand({ CiphertextBlob: e.CiphertextBlob }))).Plaintext!,
      ).toString(),
    ).toBe('secret');
    expect(await errorName(alice.send(new DisableKeyCommand({ KeyId: id })))).toBe('AccessDeniedException');
    expect(await errorName(alice.send(new GetKeyPolicyCommand({ KeyId: id })))).toBe('AccessDeniedException');
    expect(await errorName(bob.send(new EncryptCommand({ KeyId: id, Plaintext: pt })))).toBe(
      'AccessDeniedException',
    );
    const round = JSON.parse((await admin.send(new GetKeyPolicyCommand({ KeyId: id }))).Policy!);
    expect(round.Statement[1]).toMatchObject({ Sid: 'AliceUses', Principal: { AWS: [ALICE] } });
  });

  it('a Deny statement wins; group principals match; unsupported elements are MalformedPolicyDocumentException', async () => {
    const id = await newKey();
    const admins = {
      Effect: 'Allow',
      Principal: { AWS: CREDENTIALS.admin.caller.name },
      Action: 'kms:*',
      Resource: '*',
    };
    await admin.send(
      new PutKeyPolicyCommand({
        KeyId: id,
        Policy: policyDoc([
          admins,
          { Effect: 'Allow', Principal: { AWS: 'group:team-a' }, Action: 'kms:Encrypt', Resource: '*' },
          { Effect: 'Allow', Principal: '*', Action: 'kms:DescribeKey', Resource: '*' },
          { Effect: 'Deny', Principal: { AWS: [BOB] }, Action: 'kms:Describe*', Resource: '*' },
        ]),
      }),
    );
    expect(await errorName(alice.send(new EncryptCommand({ KeyId: id, Plaintext: pt })))).toBe('OK');
    expect(await errorName(alice.send(new DescribeKeyCommand({ KeyId: id })))).toBe('OK');
    expect(await errorName(bob.send(new DescribeKeyCommand({ KeyId: id })))).toBe('AccessDeniedException');
    for (const bad of [
      [{ ...admins, Condition: { StringEquals: { 'kms:CallerAccount': '1' } } }],
      [{ ...admins, Resource: 'arn:aws:kms:*' }],
      [{ ...admins, Principal: { Service: 'ec2.amazonaws.com' } }],
      [{ Effect: 'Allow', NotPrincipal: { AWS: 'x' }, Action: 'kms:*', Resource: '*' }],
      [{ ...admins, Action: 's3:GetObject' }],
      [{ ...admins, Action: 'kms:NoSuchAction' }],
    ]) {
      expect(
        await errorName(admin.send(new PutKeyPolicyCommand({ KeyId: id, Policy: policyDoc(bad) }))),
      ).toBe('MalformedPolicyDocumentException');
    }
    expect(
      await errorName(
        admin.send(
          new PutKeyPolicyCommand({
            KeyId: id,
            Policy: policyDoc([{ ...admins, Principal: { AWS: ALICE } }]),
          }),
        ),
      ),
    ).toBe('OK'); // admins pass the lockout check: they may always manage every key
    expect(
      await errorName(
        alice.send(new CreateKeyCommand({ Policy: policyDoc([{ ...admins, Principal: { AWS: BOB } }]) })),
      ),
    ).toBe('MalformedPolicyDocumentException'); // lockout safety check
    expect(
      await errorName(
        alice.send(
          new CreateKeyCommand({
            Policy: policyDoc([{ ...admins, Principal: { AWS: BOB } }]),
            BypassPolicyLockoutSafetyCheck: true,
          }),
        ),
      ),
    ).toBe('OK');
    expect(await errorName(admin.send(new GetKeyPolicyCommand({ KeyId: id, PolicyName: 'other' })))).toBe(
      'NotFoundException',
    );
    expect(
      await errorName(admin.send(new PutKeyPolicyCommand({ KeyId: id, Policy: 'x'.repeat(40_000) }))),
    ).toBe('LimitExceededException');
  });
});

describe('grants', () => {
  it('a grant with an encryption context constraint lets the grantee use the key exactly as granted', async () => {
    const id = await newKey();
    const g = await admin.send(
      new CreateGrantCommand({
        KeyId: id,
        GranteePrincipal: ALICE,
        RetiringPrincipal: BOB,
        Operations: ['Encrypt', 'Decrypt'],
        Constraints: { EncryptionContextSubset: { tenant: 'a' } },
        Name: 'alice-a',
      }),
    );
    expect(g.GrantId).toMatch(/^[0-9a-f]{64}$/);
    const again = await admin.send(
      new CreateGrantCommand({
        KeyId: id,
        GranteePrincipal: ALICE,
        RetiringPrincipal: BOB,
        Operations: ['Decrypt', 'Encrypt'],
        Constraints: { EncryptionContextSubset: { tenant: 'a' } },
        Name: 'alice-a',
      }),
    );
    expect(again.GrantId).toBe(g.GrantId);
    const e = await alice.send(
      new EncryptCommand({
        KeyId: id,
        Plaintext: pt,
        EncryptionContext: { tenant: 'a', x: '1' },
        GrantTokens: [g.GrantToken!],
      }),
    );
    expect(
      await errorName(
        alice.send(
          new DecryptCommand({
            CiphertextBlob: e.CiphertextBlob,
            EncryptionContext: { tenant: 'a', x: '1' },
          }),
        ),
      ),
    ).toBe('OK');
    expect(
      await errorName(
        alice.send(new EncryptCommand({ KeyId: id, Plaintext: pt, EncryptionContext: { tenant: 'b' } })),
      ),
    ).toBe('AccessDeniedException');
    expect(await errorName(alice.send(new EncryptCommand({ KeyId: id, Plaintext: pt })))).toBe(
      'AccessDeniedException',
    );
    expect(
      await errorName(
        alice.send(
          new EncryptCommand({
            KeyId: id,
            Plaintext: pt,
            EncryptionContext: { tenant: 'a' },
            GrantTokens: ['bogus'],
          }),
        ),
      ),
    ).toBe('InvalidGrantTokenException');
    expect(await errorName(alice.send(new DescribeKeyCommand({ KeyId: id })))).toBe('AccessDeniedException');

    const list = await admin.send(new ListGrantsCommand({ KeyId: id }));
    expect(list.Grants).toEqual([
      expect.objectContaining({
        GrantId: g.GrantId,
        Name: 'alice-a',
        GranteePrincipal: ALICE,
        RetiringPrincipal: BOB,
        KeyId: `arn:aws:kms:${ARN.region}:${ARN.account}:key/${id}`,
        Constraints: { EncryptionContextSubset: { tenant: 'a' } },
      }),
    ]);
    expect((await bob.send(new ListRetirableGrantsCommand({ RetiringPrincipal: BOB }))).Grants).toHaveLength(
      1,
    );
    expect(await errorName(alice.send(new ListRetirableGrantsCommand({ RetiringPrincipal: BOB })))).toBe(
      'AccessDeniedException',
    );
    expect(await errorName(alice.send(new RetireGrantCommand({ GrantToken: g.GrantToken })))).toBe(
      'AccessDeniedException',
    );
    expect(
      await errorName(bob.send(new RetireGrantCommand({ GrantToken: g.GrantToken, DryRun: true }))),
    ).toBe('DryRunOperationException');
    await bob.send(new RetireGrantCommand({ GrantToken: g.GrantToken }));
    expect(
      await errorName(
        alice.send(new EncryptCommand({ KeyId: id, Plaintext: pt, EncryptionContext: { tenant: 'a' } })),
      ),
    ).toBe('AccessDeniedException');
    expect(await errorName(bob.send(new RetireGrantCommand({ GrantToken: g.GrantToken })))).toBe(
      'InvalidGrantTokenException',
    );
  });

  it('RevokeGrant, DryRun, grant operations that do not fit the key, and unsupported grantees', async () => {
    const id = await newKey();
    const g = await admin.send(
      new CreateGrantCommand({ KeyId: id, GranteePrincipal: ALICE, Operations: ['GenerateDataKey'] }),
    );
    expect(
      await errorName(
        admin.send(new CreateGrantCommand({ KeyId: id, GranteePrincipal: ALICE, Operations: ['Sign'] })),
      ),
    ).toBe('ValidationException');
    expect(
      await errorName(
        admin.send(
          new CreateGrantCommand({
            KeyId: id,
            GranteePrincipal: ALICE,
            Operations: ['Encrypt'],
            DryRun: true,
          }),
        ),
      ),
    ).toBe('DryRunOperationException');
    expect((await admin.send(new ListGrantsCommand({ KeyId: id }))).Grants).toHaveLength(1);
    expect(
      await errorName(
        admin.send(
          new CreateGrantCommand({
            KeyId: id,
            GranteeServicePrincipal: 'ec2.amazonaws.com',
            Operations: ['Encrypt'],
          }),
        ),
      ),
    ).toBe('UnsupportedOperationException');
    expect(
      await errorName(
        alice.send(
          new CreateGrantCommand({ KeyId: id, GranteePrincipal: BOB, Operations: ['GenerateDataKey'] }),
        ),
      ),
    ).toBe('AccessDeniedException');
    expect(await errorName(alice.send(new RevokeGrantCommand({ KeyId: id, GrantId: g.GrantId })))).toBe(
      'AccessDeniedException',
    );
    expect(
      await errorName(admin.send(new RevokeGrantCommand({ KeyId: id, GrantId: g.GrantId, DryRun: true }))),
    ).toBe('DryRunOperationException');
    await admin.send(new RevokeGrantCommand({ KeyId: id, GrantId: g.GrantId }));
    expect(await errorName(admin.send(new RevokeGrantCommand({ KeyId: id, GrantId: g.GrantId })))).toBe(
      'InvalidGrantIdException',
    );
    expect((await admin.send(new ListGrantsCommand({ KeyId: id }))).Grants).toEqual([]);
  });
});

describe('tags', () => {
  it('Tag/Untag/ListResourceTags with pagination and reserved keys', async () => {
    const id = await newKey();
    await admin.send(
      new TagResourceCommand({
        KeyId: id,
        Tags: [
          { TagKey: 'a', TagValue: '1' },
          { TagKey: 'b', TagValue: '2' },
          { TagKey: 'c', TagValue: '' },
        ],
      }),
    );
    const p1 = await admin.send(new ListResourceTagsCommand({ KeyId: id, Limit: 2 }));
    expect(p1.Tags).toEqual([
      { TagKey: 'a', TagValue: '1' },
      { TagKey: 'b', TagValue: '2' },
    ]);
    expect(p1.Truncated).toBe(true);
    const p2 = await admin.send(new ListResourceTagsCommand({ KeyId: id, Marker: p1.NextMarker }));
    expect(p2.Tags).toEqual([{ TagKey: 'c', TagValue: '' }]);
    await admin.send(new UntagResourceCommand({ KeyId: id, TagKeys: ['a', 'c'] }));
    expect((await admin.send(new ListResourceTagsCommand({ KeyId: id }))).Tags).toEqual([
      { TagKey: 'b', TagValue: '2' },
    ]);
    expect(
      await errorName(
        admin.send(new TagResourceCommand({ KeyId: id, Tags: [{ TagKey: 'aws:x', TagValue: '1' }] })),
      ),
    ).toBe('TagException');
    expect(
      await errorName(
        alice.send(new TagResourceCommand({ KeyId: id, Tags: [{ TagKey: 'x', TagValue: '1' }] })),
      ),
    ).toBe('AccessDeniedException');
    await admin.send(new ScheduleKeyDeletionCommand({ KeyId: id }));
    expect(await errorName(admin.send(new ListResourceTagsCommand({ KeyId: id })))).toBe('OK');
  });
});
