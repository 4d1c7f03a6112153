/**
 * The AWS API in cluster mode (`kubekms serve --operator --aws-management=cluster`) against a real
 * kube-apiserver 1.36 + etcd: @aws-sdk/client-kms management calls become KmsKey/KmsAlias/KmsGrant objects that
 * the operator reconciles, and the answers come once the engine has the result. Issue 8. One control plane for
 * the whole file.
 */

import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateGrantCommand,
  CreateKeyCommand,
  DecryptCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GetKeyPolicyCommand,
  KMSClient,
  ListGrantsCommand,
  ListKeyRotationsCommand,
  PutKeyPolicyCommand,
  RetireGrantCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  TagResourceCommand,
  UpdateKeyDescriptionCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlPlane, freePort, type Plugin } from '../controlplane/harness.ts';
import { errorName } from './aws-helpers.ts';
import { keepLogsOnFailure } from './lifecycle.ts';
import {
  get,
  type Obj,
  ready,
  startOperatorControlPlane,
  waitGone,
  waitOperatorLeader,
} from './operator-helpers.ts';

keepLogsOnFailure();

const NS = 'kubekms';
let cp: ControlPlane;
let plugin: Plugin;
let kms: KMSClient;
/** An ordinary caller: the service account apps/web, no admin. */
let web: KMSClient;
let port = 0;
const credsDir = mkdtempSync(join(tmpdir(), 'kubekms-awsc-creds-'));
const credsFile = join(credsDir, 'credentials.json');

async function list(kind: string): Promise<Obj[]> {
  const out = JSON.parse(await cp.apiserver.kubectl(['get', kind, '-A', '-o', 'json'])) as { items: Obj[] };
  return out.items;
}

const keyObjectOf = async (keyId: string): Promise<Obj | undefined> =>
  (await list('kmskeys')).find((o) => o.status?.keyId === keyId);

beforeAll(async () => {
  port = await freePort();
  writeFileSync(
    credsFile,
    JSON.stringify({
      credentials: [
        {
          accessKeyId: 'AKIAWEB',
          secretAccessKey: 'web-secret',
          principal: 'system:serviceaccount:apps:web',
        },
      ],
    }),
  );
  chmodSync(credsFile, 0o600);
  cp = await startOperatorControlPlane('kubekms-awsc-', () => [
    '--aws-credentials',
    credsFile,
    '--aws-listen',
    `127.0.0.1:${port}`,
    '--aws-management',
    'cluster',
    '--namespace',
    NS,
  ]);
  // A fresh start, so the operator's list/watch backoff from the API's start-up does not delay the suite.
  plugin = await cp.plugin!.restart();
  await waitOperatorLeader(plugin);
  kms = new KMSClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  web = new KMSClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIAWEB', secretAccessKey: 'web-secret' },
    maxAttempts: 1,
  });
}, 300_000);

afterAll(() => {
  kms?.destroy();
  web?.destroy();
  rmSync(credsDir, { recursive: true, force: true });
});

describe('AWS API in cluster mode: management through the custom resources', () => {
  let keyId = '';
  let objName = '';

  it('CreateKey creates a KmsKey in the namespace and answers once it is Ready', async () => {
    const out = await kms.send(
      new CreateKeyCommand({
        Description: 'made through the AWS API',
        Tags: [{ TagKey: 'team', TagValue: 'a' }],
      }),
    );
    keyId = out.KeyMetadata!.KeyId!;
    expect(out.KeyMetadata).toMatchObject({
      KeyState: 'Enabled',
      KeySpec: 'SYMMETRIC_DEFAULT',
      Description: 'made through the AWS API',
      Arn: `arn:aws:kms:us-east-1:000000000000:key/${keyId}`,
    });
    const o = await keyObjectOf(keyId);
    expect(o?.metadata.namespace).toBe(NS);
    expect(o?.metadata.name).toMatch(/^aws-/);
    expect(ready(o)?.status).toBe('True');
    expect(o?.spec).toMatchObject({ description: 'made through the AWS API', tags: { team: 'a' } });
    objName = o!.metadata.name;
  });

  it('bad input is refused before any KmsKey is written', async () => {
    const before = (await list('kmskeys')).length;
    expect(
      await errorName(kms.send(new CreateKeyCommand({ KeySpec: 'AES_999' as 'SYMMETRIC_DEFAULT' }))),
    ).toBe('ValidationException');
    expect(
      await errorName(
        kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'ENCRYPT_DECRYPT' })),
      ),
    ).toBe('ValidationException');
    // A key policy with management actions has no KmsKey form.
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: 'bob' }, Action: 'kms:DisableKey', Resource: '*' }],
    });
    expect(await errorName(kms.send(new PutKeyPolicyCommand({ KeyId: keyId, Policy: policy })))).toBe(
      'MalformedPolicyDocumentException',
    );
    expect((await list('kmskeys')).length).toBe(before);
  });

  it('CreateAlias creates a KmsAlias; Encrypt/Decrypt work through the alias', async () => {
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/app', TargetKeyId: keyId }));
    const a = (await list('kmsaliases')).find((x) => x.spec.aliasName === 'alias/app');
    expect(a?.metadata.namespace).toBe(NS);
    expect(a?.spec.targetKeyRef).toEqual({ name: objName });
    expect(ready(a)?.status).toBe('True');
    const enc = await kms.send(
      new EncryptCommand({
        KeyId: 'alias/app',
        Plaintext: Buffer.from('hello'),
        EncryptionContext: { a: 'b' },
      }),
    );
    expect(enc.KeyId).toBe(`arn:aws:kms:us-east-1:000000000000:key/${keyId}`);
    const dec = await kms.send(
      new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { a: 'b' } }),
    );
    expect(Buffer.from(dec.Plaintext!).toString()).toBe('hello');
  });

  it("authorization is the engine's: a denied caller writes nothing; PutKeyPolicy becomes spec.policy", async () => {
    expect(await errorName(web.send(new DisableKeyCommand({ KeyId: keyId })))).toBe('AccessDeniedException');
    expect(await errorName(web.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })))).toBe(
      'AccessDeniedException',
    );
    const generation = (await get(cp.apiserver, 'kmskey', NS, objName))?.metadata.generation;
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { AWS: 'kubekms:dev:test' }, Action: 'kms:*', Resource: '*' },
        {
          Effect: 'Allow',
          Principal: { AWS: 'system:serviceaccount:apps:web' },
          Action: ['kms:Encrypt', 'kms:Decrypt'],
          Resource: '*',
        },
      ],
    });
    await kms.send(new PutKeyPolicyCommand({ KeyId: keyId, Policy: policy }));
    const o = await get(cp.apiserver, 'kmskey', NS, objName);
    expect(o?.metadata.generation).toBe((generation ?? 0) + 1);
    expect((o?.spec.policy as { statements?: unknown[] } | undefined)?.statements?.[1]).toEqual({
      effect: 'Allow',
      subjects: [{ serviceAccount: { namespace: 'apps', name: 'web' } }],
      operations: ['Decrypt', 'Encrypt'],
    });
    const enc = await web.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('from web') }));
    const dec = await web.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }));
    expect(Buffer.from(dec.Plaintext!).toString()).toBe('from web');
    // Still not an administrator: the policy grants usage only.
    expect(await errorName(web.send(new DisableKeyCommand({ KeyId: keyId })))).toBe('AccessDeniedException');
    const p = JSON.parse((await kms.send(new GetKeyPolicyCommand({ KeyId: keyId }))).Policy!) as {
      Statement: { Sid: string }[];
    };
    expect(p.Statement.map((x) => x.Sid)).toEqual(['statement-0', 'statement-1']);
  });

  it('UpdateKeyDescription and TagResource patch the KmsKey spec', async () => {
    await kms.send(new UpdateKeyDescriptionCommand({ KeyId: keyId, Description: 'second' }));
    await kms.send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: 'env', TagValue: 'prod' }] }));
    const o = await get(cp.apiserver, 'kmskey', NS, objName);
    expect(o?.spec).toMatchObject({ description: 'second', tags: { team: 'a', env: 'prod' } });
    const d = await kms.send(new DescribeKeyCommand({ KeyId: keyId }));
    expect(d.KeyMetadata?.Description).toBe('second');
  });

  it('DisableKey sets spec.enabled=false; Encrypt is then DisabledException; EnableKey undoes it', async () => {
    await kms.send(new DisableKeyCommand({ KeyId: keyId }));
    expect((await get(cp.apiserver, 'kmskey', NS, objName))?.spec.enabled).toBe(false);
    expect(await errorName(kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })))).toBe(
      'DisabledException',
    );
    await kms.send(new EnableKeyCommand({ KeyId: keyId }));
    expect((await get(cp.apiserver, 'kmskey', NS, objName))?.spec.enabled).toBe(true);
    await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }));
  });

  it('CreateGrant creates a KmsGrant; RetireGrant deletes it and the grant is gone', async () => {
    const g = await kms.send(
      new CreateGrantCommand({
        KeyId: keyId,
        GranteePrincipal: 'system:serviceaccount:apps:web',
        Operations: ['Encrypt', 'Decrypt'],
        Constraints: { EncryptionContextSubset: { app: 'web' } },
      }),
    );
    expect(g.GrantId).toBeTruthy();
    expect(g.GrantToken).toBeTruthy();
    const o = (await list('kmsgrants')).find((x) => x.status?.grantId === g.GrantId);
    expect(o?.metadata.namespace).toBe(NS);
    expect(o?.spec).toMatchObject({
      keyRef: { name: objName },
      grantee: { serviceAccount: { namespace: 'apps', name: 'web' } },
      constraints: { encryptionContextSubset: { app: 'web' } },
    });
    const listed = await kms.send(new ListGrantsCommand({ KeyId: keyId }));
    expect(listed.Grants?.map((x) => x.GrantId)).toEqual([g.GrantId]);
    await kms.send(new RetireGrantCommand({ KeyId: keyId, GrantId: g.GrantId }));
    await waitGone(cp.apiserver, 'kmsgrant', NS, o!.metadata.name);
    expect((await kms.send(new ListGrantsCommand({ KeyId: keyId }))).Grants).toEqual([]);
  });

  it('EnableKeyRotation and RotateKeyOnDemand go through spec.rotation and spec.rotateNow', async () => {
    await kms.send(new EnableKeyRotationCommand({ KeyId: keyId, RotationPeriodInDays: 90 }));
    expect((await get(cp.apiserver, 'kmskey', NS, objName))?.spec.rotation).toEqual({
      enabled: true,
      periodDays: 90,
    });
    await kms.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
    const o = await get(cp.apiserver, 'kmskey', NS, objName);
    expect(String(o?.spec.rotateNow)).toMatch(/^aws-/);
    expect(o?.status?.rotateNow).toBe(o?.spec.rotateNow);
    expect(o?.status?.currentVersion).toBe(2);
    const r = await kms.send(new ListKeyRotationsCommand({ KeyId: keyId }));
    expect(r.Rotations?.map((x) => x.RotationType)).toEqual(['ON_DEMAND']);
  });

  it('ScheduleKeyDeletion deletes the KmsKey (held by its finalizer); CancelKeyDeletion brings it back, Disabled', async () => {
    const s = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
    expect(s).toMatchObject({ KeyState: 'PendingDeletion', PendingWindowInDays: 7 });
    const deleting = await get(cp.apiserver, 'kmskey', NS, objName);
    expect(deleting?.metadata.deletionTimestamp).toBeTruthy();
    expect(deleting?.spec.deletionWindowDays).toBe(7);
    expect(await errorName(kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })))).toBe(
      'KMSInvalidStateException',
    );

    const c = await kms.send(new CancelKeyDeletionCommand({ KeyId: keyId }));
    expect(c.KeyId).toBe(`arn:aws:kms:us-east-1:000000000000:key/${keyId}`);
    const again = await get(cp.apiserver, 'kmskey', NS, objName);
    expect(again?.metadata.deletionTimestamp).toBeUndefined();
    expect(again?.status?.keyId).toBe(keyId);
    expect(again?.spec.enabled).toBe(false);
    const d = await kms.send(new DescribeKeyCommand({ KeyId: keyId }));
    expect(d.KeyMetadata?.KeyState).toBe('Disabled');
    // Still managed by the cluster: EnableKey goes through the re-created object.
    await kms.send(new EnableKeyCommand({ KeyId: keyId }));
    expect((await get(cp.apiserver, 'kmskey', NS, objName))?.spec.enabled).toBe(true);
  });

  it('DeleteAlias deletes the KmsAlias and the alias', async () => {
    const a = (await list('kmsaliases')).find((x) => x.spec.aliasName === 'alias/app');
    await kms.send(new DeleteAliasCommand({ AliasName: 'alias/app' }));
    expect(await get(cp.apiserver, 'kmsalias', NS, a!.metadata.name)).toBeUndefined();
    expect(
      await errorName(kms.send(new EncryptCommand({ KeyId: 'alias/app', Plaintext: Buffer.from('x') }))),
    ).toBe('NotFoundException');
  });
});
