/**
 * Online administration of a running single-node serve (issue 18 part 4), as real processes: `kubekms key rotate`
 * and the version commands reach serve through its admin socket, and are refused when the socket's directory is
 * not private, for a customer key or an unknown key, and offline (--offline) while serve holds the keystore.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmod, lstat, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileKeyStore } from '../keystore/file-keystore.ts';
import { minimalKey } from '../keystore/testdata/sample-records.ts';
import { FileRootKey } from '../rootkey/file-root-key.ts';
import { adminDir, adminSocketPath } from './admin-protocol.ts';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const SECRETS = 'alias/kubekms/secrets';

let dir: string;
let dataDir: string;
let keyFile: string;
let serve: ChildProcess | undefined;
let serveLog = '';

const env = () => ({ PATH: process.env.PATH ?? '' });
const run = (args: string[]) => {
  const r = spawnSync(process.execPath, [MAIN, ...args, '--data-dir', dataDir, '--root-key-file', keyFile], {
    encoding: 'utf8',
    env: env(),
    timeout: 60_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

async function until(what: string, f: () => Promise<boolean> | boolean, ms = 60_000): Promise<void> {
  for (const end = Date.now() + ms; !(await f()); await new Promise((r) => setTimeout(r, 50)))
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; serve said:\n${serveLog}`);
}

const exists = (p: string) =>
  lstat(p).then(
    () => true,
    () => false,
  );

async function startServe(): Promise<void> {
  serveLog = '';
  serve = spawn(
    process.execPath,
    [
      MAIN,
      'serve',
      '--data-dir',
      dataDir,
      '--root-key-file',
      keyFile,
      '--kms-socket',
      join(dir, 'kms.sock'),
      '--health-listen',
      '',
    ],
    { env: env(), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const collect = (c: Buffer) => {
    serveLog += String(c);
  };
  serve.stdout?.on('data', collect);
  serve.stderr?.on('data', collect);
  await until('serve is up', () => serveLog.includes('admin socket') || serve?.exitCode !== null);
}

async function stopServe(): Promise<void> {
  const p = serve;
  serve = undefined;
  if (!p || p.exitCode !== null) return;
  await new Promise<void>((r) => {
    p.once('exit', () => r());
    p.kill('SIGTERM');
  });
}

let customerKeyId: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubekms-admin-'));
  dataDir = join(dir, 'data');
  keyFile = join(dir, 'root.key');
  const rootKey = await FileRootKey.create(keyFile);
  const store = new FileKeyStore({ dataDir, rootKey });
  await store.open();
  customerKeyId = '1234abcd-12ab-34cd-56ef-1234567890ab';
  await store.commit({ putKeys: [await minimalKey(rootKey, customerKeyId)] });
  await store.close();
  await chmod(dataDir, 0o755);
  await startServe();
}, 120_000);
afterAll(async () => {
  await stopServe();
  await rm(dir, { recursive: true, force: true });
});

describe('kubekms key against a running serve (admin socket)', () => {
  it('serves the admin socket 0600 in a 0700 directory of its own, whatever the data directory mode', async () => {
    expect(serveLog).toContain('admin socket serving');
    expect((await lstat(adminSocketPath(dataDir))).mode & 0o777).toBe(0o600);
    expect((await lstat(adminDir(dataDir))).mode & 0o777).toBe(0o700);
    expect((await lstat(dataDir)).mode & 0o777).toBe(0o755); // as a kubelet hostPath DirectoryOrCreate makes it
  });

  it('rotates the Secrets key online: serve holds the keystore, and the new version is its primary', async () => {
    const r = run(['key', 'rotate', SECRETS]);
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toMatch(/^rotated arn:aws:kms:[^ ]+: primary version 2\n$/);
    const v = run(['key', 'versions', SECRETS]);
    expect(v.code).toBe(0);
    expect(v.out).toMatch(/v1 +Active/);
    expect(v.out).toMatch(/v2 +Primary/);
    await until('the audit line', () => serveLog.includes('"audit":"admin"'));
    const line = serveLog.split('\n').find((l) => l.includes('"audit":"admin"')) ?? '{}';
    expect(JSON.parse(line)).toMatchObject({ audit: 'admin', op: 'rotate', key: SECRETS, result: 'ok' });
  });

  it('refuses a customer key, an unknown key and a retired-only action on an active version, naming why', () => {
    const c = run(['key', 'rotate', customerKeyId]);
    expect(c.code).toBe(1);
    expect(c.err).toMatch(
      /AccessDeniedException: key: .* is a customer key; the admin socket acts only on cluster-managed keys/,
    );
    const u = run(['key', 'rotate', 'alias/nope']);
    expect(u.code).toBe(1);
    expect(u.err).toMatch(/NotFoundException: Alias .*alias\/nope/);
    const d = run(['key', 'destroy-version', SECRETS, '--version', '1', '--pending-window-days', '7']);
    expect(d.code).toBe(1);
    expect(d.err).toMatch(/KMSInvalidStateException: .* version 1 is not retired/);
  });

  it('refuses an offline rotation while serve holds the keystore', () => {
    const r = run(['key', 'rotate', SECRETS, '--offline']);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/lock|held|serve/i);
    expect(run(['key', 'versions', SECRETS]).out).not.toMatch(/v3/);
  });

  it('refuses the admin socket when its directory is open to others', async () => {
    const admin = adminDir(dataDir);
    await chmod(admin, 0o750);
    try {
      const r = run(['key', 'rotate', SECRETS]);
      expect(r.code).not.toBe(0);
      expect(r.err).toContain(`refusing serve's admin socket: ${admin} has mode 0750`);
    } finally {
      await chmod(admin, 0o700);
    }
  });

  it('serve does not serve the admin socket in a directory open to others; after serve, rotation is offline', async () => {
    await stopServe();
    expect(await exists(adminSocketPath(dataDir))).toBe(false);
    const off = run(['key', 'rotate', SECRETS]);
    expect(off).toMatchObject({ code: 0 });
    expect(off.out).toMatch(/primary version 3/);
    await chmod(adminDir(dataDir), 0o755);
    await startServe();
    try {
      expect(serveLog).toMatch(
        /has mode 0755: group or others can reach the admin socket.*admin socket not served/,
      );
      expect(await exists(adminSocketPath(dataDir))).toBe(false);
    } finally {
      await stopServe();
      await chmod(adminDir(dataDir), 0o700);
    }
  });
});
