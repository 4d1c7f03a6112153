/**
 * serve's admin socket (admin-protocol.ts): online rotation and retired-version administration of cluster-managed
 * keys while serve holds the keystore. It creates `<data-dir>/admin` with mode 0700 and refuses to listen unless
 * that is a directory (not a link) owned by this user with no group or other permissions; the socket itself is
 * 0600. Every request is one audit line.
 */
import { lstat, mkdir } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import type { EngineCore } from '../engine/core.ts';
import { KmsError } from '../engine/errors.ts';
import {
  cancelVersionDestruction,
  scheduleVersionDestruction,
  versionStates,
} from '../engine/ops-retirement.ts';
import { rotateKey, stagedVersion } from '../engine/ops-rotation.ts';
import type { KeyRecord } from '../engine/records.ts';
import { bindPrivately, prepareSocketPath, removeSocket } from '../kmsv2/socket.ts';
import type { Logger } from '../observability/logger.ts';
import {
  ADMIN_OPS,
  ADMIN_REQUEST_MAX,
  type AdminAnswer,
  type AdminRequest,
  adminDir,
  adminSocketPath,
} from './admin-protocol.ts';
import {
  type NewRoot,
  parseNewRoot,
  type RootRotated,
  type RootRotation,
  type RootStaged,
  type RootStaging,
} from './serve-root-rotation.ts';

/** Why `dir` may not hold the admin socket, or undefined when it is a directory private to this user. */
export async function privateDirProblem(dir: string): Promise<string | undefined> {
  const st = await lstat(dir).catch(() => undefined);
  if (!st?.isDirectory()) return `${dir} is not a directory`;
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) return `${dir} is owned by uid ${st.uid}, not this user (${uid})`;
  if ((st.mode & 0o077) !== 0) {
    return `${dir} has mode 0${(st.mode & 0o777).toString(8)}: group or others can reach the admin socket (needs 0700)`;
  }
  return undefined;
}

export interface AdminServer {
  readonly path: string;
  close(): Promise<void>;
}

/** Starts the admin socket in `dataDir`; throws (naming why) when its directory is not private. */
export async function startAdminServer(
  core: EngineCore,
  dataDir: string,
  log: Logger,
  rotateRoot?: RootRotation,
  stageRoot?: RootStaging,
): Promise<AdminServer> {
  const dir = adminDir(dataDir);
  await mkdir(dir, { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw new Error(`admin socket: cannot create ${dir} (${e.code})`);
  });
  const problem = await privateDirProblem(dir);
  if (problem) throw new Error(`admin socket: not served: ${problem}`);
  const path = adminSocketPath(dataDir);
  await prepareSocketPath(path);
  const server = createServer((s) => handle(core, s, log, { rotateRoot, stageRoot }));
  const bound = await bindPrivately({ path, mode: 0o600 }, (p) => listen(server, p));
  return {
    path,
    async close() {
      await new Promise<void>((r) => server.close(() => r()));
      await removeSocket(path, bound);
    },
  };
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

interface RootOps {
  readonly rotateRoot: RootRotation | undefined;
  readonly stageRoot: RootStaging | undefined;
}

function handle(core: EngineCore, s: Socket, log: Logger, root: RootOps): void {
  let body = '';
  s.setEncoding('utf8');
  s.setTimeout(10_000, () => s.destroy());
  s.on('error', () => undefined);
  const onData = (chunk: string) => {
    body += chunk;
    if (body.length > ADMIN_REQUEST_MAX) {
      s.off('data', onData);
      s.end(`${JSON.stringify(refusal('ValidationException', 'request: larger than 4096 bytes'))}\n`);
      return;
    }
    const nl = body.indexOf('\n');
    if (nl < 0) return;
    s.off('data', onData);
    s.pause();
    const line = body.slice(0, nl);
    // A root-key rotation re-wraps the whole store (an HSM round trip per version): no idle timeout meanwhile.
    if (isRootRequest(line)) s.setTimeout(0);
    const reply = isRootRequest(line) ? answerRoot(line, root, log) : answer(core, line, log);
    void reply.then((a) => s.end(`${JSON.stringify(a)}\n`));
  };
  s.on('data', onData);
}

const refusal = (code: string, message: string): AdminAnswer => ({ ok: false, code, message });

/** The root-key op of a request line (serve-root-rotation.ts), or undefined: other ops are parsed below. */
function rootOp(line: string): 'rotateRootKey' | 'stageRootKey' | undefined {
  try {
    const v: unknown = JSON.parse(line);
    const op = typeof v === 'object' && v !== null ? (v as Record<string, unknown>).op : undefined;
    return op === 'rotateRootKey' || op === 'stageRootKey' ? op : undefined;
  } catch {
    return undefined;
  }
}

const isRootRequest = (line: string): boolean => rootOp(line) !== undefined;

async function answerRoot(
  line: string,
  root: RootOps,
  log: Logger,
): Promise<AdminAnswer | RootRotated | RootStaged> {
  const op = rootOp(line) ?? 'rotateRootKey';
  const run = op === 'rotateRootKey' ? root.rotateRoot : root.stageRoot;
  if (run === undefined)
    return refusal(
      'UnsupportedOperationException',
      op === 'stageRootKey'
        ? 'stageRootKey: only with --shared-state (a single node rotates at once: kubekms rootkey rotate); see docs/root-of-trust.md'
        : 'rotateRootKey: not offered by this serve; see docs/root-of-trust.md',
    );
  let to: NewRoot;
  try {
    to = parseNewRoot((JSON.parse(line) as Record<string, unknown>).to);
  } catch (e) {
    return refusal('ValidationException', e instanceof Error ? e.message : String(e));
  }
  try {
    return await run(to);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    log.warn({ audit: 'admin', op, result: 'refused', err: message }, `admin socket: ${op} refused`);
    const code =
      e instanceof Error && e.name === 'RootRotationRefused'
        ? 'KMSInvalidStateException'
        : 'KMSInternalException';
    return refusal(code, message);
  }
}

async function answer(core: EngineCore, line: string, log: Logger): Promise<AdminAnswer> {
  let req: AdminRequest;
  try {
    req = parseAdminRequest(line);
  } catch (e) {
    return refusal('ValidationException', e instanceof Error ? e.message : String(e));
  }
  try {
    const a = await run(core, req);
    log.info({ audit: 'admin', op: req.op, key: req.key, result: 'ok' }, `admin socket: ${req.op}`);
    return a;
  } catch (e) {
    const code = e instanceof KmsError ? e.code : 'KMSInternalException';
    log.warn({ audit: 'admin', op: req.op, key: req.key, result: code }, `admin socket: ${req.op} refused`);
    return refusal(code, e instanceof Error ? e.message : String(e));
  }
}

/** Validates a request line: a known op, a key, and integer fields where the op has them. */
export function parseAdminRequest(line: string): AdminRequest {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new Error('request: not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('request: not a JSON object');
  const o = v as Record<string, unknown>;
  const op = ADMIN_OPS.find((x) => x === o.op);
  if (op === undefined) throw new Error(`op: ${JSON.stringify(o.op)} is not one of ${ADMIN_OPS.join(', ')}`);
  if (typeof o.key !== 'string' || o.key === '' || o.key.length > 2048)
    throw new Error('key: a key id, ARN or alias');
  const int = (f: string): number => {
    const n = o[f];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new Error(`${f}: not a whole number`);
    return n;
  };
  switch (op) {
    case 'rotate':
    case 'versions':
      return { op, key: o.key };
    case 'scheduleVersionDestruction':
      return { op, key: o.key, version: int('version'), pendingWindowDays: int('pendingWindowDays') };
    case 'cancelVersionDestruction':
      return { op, key: o.key, version: int('version') };
  }
}

/** Cluster-managed keys only: a customer key's administration goes through its KmsKey or the AWS API. */
function clusterKey(core: EngineCore, ref: string): KeyRecord {
  const r = core.resolve(ref, 'key').record;
  if (r.keyManager !== 'CLUSTER') {
    throw new KmsError(
      'AccessDeniedException',
      `key: ${core.arnOf(r.keyId)} is a customer key; the admin socket acts only on cluster-managed keys (use its KmsKey or the AWS API)`,
    );
  }
  return r;
}

async function run(core: EngineCore, req: AdminRequest): Promise<AdminAnswer> {
  const r0 = clusterKey(core, req.key);
  const id = r0.keyId;
  const done = (r: KeyRecord, extra: Partial<Extract<AdminAnswer, { ok: true }>> = {}): AdminAnswer => ({
    ok: true,
    keyArn: core.arnOf(r.keyId),
    primaryVersion: r.primaryVersion,
    ...extra,
  });
  switch (req.op) {
    case 'rotate': {
      const r = await rotateKey(core, id, 'ON_DEMAND');
      const staged = stagedVersion(r);
      return done(r, staged !== undefined ? { staged } : {});
    }
    case 'versions': {
      const states = new Map(versionStates(core, r0).map((s) => [s.version, s.state]));
      return done(r0, {
        versions: r0.versions.map((v) => ({
          version: v.version,
          state: states.get(v.version) ?? 'Active',
          ...(v.retiredAt !== undefined ? { retiredAt: v.retiredAt } : {}),
          ...(v.lastUsedAt !== undefined ? { lastUsedAt: v.lastUsedAt } : {}),
          ...(v.destroyAt !== undefined ? { destroyAt: v.destroyAt } : {}),
        })),
      });
    }
    case 'scheduleVersionDestruction': {
      const destroyAt = await scheduleVersionDestruction(core, id, req.version, req.pendingWindowDays);
      return done(core.findKey(id) ?? r0, { destroyAt });
    }
    case 'cancelVersionDestruction': {
      const cancelled = await cancelVersionDestruction(core, id, req.version);
      return done(core.findKey(id) ?? r0, { cancelled });
    }
  }
}
