import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { aliasObjectName, keyObjectName } from '../api/state-records.ts';
import { nodeCrypto } from '../crypto/node-provider.ts';
import { EngineCore } from '../engine/core.ts';
import { KmsError } from '../engine/errors.ts';
import { createAlias } from '../engine/ops-aliases.ts';
import { decrypt, encrypt } from '../engine/ops-encrypt.ts';
import { createKey, disableKey } from '../engine/ops-keys.ts';
import { ensureClusterKey, SECRETS_KEY_ALIAS } from '../engine/ops-maintenance.ts';
import { rotateKey } from '../engine/ops-rotation.ts';
import { SYSTEM } from '../engine/policy.ts';
import type { SecretBytes } from '../engine/secret.ts';
import { MemoryKeyStore, TestRootKey } from '../engine/testing.ts';
import { createLogger } from '../observability/logger.ts';
import { RootKeyMismatchError } from '../rootkey/errors.ts';
import { ensureSharedClusterKey } from './bootstrap.ts';
import { type RunningSharedState, SharedState } from './shared-state.ts';
import { FakeStateApi } from './testing.ts';

const sys = { caller: SYSTEM };

/** TestRootKey refusing foreign blobs with RootKeyMismatchError, as the real providers do (engine/ports.ts). */
class ProviderLikeRootKey extends TestRootKey {
  readonly identity = { kind: 'file', fingerprint: '0123456789abcdef' } as const;
  override async unwrap(wrapped: Uint8Array, aad: Uint8Array): Promise<SecretBytes> {
    return super.unwrap(wrapped, aad).catch(() => {
      throw new RootKeyMismatchError();
    });
  }
}
const log = createLogger('silent');
const rootBytes = nodeCrypto.randomBytes(32);
const bytes = (s: string) => new TextEncoder().encode(s);

interface Instance {
  core: EngineCore;
  cache: MemoryKeyStore;
  run: RunningSharedState;
  shared: SharedState;
}

const running: RunningSharedState[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) await r.stop();
});

async function instance(
  api: FakeStateApi,
  name: string,
  o: {
    cache?: MemoryKeyStore;
    ackTimeoutMs?: number;
    root?: Uint8Array;
    legacyRecords?: 'accept' | 'refuse';
    log?: ReturnType<typeof createLogger>;
  } = {},
): Promise<Instance> {
  const cache = o.cache ?? new MemoryKeyStore();
  const rootKey = new ProviderLikeRootKey(nodeCrypto, o.root ?? rootBytes);
  const legacy = o.legacyRecords ? { legacyRecords: o.legacyRecords } : {};
  const shared = new SharedState({ cache, rootKey, namespace: api.namespace, api, ...legacy });
  const core = await EngineCore.open({
    crypto: nodeCrypto,
    rootKey,
    store: shared.store,
    rotationGate: shared.rotationGate(name, o.ackTimeoutMs ?? 5_000),
  });
  const run = await shared.run({
    core,
    log: o.log ?? log,
    instance: name,
    keyId: () => '',
    initialWaitMs: 1_000,
  });
  running.push(run);
  return { core, cache, run, shared };
}

async function until(cond: () => boolean, what: string, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('shared key state between instances', () => {
  it('a key created on one instance is in the API, in the other engine and in its cache', async () => {
    const api = new FakeStateApi();
    const a = await instance(api, 'a');
    const b = await instance(api, 'b');
    const { keyId } = await createKey(a.core, sys, { description: 'shared' });
    expect(api.objects.has(keyObjectName(keyId))).toBe(true);
    await until(() => b.core.findKey(keyId) !== undefined, 'b to see the key');
    expect(b.cache.keys.get(keyId)?.revision).toBe(a.core.findKey(keyId)?.revision);
    const ct = encrypt(a.core, sys, { keyId, plaintext: bytes('hello') });
    expect(
      new TextDecoder().decode(
        decrypt(b.core, sys, { ciphertextBlob: ct.ciphertextBlob }).plaintext.unsafeBytes(),
      ),
    ).toBe('hello');
  });

  it('a rotation is promoted only after every live instance holds the new version', async () => {
    const api = new FakeStateApi();
    const a = await instance(api, 'a');
    const b = await instance(api, 'b');
    const { keyId } = await createKey(a.core, sys, {});
    await until(() => b.core.findKey(keyId) !== undefined, 'b to see the key');
    const rotated = await rotateKey(a.core, keyId, 'ON_DEMAND');
    expect(rotated.primaryVersion).toBe(2);
    // b held version 2 before a promoted it: its heartbeat says so.
    expect(b.core.holdsVersion(keyId, 2)).toBe(true);
    const lease = api.leases.get('kubekms-instance-b');
    expect(JSON.parse(lease?.metadata.annotations?.['kubekms.io/held-versions'] ?? '{}')[keyId]).toBe(2);
    // …and which root of trust it holds (doctor compares them).
    expect(lease?.metadata.annotations?.['kubekms.io/root-key']).toBe('file:0123456789abcdef');
    await until(() => b.core.findKey(keyId)?.primaryVersion === 2, 'b to see the promotion');
    const ct = encrypt(b.core, sys, { keyId, plaintext: bytes('v2') });
    expect(decrypt(a.core, sys, { ciphertextBlob: ct.ciphertextBlob }).keyId).toContain(keyId);
  });

  it('a live instance that does not acknowledge keeps the version staged; the sweep promotes it later', async () => {
    const api = new FakeStateApi();
    const a = await instance(api, 'a', { ackTimeoutMs: 300 });
    const { keyId } = await createKey(a.core, sys, {});
    // A live instance that never absorbs anything: a heartbeat holding only version 1.
    api.leases.set('kubekms-instance-laggard', {
      metadata: {
        name: 'kubekms-instance-laggard',
        resourceVersion: '1',
        labels: { 'kubekms.io/role': 'instance' },
        annotations: { 'kubekms.io/held-versions': JSON.stringify({ [keyId]: 1 }) },
      },
      spec: { holderIdentity: 'laggard', leaseDurationSeconds: 30, renewTime: new Date().toISOString() },
    });
    const staged = await rotateKey(a.core, keyId, 'ON_DEMAND');
    expect(staged.primaryVersion).toBe(1);
    expect(staged.versions.map((v) => v.version)).toEqual([1, 2]);
    // Rotating again while staged does not stage a third version.
    expect((await rotateKey(a.core, keyId, 'ON_DEMAND')).versions).toHaveLength(2);
    expect(await a.run.promoteAcknowledged()).toEqual([]);
    // The laggard catches up.
    const l = api.leases.get('kubekms-instance-laggard')!;
    api.leases.set(l.metadata.name, {
      ...l,
      metadata: {
        ...l.metadata,
        annotations: { 'kubekms.io/held-versions': JSON.stringify({ [keyId]: 2 }) },
      },
    });
    expect(await a.run.promoteAcknowledged()).toEqual([keyId]);
    expect(a.core.findKey(keyId)?.primaryVersion).toBe(2);
  });

  it('an expired heartbeat does not hold a rotation back', async () => {
    const api = new FakeStateApi();
    const a = await instance(api, 'a');
    const { keyId } = await createKey(a.core, sys, {});
    api.leases.set('kubekms-instance-gone', {
      metadata: { name: 'kubekms-instance-gone', labels: { 'kubekms.io/role': 'instance' } },
      spec: {
        holderIdentity: 'gone',
        leaseDurationSeconds: 30,
        renewTime: new Date(Date.now() - 60_000).toISOString(),
      },
    });
    expect((await rotateKey(a.core, keyId, 'ON_DEMAND')).primaryVersion).toBe(2);
  });

  it('concurrent changes of one key: the second writer gets a retryable error and then sees the first', async () => {
    const api = new FakeStateApi();
    const a = await instance(api, 'a');
    const b = await instance(api, 'b');
    const { keyId } = await createKey(a.core, sys, {});
    await until(() => b.core.findKey(keyId) !== undefined, 'b to see the key');
    api.down = false;
    // b misses a's change (as if its watch lagged): write through the API behind b's back.
    await disableKey(a.core, sys, keyId);
    const stale = b.core.findKey(keyId)!;
    b.shared.store.versions.forget(keyObjectName(keyId));
    b.shared.store.versions.observe(keyObjectName(keyId), '1');
    const e = await b.core
      .mutate(async () => ({
        change: { putKeys: [{ ...stale, description: 'b', revision: stale.revision + 1 }] },
        result: 0,
      }))
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(KmsError);
    expect((e as KmsError).code).toBe('KMSInternalException');
    expect((e as KmsError).message).toMatch(/changed by another kubekms instance/);
    await until(() => b.core.findKey(keyId)?.state === 'Disabled', 'b to take a’s change');
    expect(b.core.findKey(keyId)?.description).not.toBe('b');
  });

  it('with the API down, management fails with DependencyTimeoutException and changes nothing; crypto works', async () => {
    const api = new FakeStateApi();
    const a = await instance(api, 'a');
    const { keyId } = await createKey(a.core, sys, {});
    api.down = true;
    const before = a.cache.commits;
    const e = await createKey(a.core, sys, {}).catch((x: unknown) => x);
    expect((e as KmsError).code).toBe('DependencyTimeoutException');
    expect((e as KmsError).message).toMatch(/Kubernetes API is unreachable/);
    expect(a.cache.commits).toBe(before);
    expect(a.core.counts().keys).toBe(1);
    const ct = encrypt(a.core, sys, { keyId, plaintext: bytes('x') });
    expect(decrypt(a.core, sys, { ciphertextBlob: ct.ciphertextBlob }).keyId).toContain(keyId);
  });

  it('a failed multi-object change deletes the objects it created', async () => {
    const api = new FakeStateApi();
    const a = await instance(api, 'a');
    const { keyId } = await createKey(a.core, sys, {});
    // Someone else holds the alias object already.
    await createAlias(a.core, sys, 'alias/taken', keyId);
    const other = await instance(api, 'other', { cache: new MemoryKeyStore() });
    await until(() => other.core.findAlias('alias/taken') !== undefined, 'other to see the alias');
    const aliasRv = api.objects.get(aliasObjectName('alias/taken'))?.metadata.resourceVersion;
    other.shared.store.versions.forget(aliasObjectName('alias/taken'));
    const fresh = await createKey(other.core, sys, {});
    const objectsBefore = api.objects.size;
    const e = await other.core
      .mutate(async () => ({
        change: {
          putGrants: [],
          putAliases: [{ aliasName: 'alias/taken', targetKeyId: fresh.keyId, createdAt: 1, updatedAt: 1 }],
          putKeys: [
            {
              ...other.core.findKey(fresh.keyId)!,
              keyId: '00000000-0000-4000-8000-000000000001',
              revision: 1,
            },
          ],
        },
        result: 0,
      }))
      .catch((x: unknown) => x);
    expect((e as KmsError).code).toBe('KMSInternalException');
    expect(api.objects.size).toBe(objectsBefore);
    expect(api.objects.get(aliasObjectName('alias/taken'))?.metadata.resourceVersion).toBe(aliasRv);
  });

  it('the first instance publishes its cached state when the API holds none (upgrade to HA)', async () => {
    const cache = new MemoryKeyStore();
    const solo = await EngineCore.open({
      crypto: nodeCrypto,
      rootKey: new TestRootKey(nodeCrypto, rootBytes),
      store: cache,
    });
    const id = await ensureClusterKey(solo, SECRETS_KEY_ALIAS, 'secrets');
    const api = new FakeStateApi();
    const a = await instance(api, 'a', { cache });
    await a.run.sync.ready();
    expect(api.objects.has(keyObjectName(id))).toBe(true);
    expect(api.objects.has(aliasObjectName(SECRETS_KEY_ALIAS))).toBe(true);
    // A new node with an empty cache joins and serves the same Secrets key.
    const b = await instance(api, 'b');
    expect(b.core.findAlias(SECRETS_KEY_ALIAS)?.targetKeyId).toBe(id);
    expect(b.core.holdsVersion(id, 1)).toBe(true);
  });

  it('an empty cache waits for the API instead of inventing a Secrets key', async () => {
    const api = new FakeStateApi();
    api.down = true;
    let joined = false;
    const p = instance(api, 'new').then((i) => {
      joined = true;
      return i;
    });
    await new Promise((r) => setTimeout(r, 700));
    expect(joined).toBe(false);
    api.down = false;
    const i = await p;
    expect(i.run.sync.isReady()).toBe(true);
    expect(i.core.counts().keys).toBe(0);
  }, 20_000);

  it('two instances racing to create the cluster Secrets key end up with one', async () => {
    const api = new FakeStateApi();
    const a = await instance(api, 'a');
    const b = await instance(api, 'b');
    const [ia, ib] = await Promise.all([
      ensureSharedClusterKey(a.core, a.run.sync, SECRETS_KEY_ALIAS, 's'),
      ensureSharedClusterKey(b.core, b.run.sync, SECRETS_KEY_ALIAS, 's'),
    ]);
    expect(ia).toBe(ib);
    await until(
      () =>
        a.core.counts().keys === 1 &&
        b.core.counts().keys === 1 &&
        [...api.objects.keys()].filter((n) => n.startsWith('key-')).length === 1,
      'the losing key to be dropped everywhere',
    );
  });

  it('a key deleted from the API while Enabled is kept and published again; a destroyed one is dropped', async () => {
    const api = new FakeStateApi();
    const a = await instance(api, 'a');
    const { keyId } = await createKey(a.core, sys, {});
    await api.delete(keyObjectName(keyId));
    await until(() => api.objects.has(keyObjectName(keyId)), 'the key to be published again');
    expect(a.core.findKey(keyId)).toBeDefined();
  });

  it('a record under another root key is refused, and does not hold up the records that came with it', async () => {
    const api = new FakeStateApi();
    const a = await instance(api, 'a');
    const foreign = await instance(new FakeStateApi(), 'f', { root: nodeCrypto.randomBytes(32) });
    const friend = await instance(new FakeStateApi(), 'g');
    const { keyId: foreignKey } = await createKey(foreign.core, sys, {});
    const { keyId: goodKey } = await createKey(friend.core, sys, {});
    const copy = async (from: Instance, keyId: string) => {
      const obj = (await from.shared.api.get(keyObjectName(keyId)))!;
      const { resourceVersion: _rv, ...meta } = obj.metadata;
      await api.create({ ...obj, metadata: meta });
    };
    // Both in one batch: the good one is taken, the foreign one is reported.
    await copy(foreign, foreignKey);
    await copy(friend, goodKey);
    await until(() => a.core.findKey(goodKey) !== undefined, 'the good record to be taken');
    expect(a.core.findKey(foreignKey)).toBeUndefined();
    expect(a.run.sync.health()).toEqual({
      ok: false,
      detail: expect.stringContaining(keyObjectName(foreignKey)),
    });
    const { keyId } = await createKey(a.core, sys, {});
    expect(api.objects.has(keyObjectName(keyId))).toBe(true);
  });
});

describe('KmsStateRecords changed without the root key (issue 17)', () => {
  const adminForAll = { effect: 'Allow', principals: ['*'], actions: ['kms:*'] };

  it('a policy edit written straight to the API is refused, named in health, and the engine keeps its key', async () => {
    const api = new FakeStateApi();
    const a = await instance(api, 'a');
    const { keyId } = await createKey(a.core, sys, {});
    const before = a.core.findKey(keyId)!;
    const name = keyObjectName(keyId);
    const obj = (await api.get(name))!;
    const record = obj.spec.record as { policy: { statements: unknown[] }; revision: number };
    await api.replace({
      ...obj,
      spec: {
        ...obj.spec,
        record: { ...record, revision: record.revision + 1, policy: { statements: [adminForAll] } },
      },
    });
    await until(() => !a.run.sync.health().ok, 'the refusal to show in health');
    expect(a.run.sync.health().detail).toMatch(
      new RegExp(
        `KmsStateRecord ${name}: spec\\.auth: not written by a holder of the root key \\(its auth does not match`,
      ),
    );
    expect(a.core.findKey(keyId)).toBe(before);
  });

  it('an object without spec.auth (with legacy records refused), or with an auth copied from another record, is refused', async () => {
    const api = new FakeStateApi();
    const a = await instance(api, 'a', { legacyRecords: 'refuse' });
    const { keyId: k1 } = await createKey(a.core, sys, {});
    const { keyId: k2 } = await createKey(a.core, sys, { description: 'two' });
    const o1 = (await api.get(keyObjectName(k1)))!;
    const o2 = (await api.get(keyObjectName(k2)))!;
    const r1 = o1.spec.record as { state: string; revision: number };
    const { auth: _dropped, ...bare } = o1.spec;
    await api.replace({
      ...o1,
      spec: { ...bare, record: { ...r1, state: 'Disabled', revision: r1.revision + 1 } },
    });
    const r2 = o2.spec.record as { description: string; revision: number };
    await api.replace({
      ...o2,
      spec: { ...o2.spec, record: { ...r2, revision: r2.revision + 1 }, auth: o1.spec.auth },
    });
    await until(
      () =>
        /no auth envelope.*its auth does not match|its auth does not match.*no auth envelope/.test(
          a.run.sync.health().detail,
        ),
      'both refusals',
    );
    expect(a.core.findKey(k1)!.state).toBe('Enabled');
    expect(a.core.findKey(k2)!.revision).toBe(r2.revision);
  });

  it('by default, a record without spec.auth (from a kubekms before ADR 0013) is taken: the upgrade window', async () => {
    const api = new FakeStateApi();
    const a = await instance(api, 'a');
    const { keyId } = await createKey(a.core, sys, {});
    const obj = (await api.get(keyObjectName(keyId)))!;
    const r = obj.spec.record as { description: string; revision: number };
    const { auth: _dropped, ...bare } = obj.spec;
    await api.replace({
      ...obj,
      spec: { ...bare, record: { ...r, description: 'old writer', revision: r.revision + 1 } },
    });
    await until(() => a.core.findKey(keyId)!.description === 'old writer', 'the legacy record to be taken');
    expect(a.run.sync.health().ok).toBe(true);
  });

  it('records written by another instance under the same root key are taken', async () => {
    const api = new FakeStateApi();
    const a = await instance(api, 'a');
    const b = await instance(api, 'b');
    const { keyId } = await createKey(b.core, sys, {});
    await until(() => a.core.findKey(keyId) !== undefined, 'the key to reach a');
    expect(a.run.sync.health().ok).toBe(true);
  });
});

describe("KmsStateRecords older than an instance's cache (a rollback, ADR 0022)", () => {
  it('at the first list, a key the API holds at an older revision is logged as a suspected rollback and named in health; the instance keeps its copy', async () => {
    const api = new FakeStateApi();
    const a = await instance(api, 'a');
    const { keyId } = await createKey(a.core, sys, {});
    const old = structuredClone((await api.get(keyObjectName(keyId)))!);
    await rotateKey(a.core, keyId, 'ON_DEMAND');
    expect(a.core.findKey(keyId)!.revision).toBeGreaterThan(1);
    await a.run.stop();
    running.splice(running.indexOf(a.run), 1);
    // The older object put back through the API (as a restore of an older backup, or a replay, would).
    const now = (await api.get(keyObjectName(keyId)))!;
    await api.replace({
      ...old,
      metadata: { ...old.metadata, resourceVersion: now.metadata.resourceVersion },
    });

    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const again = await instance(api, 'a', { cache: a.cache, log: createLogger('info', sink) });
    const local = again.core.findKey(keyId)!.revision;
    expect(local).toBe(a.core.findKey(keyId)!.revision);
    expect(again.run.sync.health()).toMatchObject({ ok: true });
    expect(again.run.sync.health().detail).toContain(
      `rollback suspected: the API holds key ${keyId} at revision 1 (this cache: ${local})`,
    );
    const error = lines
      .map((l) => JSON.parse(l) as { level: string; msg: string })
      .find((l) => l.level === 'error');
    expect(error?.msg).toMatch(/^shared state: rollback suspected: the KmsStateRecords hold older revisions/);

    // A fresh instance (empty cache) has no witness: it takes what the API holds, and says nothing.
    const fresh = await instance(api, 'b');
    expect(fresh.core.findKey(keyId)!.revision).toBe(1);
    expect(fresh.run.sync.health().detail).not.toContain('rollback');
  });
});
