/**
 * The operator inside `kubekms serve --operator`, against a real kube-apiserver 1.36 + etcd: CRDs and CEL,
 * KmsKey/KmsAlias/KmsGrant reconciled into the engine that also serves the KMS v2 plugin, status, Events, the
 * mirrored Secrets key, disable → the plugin's Status fails, deletion with a short (test-only) window, and the
 * objects' status as metrics on /metrics. Issues 5 and 19. One control plane for the whole file.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ApiserverLikeClient } from '../../src/kmsv2/testing/apiserver-client.ts';
import type { ControlPlane, Plugin } from '../controlplane/harness.ts';
import { keepLogsOnFailure } from './lifecycle.ts';
import {
  apply,
  dryRunError,
  events,
  get,
  kmsKey,
  patchSpec,
  ready,
  startOperatorControlPlane,
  waitEvent,
  waitGone,
  waitObj,
  waitOperatorLeader,
  waitReady,
} from './operator-helpers.ts';
import { createNamespace, waitFor } from './secrets.ts';

keepLogsOnFailure();

let cp: ControlPlane;
let plugin: Plugin;
/** Flags added to the plugin command on its next (re)start. */
const extraFlags: string[] = [];

async function pluginStatus(): Promise<{ keyId: string; healthz: string }> {
  const c = new ApiserverLikeClient(plugin.socket);
  try {
    return await c.status();
  } finally {
    c.close();
  }
}

async function readyz(): Promise<string> {
  const r = await fetch(`http://${plugin.healthListen}/readyz`);
  return `${r.status} ${await r.text()}`;
}

beforeAll(async () => {
  cp = await startOperatorControlPlane('kubekms-op-', () => [
    '--test-deletion-window',
    '3s',
    '--maintenance-interval',
    '1s',
    ...extraFlags,
  ]);
  await createNamespace(cp.apiserver, 'apps');
  await createNamespace(cp.apiserver, 'other');
  // A fresh start, so the operator's list/watch backoff from the API's start-up does not delay the suite.
  plugin = await cp.plugin!.restart();
  await waitOperatorLeader(plugin);
}, 300_000);

describe('CRDs on a real API server', () => {
  it.each([
    [
      'keyUsage invalid for keySpec',
      kmsKey('apps', 'x', '{keySpec: ECC_NIST_P256}'),
      /keyUsage ENCRYPT_DECRYPT is not valid for keySpec ECC_NIST_P256/,
    ],
    [
      'HMAC needs GENERATE_VERIFY_MAC',
      kmsKey('apps', 'x', '{keySpec: HMAC_256}'),
      /not valid for keySpec HMAC_256/,
    ],
    [
      'rotation period below 90',
      kmsKey('apps', 'x', '{rotation: {enabled: true, periodDays: 30}}'),
      /periodDays.*greater than or equal to 90/,
    ],
    [
      'rotation of an asymmetric key',
      kmsKey('apps', 'x', '{keySpec: RSA_2048, keyUsage: SIGN_VERIFY, rotation: {enabled: true}}'),
      /automatic rotation is supported only/,
    ],
    [
      'deletion window above 30',
      kmsKey('apps', 'x', '{deletionWindowDays: 31}'),
      /deletionWindowDays.*less than or equal to 30/,
    ],
    [
      'reserved tag prefix',
      kmsKey('apps', 'x', '{tags: {"kubekms.io/owner": "me"}}'),
      /prefixes aws: and kubekms.io\/ are reserved/,
    ],
    [
      'subject with two identities',
      kmsKey(
        'apps',
        'x',
        '{policy: {statements: [{subjects: [{user: a, group: b}], operations: [Encrypt]}]}}',
      ),
      /exactly one of serviceAccount, user, group/,
    ],
    [
      'reserved alias prefix',
      'apiVersion: kubekms.io/v1alpha1\nkind: KmsAlias\nmetadata: {name: x, namespace: apps}\nspec: {aliasName: alias/kubekms/x, targetKeyRef: {name: k}}\n',
      /alias\/aws\/ and alias\/kubekms\/ are reserved/,
    ],
    [
      'alias name characters',
      'apiVersion: kubekms.io/v1alpha1\nkind: KmsAlias\nmetadata: {name: x, namespace: apps}\nspec: {aliasName: "alias/a b", targetKeyRef: {name: k}}\n',
      /should match/,
    ],
    [
      'alias with two targets',
      'apiVersion: kubekms.io/v1alpha1\nkind: KmsAlias\nmetadata: {name: x, namespace: apps}\nspec: {aliasName: alias/x, targetKeyRef: {name: k}, targetKeyId: 00000000-0000-4000-8000-000000000000}\n',
      /exactly one of targetKeyRef, targetKeyId/,
    ],
    [
      'grant constraints both ways',
      'apiVersion: kubekms.io/v1alpha1\nkind: KmsGrant\nmetadata: {name: x, namespace: apps}\nspec: {keyRef: {name: k}, grantee: {user: u}, operations: [Decrypt], constraints: {encryptionContextEquals: {a: b}, encryptionContextSubset: {a: b}}}\n',
      /mutually exclusive/,
    ],
    [
      'grant without operations',
      'apiVersion: kubekms.io/v1alpha1\nkind: KmsGrant\nmetadata: {name: x, namespace: apps}\nspec: {keyRef: {name: k}, grantee: {user: u}, operations: []}\n',
      /should have at least 1 items/,
    ],
  ])('rejects %s (kubectl apply --dry-run=server)', async (_name, yaml, want) => {
    expect(await dryRunError(cp.apiserver, yaml)).toMatch(want);
  });

  it('accepts a minimal KmsKey and applies the defaults', async () => {
    const out = await cp.apiserver.kubectl(['apply', '--dry-run=server', '-o', 'json', '-f', '-'], {
      input: kmsKey('apps', 'x', '{}'),
    });
    expect(JSON.parse(out).spec).toEqual({
      description: '',
      keySpec: 'SYMMETRIC_DEFAULT',
      keyUsage: 'ENCRYPT_DECRYPT',
      enabled: true,
      rotation: { enabled: false, periodDays: 365 },
      deletionWindowDays: 30,
      deletionPolicy: 'Delete',
    });
  });
});

describe('the cluster-managed Secrets key', () => {
  it('is mirrored read-only as kubekms/secrets with the key the plugin uses', async () => {
    const o = await waitReady(cp.apiserver, 'kmskey', 'kubekms', 'secrets');
    expect(ready(o)?.reason).toBe('ClusterManaged');
    expect((await pluginStatus()).keyId).toBe(`kubekms:${o.status?.keyId}:v1`);
    expect(o.status?.keyManager).toBe('CLUSTER');
  });

  it('reverts user edits with an Event saying why', async () => {
    await patchSpec(cp.apiserver, 'kmskey', 'kubekms', 'secrets', { enabled: false, tags: { a: 'b' } });
    const e = await waitEvent(cp.apiserver, 'kubekms', 'secrets', 'EditReverted');
    expect(e.type).toBe('Warning');
    expect(e.note).toMatch(/so spec.enabled, spec.tags was reverted/);
    const o = await waitObj(
      cp.apiserver,
      'kmskey',
      'kubekms',
      'secrets',
      'reverted',
      (x) => x.spec.enabled === true && x.spec.tags === undefined,
    );
    expect(o.status?.keyState).toBe('Enabled');
    expect((await pluginStatus()).healthz).toBe('ok');
  });
});

describe('KmsKey, KmsAlias and KmsGrant reconciled into the engine', () => {
  let keyId = '';

  it('creates the key, alias and grant, fills status and records Events', async () => {
    await apply(
      cp.apiserver,
      `${kmsKey('apps', 'orders', '{description: orders, rotation: {enabled: true, periodDays: 90}, policy: {statements: [{subjects: [{serviceAccount: {name: web}}], operations: [Encrypt, Decrypt]}]}, tags: {team: shop}}')}---
apiVersion: kubekms.io/v1alpha1
kind: KmsAlias
metadata: {name: orders, namespace: apps}
spec: {aliasName: alias/orders, targetKeyRef: {name: orders}}
---
apiVersion: kubekms.io/v1alpha1
kind: KmsGrant
metadata: {name: batch, namespace: apps}
spec: {keyRef: {name: orders}, grantee: {serviceAccount: {name: batch}}, operations: [Decrypt], constraints: {encryptionContextSubset: {app: orders}}}
`,
    );
    const k = await waitReady(cp.apiserver, 'kmskey', 'apps', 'orders');
    keyId = String(k.status?.keyId);
    expect(keyId).toMatch(/^[0-9a-f-]{36}$/);
    expect(k.status).toMatchObject({
      arn: `arn:aws:kms:us-east-1:000000000000:key/${keyId}`,
      keyState: 'Enabled',
      keyManager: 'CUSTOMER',
      currentVersion: 1,
      encryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
    });
    expect(k.status?.nextRotationTime).toMatch(/^\d{4}-/);
    expect(k.metadata.finalizers).toContain('kubekms.io/finalizer');
    expect(JSON.stringify(k.status)).not.toMatch(/material"|plaintext|grantToken/i);
    const a = await waitReady(cp.apiserver, 'kmsalias', 'apps', 'orders');
    expect(a.status).toMatchObject({
      targetKeyId: keyId,
      aliasArn: 'arn:aws:kms:us-east-1:000000000000:alias/orders',
    });
    const g = await waitReady(cp.apiserver, 'kmsgrant', 'apps', 'batch');
    expect(g.status).toMatchObject({ keyId, grantee: 'system:serviceaccount:apps:batch' });
    expect(String(g.status?.grantId)).toMatch(/^[0-9a-f]{64}$/);
    expect(Object.keys(g.status ?? {})).not.toContain('grantToken');
    const created = await waitEvent(cp.apiserver, 'apps', 'orders', 'KeyCreated');
    expect(created).toMatchObject({
      type: 'Normal',
      action: 'Create',
      reportingController: 'kubekms.io/operator',
    });
    expect(created.note).toContain(keyId);
    await waitEvent(cp.apiserver, 'apps', 'orders', 'AliasCreated', /alias\/orders/);
    await waitEvent(
      cp.apiserver,
      'apps',
      'batch',
      'GrantCreated',
      /system:serviceaccount:apps:batch Decrypt/,
    );
  });

  it('kubectl get kmskeys,kmsaliases,kmsgrants -A shows accurate columns', async () => {
    const out = await cp.apiserver.kubectl(['get', 'kmskeys,kmsaliases,kmsgrants', '-A']);
    const line = (re: RegExp) => out.split('\n').find((l) => re.test(l)) ?? '';
    expect(out).toMatch(/NAMESPACE\s+NAME\s+SPEC\s+USAGE\s+STATE\s+VERSION\s+READY\s+AGE/);
    expect(line(/kmskey.kubekms.io\/orders/)).toMatch(
      /^apps\s+kmskey.kubekms.io\/orders\s+SYMMETRIC_DEFAULT\s+ENCRYPT_DECRYPT\s+Enabled\s+1\s+True\s+\d+s/,
    );
    expect(line(/kmskey.kubekms.io\/secrets/)).toMatch(
      /^kubekms\s+kmskey.kubekms.io\/secrets\s+SYMMETRIC_DEFAULT\s+ENCRYPT_DECRYPT\s+Enabled\s+1\s+True/,
    );
    expect(out).toMatch(/NAMESPACE\s+NAME\s+ALIAS\s+TARGET\s+READY\s+AGE/);
    expect(line(/kmsalias.kubekms.io\/orders/)).toMatch(
      /^apps\s+kmsalias.kubekms.io\/orders\s+alias\/orders\s+orders\s+True/,
    );
    expect(out).toMatch(/NAMESPACE\s+NAME\s+KEY\s+GRANTEE\s+READY\s+AGE/);
    expect(line(/kmsgrant.kubekms.io\/batch/)).toMatch(
      /^apps\s+kmsgrant.kubekms.io\/batch\s+orders\s+system:serviceaccount:apps:batch\s+True/,
    );
    const wide = await cp.apiserver.kubectl(['get', 'kmskeys', '-n', 'apps', '-o', 'wide']);
    expect(wide).toMatch(/KEY-ID\s+ROTATION\s+NEXT-ROTATION\s+REASON/);
    expect(wide).toContain(keyId);
    expect(wide).toMatch(/true\s+\d{4}-\d\d-\d\dT[\d:.]+Z\s+KeyEnabled/);
    // kubectl get kubekms lists all three kinds (category).
    const all = await cp.apiserver.kubectl(['get', 'kubekms', '-n', 'apps', '-o', 'name']);
    for (const k of ['kmskey', 'kmsalias', 'kmsgrant']) expect(all).toContain(`${k}.kubekms.io/`);
  });

  it('applies spec changes, each with an Event; rotateNow rotates once per token', async () => {
    await patchSpec(cp.apiserver, 'kmskey', 'apps', 'orders', {
      description: 'orders v2',
      rotation: { enabled: false },
      tags: { team: 'shop', tier: 'gold' },
      rotateNow: 't1',
    });
    const k = await waitObj(
      cp.apiserver,
      'kmskey',
      'apps',
      'orders',
      'rotated',
      (x) => x.status?.currentVersion === 2 && x.status?.rotateNow === 't1',
    );
    expect(k.status?.nextRotationTime).toBeUndefined();
    expect(k.status?.lastRotationTime).toMatch(/^\d{4}-/);
    for (const reason of ['DescriptionUpdated', 'RotationDisabled', 'TagsUpdated', 'KeyRotated']) {
      await waitEvent(cp.apiserver, 'apps', 'orders', reason);
    }
    expect((await waitEvent(cp.apiserver, 'apps', 'orders', 'KeyRotated')).note).toMatch(
      /on demand \(spec.rotateNow=t1\): version 2/,
    );
    // An unrelated change does not rotate again.
    await patchSpec(cp.apiserver, 'kmskey', 'apps', 'orders', { description: 'orders v3' });
    const k2 = await waitObj(
      cp.apiserver,
      'kmskey',
      'apps',
      'orders',
      'description applied',
      (x) => x.metadata.generation > k.metadata.generation,
    );
    expect(k2.status?.currentVersion).toBe(2);
  });

  it('kubectl describe kmskey tells the story of the key, and no Event carries key material', async () => {
    const out = await cp.apiserver.kubectl(['describe', 'kmskey', '-n', 'apps', 'orders']);
    const events = out.slice(out.indexOf('Events:'));
    const order = ['KeyCreated', 'DescriptionUpdated', 'RotationDisabled', 'TagsUpdated', 'KeyRotated'].map(
      (r) => events.indexOf(r),
    );
    expect(order.every((i) => i > 0)).toBe(true);
    expect(order.indexOf(Math.min(...order))).toBe(0);
    expect(events).toMatch(/on demand \(spec.rotateNow=t1\): version 2/);
    expect(out).toMatch(/Key Id:\s+[0-9a-f-]{36}/);
    // Notes name keys, versions and states only: nothing base64-like long enough to be material.
    expect(events).not.toMatch(/[A-Za-z0-9+/]{40,}={0,2}/);
  });

  it('refuses what the schema cannot see, as conditions, without hot loops', async () => {
    await apply(
      cp.apiserver,
      `${kmsKey('other', 'theirs', '{}')}---
apiVersion: kubekms.io/v1alpha1
kind: KmsAlias
metadata: {name: dup, namespace: other}
spec: {aliasName: alias/orders, targetKeyRef: {name: theirs}}
---
apiVersion: kubekms.io/v1alpha1
kind: KmsAlias
metadata: {name: steal, namespace: other}
spec: {aliasName: alias/steal, targetKeyId: ${keyId}}
---
apiVersion: kubekms.io/v1alpha1
kind: KmsGrant
metadata: {name: signer, namespace: apps}
spec: {keyRef: {name: orders}, grantee: {user: alice}, operations: [Decrypt, Sign]}
`,
    );
    const dup = await waitObj(
      cp.apiserver,
      'kmsalias',
      'other',
      'dup',
      'Conflict',
      (x) => ready(x)?.reason === 'Conflict',
    );
    expect(ready(dup)?.message).toMatch(/already declared by KmsAlias apps\/orders/);
    const steal = await waitObj(
      cp.apiserver,
      'kmsalias',
      'other',
      'steal',
      'refused',
      (x) => ready(x)?.status === 'False',
    );
    expect(ready(steal)).toMatchObject({ reason: 'CrossNamespaceTarget' });
    expect(ready(steal)?.message).toMatch(/belongs to KmsKey apps\/orders/);
    const signer = await waitObj(
      cp.apiserver,
      'kmsgrant',
      'apps',
      'signer',
      'refused',
      (x) => ready(x)?.status === 'False',
    );
    expect(ready(signer)).toMatchObject({ reason: 'IncompatibleOperations' });
    expect(ready(signer)?.message).toMatch(
      /^Sign cannot be granted on a SYMMETRIC_DEFAULT ENCRYPT_DECRYPT key/,
    );
    const warning = await waitEvent(cp.apiserver, 'apps', 'signer', 'IncompatibleOperations');
    expect(warning.type).toBe('Warning');
    // No hot loop: after 3 s the refused objects have not been written again and the Warning was sent once.
    const rv = (await get(cp.apiserver, 'kmsgrant', 'apps', 'signer'))!.metadata;
    await new Promise((r) => setTimeout(r, 3000));
    expect((await get(cp.apiserver, 'kmsgrant', 'apps', 'signer'))!.metadata).toEqual(rv);
    const warnings = (await events(cp.apiserver, 'apps')).filter(
      (e) => e.regarding.name === 'signer' && e.type === 'Warning',
    );
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.series).toBeUndefined();
    // The alias in conflict takes the name once the holder goes.
    await cp.apiserver.kubectl(['delete', 'kmsalias', '-n', 'apps', 'orders']);
    await waitEvent(cp.apiserver, 'apps', 'orders', 'AliasDeleted');
    const took = await waitObj(
      cp.apiserver,
      'kmsalias',
      'other',
      'dup',
      'bound',
      (x) => ready(x)?.status === 'True',
    );
    expect(took.status?.targetKeyId).not.toBe(keyId);
  });

  it('disable → the KMS v2 plugin Status fails with an AWS-style error when it is the Secrets key; enable → healthy', async () => {
    await apply(cp.apiserver, kmsKey('apps', 'etcd', '{description: Secrets key}'));
    const k = await waitReady(cp.apiserver, 'kmskey', 'apps', 'etcd');
    const id = String(k.status?.keyId);
    extraFlags.push('--secrets-key', id);
    plugin = await plugin.restart();
    expect((await pluginStatus()).keyId).toBe(`kubekms:${id}:v1`);
    await patchSpec(cp.apiserver, 'kmskey', 'apps', 'etcd', { enabled: false });
    const off = await waitObj(
      cp.apiserver,
      'kmskey',
      'apps',
      'etcd',
      'disabled',
      (x) => x.status?.keyState === 'Disabled',
    );
    expect(ready(off)).toMatchObject({ status: 'False', reason: 'KeyDisabled' });
    await waitEvent(cp.apiserver, 'apps', 'etcd', 'KeyDisabled');
    await expect(pluginStatus()).rejects.toThrow(
      /DisabledException: arn:aws:kms:us-east-1:000000000000:key\/[0-9a-f-]+ is disabled/,
    );
    expect(await readyz()).toMatch(/^503 \[-\]kmsv2 arn:aws:kms:\S+ is disabled\./);
    await patchSpec(cp.apiserver, 'kmskey', 'apps', 'etcd', { enabled: true });
    await waitObj(cp.apiserver, 'kmskey', 'apps', 'etcd', 'enabled', (x) => x.status?.keyState === 'Enabled');
    await waitEvent(cp.apiserver, 'apps', 'etcd', 'KeyEnabled');
    expect(await pluginStatus()).toMatchObject({ healthz: 'ok', keyId: `kubekms:${id}:v1` });
  });

  it('delete with Delete: DeletionScheduled, the object stays until the window ends, then the key is destroyed', async () => {
    await cp.apiserver.kubectl(['delete', 'kmskey', '-n', 'apps', 'orders', '--wait=false']);
    const e = await waitEvent(cp.apiserver, 'apps', 'orders', 'DeletionScheduled');
    expect(e.note).toMatch(/test deletion window/);
    await waitEvent(cp.apiserver, 'apps', 'orders', 'KeyDestroyed', undefined, 20_000);
    await waitGone(cp.apiserver, 'kmskey', 'apps', 'orders');
    const g = await waitObj(
      cp.apiserver,
      'kmsgrant',
      'apps',
      'batch',
      'key gone',
      (x) => ready(x)?.status === 'False',
    );
    expect(ready(g)).toMatchObject({ reason: 'KeyNotFound' });
    // Deleting the grant of a destroyed key just lets it go.
    await cp.apiserver.kubectl(['delete', 'kmsgrant', '-n', 'apps', 'batch', 'signer', '--timeout=30s']);
  });

  it('delete with Retain: the key stays in the engine and a re-created KmsKey adopts it', async () => {
    await apply(cp.apiserver, kmsKey('apps', 'kept', '{deletionPolicy: Retain}'));
    const k = await waitReady(cp.apiserver, 'kmskey', 'apps', 'kept');
    await waitEvent(cp.apiserver, 'apps', 'kept', 'KeyCreated');
    // A key this operator just created is not also "adopted" when its status write is late to the informer.
    await new Promise((r) => setTimeout(r, 1500));
    const early = (await events(cp.apiserver, 'apps')).filter((e) => e.regarding.name === 'kept');
    expect(early.map((e) => e.reason)).not.toContain('KeyAdopted');
    await cp.apiserver.kubectl(['delete', 'kmskey', '-n', 'apps', 'kept', '--timeout=30s']);
    await waitEvent(cp.apiserver, 'apps', 'kept', 'KeyRetained');
    await apply(cp.apiserver, kmsKey('apps', 'kept', '{deletionPolicy: Retain}'));
    const again = await waitReady(cp.apiserver, 'kmskey', 'apps', 'kept');
    expect(again.status?.keyId).toBe(k.status?.keyId);
    await waitEvent(cp.apiserver, 'apps', 'kept', 'KeyAdopted');
  });

  it('reports readiness and controller-runtime metrics', async () => {
    expect(await readyz()).toMatch(/\[\+\]operator leader; kmskeys: synced/);
    const metrics = await (await fetch(`http://${plugin.healthListen}/metrics`)).text();
    expect(metrics).toMatch(
      /controller_runtime_reconcile_total\{controller="kmskey",result="success"\} [1-9]/,
    );
    expect(metrics).toMatch(
      /controller_runtime_reconcile_time_seconds_bucket\{le="0.005",controller="kmsalias"\}/,
    );
    expect(metrics).toMatch(/workqueue_depth\{name="kmsgrant",controller="kmsgrant"\} 0/);
    expect(metrics).toMatch(/leader_election_master_status\{name="kubekms-operator"\} 1/);
  });
});

describe('per-object status metrics (issue 19 part 3)', () => {
  const scrape = async (): Promise<string> => (await fetch(`http://${plugin.healthListen}/metrics`)).text();

  it('a scrape shows a Ready KmsKey as True, a refused one as False, the next rotation, and forgets a deleted object', async () => {
    // The CRD allows a 253-character ServiceAccount name, but its principal is then longer than the engine's 256.
    const tooLong = 'x'.repeat(253);
    await apply(
      cp.apiserver,
      `${kmsKey('apps', 'm-good', '{}')}---
${kmsKey('apps', 'm-rotating', '{rotation: {enabled: true, periodDays: 90}}')}---
${kmsKey('apps', 'm-broken', `{policy: {statements: [{subjects: [{serviceAccount: {name: ${tooLong}}}], operations: [Decrypt]}]}}`)}---
${kmsKey('apps', 'm-off', '{enabled: false}')}---
apiVersion: kubekms.io/v1alpha1
kind: KmsAlias
metadata: {name: m-alias, namespace: apps}
spec: {aliasName: alias/m-alias, targetKeyRef: {name: m-good}}
---
apiVersion: kubekms.io/v1alpha1
kind: KmsGrant
metadata: {name: m-grant, namespace: apps}
spec: {keyRef: {name: m-missing}, grantee: {user: u}, operations: [Decrypt]}
`,
    );
    await waitReady(cp.apiserver, 'kmskey', 'apps', 'm-good');
    await waitReady(cp.apiserver, 'kmsalias', 'apps', 'm-alias');
    const rotating = await waitReady(cp.apiserver, 'kmskey', 'apps', 'm-rotating');
    const broken = await waitObj(
      cp.apiserver,
      'kmskey',
      'apps',
      'm-broken',
      'refused',
      (x) => ready(x)?.status === 'False',
    );
    expect(ready(broken)?.reason).toBe('InvalidPolicy');
    await waitObj(
      cp.apiserver,
      'kmskey',
      'apps',
      'm-off',
      'disabled',
      (x) => x.status?.keyState === 'Disabled',
    );
    await waitObj(
      cp.apiserver,
      'kmsgrant',
      'apps',
      'm-grant',
      'refused',
      (x) => ready(x)?.status === 'False',
    );

    const series = (metric: string, name: string, rest = ''): string =>
      `${metric}{namespace="apps",name="${name}"${rest}}`;
    const cond = (kind: string, name: string, status: string): string =>
      series(`kubekms_${kind}_status_condition`, name, `,condition="Ready",status="${status}"`);
    // The informers see the status writes a moment after the API does.
    const text = await waitFor(
      'the scrape to show every object as the API does',
      async () => {
        const t = await scrape();
        const want = [
          `${cond('kmskey', 'm-broken', 'False')} 1`,
          `${cond('kmsgrant', 'm-grant', 'False')} 1`,
          `${series('kubekms_kmskey_suspended', 'm-off')} 1`,
        ];
        return want.every((w) => t.includes(w)) ? t : undefined;
      },
      30_000,
      250,
    );
    expect(text).toContain(`${cond('kmskey', 'm-good', 'True')} 1`);
    expect(text).toContain(`${cond('kmskey', 'm-good', 'False')} 0`);
    expect(text).toContain(`${cond('kmskey', 'm-broken', 'True')} 0`);
    expect(text).toContain(`${cond('kmskey', 'm-broken', 'Unknown')} 0`);
    expect(text).toContain(`${cond('kmsalias', 'm-alias', 'True')} 1`);
    expect(text).toContain(`${series('kubekms_kmskey_suspended', 'm-broken')} 0`);
    expect(text).toContain(
      'kubekms_kmskey_status_condition{namespace="kubekms",name="secrets",condition="Ready",status="True"} 1',
    );
    const next = Date.parse(String(rotating.status?.nextRotationTime)) / 1000;
    expect(next).toBeGreaterThan(Date.now() / 1000 + 89 * 86_400);
    expect(text).toContain(
      `${series('kubekms_kmskey_next_rotation_timestamp_seconds', 'm-rotating')} ${next}`,
    );
    expect(text).not.toContain(series('kubekms_kmskey_next_rotation_timestamp_seconds', 'm-good'));
    // No key ids, reasons or messages in the series.
    for (const id of [rotating.status?.keyId, broken.status?.keyId])
      if (id) expect(text).not.toContain(String(id));
    expect(text).not.toContain('InvalidPolicy');

    await cp.apiserver.kubectl(['delete', 'kmskey', '-n', 'apps', 'm-broken', '--timeout=60s']);
    await waitFor(
      'the deleted KmsKey to leave the scrape',
      async () => (!(await scrape()).includes('name="m-broken"') ? true : undefined),
      30_000,
      250,
    );
  });
});
