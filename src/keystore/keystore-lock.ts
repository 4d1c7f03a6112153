/**
 * One kubekms per data directory: `<dataDir>/keystore.lock` names the owner (pid, host name, boot id, start
 * time; lock-record.ts). The file is written under a temporary name and hard-linked into place, so it exists only
 * with its content (link fails if it exists). The owner touches it every 10 s.
 *
 * A lock whose owner no longer holds it (lock-record.ts isLockLive: dead pid, a pid reused after a reboot or by
 * another process, another pod's lock untouched for 30 s) is taken over; a live one is refused. Two processes
 * taking over the same stale lock at the same instant is a narrow race this does not close.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { KeyStoreError } from './errors.ts';
import { errorCode, type KeyStoreFs } from './keystore-fs.ts';
import { formatLock, isLockLive, type LockRecord, parseLock } from './lock-record.ts';
import { isProcessAlive, selfIdentity } from './process-identity.ts';

export const LOCK_FILE = 'keystore.lock';
export const LOCK_TOUCH_MS = 10_000;
export { LOCK_STALE_MS } from './lock-record.ts';

/** Lock files held by this process, so that a second open in the same process is refused, not taken over. */
const held = new Set<string>();

/** The lock at `path` when the process it names still holds it (read-only: `kubekms doctor`, `key list`). */
export async function liveLockOwner(fs: KeyStoreFs, path: string): Promise<LockRecord | undefined> {
  const text = await fs.readFile(path, 'utf8').catch(() => undefined);
  const lock = text === undefined ? undefined : parseLock(text);
  if (lock === undefined) return undefined;
  const ours = lock.pid === process.pid && held.has(path);
  return ours || isLockLive(lock, await touchedAt(fs, path)) ? lock : undefined;
}

async function touchedAt(fs: KeyStoreFs, path: string): Promise<number> {
  return fs.stat(path).then(
    (st) => st.mtimeMs,
    () => 0,
  );
}

export class KeyStoreLock {
  readonly path: string;
  readonly #fs: KeyStoreFs;
  readonly #touch: NodeJS.Timeout;
  #released = false;

  private constructor(fs: KeyStoreFs, path: string) {
    this.#fs = fs;
    this.path = path;
    this.#touch = setInterval(() => {
      const now = new Date();
      fs.utimes(path, now, now).catch(() => undefined);
    }, LOCK_TOUCH_MS);
    this.#touch.unref();
  }

  static async acquire(fs: KeyStoreFs, dataDir: string): Promise<KeyStoreLock> {
    const path = join(dataDir, LOCK_FILE);
    if (held.has(path)) throw new KeyStoreError(`keystore: this process already has ${dataDir} open`);
    held.add(path); // before any await: a concurrent open in this process is refused above
    try {
      return await KeyStoreLock.#acquire(fs, dataDir, path);
    } catch (e) {
      held.delete(path);
      throw e;
    }
  }

  static async #acquire(fs: KeyStoreFs, dataDir: string, path: string): Promise<KeyStoreLock> {
    for (let attempt = 0; attempt < 5; attempt++) {
      if (await tryCreate(fs, path)) {
        await removeStaleLockTemps(fs, dataDir);
        return new KeyStoreLock(fs, path);
      }
      const text = await fs.readFile(path, 'utf8').catch((e: unknown) => {
        if (errorCode(e) === 'ENOENT') return undefined; // released meanwhile: try again
        throw new KeyStoreError(`keystore: cannot read ${path} (${errorCode(e)})`, { cause: e });
      });
      if (text === undefined) continue;
      const lock = parseLock(text);
      if (lock === undefined) {
        throw new KeyStoreError(
          `keystore: ${path} does not name a process; if no kubekms uses ${dataDir}, remove ${path}`,
        );
      }
      if (isLockLive(lock, await touchedAt(fs, path))) {
        const where = lock.host && lock.host !== hostname() ? ` on ${lock.host}` : '';
        throw new KeyStoreError(
          `keystore: another kubekms (pid ${lock.pid}${where}) uses this data dir ${dataDir}; ` +
            `if no kubekms runs there, remove ${path}`,
        );
      }
      await fs.unlink(path).catch((e: unknown) => {
        if (errorCode(e) !== 'ENOENT') {
          throw new KeyStoreError(`keystore: cannot remove stale lock ${path} (${errorCode(e)})`, {
            cause: e,
          });
        }
      });
    }
    throw new KeyStoreError(
      `keystore: could not take ${path}: it keeps changing; is another kubekms starting?`,
    );
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    clearInterval(this.#touch);
    held.delete(this.path);
    const text = await this.#fs.readFile(this.path, 'utf8').catch(() => undefined);
    if (text !== undefined && parseLock(text)?.pid === process.pid)
      await this.#fs.unlink(this.path).catch(() => {});
  }
}

/** Writes who we are (lock-record.ts) to a temp file and links it to `path`. False when `path` exists. */
async function tryCreate(fs: KeyStoreFs, path: string): Promise<boolean> {
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}`;
  try {
    const fh = await fs.open(temp, 'wx', 0o600);
    try {
      await fh.writeFile(formatLock({ ...selfIdentity(), host: hostname() }), 'utf8');
    } finally {
      await fh.close();
    }
    await fs.link(temp, path);
    return true;
  } catch (e) {
    if (errorCode(e) === 'EEXIST') return false;
    throw new KeyStoreError(`keystore: cannot create lock ${path} (${errorCode(e)})`, { cause: e });
  } finally {
    await fs.unlink(temp).catch(() => {});
  }
}

/** Removes `keystore.lock.<pid>.<random>` temp files of processes that no longer run. */
async function removeStaleLockTemps(fs: KeyStoreFs, dataDir: string): Promise<void> {
  const names = await fs.readdir(dataDir).catch(() => [] as string[]);
  for (const name of names) {
    const m = /^keystore\.lock\.([0-9]+)\.[0-9a-f]+$/.exec(name);
    if (m === null) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || !isProcessAlive(pid)) await fs.unlink(join(dataDir, name)).catch(() => {});
  }
}
