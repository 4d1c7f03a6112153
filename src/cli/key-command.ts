/**
 * `kubekms key list|rotate`. Offline, on the local keystore, for break-glass use and tests: it takes the keystore
 * lock, so it refuses to run while `kubekms serve` holds the same data directory. With `--shared-state` it works
 * online on the key state that HA instances share through the Kubernetes API (a rotation is staged, acknowledged
 * by every live instance, then promoted), and needs the same root of trust as the instances.
 */
import { nodeCrypto } from '../crypto/node-provider.ts';
import { EngineCore } from '../engine/core.ts';
import { validateArnConfig } from '../engine/identifiers.ts';
import { rotateKey, stagedVersion } from '../engine/ops-rotation.ts';
import type { KeyStore } from '../engine/ports.ts';
import { SqliteKeyStore } from '../keystore/sqlite-keystore.ts';
import { createLogger } from '../observability/logger.ts';
import { openRootKey } from '../rootkey/root-key-config.ts';
import { type CommandModule, type Io, parseCommandFlags } from './commands.ts';
import { features } from './features.ts';
import { type FlagValuesOf, pickFlags, UsageError } from './flags.ts';
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
  flags: KEY_FLAGS,
  async run(argv, io) {
    const { values, positionals } = parseCommandFlags(KEY_FLAGS, argv, io);
    if (positionals.length !== 1) throw new UsageError('key rotate: needs exactly one key id, ARN or alias');
    await withEngine(values, async (core) => {
      const r = await rotateKey(core, positionals[0], 'ON_DEMAND');
      const staged = stagedVersion(r);
      io.out(
        staged === undefined
          ? `rotated ${core.arnOf(r.keyId)}: primary version ${r.primaryVersion}\n`
          : `staged version ${staged} of ${core.arnOf(r.keyId)}: not every live instance holds it yet; the instances promote it once they all do (primary version ${r.primaryVersion})\n`,
      );
    });
    return 0;
  },
};

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
async function withEngine(flags: KeyFlags, body: (core: EngineCore) => Promise<void> | void): Promise<void> {
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
