/**
 * `kubekms backup --out FILE` and `kubekms backup verify FILE` (docs/disaster-recovery.md): the CLI of
 * src/keystore/backup.ts. A backup can be taken while serve runs. With `--escrow-passphrase-file` (or
 * KUBEKMS_ESCROW_PASSPHRASE) a backup is re-wrapped under a key derived from the passphrase, with
 * `--escrow-recipient` for a recipient's X25519 public key, for storage away from the HSM or the root key file.
 * restore-command.ts restores; the helpers both share are here.
 */

import type { KeyObject } from 'node:crypto';
import { constants, open, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { RootKey } from '../engine/ports.ts';
import {
  type BackupKeys,
  type BackupSummary,
  createBackup,
  describeUnopened,
  type Escrow,
  openBackup,
  readBackup,
} from '../keystore/backup.ts';
import { createLogger } from '../observability/logger.ts';
import { newScryptParams } from '../rootkey/passphrase-key.ts';
import {
  readRecipientPrivateKey,
  readRecipientPublicKey,
  recipientFingerprint,
} from '../rootkey/recipient-key.ts';
import { openRootKey } from '../rootkey/root-key-config.ts';
import { readSecretLine } from '../rootkey/secret-file.ts';
import { type CommandModule, type Io, noPositionals, parseCommandFlags } from './commands.ts';
import { type FlagSpec, type FlagValuesOf, pickFlags, UsageError } from './flags.ts';
import { ROOT_KEY_FLAG_NAMES, rootKeyOptionsFromFlags } from './root-key-flags.ts';
import { SERVE_FLAGS } from './serve-flags.ts';

export const PASSPHRASE_ENV = 'KUBEKMS_ESCROW_PASSPHRASE';

export const PASSPHRASE_FLAG = {
  name: 'escrow-passphrase-file',
  type: 'path',
  help: `File (mode 0600) holding the escrow passphrase, at least 12 characters (else ${PASSPHRASE_ENV}).`,
} as const satisfies FlagSpec;

const RECIPIENT_FLAG = {
  name: 'escrow-recipient',
  type: 'path',
  help: "The escrow recipient's X25519 public key (PEM, as `openssl pkey -pubout` writes it).",
} as const satisfies FlagSpec;
export const ESCROW_KEY_FLAG = {
  name: 'escrow-key',
  type: 'path',
  help: "The escrow recipient's X25519 private key (PEM PKCS#8, mode 0600), to open a backup sealed to it.",
} as const satisfies FlagSpec;

const ROOT_KEY_FLAGS = pickFlags(SERVE_FLAGS, [...ROOT_KEY_FLAG_NAMES]);

export const BACKUP_FLAGS = [
  ...pickFlags(SERVE_FLAGS, ['data-dir', ...ROOT_KEY_FLAG_NAMES]),
  { name: 'out', type: 'path', help: 'Write the backup to this new file (mode 0600; never overwrites).' },
  {
    ...PASSPHRASE_FLAG,
    help: `Re-wrap the backup for escrow under this passphrase. ${PASSPHRASE_FLAG.help}`,
  },
  { ...RECIPIENT_FLAG, help: `Re-wrap the backup for escrow to this recipient. ${RECIPIENT_FLAG.help}` },
] as const satisfies readonly FlagSpec[];
export const VERIFY_FLAGS = [
  ...ROOT_KEY_FLAGS,
  PASSPHRASE_FLAG,
  ESCROW_KEY_FLAG,
  {
    ...RECIPIENT_FLAG,
    help: `Without --escrow-key: check that the backup is sealed to this recipient. ${RECIPIENT_FLAG.help}`,
  },
] as const;

type RootKeyFlagValues = FlagValuesOf<typeof ROOT_KEY_FLAGS>;
/** The flags that open a backup: the root key flags and the escrow ones. */
export type OpeningFlagValues = RootKeyFlagValues & {
  readonly 'escrow-passphrase-file'?: string | undefined;
  readonly 'escrow-key'?: string | undefined;
};

export const backupCreate: CommandModule = {
  flags: BACKUP_FLAGS,
  async run(argv, io) {
    const { values: f, positionals } = parseCommandFlags(BACKUP_FLAGS, argv, io);
    noPositionals('backup', positionals);
    const out = f.out;
    if (out === undefined || out === '') throw new UsageError('backup: --out FILE is required');
    const rootKey = await rootKeyOf(f, f['data-dir']);
    const passphrase = await passphraseOf(f['escrow-passphrase-file'], io);
    const recipientFile = nonEmpty(f['escrow-recipient']);
    if (passphrase !== undefined && recipientFile !== undefined)
      throw new UsageError('backup: --escrow-recipient and an escrow passphrase: give one of them');
    const escrow: Escrow | undefined =
      recipientFile !== undefined
        ? { recipient: await readRecipientPublicKey(recipientFile, '--escrow-recipient') }
        : passphrase !== undefined
          ? { passphrase, kdf: newScryptParams() }
          : undefined;
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
    const escrowKeyFile = nonEmpty(f['escrow-key']);
    if (backup.sealedBy === 'recipient' && escrowKeyFile === undefined) {
      const unopened = describeUnopened(backup);
      const recipient = await checkRecipient(unopened.recipient, f['escrow-recipient']);
      io.out(
        `backup ${file}: decodes: ${describe(unopened)} ${recipient}; records and key material ` +
          'not checked (they need the private key: --escrow-key)\n',
      );
      return 0;
    }
    const keys = await backupKeys(f, io, backup.sealedBy === 'root-key' ? '' : undefined);
    const { summary } = await openBackup(backup, file, keys);
    io.out(
      `backup ${file}: ok: ${describe(summary)}; every record authenticated, every key version unwraps\n`,
    );
    return 0;
  },
};

/**
 * The keys to open a backup with, from the flags: the root key when `rootKeyDataDir` is given, the escrow
 * passphrase and the recipient's private key when set.
 */
export async function backupKeys(
  f: OpeningFlagValues,
  io: Pick<Io, 'env'>,
  rootKeyDataDir: string | undefined,
): Promise<BackupKeys> {
  const passphrase = await passphraseOf(f['escrow-passphrase-file'], io);
  const keyFile = nonEmpty(f['escrow-key']);
  const escrowKey: KeyObject | undefined =
    keyFile === undefined ? undefined : await readRecipientPrivateKey(keyFile, '--escrow-key');
  const rootKey = rootKeyDataDir === undefined ? undefined : await rootKeyOf(f, rootKeyDataDir);
  return {
    ...(rootKey ? { rootKey } : {}),
    ...(passphrase !== undefined ? { passphrase } : {}),
    ...(escrowKey ? { escrowKey } : {}),
  };
}

async function checkRecipient(
  sealedTo: string | undefined,
  recipientFile: string | undefined,
): Promise<string> {
  const file = nonEmpty(recipientFile);
  if (file === undefined) return `(recipient ${sealedTo})`;
  const given = recipientFingerprint(await readRecipientPublicKey(file, '--escrow-recipient'));
  if (given !== sealedTo)
    throw new Error(
      `backup: --escrow-recipient: the backup is sealed to recipient ${sealedTo}, not to ${file} (${given})`,
    );
  return `(recipient ${sealedTo}, the key in ${file})`;
}

const nonEmpty = (s: string | undefined): string | undefined => (s === undefined || s === '' ? undefined : s);

export function onePath(command: string, positionals: readonly string[]): string {
  if (positionals.length !== 1) throw new UsageError(`${command}: needs exactly one backup FILE`);
  return positionals[0]!;
}

export function rootKeyOf(f: RootKeyFlagValues, dataDir: string): Promise<RootKey> {
  const log = createLogger('warn', process.stderr);
  return openRootKey({ ...rootKeyOptionsFromFlags(f), dataDir, log });
}

async function passphraseOf(file: string | undefined, io: Pick<Io, 'env'>): Promise<string | undefined> {
  if (file !== undefined && file !== '') return readSecretLine(file, 'escrow passphrase file', 4096);
  const env = io.env[PASSPHRASE_ENV];
  return env === undefined || env === '' ? undefined : env;
}

export function readBackupFile(file: string): Promise<Uint8Array> {
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

export function describe(s: BackupSummary): string {
  const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : what.endsWith('s') ? 'es' : 's'}`;
  const sealed = {
    'root-key': 'the root key',
    passphrase: 'an escrow passphrase (scrypt)',
    recipient: 'an escrow recipient (X25519)',
  }[s.sealedBy];
  return (
    `${plural(s.keys, 'key')} (${plural(s.versions, 'version')}), ${plural(s.aliases, 'alias')}, ` +
    `${plural(s.grants, 'grant')}, generation ${s.generation}, taken ${new Date(s.createdAt).toISOString()}, ` +
    `sealed by ${sealed}`
  );
}
