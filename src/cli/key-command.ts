/**
 * `kubekms key list|rotate`: offline administration of the local keystore, for break-glass use and tests. It takes
 * the keystore lock, so it refuses to run while `kubekms serve` holds the same data directory.
 */
import { selectCryptoProvider } from '../crypto/provider.ts';
import { EngineCore } from '../engine/core.ts';
import { validateArnConfig } from '../engine/identifiers.ts';
import { rotateKey } from '../engine/ops-rotation.ts';
import { FileKeyStore } from '../keystore/file-keystore.ts';
import { createLogger } from '../observability/logger.ts';
import { openRootKey } from '../rootkey/root-key-config.ts';
import { type FlagSpec, type FlagValues, UsageError } from './flags.ts';
import { SERVE_FLAGS } from './serve-flags.ts';

const SHARED = new Set([
  'data-dir',
  'root-key-file',
  'dev',
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
  const rootKey = await openRootKey({
    rootKeyFile: flags['root-key-file'] as string | undefined,
    dev: flags.dev === true,
    dataDir,
    log,
  });
  const store = new FileKeyStore({ dataDir, rootKey });
  try {
    const arn = validateArnConfig({
      partition: String(flags['arn-partition']),
      region: String(flags['arn-region']),
      account: String(flags['arn-account']),
    });
    const core = await EngineCore.open({ crypto: selectCryptoProvider('node'), rootKey, store, arn });
    if (sub === 'rotate') {
      const r = await rotateKey(core, args[0], 'ON_DEMAND');
      out(`rotated ${core.arnOf(r.keyId)}: primary version ${r.primaryVersion}\n`);
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
    await store.close();
  }
}
