/**
 * Restoring a backup (backup.ts) into an empty data dir: the backup is checked in full under its sealing key, a
 * passphrase- or recipient-sealed (escrow) backup is re-wrapped under the target root key, and keystore.json is written by one
 * atomic replace under the keystore lock. A data dir that holds anything is refused: a restore never overwrites.
 */
import type { KeyObject } from 'node:crypto';
import { join } from 'node:path';
import type { RootKey } from '../engine/ports.ts';
import { replaceFileAtomically } from './atomic-file.ts';
import { type BackupSummary, openBackup, readBackup } from './backup.ts';
import { KeyStoreError } from './errors.ts';
import { KEYSTORE_FILE } from './file-keystore.ts';
import { encodeDocument } from './keystore-document.ts';
import { errorCode, type KeyStoreFs, nodeFs } from './keystore-fs.ts';
import { KeyStoreLock, LOCK_FILE } from './keystore-lock.ts';
import { resealDocument } from './reseal.ts';

/** Entries of a data dir that hold no key state: a file system's lost+found, serve's admin socket directory. */
const IGNORED = new Set(['lost+found', 'admin']);

export async function restoreBackup(o: {
  readonly backup: Uint8Array;
  readonly backupFile: string;
  readonly dataDir: string;
  /** The root key the restored store is sealed under. */
  readonly rootKey: RootKey;
  readonly passphrase?: string;
  /** The recipient's private key, for a backup sealed to an escrow recipient. */
  readonly escrowKey?: KeyObject;
  readonly fs?: KeyStoreFs;
}): Promise<BackupSummary> {
  const fs = o.fs ?? nodeFs;
  await checkEmpty(fs, o.dataDir, []);
  const b = readBackup(o.backup, o.backupFile);
  const opened = await openBackup(b, o.backupFile, {
    rootKey: o.rootKey,
    ...(o.passphrase !== undefined ? { passphrase: o.passphrase } : {}),
    ...(o.escrowKey !== undefined ? { escrowKey: o.escrowKey } : {}),
  });
  const text =
    b.sealedBy === 'root-key'
      ? encodeDocument(b.document, opened.auth.wrapped, opened.auth.key)
      : await resealDocument(b.document, opened.sealing, o.rootKey).then((s) =>
          encodeDocument(s.doc, s.recordAuthKey, s.key),
        );
  await fs.mkdir(o.dataDir, { recursive: true, mode: 0o700 }).catch((e: unknown) => {
    throw new KeyStoreError(`restore: cannot create data dir ${o.dataDir} (${errorCode(e)})`, { cause: e });
  });
  const lock = await KeyStoreLock.acquire(fs, o.dataDir);
  try {
    await checkEmpty(fs, o.dataDir, [LOCK_FILE]);
    await replaceFileAtomically(fs, join(o.dataDir, KEYSTORE_FILE), text);
  } finally {
    await lock.release();
  }
  return opened.summary;
}

async function checkEmpty(fs: KeyStoreFs, dataDir: string, ours: readonly string[]): Promise<void> {
  const names = await fs.readdir(dataDir).catch((e: unknown) => {
    if (errorCode(e) === 'ENOENT') return [] as string[];
    throw new KeyStoreError(`restore: cannot read data dir ${dataDir} (${errorCode(e)})`, { cause: e });
  });
  const other = names.filter((n) => !IGNORED.has(n) && !ours.includes(n));
  if (other.length > 0)
    throw new KeyStoreError(
      `restore: data dir ${dataDir} is not empty (it holds ${other.slice(0, 3).join(', ')}); ` +
        'restore only into an empty data dir, never over a keystore',
    );
}
