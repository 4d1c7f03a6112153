/**
 * Replaces a file so that after a crash at any instant it holds either the old or the new content:
 * write `<file>.tmp-<pid>-<random>` (O_EXCL, 0600), fsync it, rename it over the file, fsync the directory.
 */
import { randomBytes } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { KeyStoreError } from './errors.ts';
import { errorCode, type KeyStoreFs } from './keystore-fs.ts';

/** Temp files of `path` start with this prefix; leftovers from a crash can be recognised and removed. */
export function tempPrefix(path: string): string {
  return `${basename(path)}.tmp-`;
}

export async function replaceFileAtomically(fs: KeyStoreFs, path: string, content: string): Promise<void> {
  const temp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  let fh: FileHandle | undefined;
  try {
    fh = await fs.open(temp, 'wx', 0o600);
    await fh.writeFile(content, 'utf8');
    await fh.sync();
    const closing = fh;
    fh = undefined;
    await closing.close();
    await fs.rename(temp, path);
  } catch (e) {
    await fh?.close().catch(() => {});
    await fs.unlink(temp).catch(() => {});
    throw new KeyStoreError(
      `keystore: cannot write ${path} (${errorCode(e)}); the file on disk is unchanged`,
      {
        cause: e,
      },
    );
  }
  try {
    await syncDirectory(fs, dirname(path));
  } catch (e) {
    throw new KeyStoreError(
      `keystore: fsync of ${dirname(path)} failed after replacing ${basename(path)} (${errorCode(e)}); ` +
        'the commit failed, yet the change may or may not be on disk after a crash',
      { cause: e },
    );
  }
}

export async function syncDirectory(fs: KeyStoreFs, path: string): Promise<void> {
  const dir = await fs.open(path, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Removes leftover temp files of `path` (from a process killed mid-write). Best effort. */
export async function removeLeftoverTemps(fs: KeyStoreFs, path: string): Promise<number> {
  const prefix = tempPrefix(path);
  const dir = dirname(path);
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  let removed = 0;
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    await fs.unlink(`${dir}/${name}`).then(
      () => removed++,
      () => {},
    );
  }
  return removed;
}
