/**
 * The plugin's unix socket: create its directory, clear a stale socket left by a killed process (only if it is
 * a socket and nothing answers on it), restrict it to mode 0600 (owner and group configurable) once bound.
 */
import { chmod, chown, lstat, mkdir, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname } from 'node:path';

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

export async function restrictSocket(o: SocketOptions): Promise<void> {
  if (o.uid !== undefined || o.gid !== undefined) await chown(o.path, o.uid ?? -1, o.gid ?? -1);
  await chmod(o.path, o.mode ?? 0o600);
}

export async function removeSocket(path: string): Promise<void> {
  await unlink(path).catch(() => undefined);
}
