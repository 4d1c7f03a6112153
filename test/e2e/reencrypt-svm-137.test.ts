/**
 * Re-encryption through StorageVersionMigration (issue 18 part 2) on a real kube-apiserver 1.37.2 + etcd, with
 * kube-controller-manager 1.37.2 running the storage-version-migrator (and the garbage collector it needs), and
 * `kubekms serve --operator` as the KMS v2 plugin: rotate the Secrets key, the pass starts once the API server
 * writes under the new key_id, kubekms creates one StorageVersionMigration for `secrets`, follows it into the
 * KmsKey status, deletes it, and etcd holds every Secret under the new key_id. Secrets stay readable throughout.
 */
import { execFileSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type ControlPlane,
  decodeEncryptedObject,
  type Plugin,
  startControllerManager,
} from '../controlplane/harness.ts';
import { keepLogsOnFailure, MAIN } from './lifecycle.ts';
import { events, get, type Obj, startOperatorControlPlane } from './operator-helpers.ts';
import {
  applySecrets,
  newSecret,
  readAllSecrets,
  type SecretSpec,
  storedSecret,
  waitFor,
} from './secrets.ts';

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

const mirror = (): Promise<Obj | undefined> => get(cp.apiserver, 'kmskey', 'kubekms', 'secrets');
const progress = (o: Obj | undefined) => o?.status?.reencryption as Progress | undefined;

async function waitLeader(): Promise<void> {
  await waitFor(
    'operator leader',
    async () => {
      const r = await fetch(`http://${plugin.healthListen}/readyz`);
      return (await r.text()).includes('[+]operator leader') ? true : undefined;
    },
    60_000,
    250,
  );
}

async function storedKeyIds(): Promise<Map<string, string>> {
  const kvs = await cp.etcd.getPrefix('/registry/secrets/');
  return new Map([...kvs].map(([k, raw]) => [k, decodeEncryptedObject(raw).keyID]));
}

beforeAll(async () => {
  cp = await startOperatorControlPlane(
    'kubekms-svm-',
    ['--maintenance-interval', '1s', '--reencrypt-delay', `${DELAY_S}s`, '--reencrypt-resources', 'secrets'],
    '1.37',
  );
  startControllerManager({ dir: cp.dir, apiserver: cp.apiserver });
  const nsList = {
    apiVersion: 'v1',
    kind: 'List',
    items: Array.from({ length: NAMESPACES }, (_, i) => ({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: nsName(i) },
    })),
  };
  await cp.apiserver.kubectl(['apply', '-f', '-'], { input: JSON.stringify(nsList) });
  for (let i = 0; i < NAMESPACES; i++)
    for (let j = 0; j < PER_NAMESPACE; j++) secrets.push(newSecret(nsName(i), `s${j}`));
  await applySecrets(cp.apiserver, secrets);
  plugin = cp.plugin as Plugin;
  await waitLeader();
}, 400_000);

describe('kube 1.37: re-encryption through StorageVersionMigration', () => {
  it('serves storagemigration.k8s.io/v1', async () => {
    const r = await cp.apiserver.request('/apis/storagemigration.k8s.io/v1');
    expect(r.status).toBe(200);
    expect(r.body).toContain('storageversionmigrations');
  });

  it('rotates, migrates every Secret under the new key_id through an SVM, and cleans it up', async () => {
    const before = await storedKeyIds();
    expect(before.size).toBe(secrets.length);
    const oldKeyId = [...new Set(before.values())];
    expect(oldKeyId).toHaveLength(1);

    await plugin.stop();
    const rotatedAt = Date.now();
    const out = execFileSync(
      process.execPath,
      [MAIN, 'key', 'rotate', 'alias/kubekms/secrets', '--dev', '--data-dir', plugin.dataDir],
      { encoding: 'utf8' },
    );
    expect(out).toMatch(/primary version 2/);
    plugin = await plugin.restart();
    await waitLeader();

    // The API server switches; the first Secret written after that is under the new key_id.
    const probe = newSecret(nsName(0), 'probe');
    const newKeyId = await waitFor(
      'the API server writing under the new key_id',
      async () => {
        await cp.apiserver.request('/readyz/kms-providers');
        await applySecrets(cp.apiserver, [probe]);
        const id = (await storedSecret(cp.etcd, probe)).obj.keyID;
        return id !== oldKeyId[0] ? id : undefined;
      },
      180_000,
      2_000,
    );
    expect(newKeyId).toMatch(/^kubekms:.*:v2$/);

    let reads = 0;
    let readFailures = 0;
    let reading = true;
    const reader = (async () => {
      for (let i = 0; reading; i = (i + 1) % NAMESPACES) {
        try {
          const got = await readAllSecrets(cp.apiserver, nsName(i));
          for (const s of secrets)
            if (s.namespace === nsName(i) && got.get(s.name) !== s.value) readFailures++;
          reads++;
        } catch {
          readFailures++;
        }
      }
    })();

    const seen = new Set<string>();
    const end = await waitFor(
      'reencryption finished',
      async () => {
        const p = progress(await mirror());
        for (const m of p?.migrations ?? []) seen.add(`${m.name}:${m.phase}`);
        return p?.keyVersion === 2 && (p.phase === 'Completed' || p.phase === 'Failed') ? p : undefined;
      },
      300_000,
      500,
    );
    reading = false;
    await reader;

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
    const after = await storedKeyIds();
    expect([...after].filter(([, id]) => id !== newKeyId)).toEqual([]);
    expect(after.size).toBe(secrets.length + 1);
    const svms = JSON.parse(
      await cp.apiserver.kubectl(['get', 'storageversionmigrations', '-o', 'json']),
    ) as {
      items: unknown[];
    };
    expect(svms.items).toEqual([]);
    expect(readFailures).toBe(0);

    const m = await mirror();
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
