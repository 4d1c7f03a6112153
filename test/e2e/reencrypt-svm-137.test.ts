/**
 * Re-encryption through StorageVersionMigration (issue 18 part 2) on a real kube-apiserver 1.37.2 + etcd, with
 * kube-controller-manager 1.37.2 running the storage-version-migrator (and the garbage collector it needs), and
 * `kubekms serve --operator` as the KMS v2 plugin: rotate the Secrets key, the pass starts once the API server
 * writes under the new key_id, kubekms creates one StorageVersionMigration for `secrets`, follows it into the
 * KmsKey status, deletes it, and etcd holds every Secret under the new key_id. Secrets stay readable throughout.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type ControlPlane, type Plugin, startControllerManager } from '../controlplane/harness.ts';
import { keepLogsOnFailure } from './lifecycle.ts';
import { events, startOperatorControlPlane, waitOperatorLeader } from './operator-helpers.ts';
import {
  readContinuously,
  rotateSecretsKeyOffline,
  secretsMirror,
  storedSecretKeyIds,
  waitPassEnd,
  waitWritesUnderNewKeyId,
} from './reencrypt-helpers.ts';
import { applySecrets, createNamespaces, newSecret, type SecretSpec } from './secrets.ts';

keepLogsOnFailure();

const NAMESPACES = 4;
const PER_NAMESPACE = 50;
const DELAY_S = 600;

let cp: ControlPlane;
let plugin: Plugin;
const secrets: SecretSpec[] = [];
const nsName = (i: number) => `svm${i}`;

interface Progress {
  phase: string;
  keyVersion: number;
  total: number;
  done: number;
  failed: number;
  method?: string;
  migrations?: { resource: string; name: string; phase: string }[];
  switchover?: { apiservers: number; switched: number };
}

const namespaces = Array.from({ length: NAMESPACES }, (_, i) => nsName(i));

beforeAll(async () => {
  cp = await startOperatorControlPlane(
    'kubekms-svm-',
    ['--maintenance-interval', '1s', '--reencrypt-delay', `${DELAY_S}s`, '--reencrypt-resources', 'secrets'],
    '1.37',
  );
  startControllerManager({ dir: cp.dir, apiserver: cp.apiserver });
  await createNamespaces(cp.apiserver, namespaces);
  for (let i = 0; i < NAMESPACES; i++)
    for (let j = 0; j < PER_NAMESPACE; j++) secrets.push(newSecret(nsName(i), `s${j}`));
  await applySecrets(cp.apiserver, secrets);
  plugin = cp.plugin as Plugin;
  await waitOperatorLeader(plugin);
}, 400_000);

describe('kube 1.37: re-encryption through StorageVersionMigration', () => {
  it('serves storagemigration.k8s.io/v1', async () => {
    const r = await cp.apiserver.request('/apis/storagemigration.k8s.io/v1');
    expect(r.status).toBe(200);
    expect(r.body).toContain('storageversionmigrations');
  });

  it('rotates, migrates every Secret under the new key_id through an SVM, and cleans it up', async () => {
    const before = await storedSecretKeyIds(cp.etcd);
    expect(before.size).toBe(secrets.length);
    const oldKeyId = [...new Set(before.values())];
    expect(oldKeyId).toHaveLength(1);

    const rotation = await rotateSecretsKeyOffline(plugin);
    const rotatedAt = rotation.rotatedAt;
    expect(rotation.out).toMatch(/primary version 2/);
    plugin = rotation.plugin;
    await waitOperatorLeader(plugin);

    // The API server switches; the first Secret written after that is under the new key_id.
    const probe = newSecret(nsName(0), 'probe');
    const newKeyId = await waitWritesUnderNewKeyId(cp.apiserver, cp.etcd, probe, oldKeyId[0]);
    expect(newKeyId).toMatch(/^kubekms:.*:v2$/);

    const reader = readContinuously(cp.apiserver, namespaces, secrets);
    const seen = new Set<string>();
    const end = await waitPassEnd<Progress>(cp.apiserver, {
      keyVersion: 2,
      timeoutMs: 300_000,
      observe: (p) => {
        for (const m of p?.migrations ?? []) seen.add(`${m.name}:${m.phase}`);
      },
    });
    const { reads, failures: readFailures } = await reader.stop();

    expect(end).toMatchObject({
      phase: 'Completed',
      method: 'StorageVersionMigration',
      failed: 0,
      switchover: { apiservers: 1, switched: 1 },
      migrations: [{ resource: 'secrets', name: 'kubekms-v2-secrets', phase: 'Succeeded' }],
    });
    const finishedAfterS = (Date.now() - rotatedAt) / 1000;
    expect(finishedAfterS).toBeLessThan(DELAY_S);

    // etcd's truth, and the migration is gone.
    const after = await storedSecretKeyIds(cp.etcd);
    expect([...after].filter(([, id]) => id !== newKeyId)).toEqual([]);
    expect(after.size).toBe(secrets.length + 1);
    const svms = JSON.parse(
      await cp.apiserver.kubectl(['get', 'storageversionmigrations', '-o', 'json']),
    ) as {
      items: unknown[];
    };
    expect(svms.items).toEqual([]);
    expect(readFailures).toBe(0);

    const m = await secretsMirror(cp.apiserver);
    expect(m?.status?.conditions?.find((c) => c.type === 'Reencrypted')).toMatchObject({
      status: 'True',
      reason: 'Completed',
    });
    const evs = (await events(cp.apiserver, 'kubekms')).filter((e) => e.regarding.name === 'secrets');
    expect(evs.find((e) => e.reason === 'ReencryptionStarted')?.note).toMatch(
      /through StorageVersionMigration/,
    );
    expect(evs.map((e) => e.reason)).toContain('ReencryptionCompleted');
    const metrics = await (await fetch(`http://${plugin.healthListen}/metrics`)).text();
    expect(metrics).toMatch(/kubekms_reencryption_objects_total\{result="rewritten"\} [1-9]/);
    expect(metrics).toMatch(/kubekms_reencryption_remaining 0/);
    console.log(
      `reencrypt-svm e2e (1.37): ${end.total} objects, ${end.done} migrated by the SVM, finished ${finishedAfterS.toFixed(0)} s after the rotation (delay ${DELAY_S} s); states seen ${[...seen].join(', ')}; ${reads} namespace reads, 0 failed`,
    );
  });
});
