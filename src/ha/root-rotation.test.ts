/**
 * Root-key rotation with shared state (root-rotation.ts, docs/adr/0026), in process over the fake API: the pure
 * decisions (who lacks the new root, who has not switched), mixed state readable under both roots, the refusal
 * naming the instance that lacks the new root (nothing moves), the move itself (afterwards no record verifies and
 * no version unwraps under the old root alone, and a record made with the old root is refused), a move cut short
 * and run again, and an instance holding only the old root that says why it is not ready.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type InstanceHeartbeat, lackingRoot, notSwitched } from '../api/heartbeat-format.ts';
import type { KmsStateRecord } from '../api/kinds.ts';
import { fromObject, toObject } from '../api/state-records.ts';
import { nodeCrypto } from '../crypto/node-provider.ts';
import { EngineCore } from '../engine/core.ts';
import { decrypt, encrypt } from '../engine/ops-encrypt.ts';
import { createKey } from '../engine/ops-keys.ts';
import { rotateKey } from '../engine/ops-rotation.ts';
import { SYSTEM } from '../engine/policy.ts';
import type { RootKey } from '../engine/ports.ts';
import { keyMaterialAad, type StoreState } from '../engine/records.ts';
import { SecretBytes } from '../engine/secret.ts';
import { MemoryKeyStore, TestRootKey } from '../engine/testing.ts';
import { decodeBase64, encodeBase64 } from '../keystore/json-reader.ts';
import { RecordAuthKey } from '../keystore/record-auth.ts';
import { RecordAuthRing } from '../keystore/record-auth-ring.ts';
import { resealDocument } from '../keystore/reseal.ts';
import { KubeApiError } from '../kube/errors.ts';
import { createLogger } from '../observability/logger.ts';
import { RootKeyMismatchError } from '../rootkey/errors.ts';
import { rootIdentity, SwitchableRootKey } from '../rootkey/switchable-root-key.ts';
import { describeInstances, SharedRootRotation } from './root-rotation.ts';
import { type RunningSharedState, SharedState } from './shared-state.ts';
import type { SharedKeyStore } from './shared-store.ts';
import { FakeStateApi } from './testing.ts';

const sys = { caller: SYSTEM };
const log = createLogger('silent');
const bytes = (s: string) => new TextEncoder().encode(s);
const text = (s: SecretBytes) => new TextDecoder().decode(s.unsafeBytes());

/** A test root key with an identity that refuses foreign blobs with RootKeyMismatchError, as the providers do. */
class NamedRootKey extends TestRootKey {
  readonly identity: { kind: 'file'; fingerprint: string };
  constructor(fingerprint: string) {
    super(nodeCrypto);
    this.identity = { kind: 'file', fingerprint };
  }
  override async unwrap(wrapped: Uint8Array, aad: Uint8Array): Promise<SecretBytes> {
    return super.unwrap(wrapped, aad).catch(() => {
      throw new RootKeyMismatchError();
    });
  }
}

/** The local cache's root switch (SqliteKeyStore.switchRoot in serve): the state re-wrapped under `to`. */
const cacheSwitch = {
  async switchRoot(from: RootKey, to: RootKey, state: StoreState): Promise<StoreState> {
    return (await resealDocument({ rootKeyCheck: new Uint8Array(0), generation: 0, state }, from, to)).doc
      .state;
  },
};

interface Node {
  core: EngineCore;
  store: SharedKeyStore;
  root: SwitchableRootKey;
  rot: SharedRootRotation;
  run: RunningSharedState;
}

const running: RunningSharedState[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) await r.stop();
});

async function node(api: FakeStateApi, name: string, current: RootKey): Promise<Node> {
  const root = new SwitchableRootKey(current);
  const shared = new SharedState({
    cache: new MemoryKeyStore(),
    rootKey: root,
    namespace: api.namespace,
    api,
  });
  const core = await EngineCore.open({
    crypto: nodeCrypto,
    rootKey: root,
    store: shared.store,
    rotationGate: shared.rotationGate(name, 5_000),
  });
  const run = await shared.run({ core, log, instance: name, keyId: () => '', initialWaitMs: 1_000 });
  running.push(run);
  const rot = new SharedRootRotation({
    core,
    cache: cacheSwitch,
    store: shared.store,
    api,
    root,
    renew: () => run.heartbeat.renewNow(),
    instance: name,
    log,
    switchTimeoutMs: 5_000,
    pollMs: 20,
  });
  return { core, store: shared.store, root, rot, run };
}

async function until(cond: () => boolean, what: string, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Calls `follow` on each node every 20 ms (serve's maintenance sweep) until stopped. */
function following(nodes: readonly Node[]): () => void {
  const t = setInterval(() => {
    for (const n of nodes) n.rot.follow().catch(() => undefined);
  }, 20);
  return () => clearInterval(t);
}

/** Whether every object verifies, and every version unwraps, for a holder of `only` this root key. */
async function readableUnder(only: RootKey, objects: Iterable<KmsStateRecord>): Promise<string[]> {
  const ring = await RecordAuthRing.create(only, 'refuse');
  const items = [...objects];
  await ring.learn(items.map((o) => o.spec?.auth));
  const problems: string[] = [];
  for (const o of items) {
    try {
      const d = fromObject(o, ring);
      if (d.kind === 'Key')
        for (const v of d.record.versions)
          (await only.unwrap(v.wrappedMaterial, keyMaterialAad(d.record.keyId, v.version))).wipe();
    } catch (e) {
      problems.push(`${o.metadata.name}: ${(e as Error).message}`);
    }
  }
  return problems;
}

const hb = (instance: string, rootKey: string, nextRootKey = '', renewedAt = 1_000): InstanceHeartbeat => ({
  instance,
  renewedAt,
  durationMs: 30_000,
  held: {},
  keyId: '',
  rootKey,
  nextRootKey,
});

describe('which live instances lack the new root key', () => {
  it('names live instances that hold it neither as current nor as staged; expired ones do not count', () => {
    const hs = [
      hb('a', 'file:old', 'file:new'),
      hb('b', 'file:old'),
      hb('c', 'file:new'),
      hb('d', 'file:old', '', -60_000),
    ];
    expect(lackingRoot(hs, 'file:new', 2_000).map((h) => h.instance)).toEqual(['b']);
    expect(notSwitched(hs, 'file:new', 2_000).map((h) => h.instance)).toEqual(['a', 'b']);
    expect(describeInstances(lackingRoot(hs, 'file:new', 2_000))).toBe('b (holds file:old)');
  });
});

describe('a switchable root key with a staged root', () => {
  it('reads blobs of either root, wraps with the current one, and keeps the previous readable after the switch', async () => {
    const oldKey = new NamedRootKey('1111111111111111');
    const newKey = new NamedRootKey('2222222222222222');
    const aad = bytes('aad');
    const underOld = await oldKey.wrap(new SecretBytes(bytes('o')), aad);
    const root = new SwitchableRootKey(oldKey);
    const underNew = await newKey.wrap(new SecretBytes(bytes('n')), aad);
    await expect(root.unwrap(underNew, aad)).rejects.toBeInstanceOf(RootKeyMismatchError);
    root.stage(newKey);
    expect(text(await root.unwrap(underOld, aad))).toBe('o');
    expect(text(await root.unwrap(underNew, aad))).toBe('n');
    root.promoteStaged();
    expect(rootIdentity(root.current)).toBe('file:2222222222222222');
    expect(rootIdentity(root.previous)).toBe('file:1111111111111111');
    expect(root.staged).toBeUndefined();
    // Wraps now under the new root: the old one alone cannot read them.
    const fresh = await root.wrap(new SecretBytes(bytes('f')), aad);
    await expect(oldKey.unwrap(fresh, aad)).rejects.toBeInstanceOf(RootKeyMismatchError);
    expect(text(await root.unwrap(underOld, aad))).toBe('o');
  });
});

describe('root-key rotation with shared state', () => {
  it('is refused, naming the instance, while one live instance lacks the new root; then moves every record', async () => {
    const api = new FakeStateApi();
    const oldKey = new NamedRootKey('1111111111111111');
    const newKey = new NamedRootKey('2222222222222222');
    const a = await node(api, 'a', oldKey);
    const b = await node(api, 'b', oldKey);
    const { keyId } = await createKey(a.core, sys, { description: 'shared' });
    await rotateKey(a.core, keyId, 'ON_DEMAND');
    await until(() => b.core.findKey(keyId)?.primaryVersion === 2, 'b to take v2');
    const before = encrypt(b.core, sys, { keyId, plaintext: bytes('before') });

    await a.rot.stage(newKey);
    const snapshot = JSON.stringify([...api.objects.values()]);
    await expect(a.rot.rotate(newKey)).rejects.toThrow(
      /live instances do not hold the new root key file:2222222222222222.*: b \(holds file:1111111111111111\)/,
    );
    expect(JSON.stringify([...api.objects.values()])).toBe(snapshot);
    expect(rootIdentity(a.root.current)).toBe('file:1111111111111111');

    await b.rot.stage(newKey);
    const stop = following([a, b]);
    try {
      const r = await a.rot.rotate(newKey);
      expect(r).toMatchObject({ keys: 1, versions: 2 });
    } finally {
      stop();
    }
    expect(rootIdentity(b.root.current)).toBe('file:2222222222222222');
    const leases = [...api.leases.values()].filter((l) => l.metadata.name.startsWith('kubekms-instance-'));
    expect(leases.map((l) => l.metadata.annotations?.['kubekms.io/root-key'])).toEqual([
      'file:2222222222222222',
      'file:2222222222222222',
    ]);
    // Every record verifies and unwraps under the new root alone, none under the old root alone.
    expect(await readableUnder(newKey, api.objects.values())).toEqual([]);
    const underOld = await readableUnder(oldKey, api.objects.values());
    expect(underOld).toHaveLength(api.objects.size);
    expect(underOld.every((p) => /writer key is not wrapped by this root key/.test(p))).toBe(true);
    // A record made by a holder of the old root only (a wider policy, say) is refused by the new root.
    const obj = api.objects.get(`key-${keyId}`);
    if (obj === undefined) throw new Error('no key object');
    const d = fromObject(obj, await ringOf(newKey, obj));
    if (d.kind !== 'Key') throw new Error('not a key');
    const wider = { kind: 'Key' as const, record: { ...d.record, description: 'forged' } };
    const forged = toObject(wider, await RecordAuthRing.create(oldKey), api.namespace);
    expect(await readableUnder(newKey, [forged])).toEqual([
      expect.stringMatching(/writer key is not wrapped by this root key/),
    ]);
    // The marker says done once every record moved.
    expect(api.leases.get('kubekms-root-key')?.metadata.annotations).toEqual({
      'kubekms.io/root-key': 'file:2222222222222222',
      'kubekms.io/root-rotation': 'done',
    });
    // A holder of the old root reuses a writer key from before the rotation (it can unwrap it) for a wider record.
    const old = (JSON.parse(snapshot) as KmsStateRecord[]).find((o) => o.metadata.name === `key-${keyId}`);
    const oldBlob = (old?.spec?.auth as { recordAuthKey: string } | undefined)?.recordAuthKey ?? '';
    const oldWriter = await RecordAuthKey.unwrap(oldKey, decodeBase64(oldBlob) ?? new Uint8Array(0));
    const reused = {
      ...forged,
      spec: { ...forged.spec, auth: { recordAuthKey: oldBlob, auth: encodeBase64(oldWriter.authOf(wider)) } },
    };
    // b learnt that writer key while the records moved (as its sync does for an object not moved yet): accepted.
    await b.store.ring.learn([reused.spec.auth]);
    expect(fromObject(reused, b.store.ring).kind).toBe('Key');
    // Once b sees the marker say done: the old root and the writer keys learnt under it are refused.
    await b.rot.follow();
    expect([a.root.previous, b.root.previous]).toEqual([undefined, undefined]);
    await b.store.ring.learn([reused.spec.auth]);
    expect(() => fromObject(reused, b.store.ring)).toThrow(/its writer key is not wrapped by this root key/);
    // Data encrypted before reads on both instances, and new data written after reads too.
    expect(text(decrypt(a.core, sys, { ciphertextBlob: before.ciphertextBlob }).plaintext)).toBe('before');
    const after = encrypt(a.core, sys, { keyId, plaintext: bytes('after') });
    expect(text(decrypt(b.core, sys, { ciphertextBlob: after.ciphertextBlob }).plaintext)).toBe('after');
  });

  it('a move cut short (the API fails halfway) leaves a readable mixed state, and running it again finishes', async () => {
    const api = new FlakyApi();
    const oldKey = new NamedRootKey('3333333333333333');
    const newKey = new NamedRootKey('4444444444444444');
    const a = await node(api, 'a', oldKey);
    const b = await node(api, 'b', oldKey);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await createKey(a.core, sys, {})).keyId);
    await until(() => ids.every((id) => b.core.findKey(id) !== undefined), 'b to take the keys');
    await a.rot.stage(newKey);
    await b.rot.stage(newKey);
    const stop = following([a, b]);
    try {
      api.failReplacesAfter = 2;
      await expect(a.rot.rotate(newKey)).rejects.toThrow(/2 records moved, 2 not: .*run again to finish/);
      // Mixed: two objects under the new root, two under the old; both instances read all of them.
      expect(await readableUnder(newKey, api.objects.values())).toHaveLength(2);
      const both = new SwitchableRootKey(newKey);
      both.stage(oldKey);
      expect(await readableUnder(both, api.objects.values())).toEqual([]);
      api.failReplacesAfter = undefined;
      await a.rot.rotate(newKey);
    } finally {
      stop();
    }
    expect(await readableUnder(newKey, api.objects.values())).toEqual([]);
    expect(await readableUnder(oldKey, api.objects.values())).toHaveLength(4);
  });

  it('an instance that holds only the old root says, in its readiness, that the cluster moved to another root', async () => {
    const api = new FakeStateApi();
    const oldKey = new NamedRootKey('5555555555555555');
    const newKey = new NamedRootKey('6666666666666666');
    const a = await node(api, 'a', oldKey);
    await createKey(a.core, sys, {});
    await a.rot.stage(newKey);
    await a.rot.rotate(newKey);
    await a.run.heartbeat.stop();
    api.leases.delete('kubekms-instance-a');
    const late = await node(api, 'late', oldKey);
    await late.rot.follow();
    expect(late.rot.health()).toEqual({
      ok: false,
      detail: expect.stringMatching(
        /records are moving or have moved to root key file:6666666666666666 .*holds file:5555555555555555 only/,
      ),
    });
  });
});

/** A ring that has learnt `obj`'s writer key under `root` (to decode an object before forging it). */
async function ringOf(root: RootKey, obj: KmsStateRecord): Promise<RecordAuthRing> {
  const ring = await RecordAuthRing.create(root);
  await ring.learn([obj.spec?.auth]);
  return ring;
}

/** The fake API, with replaces that fail like a lost connection once `failReplacesAfter` have succeeded. */
class FlakyApi extends FakeStateApi {
  failReplacesAfter: number | undefined;
  override async replace(body: KmsStateRecord): Promise<KmsStateRecord> {
    if (this.failReplacesAfter !== undefined) {
      if (this.failReplacesAfter <= 0) throw new KubeApiError(503, 'ServiceUnavailable', 'etcd went away');
      this.failReplacesAfter--;
    }
    return super.replace(body);
  }
}
