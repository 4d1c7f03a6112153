/**
 * One kubekms per data directory: `<dataDir>/keystore.lock` holds the owner's pid and host name (a pod's name). The
 * file is written under a temporary name and hard-linked into place, so it exists only with its content (link fails
 * if it exists). The owner touches it every 10 s.
 *
 * - A lock from this host whose pid is not alive (kill(pid, 0) gives ESRCH) is stale and taken over; so is one
 *   naming our own pid that this process does not hold (a restarted container often gets the same pid).
 * - A lock from another host name was taken in another pod or container, whose pids mean nothing here (every
 *   container's first process is pid 1): it is live while it is touched, and stale 30 s after its last touch. Two
 *   pods sharing one volume (a rolling update, two replicas) therefore never both open the keystore.
 * Two processes taking over the same stale lock at the same instant is a narrow race this does not close.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { KeyStoreError } from './errors.ts';
import { errorCode, type KeyStoreFs } from './keystore-fs.ts';

export const LOCK_FILE = 'keystore.lock';
export const LOCK_TOUCH_MS = 10_000;
export const LOCK_STALE_MS = 30_000;

/** Lock files held by this process, so that a second open in the same process is refused, not taken over. */
const held = new Set<string>();

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errorCode(e) !== 'ESRCH';
  }
}

/** `pid\nhost\n` (the host line is absent in locks written before it existed). */
export function parseLock(text: string): { pid: number; host: string | undefined } | undefined {
  const [first = '', second] = text.split('\n');
  const pid = first.trim();
  if (!/^[1-9][0-9]{0,9}$/.test(pid)) return undefined;
  const host = second?.trim();
  return { pid: Number(pid), host: host ? host : undefined };
}

const parsePid = (text: string): number | undefined => parseLock(text)?.pid;

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
      if (await isLive(fs, path, lock)) {
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
    if (text !== undefined && parsePid(text) === process.pid)
      await this.#fs.unlink(this.path).catch(() => {});
  }
}

async function isLive(
  fs: KeyStoreFs,
  path: string,
  lock: { pid: number; host: string | undefined },
): Promise<boolean> {
  if (lock.host === undefined || lock.host === hostname()) {
    // Our own pid here is a previous incarnation (this process would have found the path in `held`).
    return lock.pid !== process.pid && isProcessAlive(lock.pid);
  }
  const touched = await fs.stat(path).then(
    (st) => st.mtimeMs,
    () => 0,
  );
  return Date.now() - touched < LOCK_STALE_MS;
}

/** Writes our pid and host name to a temp file and links it to `path`. False when `path` exists. */
async function tryCreate(fs: KeyStoreFs, path: string): Promise<boolean> {
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}`;
  try {
    const fh = await fs.open(temp, 'wx', 0o600);
    try {
      await fh.writeFile(`${process.pid}\n${hostname()}\n`, 'utf8');
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
