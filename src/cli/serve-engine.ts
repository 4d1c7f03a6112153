/**
 * serve's first steps: open the root of trust and the local keystore (in HA: the shared key state, the keystore
 * its cache), load the engine, and make sure the Secrets key exists. Needs no Kubernetes API without
 * --shared-state (invariant 1).
 */

import { formatKeyId } from '../api/kmsv2-key-id.ts';
import { EngineCore } from '../engine/core.ts';
import { ensureClusterKey, SECRETS_KEY_ALIAS } from '../engine/ops-maintenance.ts';
import type { KeyStore, RootKey } from '../engine/ports.ts';
import type { SharedRootRotation } from '../ha/root-rotation.ts';
import type { RunningSharedState } from '../ha/shared-state.ts';
import { SqliteKeyStore } from '../keystore/sqlite-keystore.ts';
import type { Logger } from '../observability/logger.ts';
import { openRootKey } from '../rootkey/root-key-config.ts';
import { rootIdentity, SwitchableRootKey } from '../rootkey/switchable-root-key.ts';
import { features } from './features.ts';
import type { RootKeySection } from './root-key-flags.ts';
import type { ServeConfig } from './serve-config.ts';
import { openNextRoot } from './serve-next-root.ts';
import { openNewRoot, type RootRotation, type RootStaging, rootRotation } from './serve-root-rotation.ts';
import type { Stoppers } from './stoppers.ts';

export interface OpenedEngine {
  readonly core: EngineCore;
  /** With --shared-state: the running sync and heartbeat, and a fetch of one key for the plugin. */
  readonly shared?: {
    readonly run: RunningSharedState;
    readonly fetchKey: (keyUuid: string) => Promise<void>;
  };
  /**
   * Moves the key state to another root key while serving (admin socket): the keystore at once without
   * --shared-state; with it, phase 2 of the two-phase rotation (docs/adr/0026).
   */
  readonly rotateRoot?: RootRotation;
  /** With --shared-state: phase 1, hold a new root key staged. */
  readonly stageRoot?: RootStaging;
}

export async function openEngine(config: ServeConfig, log: Logger, started: Stoppers): Promise<OpenedEngine> {
  const { dataDir, requireAuthenticated } = config.keystore;
  // Switchable: an online root-key rotation (serve-root-rotation.ts) replaces it for the engine and the store at once.
  const rootKey = new SwitchableRootKey(await openRootKey({ ...config.rootKey, dataDir, log }));
  if (config.nextRootKey !== undefined) await stageFromFlags(rootKey, config.nextRootKey, dataDir, log);
  const cache = new SqliteKeyStore({
    dataDir,
    rootKey,
    unauthenticated: requireAuthenticated ? 'refuse' : 'migrate',
  });
  let store: KeyStore = cache;
  const ha = config.sharedState ? await features.sharedState() : undefined;
  // HA: the Kubernetes API holds the shared key state and the local keystore is its cache (docs/ha.md).
  const shared =
    ha && config.sharedState
      ? new ha.SharedState({
          cache,
          rootKey,
          legacyRecords: requireAuthenticated ? 'refuse' : 'accept',
          namespace: config.sharedState.namespace,
          kubeconfig: config.sharedState.kubeconfig,
        })
      : undefined;
  if (shared) store = shared.store;
  started.push(() => store.close());
  const crypto = await features.crypto(config.engine.crypto);
  const gate = shared && config.sharedState;
  const core = await EngineCore.open({
    crypto,
    rootKey,
    store,
    arn: config.engine.arn,
    ...(gate ? { rotationGate: shared.rotationGate(gate.instance, gate.ackTimeoutMs) } : {}),
  });
  log.info(
    { keystore: store.description, keys: core.counts().keys, crypto: crypto.name, ...rootKeyFields(rootKey) },
    'keystore opened',
  );
  if (cache.migratedJson)
    log.info(
      { keystore: cache.description },
      'keystore.json migrated into the database keystore (docs/adr/0016)',
    );
  if (cache.migratedFrom !== undefined)
    log.warn(
      { keystore: cache.description, from: cache.migratedFrom },
      'keystore records authenticated as found (docs/adr/0013)',
    );
  const { secretsKey } = config.engine;
  let run: RunningSharedState | undefined;
  let rootOps: Pick<OpenedEngine, 'rotateRoot' | 'stageRoot'> = {};
  if (shared && ha && config.sharedState) {
    const { instance, initialWaitMs } = config.sharedState;
    const r = await shared.run({
      core,
      log,
      instance,
      keyId: () => currentKeyId(core, secretsKey),
      initialWaitMs,
      publishApiserverWrites: config.operator?.reencrypt !== undefined,
    });
    const rot = new ha.SharedRootRotation({
      core,
      cache,
      store: shared.store,
      api: shared.api,
      root: rootKey,
      renew: () => r.heartbeat.renewNow(),
      instance,
      log,
    });
    run = withRootRotation(r, rot);
    rootOps = sharedRootOps(rot, rootKey, dataDir, log);
    started.push(() => r.stop());
    log.info({ instance, store: store.description }, 'shared key state running');
  }
  if (secretsKey === SECRETS_KEY_ALIAS) {
    const description = 'kubekms: wraps kube-apiserver DEK seeds (cluster-managed)';
    const id =
      run && ha
        ? await ha.ensureSharedClusterKey(core, run.sync, SECRETS_KEY_ALIAS, description)
        : await ensureClusterKey(core, SECRETS_KEY_ALIAS, description);
    log.info({ alias: SECRETS_KEY_ALIAS, keyId: id }, 'cluster-managed Secrets key ready');
  } else {
    core.resolve(secretsKey, 'secrets-key');
  }
  if (!run || !ha) return { core, rotateRoot: rootRotation(core, cache, rootKey, dataDir, log) };
  return {
    core,
    shared: { run, fetchKey: fetchFrom(run, ha.keyObjectName) },
    ...rootOps,
  };
}

/**
 * `--next-root-key-file` or `--next-pkcs11-*`: the root key a coming HA rotation moves to, held staged from the
 * start (docs/adr/0026). Opened before the keystore, so a key that does not open stops serve having written nothing.
 */
export async function stageFromFlags(
  root: SwitchableRootKey,
  spec: RootKeySection,
  dataDir: string,
  log: Logger,
  env?: Readonly<Record<string, string | undefined>>,
): Promise<void> {
  const next = await openNextRoot(spec, dataDir, log, env);
  root.stage(next);
  const flag = spec.provider === 'pkcs11' ? '--next-pkcs11-*' : '--next-root-key-file';
  log.info({ staged: rootIdentity(next) }, `next root key held staged (${flag})`);
}

/** The running shared state with the root-key rotation's marker follow-up and readiness added. */
function withRootRotation(r: RunningSharedState, root: SharedRootRotation): RunningSharedState {
  return {
    ...r,
    followRoot: () => root.follow(),
    health() {
      const a = r.health();
      const b = root.health();
      return b.ok ? a : { ok: false, detail: `${a.detail}; ${b.detail}` };
    },
  };
}

/** The admin socket's root-key operations with --shared-state: stage (phase 1) and rotate (phase 2). */
export function sharedRootOps(
  rot: SharedRootRotation,
  rootKey: SwitchableRootKey,
  dataDir: string,
  log: Logger,
): Pick<OpenedEngine, 'rotateRoot' | 'stageRoot'> {
  return {
    async stageRoot(spec) {
      const to = await openNewRoot(spec, dataDir, log);
      await rot.stage(to);
      return { ok: true, staged: to.description, current: rootKey.current.description };
    },
    async rotateRoot(spec) {
      const to = await openNewRoot(spec, dataDir, log);
      const m = await rot.rotate(to);
      log.warn(
        { audit: 'admin', op: 'rotateRootKey', from: m.from, to: m.to, records: m.records },
        'root key rotated in the shared state: start every instance with the new root key flags from now on',
      );
      return { ok: true, ...m };
    },
  };
}

/** The key_id the plugin reports for `secretsKey`, or '' while it does not resolve. */
function currentKeyId(core: EngineCore, secretsKey: string): string {
  try {
    const k = core.resolve(secretsKey).record;
    return formatKeyId(k.keyId, k.primaryVersion);
  } catch {
    return '';
  }
}

/** One fetch at a time per key: a burst of Decrypts for a new version costs one GET. */
function fetchFrom(
  run: RunningSharedState,
  objectName: (keyUuid: string) => string,
): (keyUuid: string) => Promise<void> {
  const inFlight = new Map<string, Promise<void>>();
  return (keyUuid) => {
    let p = inFlight.get(keyUuid);
    if (!p) {
      p = run.sync.refresh([objectName(keyUuid)]).finally(() => inFlight.delete(keyUuid));
      inFlight.set(keyUuid, p);
    }
    return p;
  };
}

/** Which root of trust protects the store, for the start-up log (docs/root-of-trust.md): kind and fingerprint. */
export function rootKeyFields(rootKey: RootKey): { rootKeyKind?: string; rootKeyFingerprint?: string } {
  const id = rootKey.identity;
  return id === undefined ? {} : { rootKeyKind: id.kind, rootKeyFingerprint: id.fingerprint };
}
