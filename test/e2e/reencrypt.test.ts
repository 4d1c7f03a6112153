/**
 * Cluster-wide re-encryption (issue 6) on a real kube-apiserver 1.36 + etcd with `kubekms serve --operator` as
 * its KMS v2 plugin: 2 000 Secrets in 20 namespaces, rotate the Secrets key, and the operator rewrites every one
 * under the new key_id (checked in etcd), while every Secret stays readable, kubekms restarts mid-pass and
 * resumes, Secrets are created and deleted meanwhile, and an unknown resource in the list is reported. The pass
 * starts once the API server's /metrics show it writing under the new key_id (issue 18), long before the
 * --reencrypt-delay of 10 minutes; 1.36 serves no StorageVersionMigration, so it is kubekms's own pass.
 * One control plane for the whole file.
 */
import { execFileSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ControlPlane, Plugin } from '../controlplane/harness.ts';
import { keepLogsOnFailure, MAIN } from './lifecycle.ts';
import { events, startOperatorControlPlane, waitOperatorLeader } from './operator-helpers.ts';
import {
  readContinuously,
  reencryptionOf,
  rotateSecretsKeyOffline,
  secretsMirror,
  storedSecretKeyIds,
  waitPassEnd,
  waitWritesUnderNewKeyId,
} from './reencrypt-helpers.ts';
import { applySecrets, createNamespaces, newSecret, type SecretSpec, waitFor } from './secrets.ts';

keepLogsOnFailure();

const NAMESPACES = 20;
const PER_NAMESPACE = 100;
const DELAY_S = 600;
const QPS = 60;

let cp: ControlPlane;
let plugin: Plugin;
let kubeconfig: string;
const secrets: SecretSpec[] = [];
const nsName = (i: number) => `re${String(i).padStart(2, '0')}`;

interface Progress {
  phase: string;
  keyVersion: number;
  total: number;
  done: number;
  skipped: number;
  failed: number;
  startedAt?: string;
  method?: string;
  switchover?: { apiservers: number; switched: number; pending?: string[]; unavailable?: string };
}

const namespaces = Array.from({ length: NAMESPACES }, (_, i) => nsName(i));
const mirror = () => secretsMirror(cp.apiserver);
const progress = reencryptionOf<Progress>;

beforeAll(async () => {
  cp = await startOperatorControlPlane('kubekms-re-', [
    '--maintenance-interval',
    '1s',
    '--reencrypt-delay',
    `${DELAY_S}s`,
    '--reencrypt-qps',
    String(QPS),
    '--reencrypt-resources',
    'secrets,widgets.example.com',
  ]);
  kubeconfig = cp.kubeconfigPath;
  await createNamespaces(cp.apiserver, namespaces);
  for (let i = 0; i < NAMESPACES; i++)
    for (let j = 0; j < PER_NAMESPACE; j++)
      secrets.push(newSecret(nsName(i), `s${String(j).padStart(3, '0')}`));
  const batches: SecretSpec[][] = [];
  for (let i = 0; i < secrets.length; i += 500) batches.push(secrets.slice(i, i + 500));
  for (const b of batches) await applySecrets(cp.apiserver, b);
  plugin = await cp.plugin!.restart();
  await waitOperatorLeader(plugin);
}, 400_000);

describe('re-encryption after rotating the Secrets key', () => {
  it('rewrites every Secret under the new key_id, readable throughout, resuming after a restart', async () => {
    const before = await storedSecretKeyIds(cp.etcd);
    expect(before.size).toBe(NAMESPACES * PER_NAMESPACE);
    const oldKeyId = [...new Set(before.values())];
    expect(oldKeyId).toHaveLength(1);

    // Rotate offline (as kmsv2-apiserver.test.ts does) and start kubekms again: the new version is primary.
    const rotation = await rotateSecretsKeyOffline(plugin);
    const rotatedAt = rotation.rotatedAt;
    expect(rotation.out).toMatch(/primary version 2/);
    plugin = rotation.plugin;
    await waitOperatorLeader(plugin);

    // The operator records Pending, and what it sees of the one live API server: not yet writing under the
    // new key_id (only Secrets are encrypted, and none was written since the rotation).
    const pending = await waitFor(
      'reencryption Pending',
      async () => {
        const p = progress(await mirror());
        return p?.phase === 'Pending' && p.switchover ? p : undefined;
      },
      30_000,
      250,
    );
    expect(pending).toMatchObject({ keyVersion: 2, switchover: { apiservers: 1, switched: 0 } });
    // The API server switches (its health check calls Status when its cached result is older than 20 s); the
    // first Secret written after that is stored under the new key_id and shows in its /metrics.
    const probe = newSecret(nsName(0), 'probe');
    const newKeyId = await waitWritesUnderNewKeyId(cp.apiserver, cp.etcd, probe, oldKeyId[0]);
    expect(newKeyId).toMatch(/^kubekms:.*:v2$/);
    const originals = secrets.length + 1; // with the probe

    // Readers: every namespace, in a loop, for the whole pass.
    const deleted = new Set<string>();
    const reader = readContinuously(cp.apiserver, namespaces, secrets, deleted);

    const running = await waitFor(
      'reencryption Running',
      async () => {
        const p = progress(await mirror());
        return p?.phase === 'Running' ? p : undefined;
      },
      120_000,
      250,
    );
    expect(running).toMatchObject({ keyVersion: 2, switchover: { apiservers: 1, switched: 1 } });
    const startedAfterS = (Date.parse(running.startedAt ?? '') - rotatedAt) / 1000;
    expect(startedAfterS).toBeLessThan(DELAY_S / 2); // observed, not waited for
    const started = (await events(cp.apiserver, 'kubekms')).find((e) => e.reason === 'ReencryptionStarted');
    expect(started?.note).toMatch(/started: every live API server \(1\) writes under the new key_id/);

    // Churn during the pass (in the background): 50 Secrets deleted from the last namespace (listed, gone by
    // their turn) and 50 new ones. Meanwhile, restart kubekms a quarter of the way through.
    const created = Array.from({ length: 50 }, (_, i) => newSecret(nsName(0), `new${i}`));
    const victims = secrets.filter((s) => s.namespace === nsName(NAMESPACES - 1)).slice(0, 50);
    for (const v of victims) deleted.add(`${v.namespace}/${v.name}`);
    const churn = (async () => {
      await cp.apiserver.kubectl([
        'delete',
        'secret',
        '-n',
        nsName(NAMESPACES - 1),
        ...victims.map((v) => v.name),
      ]);
      await applySecrets(cp.apiserver, created);
    })();
    await waitFor(
      'the pass a quarter done',
      async () => ((progress(await mirror())?.done ?? 0) >= originals / 4 ? true : undefined),
      60_000,
      250,
    );
    const beforeRestart = progress(await mirror());
    plugin = await plugin.restart();
    await waitOperatorLeader(plugin);
    await churn;

    const end = await waitPassEnd<Progress>(cp.apiserver, { timeoutMs: 120_000 });
    const { reads, failures: readFailures } = await reader.stop();

    // etcd's truth: nothing left under the old key_id; the counts add up to what the pass listed.
    const after = await storedSecretKeyIds(cp.etcd);
    const stale = [...after].filter(([, id]) => id !== newKeyId);
    expect(stale).toEqual([]);
    expect(after.size).toBe(originals + created.length - victims.length);
    // 1.36 serves no storagemigration.k8s.io/v1: kubekms's own pass is the fallback.
    expect(end).toMatchObject({ phase: 'Completed', keyVersion: 2, failed: 0, method: 'Pass' });
    expect(end.total).toBe(originals);
    expect(end.done + end.skipped).toBe(originals);
    expect(end.skipped).toBe(victims.length);
    expect(end.done).toBe(originals - victims.length);
    expect(beforeRestart?.done).toBeLessThan(end.done);

    expect(readFailures).toBe(0);
    expect(reads).toBeGreaterThan(NAMESPACES);

    const m = await mirror();
    const cond = m?.status?.conditions?.find((c) => c.type === 'Reencrypted');
    expect(cond).toMatchObject({ status: 'False', reason: 'UnknownResource' });
    expect(cond?.message).toMatch(/widgets\.example\.com/);
    const reasons = new Set(
      (await events(cp.apiserver, 'kubekms'))
        .filter((e) => e.regarding.name === 'secrets')
        .map((e) => e.reason),
    );
    for (const r of [
      'ReencryptionStarted',
      'ReencryptionResumed',
      'ReencryptionResourceUnknown',
      'ReencryptionCompleted',
    ])
      expect(reasons).toContain(r);

    const metrics = await (await fetch(`http://${plugin.healthListen}/metrics`)).text();
    expect(metrics).toMatch(/kubekms_reencryption_objects_total\{result="rewritten"\} [1-9]/);
    expect(metrics).toMatch(/kubekms_reencryption_remaining 0/);

    const status = execFileSync(
      process.execPath,
      [MAIN, 'reencrypt', 'status', '--kubeconfig', kubeconfig, '--watch'],
      { encoding: 'utf8' },
    );
    expect(status).toContain(`key version 2: Completed ${originals}/${originals} (100%)`);
    console.log(
      `reencrypt e2e: pass started ${startedAfterS.toFixed(0)} s after the rotation (delay ${DELAY_S} s); ${end.total} listed, ${end.done} rewritten, ${end.skipped} gone, ${reads} namespace reads, 0 failed; restart at ${beforeRestart?.done}`,
    );
  });
});
