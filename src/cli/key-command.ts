/**
 * `kubekms key list|rotate`. Offline, on the local keystore, for break-glass use and tests: it takes the keystore
 * lock, so it refuses to run while `kubekms serve` holds the same data directory. With `--shared-state` it works
 * online on the key state that HA instances share through the Kubernetes API (a rotation is staged, acknowledged
 * by every live instance, then promoted), and needs the same root of trust as the instances.
 */
import { selectCryptoProvider } from '../crypto/provider.ts';
import { EngineCore } from '../engine/core.ts';
import { validateArnConfig } from '../engine/identifiers.ts';
import { rotateKey, stagedVersion } from '../engine/ops-rotation.ts';
import { EphemeralKeyStore } from '../ha/ephemeral-store.ts';
import { SharedState } from '../ha/shared-state.ts';
import { FileKeyStore } from '../keystore/file-keystore.ts';
import { createLogger } from '../observability/logger.ts';
import { openRootKey } from '../rootkey/root-key-config.ts';
import { type FlagSpec, type FlagValues, UsageError } from './flags.ts';
import { rootKeyOptionsFromFlags } from './rootkey-command.ts';
import { SERVE_FLAGS } from './serve-flags.ts';

const SHARED = new Set([
  'data-dir',
  'root-key-file',
  'root-key-provider',
  'pkcs11-module',
  'pkcs11-slot',
  'pkcs11-token-label',
  'pkcs11-key-label',
  'pkcs11-pin-file',
  'dev',
  'shared-state',
  'kubeconfig',
  'namespace',
  'rotation-ack-timeout',
  'arn-partition',
  'arn-region',
  'arn-account',
  'log-level',
]);
export const KEY_FLAGS: readonly FlagSpec[] = SERVE_FLAGS.filter((f) => SHARED.has(f.name));

export async function keyCommand(
  sub: string | undefined,
  args: string[],
  flags: FlagValues,
  out: (s: string) => void,
): Promise<void> {
  if (sub !== 'list' && sub !== 'rotate')
    throw new UsageError(`key: expected 'list' or 'rotate KEY', got ${JSON.stringify(sub ?? '')}`);
  if (sub === 'rotate' && args.length !== 1)
    throw new UsageError('key rotate: needs exactly one key id, ARN or alias');
  const log = createLogger('warn', process.stderr);
  const dataDir = String(flags['data-dir']);
  const rootKey = await openRootKey({ ...rootKeyOptionsFromFlags(flags), dataDir, log });
  const arn = validateArnConfig({
    partition: String(flags['arn-partition']),
    region: String(flags['arn-region']),
    account: String(flags['arn-account']),
  });
  const online = flags['shared-state'] === true;
  const shared = online
    ? new SharedState({
        cache: new EphemeralKeyStore(),
        namespace: String(flags.namespace),
        kubeconfig: String(flags.kubeconfig ?? ''),
      })
    : undefined;
  const store = shared ? shared.store : new FileKeyStore({ dataDir, rootKey });
  let stopShared = async () => {};
  try {
    const core = await EngineCore.open({ crypto: selectCryptoProvider('node'), rootKey, store, arn });
    if (shared) {
      const run = await shared.run({
        core,
        log,
        instance: '',
        keyId: () => '',
        ackTimeoutMs: Number(flags['rotation-ack-timeout']),
        initialWaitMs: 0,
        heartbeat: false,
      });
      stopShared = () => run.stop();
    }
    if (sub === 'rotate') {
      const r = await rotateKey(core, args[0], 'ON_DEMAND');
      const staged = stagedVersion(r);
      out(
        staged === undefined
          ? `rotated ${core.arnOf(r.keyId)}: primary version ${r.primaryVersion}\n`
          : `staged version ${staged} of ${core.arnOf(r.keyId)}: not every live instance holds it yet; the instances promote it once they all do (primary version ${r.primaryVersion})\n`,
      );
      return;
    }
    const aliases = new Map<string, string[]>();
    for (const a of core.aliases.values())
      aliases.set(a.targetKeyId, [...(aliases.get(a.targetKeyId) ?? []), a.aliasName]);
    out(
      'KEY ID                                STATE      SPEC               USAGE                VERSION  ALIASES\n',
    );
    for (const { record: r } of core.keys.values()) {
      out(
        `${r.keyId}  ${r.state.padEnd(9)}  ${r.keySpec.padEnd(17)}  ${r.keyUsage.padEnd(19)}  v${String(r.primaryVersion).padEnd(6)}  ${(aliases.get(r.keyId) ?? []).join(',')}\n`,
      );
    }
  } finally {
    await stopShared();
    await store.close();
  }
}
