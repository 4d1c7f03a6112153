/**
 * The `kubekms key` side of serve's admin socket (admin-protocol.ts): finds it in the data directory, refuses it
 * unless its directory is private to this user (the same check serve makes before listening), sends one request
 * and reads one answer.
 */
import { lstat } from 'node:fs/promises';
import { connect } from 'node:net';
import {
  ADMIN_REQUEST_MAX,
  type AdminAnswer,
  type AdminRequest,
  adminDir,
  adminSocketPath,
  type RootRotationRequest,
} from './admin-protocol.ts';
import { privateDirProblem } from './admin-server.ts';

export class AdminRefusedError extends Error {}

/**
 * Sends `req` to the serve that holds `dataDir`. Returns undefined when no serve answers there (no socket, or a
 * stale one): the caller may then work offline. Throws AdminRefusedError when the socket's directory is not private.
 */
export async function callAdmin<A = AdminAnswer>(
  dataDir: string,
  req: AdminRequest | RootRotationRequest,
  timeoutMs = 60_000,
): Promise<A | undefined> {
  const path = adminSocketPath(dataDir);
  const st = await lstat(path).catch(() => undefined);
  if (!st) return undefined;
  const problem =
    (await privateDirProblem(adminDir(dataDir))) ?? (st.isSocket() ? undefined : `${path} is not a socket`);
  if (problem) throw new AdminRefusedError(`refusing serve's admin socket: ${problem}`);
  return new Promise((resolve, reject) => {
    const s = connect(path);
    let body = '';
    s.setEncoding('utf8');
    s.setTimeout(timeoutMs, () => {
      s.destroy();
      reject(new Error(`admin socket ${path}: no answer within ${timeoutMs} ms`));
    });
    s.once('connect', () => s.write(`${JSON.stringify(req)}\n`));
    s.on('data', (c: string) => {
      body += c;
      if (body.length > 16 * ADMIN_REQUEST_MAX) s.destroy(new Error('admin socket: answer too large'));
    });
    s.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNREFUSED' || e.code === 'ENOENT') resolve(undefined);
      else reject(e);
    });
    s.once('end', () => {
      try {
        resolve(JSON.parse(body) as A);
      } catch {
        reject(new Error(`admin socket ${path}: an answer that is not JSON`));
      }
    });
  });
}
