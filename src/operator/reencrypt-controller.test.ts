import pino from 'pino';
import { Registry } from 'prom-client';
import { beforeEach, describe, expect, it } from 'vitest';
import { sha256Label } from '../api/apiserver-writes.ts';
import type { KmsKey, ReencryptionStatus } from '../api/kinds.ts';
import { formatKeyId } from '../api/kmsv2-key-id.ts';
import { nodeCrypto } from '../crypto/node-provider.ts';
import { EngineCore } from '../engine/core.ts';
import { ensureClusterKey, SECRETS_KEY_ALIAS } from '../engine/ops-maintenance.ts';
import { rotateKey } from '../engine/ops-rotation.ts';
import { ManualClock, MemoryKeyStore, TestRootKey } from '../engine/testing.ts';
import type { KubeClient } from '../kube/client.ts';
import { KubeApiError } from '../kube/errors.ts';
import type { EventInput } from '../kube/events.ts';
import type { OperatorContext } from './context.ts';
import { ReencryptController } from './reencrypt-controller.ts';
import { FakeApi, FakeMigrations, populate } from './reencrypt-fake-api.ts';
import { type ReencryptMetrics, reencryptMetrics } from './reencrypt-metrics.ts';
import type { SwitchObservation } from './switch-decisions.ts';
import type { SwitchObserver } from './switch-observer.ts';

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    typeof target === 'object' && target !== null && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** One KmsKey behind get and (status) merge patches with a resourceVersion precondition. */
class FakeKeyApi {
  obj: KmsKey;
  rv = 1;
  conflictsToInject = 0;
  patches = 0;
  constructor(o: KmsKey) {
    this.obj = o;
  }
  client(): KubeClient {
    const get = async () =>
      structuredClone({ ...this.obj, metadata: { ...this.obj.metadata, resourceVersion: String(this.rv) } });
    const patch = async (_t: unknown, _ns: string, _n: string, body: unknown) => {
      const b = body as { metadata?: { resourceVersion?: string }; status?: unknown };
      if (
        this.conflictsToInject > 0 ||
        (b.metadata?.resourceVersion && b.metadata.resourceVersion !== String(this.rv))
      ) {
        this.conflictsToInject = Math.max(0, this.conflictsToInject - 1);
        this.rv++;
        throw new KubeApiError(409, 'Conflict', 'the object has been modified');
      }
      this.patches++;
      this.obj = { ...this.obj, status: mergePatch(this.obj.status, b.status) as KmsKey['status'] };
      this.rv++;
      return this.obj;
    };
    return { get, patch } as unknown as KubeClient;
  }
}

const ns = 'kubekms';
let core: EngineCore;
let keyId: string;
let keyApi: FakeKeyApi;
let events: EventInput[];
let api: FakeApi;

function ctx(): OperatorContext {
  return {
    core,
    client: keyApi.client(),
    recorder: { record: (e: EventInput) => void events.push(e) },
    log: pino({ level: 'silent' }),
    keys: { list: () => [keyApi.obj] },
    namespace: ns,
  } as unknown as OperatorContext;
}

function controller(o: {
  delayMs: number;
  resources?: string[];
  observer?: SwitchObserver;
  metrics?: ReencryptMetrics;
}) {
  return new ReencryptController(
    ctx(),
    api,
    {
      secretsKey: SECRETS_KEY_ALIAS,
      resources: o.resources ?? ['secrets'],
      delayMs: o.delayMs,
      qps: 0,
      pageSize: 10,
      pollMs: 20,
      ...(o.observer ? { observer: o.observer } : {}),
    },
    o.metrics,
  );
}

/** One API server whose /metrics show a write under `writesKeyId()` (the rotation's time, as it would). */
function observer(writesKeyId: () => string | undefined): SwitchObserver & { looks: number } {
  const apiserver = sha256Label('apiserver-test');
  const o = {
    looks: 0,
    async observe(): Promise<SwitchObservation> {
      o.looks++;
      const k = writesKeyId();
      return {
        live: [apiserver],
        writes: k ? [{ apiserver, keyIdHash: sha256Label(k), at: Date.now() }] : [],
      };
    },
  };
  return o;
}

const re = (): ReencryptionStatus | undefined => keyApi.obj.status?.reencryption;
const cond = () => keyApi.obj.status?.conditions?.find((c) => c.type === 'Reencrypted');
const reasons = () => events.map((e) => e.reason);

/** Records in the key's status a pass over 45 objects to version 2, running when its leader stopped. */
function recordRunningPass(pass: Partial<ReencryptionStatus>): void {
  keyApi.obj = {
    ...keyApi.obj,
    status: {
      ...keyApi.obj.status,
      reencryption: { phase: 'Running', keyVersion: 2, total: 45, done: 0, skipped: 0, failed: 0, ...pass },
    },
  };
}

async function until(what: string, f: () => boolean, ms = 5_000): Promise<void> {
  for (const end = Date.now() + ms; !f(); await new Promise((r) => setTimeout(r, 10)))
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
}

beforeEach(async () => {
  const clock = new ManualClock(Date.now() - 60_000);
  core = await EngineCore.open({
    crypto: nodeCrypto,
    rootKey: new TestRootKey(nodeCrypto),
    store: new MemoryKeyStore(),
    clock,
  });
  keyId = await ensureClusterKey(core, SECRETS_KEY_ALIAS, 'secrets');
  keyApi = new FakeKeyApi({
    apiVersion: 'kubekms.io/v1alpha1',
    kind: 'KmsKey',
    metadata: { name: 'secrets', namespace: ns, uid: 'u1', generation: 1 },
    status: {
      keyId,
      conditions: [
        { type: 'Ready', status: 'True', reason: 'ClusterManaged', message: '', lastTransitionTime: '' },
      ],
    },
  });
  events = [];
  api = new FakeApi();
  populate(api, 3, 15);
});

describe('ReencryptController', () => {
  it('does nothing while the key was never rotated', async () => {
    const c = controller({ delayMs: 0 });
    c.start();
    await new Promise((r) => setTimeout(r, 100));
    await c.stop();
    expect(re()).toBeUndefined();
    expect(api.replaces).toBe(0);
  });

  it('after a rotation: Pending until the delay, with notBefore and a waiting condition', async () => {
    await rotateKey(core, keyId, 'ON_DEMAND');
    const c = controller({ delayMs: 3_600_000 });
    c.start();
    await until('Pending', () => re()?.phase === 'Pending');
    await c.stop();
    expect(re()).toMatchObject({ phase: 'Pending', keyVersion: 2 });
    expect(Date.parse(re()?.notBefore ?? '')).toBeGreaterThan(Date.now() + 3_000_000);
    expect(cond()).toMatchObject({ status: 'False', reason: 'WaitingForApiservers' });
    expect(api.replaces).toBe(0);
  });

  it('starts long before the delay once every live API server writes under the new key_id', async () => {
    await rotateKey(core, keyId, 'ON_DEMAND');
    let switched: string | undefined;
    const obs = observer(() => switched);
    const c = controller({ delayMs: 3_600_000, observer: obs });
    c.start();
    await until('Pending', () => re()?.switchover?.apiservers === 1);
    expect(re()).toMatchObject({ phase: 'Pending', switchover: { apiservers: 1, switched: 0 } });
    expect(cond()?.message).toMatch(/0 of 1 live API servers seen writing under the new key_id/);
    expect(api.replaces).toBe(0);
    switched = formatKeyId(keyId, 2);
    await until('Completed', () => re()?.phase === 'Completed');
    await c.stop();
    expect(re()).toMatchObject({ keyVersion: 2, done: 45, switchover: { apiservers: 1, switched: 1 } });
    expect(api.staleCount()).toBe(0);
    const started = events.find((e) => e.reason === 'ReencryptionStarted');
    expect(started?.note).toMatch(/started: every live API server \(1\) writes under the new key_id/);
  });

  it('a write under the old key_id is not a switch; unreadable metrics leave the delay, with the reason', async () => {
    await rotateKey(core, keyId, 'ON_DEMAND');
    const old = observer(() => formatKeyId(keyId, 1));
    const registry = new Registry();
    const metrics = reencryptMetrics(registry);
    const gauge = async (series: string) =>
      (await registry.metrics())
        .split('\n')
        .find((l) => l.startsWith(`${series} `))
        ?.split(' ')[1];
    const c = controller({ delayMs: 3_600_000, observer: old, metrics });
    c.start();
    await until('a few looks', () => old.looks >= 3 && re()?.phase === 'Pending');
    await c.stop();
    expect(re()?.switchover).toEqual({
      apiservers: 1,
      switched: 0,
      pending: [sha256Label('apiserver-test')],
    });
    expect(await gauge('kubekms_reencryption_apiservers{state="live"}')).toBe('1');
    expect(await gauge('kubekms_reencryption_apiservers{state="switched"}')).toBe('0');
    expect(await gauge('kubekms_reencryption_switchover_observable')).toBe('1');
    const broken = controller({
      metrics,
      delayMs: 3_600_000,
      observer: {
        observe: async () => ({ error: 'GET /metrics: 403 (needs RBAC get on the nonResourceURL /metrics)' }),
      },
    });
    broken.start();
    await until('unavailable', () => re()?.switchover?.unavailable !== undefined);
    await broken.stop();
    expect(await gauge('kubekms_reencryption_switchover_observable')).toBe('0');
    expect(re()?.phase).toBe('Pending');
    expect(cond()).toMatchObject({ reason: 'WaitingForApiservers' });
    expect(cond()?.message).toMatch(/cannot be seen \(GET \/metrics: 403.*\), so the delay decides/);
    expect(api.replaces).toBe(0);
  });

  it('runs the pass once the API server switched: Completed, counts, condition, Events; Ready is kept', async () => {
    await rotateKey(core, keyId, 'ON_DEMAND');
    keyApi.conflictsToInject = 2; // status writes retry on 409
    const c = controller({ delayMs: 0, observer: observer(() => formatKeyId(keyId, 2)) });
    c.start();
    await until('Completed', () => re()?.phase === 'Completed');
    await until('VersionsRetired', () => reasons().includes('VersionsRetired'));
    await c.stop();
    expect(re()).toMatchObject({ keyVersion: 2, total: 45, done: 45, skipped: 0, failed: 0 });
    expect(re()?.continue).toBeUndefined();
    expect(api.staleCount()).toBe(0);
    expect(cond()).toMatchObject({ status: 'True', reason: 'Completed' });
    expect(keyApi.obj.status?.conditions?.find((x) => x.type === 'Ready')?.reason).toBe('ClusterManaged');
    expect(reasons()).toEqual(['ReencryptionStarted', 'ReencryptionCompleted', 'VersionsRetired']);
    // A verified completion (0 failures, nothing skipped) retires the versions below the new one.
    expect(core.findKey(keyId)?.versions.map((v) => v.retiredAt !== undefined)).toEqual([true, false]);
  });

  it('a pass the delay started (switch-over not seen) completes but retires nothing', async () => {
    await rotateKey(core, keyId, 'ON_DEMAND');
    const c = controller({ delayMs: 0, observer: { observe: async () => ({ error: 'GET /metrics: 403' }) } });
    c.start();
    await until('Completed', () => re()?.phase === 'Completed');
    await new Promise((r) => setTimeout(r, 100)); // a few idle steps, where retirement would happen
    await c.stop();
    expect(api.staleCount()).toBe(0);
    expect(reasons()).toEqual(['ReencryptionStarted', 'ReencryptionCompleted']);
    expect(core.findKey(keyId)?.versions.some((v) => v.retiredAt !== undefined)).toBe(false);
  });

  it('where StorageVersionMigration is served: one per resource, followed into status, then deleted', async () => {
    await rotateKey(core, keyId, 'ON_DEMAND');
    const svm = new FakeMigrations(api);
    api.migrations = svm;
    const c = controller({
      delayMs: 0,
      resources: ['secrets', 'widgets.example.com'],
      observer: observer(() => formatKeyId(keyId, 2)),
    });
    c.start();
    await until('Completed', () => re()?.phase === 'Completed');
    await until('cleaned up', () => svm.objects.size === 0);
    await c.stop();
    expect(api.staleCount()).toBe(0);
    expect(api.replaces).toBe(0); // the cluster migrated, not kubekms's pass
    expect(svm.created).toEqual(['kubekms-v2-secrets']);
    expect(svm.deleted).toContain('kubekms-v2-secrets');
    expect(svm.objects.size).toBe(0);
    expect(re()).toMatchObject({
      method: 'StorageVersionMigration',
      keyVersion: 2,
      total: 45,
      done: 45,
      failed: 0,
      unknownResources: ['widgets.example.com'],
      migrations: [{ resource: 'secrets', name: 'kubekms-v2-secrets', phase: 'Succeeded' }],
    });
    expect(cond()).toMatchObject({ reason: 'UnknownResource' });
    const started = events.find((e) => e.reason === 'ReencryptionStarted');
    expect(started?.note).toMatch(/through StorageVersionMigration/);
    expect(reasons()).toContain('ReencryptionCompleted');
  });

  it('a restarted leader follows the StorageVersionMigration it created before (no new one)', async () => {
    await rotateKey(core, keyId, 'ON_DEMAND');
    const svm = new FakeMigrations(api);
    api.migrations = svm;
    await svm.create('kubekms-v2-secrets', '', 'secrets');
    await svm.get('kubekms-v2-secrets'); // the migrator is at work
    recordRunningPass({ method: 'StorageVersionMigration' });
    const c = controller({ delayMs: 0 });
    c.start();
    await until('Completed', () => re()?.phase === 'Completed');
    await c.stop();
    expect(svm.created).toEqual(['kubekms-v2-secrets']); // only the one from before the restart
    // The count was never seen running (the migrator overwrites it on success): counted by a list instead.
    expect(re()).toMatchObject({ total: 45, done: 45, failed: 0 });
    expect(svm.deleted).toEqual(['kubekms-v2-secrets']);
    expect(api.staleCount()).toBe(0);
    expect(reasons()).toEqual(['ReencryptionResumed', 'ReencryptionCompleted']);
  });

  it('a failed StorageVersionMigration fails the pass (retried later) and is cleaned up', async () => {
    await rotateKey(core, keyId, 'ON_DEMAND');
    const svm = new FakeMigrations(api);
    svm.failNext = true;
    api.migrations = svm;
    const c = controller({ delayMs: 0 });
    c.start();
    await until('Failed', () => re()?.phase === 'Failed');
    await c.stop();
    expect(re()).toMatchObject({ method: 'StorageVersionMigration', failed: 3, total: 45, done: 42 });
    expect(re()?.migrations?.[0]?.message).toMatch(/unhandled error: boom/);
    expect(cond()).toMatchObject({ status: 'False', reason: 'ObjectsFailed' });
    expect(reasons()).toContain('ReencryptionFailed');
    expect(svm.objects.size).toBe(0);
  });

  it('resumes a recorded pass from its continue point', async () => {
    await rotateKey(core, keyId, 'ON_DEMAND');
    recordRunningPass({ done: 20, resource: 'secrets', continue: 'ns01/s004' });
    const c = controller({ delayMs: 0 });
    c.start();
    await until('Completed', () => re()?.phase === 'Completed');
    await c.stop();
    expect(re()).toMatchObject({ total: 45, done: 45 });
    expect(api.replaces).toBe(25);
    expect(reasons().slice(0, 2)).toEqual(['ReencryptionResumed', 'ReencryptionCompleted']);
  });

  it('an unknown resource is reported and the rest done', async () => {
    await rotateKey(core, keyId, 'ON_DEMAND');
    const c = controller({ delayMs: 0, resources: ['widgets.example.com', 'secrets'] });
    c.start();
    await until('Completed', () => re()?.phase === 'Completed');
    await c.stop();
    expect(api.staleCount()).toBe(0);
    expect(cond()).toMatchObject({ status: 'False', reason: 'UnknownResource' });
    expect(reasons()).toContain('ReencryptionResourceUnknown');
    // Not a verified completion: a resource was skipped, so nothing is retired.
    await new Promise((r) => setTimeout(r, 100));
    expect(reasons()).not.toContain('VersionsRetired');
    expect(core.findKey(keyId)?.versions.some((v) => v.retiredAt !== undefined)).toBe(false);
  });

  it('a second rotation after a completed pass starts a new one for the new version', async () => {
    await rotateKey(core, keyId, 'ON_DEMAND');
    const c = controller({ delayMs: 0 });
    c.start();
    await until('Completed v2', () => re()?.phase === 'Completed' && re()?.keyVersion === 2);
    api.currentKey = 3;
    await rotateKey(core, keyId, 'ON_DEMAND');
    c.nudge();
    await until('Completed v3', () => re()?.phase === 'Completed' && re()?.keyVersion === 3);
    await c.stop();
    expect(api.staleCount()).toBe(0);
  });
});
