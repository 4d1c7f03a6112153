/**
 * `kubekms key list|rotate|versions|destroy-version|cancel-destroy-version`. While `kubekms serve` runs on the
 * data directory, rotate and the version commands go through its admin socket (admin-protocol.ts; cluster-managed
 * keys only). Otherwise, or with --offline, they work on the local keystore: that takes the keystore lock, so it
 * is refused while serve holds it. With `--shared-state` they work online on the key state that HA instances share
 * through the Kubernetes API (a rotation is staged, acknowledged by every live instance, then promoted), and need
 * the same root of trust as the instances.
 */
import { nodeCrypto } from '../crypto/node-provider.ts';
import { EngineCore } from '../engine/core.ts';
import { KmsError } from '../engine/errors.ts';
import { validateArnConfig } from '../engine/identifiers.ts';
import {
  cancelVersionDestruction,
  scheduleVersionDestruction,
  versionStates,
} from '../engine/ops-retirement.ts';
import { rotateKey, stagedVersion } from '../engine/ops-rotation.ts';
import type { KeyStore } from '../engine/ports.ts';
import { SqliteKeyStore } from '../keystore/sqlite-keystore.ts';
import { createLogger } from '../observability/logger.ts';
import { openRootKey } from '../rootkey/root-key-config.ts';
import { callAdmin } from './admin-client.ts';
import type { AdminAnswer, AdminRequest } from './admin-protocol.ts';
import { type CommandModule, type Io, parseCommandFlags } from './commands.ts';
import { features } from './features.ts';
import { type FlagSpec, type FlagValuesOf, pickFlags, UsageError } from './flags.ts';
import { ROOT_KEY_FLAG_NAMES, rootKeyOptionsFromFlags } from './root-key-flags.ts';
import { SERVE_FLAGS } from './serve-flags.ts';

/** serve's flags that say where the key state is and which root key opens it (same names, same twins). */
export const KEY_FLAGS = pickFlags(SERVE_FLAGS, [
  'data-dir',
  ...ROOT_KEY_FLAG_NAMES,
  'shared-state',
  'kubeconfig',
  'namespace',
  'rotation-ack-timeout',
  'arn-partition',
  'arn-region',
  'arn-account',
  'log-level',
]);
type KeyFlags = FlagValuesOf<typeof KEY_FLAGS>;

/** The flags of the commands that can go through serve's admin socket. */
export const KEY_ONLINE_FLAGS = [
  ...KEY_FLAGS,
  {
    name: 'offline',
    type: 'boolean',
    default: false,
    help: "Work on the keystore itself, never through a running serve's admin socket (refused while serve holds it).",
  },
] as const satisfies readonly FlagSpec[];
const VERSION_FLAGS = [
  ...KEY_ONLINE_FLAGS,
  { name: 'version', type: 'int', help: 'The key version (required).' },
  {
    name: 'pending-window-days',
    type: 'int',
    default: 30,
    help: 'destroy-version: days (7-30) before the version is destroyed; until then it refuses to decrypt and the destruction can be cancelled.',
  },
] as const satisfies readonly FlagSpec[];

export const keyList: CommandModule = {
  flags: KEY_FLAGS,
  async run(argv, io) {
    const { values, positionals } = parseCommandFlags(KEY_FLAGS, argv, io);
    if (positionals.length > 0)
      throw new UsageError(`key list: unexpected ${JSON.stringify(positionals[0])}`);
    await withEngine(values, (core) => listKeys(core, io));
    return 0;
  },
};

export const keyRotate: CommandModule = {
  flags: KEY_ONLINE_FLAGS,
  async run(argv, io) {
    const { values, positionals } = parseCommandFlags(KEY_ONLINE_FLAGS, argv, io);
    if (positionals.length !== 1) throw new UsageError('key rotate: needs exactly one key id, ARN or alias');
    const key = positionals[0]!;
    const a = await onlineOrOffline(values, { op: 'rotate', key }, async (core) => {
      const r = await rotateKey(core, key, 'ON_DEMAND');
      const staged = stagedVersion(r);
      return {
        ok: true,
        keyArn: core.arnOf(r.keyId),
        primaryVersion: r.primaryVersion,
        ...(staged ? { staged } : {}),
      };
    });
    if (!a.ok) return refused(io, a);
    io.out(
      a.staged === undefined
        ? `rotated ${a.keyArn}: primary version ${a.primaryVersion}\n`
        : `staged version ${a.staged} of ${a.keyArn}: not every live instance holds it yet; the instances promote it once they all do (primary version ${a.primaryVersion})\n`,
    );
    return 0;
  },
};

export const keyVersions: CommandModule = {
  flags: KEY_ONLINE_FLAGS,
  async run(argv, io) {
    const { values, positionals } = parseCommandFlags(KEY_ONLINE_FLAGS, argv, io);
    if (positionals.length !== 1)
      throw new UsageError('key versions: needs exactly one key id, ARN or alias');
    const key = positionals[0]!;
    const a = await onlineOrOffline(values, { op: 'versions', key }, async (core) => {
      const r = core.resolve(key, 'key').record;
      const states = new Map(versionStates(core, r).map((x) => [x.version, x.state]));
      const versions = r.versions.map((v) => ({
        version: v.version,
        state: states.get(v.version) ?? 'Active',
        ...(v.retiredAt !== undefined ? { retiredAt: v.retiredAt } : {}),
        ...(v.lastUsedAt !== undefined ? { lastUsedAt: v.lastUsedAt } : {}),
        ...(v.destroyAt !== undefined ? { destroyAt: v.destroyAt } : {}),
      }));
      return { ok: true, keyArn: core.arnOf(r.keyId), primaryVersion: r.primaryVersion, versions };
    });
    if (!a.ok) return refused(io, a);
    io.out(
      `${a.keyArn}\nVERSION  STATE               RETIRED                   LAST USED                 DESTROY AT\n`,
    );
    for (const v of a.versions ?? []) {
      io.out(
        `v${String(v.version).padEnd(7)} ${v.state.padEnd(19)} ${iso(v.retiredAt).padEnd(25)} ${iso(v.lastUsedAt).padEnd(25)} ${iso(v.destroyAt)}\n`,
      );
    }
    return 0;
  },
};

export const keyDestroyVersion: CommandModule = {
  flags: VERSION_FLAGS,
  async run(argv, io) {
    const { key, version, values } = versionArgs('destroy-version', argv, io);
    const days = values['pending-window-days'];
    const req = { op: 'scheduleVersionDestruction', key, version, pendingWindowDays: days } as const;
    const a = await onlineOrOffline(values, req, async (core) => {
      const destroyAt = await scheduleVersionDestruction(core, key, version, days);
      const r = core.resolve(key, 'key').record;
      return { ok: true, keyArn: core.arnOf(r.keyId), primaryVersion: r.primaryVersion, destroyAt };
    });
    if (!a.ok) return refused(io, a);
    io.out(
      `version ${version} of ${a.keyArn} will be destroyed at ${iso(a.destroyAt)}; until then it refuses to decrypt. Cancel with 'kubekms key cancel-destroy-version ${key} --version ${version}'.\n`,
    );
    return 0;
  },
};

export const keyCancelDestroyVersion: CommandModule = {
  flags: VERSION_FLAGS,
  async run(argv, io) {
    const { key, version, values } = versionArgs('cancel-destroy-version', argv, io);
    const a = await onlineOrOffline(
      values,
      { op: 'cancelVersionDestruction', key, version },
      async (core) => {
        const cancelled = await cancelVersionDestruction(core, key, version);
        const r = core.resolve(key, 'key').record;
        return { ok: true, keyArn: core.arnOf(r.keyId), primaryVersion: r.primaryVersion, cancelled };
      },
    );
    if (!a.ok) return refused(io, a);
    io.out(
      a.cancelled
        ? `destruction of version ${version} of ${a.keyArn} cancelled: it is retired and decrypts again\n`
        : `version ${version} of ${a.keyArn} was not scheduled for destruction\n`,
    );
    return 0;
  },
};

function versionArgs(name: string, argv: readonly string[], io: Io) {
  const { values, positionals } = parseCommandFlags(VERSION_FLAGS, argv, io);
  if (positionals.length !== 1) throw new UsageError(`key ${name}: needs exactly one key id, ARN or alias`);
  const version = values.version;
  if (version === undefined) throw new UsageError(`key ${name}: --version is required`);
  return { key: positionals[0]!, version, values };
}

const iso = (ms: number | undefined): string => (ms === undefined ? '-' : new Date(ms).toISOString());

function refused(io: Io, a: Extract<AdminAnswer, { ok: false }>): number {
  io.err(`kubekms: ${a.code}: ${a.message}\n`);
  return 1;
}

/**
 * Through serve's admin socket when a serve answers on the data directory (and neither --offline nor
 * --shared-state is given), else on the keystore or the shared state. An engine error becomes a refusal answer.
 */
async function onlineOrOffline(
  flags: FlagValuesOf<typeof KEY_ONLINE_FLAGS>,
  req: AdminRequest,
  offline: (core: EngineCore) => Promise<AdminAnswer>,
): Promise<AdminAnswer> {
  if (!flags.offline && !flags['shared-state']) {
    const online = await callAdmin(flags['data-dir'], req);
    if (online) return online;
  }
  let out: AdminAnswer | undefined;
  try {
    await withEngine(flags, async (core) => {
      out = await offline(core);
    });
  } catch (e) {
    if (!(e instanceof KmsError)) throw e;
    return { ok: false, code: e.code, message: e.message };
  }
  return out!;
}

function listKeys(core: EngineCore, io: Io): void {
  const aliases = new Map<string, string[]>();
  for (const a of core.allAliases())
    aliases.set(a.targetKeyId, [...(aliases.get(a.targetKeyId) ?? []), a.aliasName]);
  io.out(
    'KEY ID                                STATE      SPEC               USAGE                VERSION  ALIASES\n',
  );
  for (const r of core.allKeys()) {
    io.out(
      `${r.keyId}  ${r.state.padEnd(9)}  ${r.keySpec.padEnd(17)}  ${r.keyUsage.padEnd(19)}  v${String(r.primaryVersion).padEnd(6)}  ${(aliases.get(r.keyId) ?? []).join(',')}\n`,
    );
  }
}

/** Opens the engine on the local keystore, or online on the shared state, runs `body`, and closes it. */
async function withEngine(
  flags: KeyFlags | FlagValuesOf<typeof KEY_ONLINE_FLAGS>,
  body: (core: EngineCore) => Promise<void> | void,
): Promise<void> {
  const log = createLogger('warn', process.stderr);
  const dataDir = flags['data-dir'];
  const rootKey = await openRootKey({ ...rootKeyOptionsFromFlags(flags), dataDir, log });
  const arn = validateArnConfig({
    partition: flags['arn-partition'],
    region: flags['arn-region'],
    account: flags['arn-account'],
  });
  const ha = flags['shared-state'] ? await features.sharedState() : undefined;
  const shared = ha
    ? new ha.SharedState({
        cache: new ha.EphemeralKeyStore(),
        rootKey,
        namespace: flags.namespace,
        kubeconfig: flags.kubeconfig,
      })
    : undefined;
  const store: KeyStore = shared ? shared.store : new SqliteKeyStore({ dataDir, rootKey });
  let stopShared = async () => {};
  try {
    const core = await EngineCore.open({
      crypto: nodeCrypto,
      rootKey,
      store,
      arn,
      ...(shared ? { rotationGate: shared.rotationGate('', flags['rotation-ack-timeout']) } : {}),
    });
    if (shared) {
      const run = await shared.run({
        core,
        log,
        instance: '',
        keyId: () => '',
        initialWaitMs: 0,
        heartbeat: false,
      });
      stopShared = () => run.stop();
    }
    await body(core);
  } finally {
    await stopShared();
    await store.close();
  }
}
