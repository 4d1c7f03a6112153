/**
 * `kubekms restore FILE` (docs/disaster-recovery.md): into an empty data dir (src/keystore/restore.ts), or with
 * `--shared-state` into a namespace without KmsStateRecords (src/ha/restore-shared.ts), under the given root key.
 * An escrow backup is opened with its passphrase or the recipient's private key (`--escrow-key`).
 */
import { restoreSharedState } from '../ha/restore-shared.ts';
import { stateApiOver } from '../ha/state-api.ts';
import { restoreBackup } from '../keystore/restore.ts';
import { nodeKubeClient } from '../kube/client-node.ts';
import { loadKubeConfig } from '../kube/kubeconfig.ts';
import {
  backupKeys,
  describe,
  ESCROW_KEY_FLAG,
  onePath,
  PASSPHRASE_FLAG,
  readBackupFile,
  rootKeyOf,
} from './backup-command.ts';
import type { CommandModule } from './commands.ts';
import { parseCommandFlags } from './commands.ts';
import { pickFlags, UsageError } from './flags.ts';
import { ROOT_KEY_FLAG_NAMES } from './root-key-flags.ts';
import { SERVE_FLAGS } from './serve-flags.ts';

export const RESTORE_FLAGS = [
  ...pickFlags(SERVE_FLAGS, ['data-dir', ...ROOT_KEY_FLAG_NAMES, 'kubeconfig', 'namespace']),
  {
    name: 'shared-state',
    type: 'boolean',
    default: false,
    help: 'HA: write the backup as the KmsStateRecords of --namespace (which must hold none) instead of into --data-dir.',
  },
  PASSPHRASE_FLAG,
  ESCROW_KEY_FLAG,
] as const;

export const restoreCommand: CommandModule = {
  flags: RESTORE_FLAGS,
  async run(argv, io) {
    const { values: f, positionals } = parseCommandFlags(RESTORE_FLAGS, argv, io);
    const file = onePath('restore', positionals);
    if (f.dev)
      throw new UsageError('restore: --dev makes a throwaway root key; give the root key to restore under');
    const backup = await readBackupFile(file);
    const escrow = await backupKeys(f, io, undefined);
    if (f['shared-state']) {
      const rootKey = await rootKeyOf(f, '');
      const api = stateApiOver(nodeKubeClient(loadKubeConfig(f.kubeconfig)), f.namespace);
      const r = await restoreSharedState({ backup, backupFile: file, api, rootKey, escrow });
      const resumed = r.kept > 0 ? ` (${r.kept} already there from an interrupted restore)` : '';
      io.out(
        `restored ${file} into the KmsStateRecords of namespace ${f.namespace}: ${describe(r.summary)}; ` +
          `${r.created} records created${resumed}\n`,
      );
      return 0;
    }
    const rootKey = await rootKeyOf(f, f['data-dir']);
    const summary = await restoreBackup({
      backup,
      backupFile: file,
      dataDir: f['data-dir'],
      rootKey,
      ...escrow,
    });
    io.out(`restored ${file} into ${f['data-dir']}: ${describe(summary)}\n`);
    return 0;
  },
};
