/**
 * `kubekms backup --out FILE`, `kubekms backup verify FILE` and `kubekms restore FILE` (docs/disaster-recovery.md):
 * the CLI of src/keystore/backup.ts and restore.ts. A backup can be taken while serve runs; a restore goes into an
 * empty data dir. With `--escrow-passphrase-file` (or KUBEKMS_ESCROW_PASSPHRASE) a backup is re-wrapped under a
 * key derived from the passphrase, for storage away from the HSM or the root key file.
 */
import { constants, open, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { RootKey } from '../engine/ports.ts';
import { type BackupSummary, createBackup, openBackup, readBackup } from '../keystore/backup.ts';
import { restoreBackup } from '../keystore/restore.ts';
import { createLogger } from '../observability/logger.ts';
import { newScryptParams } from '../rootkey/passphrase-key.ts';
import { openRootKey } from '../rootkey/root-key-config.ts';
import { readSecretLine } from '../rootkey/secret-file.ts';
import { type CommandModule, type Io, noPositionals, parseCommandFlags } from './commands.ts';
import { type FlagSpec, type FlagValuesOf, pickFlags, UsageError } from './flags.ts';
import { ROOT_KEY_FLAG_NAMES, rootKeyOptionsFromFlags } from './root-key-flags.ts';
import { SERVE_FLAGS } from './serve-flags.ts';

export const PASSPHRASE_ENV = 'KUBEKMS_ESCROW_PASSPHRASE';

const ESCROW_FLAG = {
  name: 'escrow-passphrase-file',
  type: 'path',
  help: `File (mode 0600) holding the escrow passphrase, at least 12 characters (else ${PASSPHRASE_ENV}).`,
} as const satisfies FlagSpec;

export const BACKUP_FLAGS = [
  ...pickFlags(SERVE_FLAGS, ['data-dir', ...ROOT_KEY_FLAG_NAMES]),
  { name: 'out', type: 'path', help: 'Write the backup to this new file (mode 0600; never overwrites).' },
  { ...ESCROW_FLAG, help: `Re-wrap the backup for escrow under this passphrase. ${ESCROW_FLAG.help}` },
] as const satisfies readonly FlagSpec[];
export const VERIFY_FLAGS = [...pickFlags(SERVE_FLAGS, [...ROOT_KEY_FLAG_NAMES]), ESCROW_FLAG] as const;
export const RESTORE_FLAGS = [
  ...pickFlags(SERVE_FLAGS, ['data-dir', ...ROOT_KEY_FLAG_NAMES]),
  ESCROW_FLAG,
] as const;

type RootKeyFlagValues = FlagValuesOf<typeof VERIFY_FLAGS>;

export const backupCreate: CommandModule = {
  flags: BACKUP_FLAGS,
  async run(argv, io) {
    const { values: f, positionals } = parseCommandFlags(BACKUP_FLAGS, argv, io);
    noPositionals('backup', positionals);
    const out = f.out;
    if (out === undefined || out === '') throw new UsageError('backup: --out FILE is required');
    const rootKey = await rootKeyOf(f, f['data-dir']);
    const passphrase = await passphraseOf(f['escrow-passphrase-file'], io);
    const escrow = passphrase === undefined ? undefined : { passphrase, kdf: newScryptParams() };
    const { text, summary } = await createBackup({
      dataDir: f['data-dir'],
      rootKey,
      ...(escrow ? { escrow } : {}),
    });
    await writeNewFile(out, text);
    io.out(`backup written to ${out}: ${describe(summary)}\n`);
    return 0;
  },
};

export const backupVerify: CommandModule = {
  flags: VERIFY_FLAGS,
  async run(argv, io) {
    const { values: f, positionals } = parseCommandFlags(VERIFY_FLAGS, argv, io);
    const file = onePath('backup verify', positionals);
    const backup = readBackup(await readBackupFile(file), file);
    const passphrase = await passphraseOf(f['escrow-passphrase-file'], io);
    const rootKey = backup.sealedBy === 'root-key' ? await rootKeyOf(f, '') : undefined;
    const { summary } = await openBackup(backup, file, {
      ...(rootKey ? { rootKey } : {}),
      ...(passphrase !== undefined ? { passphrase } : {}),
    });
    io.out(
      `backup ${file}: ok: ${describe(summary)}; every record authenticated, every key version unwraps\n`,
    );
    return 0;
  },
};

export const restoreCommand: CommandModule = {
  flags: RESTORE_FLAGS,
  async run(argv, io) {
    const { values: f, positionals } = parseCommandFlags(RESTORE_FLAGS, argv, io);
    const file = onePath('restore', positionals);
    if (f.dev)
      throw new UsageError('restore: --dev makes a throwaway root key; give the root key to restore under');
    const backup = await readBackupFile(file);
    const passphrase = await passphraseOf(f['escrow-passphrase-file'], io);
    const rootKey = await rootKeyOf(f, f['data-dir']);
    const summary = await restoreBackup({
      backup,
      backupFile: file,
      dataDir: f['data-dir'],
      rootKey,
      ...(passphrase !== undefined ? { passphrase } : {}),
    });
    io.out(`restored ${file} into ${f['data-dir']}: ${describe(summary)}\n`);
    return 0;
  },
};

function onePath(command: string, positionals: readonly string[]): string {
  if (positionals.length !== 1) throw new UsageError(`${command}: needs exactly one backup FILE`);
  return positionals[0]!;
}

function rootKeyOf(f: RootKeyFlagValues, dataDir: string): Promise<RootKey> {
  const log = createLogger('warn', process.stderr);
  return openRootKey({ ...rootKeyOptionsFromFlags(f), dataDir, log });
}

async function passphraseOf(file: string | undefined, io: Pick<Io, 'env'>): Promise<string | undefined> {
  if (file !== undefined && file !== '') return readSecretLine(file, 'escrow passphrase file', 4096);
  const env = io.env[PASSPHRASE_ENV];
  return env === undefined || env === '' ? undefined : env;
}

function readBackupFile(file: string): Promise<Uint8Array> {
  return readFile(file).catch((e: unknown) => {
    throw new Error(`backup: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  });
}

/** Creates `path` (never replacing a file), writes and fsyncs it and its directory entry. */
async function writeNewFile(path: string, text: string): Promise<void> {
  const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600).catch(
    (e: unknown) => {
      const code = (e as NodeJS.ErrnoException).code;
      throw new Error(
        `backup: cannot create ${path}: ${code === 'EEXIST' ? 'it exists; never overwritten' : code}`,
      );
    },
  );
  try {
    await fh.writeFile(text, 'utf8');
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw new Error(`backup: cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  await fh.close();
  const dir = await open(dirname(path), 'r');
  await dir.sync().finally(() => dir.close());
}

function describe(s: BackupSummary): string {
  const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : what.endsWith('s') ? 'es' : 's'}`;
  const sealed = s.sealedBy === 'passphrase' ? 'an escrow passphrase (scrypt)' : 'the root key';
  return (
    `${plural(s.keys, 'key')} (${plural(s.versions, 'version')}), ${plural(s.aliases, 'alias')}, ` +
    `${plural(s.grants, 'grant')}, generation ${s.generation}, taken ${new Date(s.createdAt).toISOString()}, ` +
    `sealed by ${sealed}`
  );
}
