/**
 * Wires the shared key state of an HA instance (docs/adr/0009-shared-key-state.md): the SharedKeyStore the engine
 * opens, then — once the engine is loaded — the sync, the heartbeat, the rotation gate and the promotion sweep.
 * Start-up never needs the API when the local cache holds state (invariant 1); an empty cache waits for it.
 */

import { readOwnWrites } from '../api/apiserver-writes.ts';
import type { HeldVersions } from '../api/heartbeat-format.ts';
import type { EngineCore } from '../engine/core.ts';
import { promoteAcknowledged } from '../engine/ops-rotation.ts';
import type { KeyStore, RootKey, RotationGate } from '../engine/ports.ts';
import type { LegacyRecords } from '../keystore/record-auth-ring.ts';
import { sleep } from '../kube/backoff.ts';
import { nodeKubeClient } from '../kube/client-node.ts';
import { loadKubeConfig } from '../kube/kubeconfig.ts';
import { type KubeGet, kubeGetter } from '../kube/raw-http.ts';
import type { Logger } from '../observability/logger.ts';
import { rootIdentity, SwitchableRootKey } from '../rootkey/switchable-root-key.ts';
import { Heartbeat } from './heartbeat.ts';
import { acknowledged, heartbeatGate, readHeartbeats } from './rotation-gate.ts';
import { SharedKeyStore } from './shared-store.ts';
import { type StateApi, stateApiOver } from './state-api.ts';
import { StateSync } from './state-sync.ts';

export interface SharedStateOptions {
  readonly cache: KeyStore;
  /** The root key: records are authenticated under it (docs/adr/0013). */
  readonly rootKey: RootKey;
  /** Records without spec.auth (from a kubekms before ADR 0013): accepted by default, or refused. */
  readonly legacyRecords?: LegacyRecords;
  readonly namespace: string;
  /** kubeconfig path; '' = in-cluster or $KUBECONFIG. Ignored when `api` is given. */
  readonly kubeconfig?: string;
  readonly api?: StateApi;
}

export interface RunOptions {
  readonly core: EngineCore;
  readonly log: Logger;
  readonly instance: string;
  /** The key_id this instance's plugin reports, for its heartbeat ('' without a plugin). */
  readonly keyId: () => string;
  /** With state in the local cache: how long to wait for a first sync before serving anyway. */
  readonly initialWaitMs: number;
  /** false for a one-shot command, which is not an instance and holds nothing after it exits. Default true. */
  readonly heartbeat?: boolean;
  /** Publish this node's kube-apiserver key_id writes in the heartbeat (re-encryption is on; docs/rotation.md). */
  readonly publishApiserverWrites?: boolean;
}

export interface RunningSharedState {
  readonly sync: StateSync;
  readonly heartbeat: Heartbeat;
  health(): { ok: boolean; detail: string };
  /** Promotes staged versions every live instance holds (maintenance). Returns the key ids promoted. */
  promoteAcknowledged(): Promise<string[]>;
  /** Follows the root marker of a root-key rotation (maintenance; docs/adr/0026), where serve offers it. */
  followRoot?(): Promise<void>;
  stop(): Promise<void>;
}

export class SharedState {
  readonly store: SharedKeyStore;
  readonly api: StateApi;
  #sync: StateSync | undefined;
  readonly #get: KubeGet | undefined;
  readonly #rootKey: RootKey;

  constructor(o: SharedStateOptions) {
    this.#rootKey = o.rootKey;
    if (o.api) this.api = o.api;
    else {
      const kc = loadKubeConfig(o.kubeconfig ?? '');
      this.api = stateApiOver(nodeKubeClient(kc), o.namespace);
      this.#get = kubeGetter(kc);
    }
    this.store = new SharedKeyStore({
      cache: o.cache,
      api: this.api,
      rootKey: o.rootKey,
      ...(o.legacyRecords ? { legacyRecords: o.legacyRecords } : {}),
      onConflict: (names) => {
        this.#sync?.refresh(names).catch(() => undefined);
      },
    });
  }

  /** The engine's rotation gate (its `rotationGate` option): waits until every live instance holds a version. */
  rotationGate(instance: string, ackTimeoutMs: number): RotationGate {
    return heartbeatGate({ api: this.api, instance, timeoutMs: ackTimeoutMs });
  }

  async run(o: RunOptions): Promise<RunningSharedState> {
    const { core, log } = o;
    const sync = new StateSync({ core, api: this.api, store: this.store, log });
    const get = this.#get;
    this.#sync = sync;
    const heartbeat = new Heartbeat({
      api: this.api,
      instance: o.instance,
      held: () => heldVersions(core),
      keyId: o.keyId,
      rootKey: () => rootIdentity(this.#rootKey),
      nextRootKey: () =>
        this.#rootKey instanceof SwitchableRootKey ? rootIdentity(this.#rootKey.staged) : '',
      log,
      ...(o.publishApiserverWrites && get ? { apiserverWrites: () => readOwnWrites(get) } : {}),
    });
    core.onChange(() => heartbeat.poke());
    sync.start();
    const counts = core.counts();
    const empty = counts.keys === 0 && counts.aliases === 0;
    if (empty) {
      log.info(
        { namespace: this.api.namespace },
        'shared state: empty local cache; waiting for the Kubernetes API before creating or serving any key',
      );
      await sync.ready();
    } else {
      const synced = await Promise.race([
        sync.ready().then(() => true),
        sleep(o.initialWaitMs).then(() => false),
      ]);
      if (!synced) log.warn('shared state: Kubernetes API not reachable yet; serving from the local cache');
    }
    if (o.heartbeat !== false) heartbeat.start();
    return {
      sync,
      heartbeat,
      health() {
        const s = sync.health();
        const h = heartbeat.health();
        return { ok: s.ok && h.ok, detail: `${s.detail}; ${h.detail}` };
      },
      promoteAcknowledged: async () => {
        const hb = await readHeartbeats(this.api);
        const now = Date.now();
        return promoteAcknowledged(core, (keyId, v) => acknowledged(hb, o.instance, keyId, v, now));
      },
      async stop() {
        await heartbeat.stop();
        await sync.stop();
      },
    };
  }
}

export function heldVersions(core: EngineCore): HeldVersions {
  const out: Record<string, number> = {};
  for (const { keyId } of core.allKeys()) {
    const top = core.highestHeldVersion(keyId);
    if (top > 0) out[keyId] = top;
  }
  return out;
}
