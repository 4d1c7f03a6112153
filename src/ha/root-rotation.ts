/**
 * Root-key rotation with --shared-state, in two phases (docs/adr/0026-ha-root-key-rotation.md). Phase 1, `stage`:
 * an instance holds the new root next to its current one (unwraps accept both) and says so in its heartbeat.
 * Phase 2, `rotate`, on one instance: refused while a live instance holds the new root neither as current nor as
 * staged; then the root marker Lease names the new root, every instance switches its own root and local cache to
 * it (`follow`, from the maintenance sweep), and once every live heartbeat shows it current, every KmsStateRecord
 * is re-wrapped and re-authenticated under it, one object at a time with its resourceVersion as precondition.
 * Then the marker says `done` and every instance stops accepting the old root. Each step can be run again: a
 * rotation cut short is finished by running it again.
 */
import {
  type InstanceHeartbeat,
  lackingRoot,
  notSwitched,
  ROOT_KEY_ANNOTATION,
  ROOT_MARKER_LEASE,
  ROOT_ROTATION_ANNOTATION,
} from '../api/heartbeat-format.ts';
import type { KmsStateRecord } from '../api/kinds.ts';
import { type DecodedRecord, fromObject, toObject } from '../api/state-records.ts';
import type { EngineCore } from '../engine/core.ts';
import type { RootKey } from '../engine/ports.ts';
import { keyMaterialAad, type StoreState } from '../engine/records.ts';
import { sleep } from '../kube/backoff.ts';
import { describeError, isConflict } from '../kube/errors.ts';
import type { Logger } from '../observability/logger.ts';
import { proveRoundTrip, rootIdentity, type SwitchableRootKey } from '../rootkey/switchable-root-key.ts';
import { readHeartbeats } from './rotation-gate.ts';
import type { SharedKeyStore } from './shared-store.ts';
import type { StateApi } from './state-api.ts';

/** The local keystore's root switch (SqliteKeyStore.switchRoot): the whole state re-wrapped in one transaction. */
export interface LocalRootSwitch {
  switchRoot(from: RootKey, to: RootKey, state: StoreState): Promise<StoreState>;
}

export interface SharedRootOptions {
  readonly core: EngineCore;
  readonly cache: LocalRootSwitch;
  readonly store: SharedKeyStore;
  readonly api: StateApi;
  readonly root: SwitchableRootKey;
  /** Renews this instance's heartbeat now, so that what it holds is published before the call returns. */
  readonly renew: () => Promise<void>;
  readonly instance: string;
  readonly log: Logger;
  /** How long phase 2 waits for every live instance to switch before it moves a record. Default 120 s. */
  readonly switchTimeoutMs?: number;
  readonly pollMs?: number;
  readonly now?: () => number;
}

/** A rotation refused before any record moved (a live instance lacks the new root, or has not switched). */
export class RootRotationRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RootRotationRefused';
  }
}

export interface SharedRootRotated {
  readonly keys: number;
  readonly versions: number;
  readonly records: number;
  readonly from: string;
  readonly to: string;
}

const MOVE_ATTEMPTS = 5;

/** `b (holds file:…), c (holds file:…, staged file:…)`: who lacks the new root, and what each holds. */
export function describeInstances(hs: readonly InstanceHeartbeat[]): string {
  return hs
    .map((h) => {
      const holds = h.rootKey === '' ? 'says no root key' : `holds ${h.rootKey}`;
      return `${h.instance} (${holds}${h.nextRootKey === '' ? '' : `, staged ${h.nextRootKey}`})`;
    })
    .join(', ');
}

export class SharedRootRotation {
  readonly #o: SharedRootOptions;
  /** Why this instance cannot follow the root marker ('' when it can), for its readiness. */
  #problem = '';

  constructor(o: SharedRootOptions) {
    this.#o = o;
  }

  /** Phase 1 on this instance: hold `next` for unwraps and publish it as staged. */
  async stage(next: RootKey): Promise<void> {
    if (rootIdentity(next) === '') throw new Error(`${next.description}: a root key without an identity`);
    await proveRoundTrip(next);
    this.#o.root.stage(next);
    await this.#o.renew();
    this.#o.log.warn(
      { audit: 'admin', op: 'stageRootKey', staged: rootIdentity(next) },
      'root key staged: this instance reads records under it; records move only once every live instance holds it',
    );
  }

  health(): { ok: boolean; detail: string } {
    return this.#problem === ''
      ? { ok: true, detail: 'root key: as the cluster' }
      : { ok: false, detail: this.#problem };
  }

  /**
   * Reads the root marker and switches to the root it names when this instance holds that root staged. A marker
   * naming a root this instance does not hold at all makes it unready, with the reason.
   */
  async follow(): Promise<void> {
    const lease = await this.#o.api.getLease(ROOT_MARKER_LEASE);
    const marker = lease?.metadata.annotations?.[ROOT_KEY_ANNOTATION] ?? '';
    const root = this.#o.root;
    if (marker === '' || marker === rootIdentity(root.current)) {
      this.#problem = '';
      if (marker !== '' && lease?.metadata.annotations?.[ROOT_ROTATION_ANNOTATION] === 'done')
        await this.#forgetPrevious();
      return;
    }
    if (marker === rootIdentity(root.staged)) {
      await this.switchLocal(marker);
      this.#problem = '';
      return;
    }
    const problem =
      `root key: the cluster's records are moving or have moved to root key ${marker} (Lease ${ROOT_MARKER_LEASE}); ` +
      `this instance holds ${rootIdentity(root.current)} only: stage the new root key here (kubekms rootkey stage, or ` +
      'serve --next-root-key-file or --next-pkcs11-*) and it switches (docs/root-of-trust.md)';
    if (problem !== this.#problem) this.#o.log.error({ marker }, problem);
    this.#problem = problem;
  }

  /**
   * Every record has moved: the previous root is no longer accepted, and the writer keys learnt under it are
   * forgotten (a new ring), so a holder of the old root alone can no longer make a record this instance takes.
   */
  async #forgetPrevious(): Promise<void> {
    const { root, store } = this.#o;
    if (root.previous === undefined) return;
    const previous = rootIdentity(root.previous);
    root.forgetPrevious();
    await store.renewRing();
    this.#o.log.warn({ previous }, 'root key rotation done: the previous root key is no longer accepted');
  }

  /**
   * Switches this instance to its staged root `target`: the engine's state and the local cache re-wrapped under it
   * (one transaction), later wraps under it, a new writer key for the records it writes. No-op when `target` is
   * current already. Serialized with the engine's mutations.
   */
  async switchLocal(target: string): Promise<boolean> {
    const { core, root, cache, store } = this.#o;
    if (rootIdentity(root.current) === target) return false;
    let switched = false;
    await core.replaceWrapping(async (keys) => {
      // Checked again in the queue: the sweep's follow and an admin rotate may both have asked.
      if (rootIdentity(root.current) === target) return keys;
      const to = root.staged;
      if (to === undefined || rootIdentity(to) !== target)
        throw new RootRotationRefused(
          `this instance (${this.#o.instance}) does not hold root key ${target} staged`,
        );
      const state = { keys: [...keys], aliases: core.allAliases(), grants: core.allGrants() };
      const next = await cache.switchRoot(root, to, state);
      root.promoteStaged();
      await store.renewRing();
      switched = true;
      return next.keys;
    });
    if (!switched) return false;
    this.#o.log.warn(
      { rootKey: target, previous: rootIdentity(root.previous) },
      'root key switched: this instance wraps under the new root key; start it with the new root key flags from now on',
    );
    await this.#o.renew().catch(() => undefined);
    return true;
  }

  /** Phase 2 (docs/adr/0026): refused while a live instance lacks `to`; otherwise every record moves to it. */
  async rotate(to: RootKey): Promise<SharedRootRotated> {
    const { root, api } = this.#o;
    const target = rootIdentity(to);
    const now = this.#o.now ?? Date.now;
    if (target === '') throw new RootRotationRefused(`${to.description}: a root key without an identity`);
    if (target !== rootIdentity(root.current) && target !== rootIdentity(root.staged))
      throw new RootRotationRefused(
        `this instance (${this.#o.instance}) does not hold root key ${target}: stage it here first (kubekms rootkey stage)`,
      );
    const from = rootIdentity(root.current) === target ? root.previous : root.current;
    await this.#o.renew();
    const lacking = lackingRoot(await readHeartbeats(api), target, now());
    if (lacking.length > 0)
      throw new RootRotationRefused(
        `live instances do not hold the new root key ${target}, neither current nor staged: ${describeInstances(lacking)}; ` +
          'stage it on each (kubekms rootkey stage, or serve --next-root-key-file or --next-pkcs11-*) and run again. No record moved',
      );
    await this.#mark(target, 'moving');
    await this.switchLocal(target);
    await this.#waitSwitched(target);
    const moved = await this.#moveAll(to);
    await this.#mark(target, 'done');
    await this.#forgetPrevious();
    return { ...moved, from: from?.description ?? '(unknown)', to: to.description };
  }

  /** The root marker names `target` in `state` (created, or replaced with the version read). */
  async #mark(target: string, state: 'moving' | 'done'): Promise<void> {
    const { api } = this.#o;
    const cur = await api.getLease(ROOT_MARKER_LEASE);
    const a = cur?.metadata.annotations;
    if (a?.[ROOT_KEY_ANNOTATION] === target && a[ROOT_ROTATION_ANNOTATION] === state) return;
    const body = {
      metadata: {
        name: ROOT_MARKER_LEASE,
        namespace: api.namespace,
        ...(cur?.metadata.resourceVersion ? { resourceVersion: cur.metadata.resourceVersion } : {}),
        labels: { 'app.kubernetes.io/name': 'kubekms' },
        annotations: { [ROOT_KEY_ANNOTATION]: target, [ROOT_ROTATION_ANNOTATION]: state },
      },
      spec: { holderIdentity: this.#o.instance },
    };
    if (cur) await api.replaceLease(body);
    else await api.createLease(body);
  }

  async #waitSwitched(target: string): Promise<void> {
    const now = this.#o.now ?? Date.now;
    const deadline = now() + (this.#o.switchTimeoutMs ?? 120_000);
    for (;;) {
      const behind = notSwitched(await readHeartbeats(this.#o.api), target, now());
      if (behind.length === 0) return;
      if (now() >= deadline)
        throw new RootRotationRefused(
          `live instances have not switched to root key ${target} yet: ${describeInstances(behind)}; ` +
            'every instance still reads both roots; run again to finish (no record moved yet)',
        );
      await sleep(this.#o.pollMs ?? 500);
    }
  }

  /** Every KmsStateRecord re-wrapped under `to` and re-authenticated by this instance's new writer key. */
  async #moveAll(to: RootKey): Promise<{ keys: number; versions: number; records: number }> {
    const { api, store } = this.#o;
    const { items } = await api.list();
    await store.ring.learn(items.map((o) => o.spec?.auth));
    const n = { keys: 0, versions: 0, records: 0 };
    const problems: string[] = [];
    for (const item of items) {
      try {
        const d = await this.#moveOne(item, to);
        n.records++;
        if (d.kind === 'Key') {
          n.keys++;
          n.versions += d.record.versions.length;
        }
      } catch (e) {
        problems.push(`${item.metadata.name}: ${describeError(e)}`);
      }
    }
    if (problems.length > 0)
      throw new Error(
        `root key rotation: ${n.records} records moved, ${problems.length} not: ${problems.join('; ')}; ` +
          'every instance reads both roots meanwhile; run again to finish',
      );
    return n;
  }

  /** One object moved, read again and retried after a conflict (another instance wrote it meanwhile). */
  async #moveOne(first: KmsStateRecord, to: RootKey): Promise<DecodedRecord> {
    const { api, store } = this.#o;
    let obj = first;
    for (let attempt = 1; ; attempt++) {
      const d = await this.#rewrap(fromObject(obj, store.ring), to);
      try {
        const out = await api.replace(toObject(d, store.ring, api.namespace, obj.metadata.resourceVersion));
        store.versions.observe(obj.metadata.name, out.metadata.resourceVersion);
        return d;
      } catch (e) {
        if (!isConflict(e) || attempt >= MOVE_ATTEMPTS) throw e;
        const fresh = await api.get(obj.metadata.name);
        if (fresh === undefined) return d; // deleted meanwhile: nothing to move
        await store.ring.learn([fresh.spec?.auth]);
        obj = fresh;
      }
    }
  }

  /** A key record with every version unwrapped (under either root) and wrapped under `to`; others unchanged. */
  async #rewrap(d: DecodedRecord, to: RootKey): Promise<DecodedRecord> {
    if (d.kind !== 'Key') return d;
    const k = d.record;
    const versions = [];
    for (const v of k.versions) {
      const aad = keyMaterialAad(k.keyId, v.version);
      const material = await this.#o.root.unwrap(v.wrappedMaterial, aad);
      try {
        versions.push({ ...v, wrappedMaterial: await to.wrap(material, aad) });
      } finally {
        material.wipe();
      }
    }
    return { kind: 'Key', record: { ...k, versions } };
  }
}
