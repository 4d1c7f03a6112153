// The mirror of the cluster-managed Secrets key honours spec.rotateNow (one online rotation per token) and
// spec.retiredVersions (the engine's policy), and still reverts every other edit.
import pino from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import type { KmsKey } from '../api/kinds.ts';
import { nodeCrypto } from '../crypto/node-provider.ts';
import { EngineCore } from '../engine/core.ts';
import { ensureClusterKey, SECRETS_KEY_ALIAS } from '../engine/ops-maintenance.ts';
import { retireVersionsBelow } from '../engine/ops-retirement.ts';
import { rotateKey } from '../engine/ops-rotation.ts';
import { ManualClock, MemoryKeyStore, TestRootKey } from '../engine/testing.ts';
import type { KubeClient } from '../kube/client.ts';
import type { EventInput } from '../kube/events.ts';
import { mirrorName, mirrorSpec, reconcileMirror } from './cluster-key-mirror.ts';
import type { OperatorContext } from './context.ts';

type Obj = Record<string, unknown>;
function merge(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Obj = typeof target === 'object' && target !== null ? { ...(target as Obj) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = merge(out[k], v);
  }
  return out;
}

let core: EngineCore;
let keyId: string;
let mirror: KmsKey;
let events: EventInput[];
let ctx: OperatorContext;

beforeEach(async () => {
  core = await EngineCore.open({
    crypto: nodeCrypto,
    rootKey: new TestRootKey(nodeCrypto),
    store: new MemoryKeyStore(),
    clock: new ManualClock(),
  });
  keyId = await ensureClusterKey(core, SECRETS_KEY_ALIAS, 'secrets');
  mirror = {
    apiVersion: 'kubekms.io/v1alpha1',
    kind: 'KmsKey',
    metadata: { name: mirrorName, namespace: 'kubekms', uid: 'm1', generation: 1 },
    spec: mirrorSpec(core.findKey(keyId)!),
  };
  events = [];
  const client = {
    patch: async (_t: unknown, _ns: string, _n: string, body: Obj) => {
      mirror = merge(mirror, body) as KmsKey;
      return mirror;
    },
  } as unknown as KubeClient;
  ctx = {
    core,
    client,
    recorder: { record: (e: EventInput) => void events.push(e) },
    log: pino({ level: 'silent' }),
    keys: { get: () => mirror, list: () => [mirror] },
    namespace: 'kubekms',
    rotateNowHandled: new Map(),
    lastReady: new Map(),
  } as unknown as OperatorContext;
});

const edit = (spec: Obj) => {
  mirror = { ...mirror, spec: { ...mirror.spec, ...spec } };
};

describe('the Secrets key mirror', () => {
  it('rotates the cluster-managed key once per new spec.rotateNow token, online', async () => {
    edit({ rotateNow: 't1' });
    await reconcileMirror(ctx);
    expect(core.findKey(keyId)?.primaryVersion).toBe(2);
    expect(mirror.spec?.rotateNow).toBe('t1'); // honoured, not reverted
    expect(mirror.status).toMatchObject({ rotateNow: 't1', currentVersion: 2 });
    await reconcileMirror(ctx);
    expect(core.findKey(keyId)?.primaryVersion).toBe(2); // the same token: once only
    edit({ rotateNow: 't2' });
    await reconcileMirror(ctx);
    expect(core.findKey(keyId)?.primaryVersion).toBe(3);
    expect(events.filter((e) => e.reason === 'KeyRotated').map((e) => e.note)).toEqual([
      `cluster-managed key ${SECRETS_KEY_ALIAS} rotated online (spec.rotateNow=t1): version 2 now encrypts`,
      `cluster-managed key ${SECRETS_KEY_ALIAS} rotated online (spec.rotateNow=t2): version 3 now encrypts`,
    ]);
  });

  it('sets and removes the retired versions policy; other edits are reverted', async () => {
    edit({ retiredVersions: { disableDecryptAfter: '7d' }, enabled: false });
    await reconcileMirror(ctx);
    expect(core.findKey(keyId)?.retiredVersions).toEqual({ disableDecryptAfterMs: 7 * 86_400_000 });
    expect(mirror.spec?.enabled).toBe(true);
    expect(mirror.spec?.retiredVersions).toEqual({ disableDecryptAfter: '7d' });
    expect(events.map((e) => e.reason)).toEqual(['EditReverted', 'RetiredVersionsPolicyUpdated']);
    mirror = { ...mirror, spec: mirrorSpec(core.findKey(keyId)!) };
    await reconcileMirror(ctx);
    expect(core.findKey(keyId)?.retiredVersions).toBeUndefined();
  });

  it('schedules the destruction of a retired version listed in spec.retiredVersions.destroy, and cancels it when unlisted', async () => {
    await rotateKey(core, keyId, 'ON_DEMAND');
    await retireVersionsBelow(core, keyId, 2);
    edit({ retiredVersions: { destroy: [{ version: 1 }], destroyWindowDays: 7 } });
    await reconcileMirror(ctx);
    const v1 = () => core.findKey(keyId)?.versions.find((v) => v.version === 1);
    expect(v1()?.destroyAt).toBe(core.clock.now() + 7 * 86_400_000);
    expect(mirror.status?.retiredVersions).toEqual([
      expect.objectContaining({ version: 1, destructionDate: new Date(v1()!.destroyAt!).toISOString() }),
    ]);
    await reconcileMirror(ctx); // level-triggered: nothing more
    edit({ retiredVersions: {} });
    await reconcileMirror(ctx);
    expect(v1()?.destroyAt).toBeUndefined();
    expect(events.map((e) => e.reason).filter((r) => r.startsWith('VersionDestruction'))).toEqual([
      'VersionDestructionScheduled',
      'VersionDestructionCancelled',
    ]);
  });
});
