/**
 * The plugin's unix socket: create its directory, clear a stale socket left by a killed process (only if it is
 * a socket and nothing answers on it), bind it in a private directory, restrict it to its final mode (0600, owner
 * and group configurable) and only then link it into place, so it is never reachable with a wider mode.
 */
import { chmod, chown, link, lstat, mkdir, mkdtemp, readdir, rmdir, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';

export interface SocketOptions {
  readonly path: string;
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
}

function answers(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    const done = (v: boolean) => {
      s.destroy();
      resolve(v);
    };
    s.setTimeout(timeoutMs, () => done(true));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

export async function prepareSocketPath(path: string): Promise<'fresh' | 'removed-stale'> {
  await mkdir(dirname(path), { recursive: true, mode: 0o750 });
  await removeLeftoverBindDirs(dirname(path));
  let st: Awaited<ReturnType<typeof lstat>>;
  try {
    st = await lstat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'fresh';
    throw e;
  }
  if (!st.isSocket())
    throw new Error(`kms-socket: ${path} exists and is not a socket; refusing to remove it`);
  if (await answers(path)) throw new Error(`kms-socket: another process is serving on ${path}`);
  await unlink(path);
  return 'removed-stale';
}

/** A start killed while binding leaves its private directory behind; one untouched for a minute is removed. */
async function removeLeftoverBindDirs(dir: string): Promise<void> {
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!/^\.kms-[A-Za-z0-9]{6}$/.test(name)) continue;
    const leftover = join(dir, name);
    const st = await lstat(leftover).catch(() => undefined);
    if (!st?.isDirectory() || Date.now() - st.mtimeMs < 60_000) continue;
    await unlink(join(leftover, 's')).catch(() => undefined);
    await rmdir(leftover).catch(() => undefined);
  }
}

async function restrictSocket(o: SocketOptions): Promise<void> {
  if (o.uid !== undefined || o.gid !== undefined) await chown(o.path, o.uid ?? -1, o.gid ?? -1);
  await chmod(o.path, o.mode ?? 0o600);
}

/** Which file the socket is, so that stop removes ours and never a successor's bound at the same path. */
export interface BoundSocket {
  readonly dev: number;
  readonly ino: number;
}

/**
 * Calls `bind` with a path in a fresh 0700 directory beside `o.path` (a umask cannot widen mkdtemp's 0700 and no
 * other user can reach into it, whatever mode the socket gets at bind), sets the final owner and mode there, then
 * hard-links it to `o.path` (refused if something appeared there meanwhile) and removes the private directory.
 */
export async function bindPrivately(
  o: SocketOptions,
  bind: (path: string) => Promise<void>,
): Promise<BoundSocket> {
  const dir = await mkdtemp(join(dirname(o.path), '.kms-'));
  const temp = join(dir, 's');
  try {
    await bind(temp);
    await restrictSocket({ ...o, path: temp });
    await link(temp, o.path).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
      throw new Error(`kms-socket: ${o.path} appeared while binding; is another kubekms starting?`);
    });
    const st = await lstat(o.path);
    return { dev: st.dev, ino: st.ino };
  } finally {
    await unlink(temp).catch(() => undefined);
    await rmdir(dir).catch(() => undefined);
  }
}

/** Removes the socket at `path` if it is still the one we bound. */
export async function removeSocket(path: string, ours: BoundSocket): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  if (st && st.dev === ours.dev && st.ino === ours.ino) await unlink(path).catch(() => undefined);
}
