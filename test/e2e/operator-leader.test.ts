/**
 * Two operator instances against a real kube-apiserver 1.36, sharing one engine (as HA instances share key
 * state): only the Lease holder reconciles, a crashed leader is replaced within the lease duration, a graceful
 * stop hands over at once. With the engine on a manual clock: automatic rotation when the period has elapsed,
 * and the deletion-cancel path inside a real 7-day window. Issue 5.
 */
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectCryptoProvider } from '../../src/crypto/provider.ts';
import { EngineCore } from '../../src/engine/core.ts';
import { runMaintenance } from '../../src/engine/ops-maintenance.ts';
import { ManualClock, MemoryKeyStore, TestRootKey } from '../../src/engine/testing.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { Operator } from '../../src/operator/operator.ts';
import { type ControlPlane, createRunDir, startControlPlane } from '../controlplane/harness.ts';
import { keepLogsOnFailure } from './lifecycle.ts';
import {
  apply,
  events,
  installCrds,
  kmsKey,
  ready,
  waitEvent,
  waitGone,
  waitObj,
  waitReady,
} from './operator-helpers.ts';
import { createNamespace, waitFor } from './secrets.ts';

keepLogsOnFailure();

let cp: ControlPlane;
let core: EngineCore;
const clock = new ManualClock(Date.now());
const operators: Operator[] = [];

function startOne(identity: string): Operator {
  const log = createLogger('info', createWriteStream(join(cp.dir, 'logs', `${identity}.log`)));
  const op = new Operator({
    core,
    log,
    registry: new Registry(),
    kubeconfig: cp.kubeconfigPath,
    namespace: 'kubekms',
    identity,
  });
  op.start();
  operators.push(op);
  return op;
}

const leaderOf = (ops: Operator[]) =>
  waitFor('a leader', async () => ops.find((o) => o.isLeader), 40_000, 100);

beforeAll(async () => {
  cp = await startControlPlane({ version: '1.36', dir: createRunDir('kubekms-opl-'), plugin: false });
  await installCrds(cp.apiserver);
  await createNamespace(cp.apiserver, 'apps');
  const crypto = selectCryptoProvider('node');
  core = await EngineCore.open({
    crypto,
    rootKey: new TestRootKey(crypto),
    store: new MemoryKeyStore(),
    clock,
  });
}, 300_000);

afterAll(async () => {
  for (const op of operators) await op.kill();
});

const customerKeys = () => core.allKeys().filter((r) => r.keyManager === 'CUSTOMER');

describe('leader election between two operator instances', () => {
  let a: Operator;
  let b: Operator;

  it('only the Lease holder reconciles; the standby keeps a warm cache and is ready', async () => {
    a = startOne('op-a');
    b = startOne('op-b');
    const leader = await leaderOf([a, b]);
    const standby = leader === a ? b : a;
    // The standby is ready (warm caches) and has seen who leads.
    await waitFor(
      'standby synced and aware of the leader',
      async () =>
        standby.readiness().ok &&
        standby.readiness().detail.startsWith(`standby (leader: ${leader.identity})`)
          ? true
          : undefined,
      30_000,
      100,
    );
    expect(standby.isLeader).toBe(false);
    const lease = JSON.parse(
      await cp.apiserver.kubectl(['get', 'lease', '-n', 'kubekms', 'kubekms-operator', '-o', 'json']),
    );
    expect(lease.spec).toMatchObject({ holderIdentity: leader.identity, leaseDurationSeconds: 15 });
    expect(lease.spec.renewTime).toMatch(/\.\d{6}Z$/);

    await apply(cp.apiserver, kmsKey('apps', 'one', '{}'));
    await waitReady(cp.apiserver, 'kmskey', 'apps', 'one');
    await new Promise((r) => setTimeout(r, 1000));
    expect(customerKeys()).toHaveLength(1);
    const created = (await events(cp.apiserver, 'apps')).filter((e) => e.reason === 'KeyCreated');
    expect(created).toHaveLength(1);
    expect(created[0]!.reportingInstance).toBe(leader.identity);
  });

  it('rotates automatically when the period has elapsed (engine clock), reported with KeyRotated', async () => {
    await apply(cp.apiserver, kmsKey('apps', 'rot', '{rotation: {enabled: true, periodDays: 90}}'));
    const k = await waitReady(cp.apiserver, 'kmskey', 'apps', 'rot');
    expect(k.status?.currentVersion).toBe(1);
    clock.advanceDays(91);
    const report = await runMaintenance(core);
    expect(report.rotated).toContain(k.status?.keyId);
    const e = await waitEvent(cp.apiserver, 'apps', 'rot', 'KeyRotated');
    expect(e.note).toMatch(/rotated automatically \(every 90 days\): version 2/);
    const after = await waitObj(
      cp.apiserver,
      'kmskey',
      'apps',
      'rot',
      'version 2',
      (x) => x.status?.currentVersion === 2,
    );
    expect(Date.parse(String(after.status?.nextRotationTime))).toBeGreaterThan(clock.now() + 89 * 86_400_000);
  });

  it('deletion waits for its window; the cancel annotation keeps the key, and re-creating the KmsKey adopts it', async () => {
    await apply(cp.apiserver, kmsKey('apps', 'gone', '{deletionWindowDays: 7}'));
    const k = await waitReady(cp.apiserver, 'kmskey', 'apps', 'gone');
    const keyId = String(k.status?.keyId);
    await cp.apiserver.kubectl(['delete', 'kmskey', '-n', 'apps', 'gone', '--wait=false']);
    const pending = await waitObj(
      cp.apiserver,
      'kmskey',
      'apps',
      'gone',
      'pending',
      (x) => x.status?.keyState === 'PendingDeletion',
    );
    expect(ready(pending)).toMatchObject({ status: 'False', reason: 'PendingDeletion' });
    expect(ready(pending)?.message).toMatch(/annotate this object with kubekms.io\/cancel-deletion=true/);
    expect(Date.parse(String(pending.status?.deletionDate)) - clock.now()).toBe(7 * 86_400_000);
    expect((await waitEvent(cp.apiserver, 'apps', 'gone', 'DeletionScheduled')).note).toMatch(
      /window 7 days/,
    );
    expect(pending.metadata.finalizers).toContain('kubekms.io/finalizer');

    await cp.apiserver.kubectl([
      'annotate',
      'kmskey',
      '-n',
      'apps',
      'gone',
      'kubekms.io/cancel-deletion=true',
    ]);
    await waitGone(cp.apiserver, 'kmskey', 'apps', 'gone');
    await waitEvent(cp.apiserver, 'apps', 'gone', 'DeletionCancelled');
    expect(core.findKey(keyId)?.state).toBe('Disabled');

    await apply(cp.apiserver, kmsKey('apps', 'gone', '{deletionWindowDays: 7}'));
    const back = await waitReady(cp.apiserver, 'kmskey', 'apps', 'gone');
    expect(back.status?.keyId).toBe(keyId);
    await waitEvent(cp.apiserver, 'apps', 'gone', 'KeyAdopted');
    await waitEvent(cp.apiserver, 'apps', 'gone', 'KeyEnabled');
    expect(core.findKey(keyId)?.state).toBe('Enabled');
  });

  it('a crashed leader is replaced within the lease duration; the new leader reconciles', async () => {
    const leader = await leaderOf([a, b]);
    const standby = leader === a ? b : a;
    const t0 = Date.now();
    await leader.kill(); // no Lease release: the standby must wait out the lease
    await waitFor('failover', async () => (standby.isLeader ? true : undefined), 30_000, 100);
    const failoverMs = Date.now() - t0;
    console.log(`failover after a crash: ${failoverMs} ms (lease 15 s, retry 2 s)`);
    expect(failoverMs).toBeGreaterThan(10_000);
    // The standby judges expiry from when it last saw a renewal (≤ one 2 s retry late) and notices at its next
    // retry: 15 s + up to two retries, plus slack for a loaded 2-core machine.
    expect(failoverMs).toBeLessThan(15_000 + 2 * 2_200 + 2_500);

    await apply(cp.apiserver, kmsKey('apps', 'after', '{}'));
    await waitReady(cp.apiserver, 'kmskey', 'apps', 'after');
    const e = await waitEvent(cp.apiserver, 'apps', 'after', 'KeyCreated');
    expect(e.reportingInstance).toBe(standby.identity);
  });

  it('a graceful stop releases the Lease and the successor takes over at once', async () => {
    const leader = await leaderOf([a, b]);
    const c = startOne('op-c');
    await waitFor('op-c synced', async () => (c.readiness().ok ? true : undefined), 30_000, 100);
    const t0 = Date.now();
    await leader.stop();
    await waitFor('handover', async () => (c.isLeader ? true : undefined), 10_000, 50);
    const ms = Date.now() - t0;
    console.log(`handover after a graceful stop: ${ms} ms`);
    expect(ms).toBeLessThan(4_000);
    await apply(cp.apiserver, kmsKey('apps', 'third', '{}'));
    expect((await waitEvent(cp.apiserver, 'apps', 'third', 'KeyCreated')).reportingInstance).toBe('op-c');
  });
});
