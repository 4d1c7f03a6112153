/** The kubekms binary as users run it: exit codes, help, and SIGTERM shutdown. */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiserverLikeClient } from '../kmsv2/testing/apiserver-client.ts';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [MAIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 20_000,
  });

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubekms-cli-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('kubekms command line', () => {
  it('documents every serve flag in --help', () => {
    const r = run(['serve', '--help']);
    expect(r.status).toBe(0);
    for (const f of [
      '--data-dir',
      '--root-key-file',
      '--dev',
      '--kms-socket',
      '--secrets-key',
      '--health-listen',
      'KUBEKMS_DATA_DIR',
    ]) {
      expect(r.stdout).toContain(f);
    }
    expect(run(['--help']).stdout).toContain('kubekms serve');
  });

  it.each([
    [
      ['key', '--help'],
      ['kubekms key list', 'kubekms key rotate'],
    ],
    [
      ['key', 'list', '--help'],
      ['--data-dir', 'KUBEKMS_DATA_DIR', '--shared-state'],
    ],
    [
      ['key', 'rotate', '-h'],
      ['Usage: kubekms key rotate KEY', '--pkcs11-key-label', 'KUBEKMS_PKCS11_KEY_LABEL'],
    ],
    [
      ['reencrypt', 'status', '--help'],
      ['--watch', 'KUBEKMS_WATCH', '--kubeconfig'],
    ],
    [['reencrypt', '-h'], ['kubekms reencrypt status']],
    [
      ['rootkey', 'init', '--help'],
      ['--pkcs11-slot', 'KUBEKMS_PKCS11_SLOT', 'deprecated spellings: --slot'],
    ],
    [
      ['rootkey', '--help'],
      ['kubekms rootkey init', 'kubekms rootkey rotate', 'kubekms rootkey stage'],
    ],
    [
      ['rootkey', 'rotate', '--help'],
      [
        '--to-root-key-file',
        'KUBEKMS_TO_ROOT_KEY_FILE',
        '--to-pkcs11-key-label',
        'KUBEKMS_TO_PKCS11_PIN',
        '--root-key-file',
      ],
    ],
    [
      ['doctor', '-h'],
      ['--encryption-config', 'KUBEKMS_TIMEOUT'],
    ],
    [
      ['static-pod', '--help'],
      ['--operator-kubeconfig', 'KUBEKMS_IMAGE'],
    ],
    [
      ['serve', '-h'],
      ['--aws-listen', 'KUBEKMS_KMS_SOCKET'],
    ],
  ])("kubekms %j prints that command's help, the same as `kubekms help`, and exits 0", (args, wanted) => {
    const r = run(args);
    expect(r.status, r.stderr).toBe(0);
    for (const w of wanted) expect(r.stdout).toContain(w);
    const words = args.filter((a) => !a.startsWith('-'));
    const viaHelp = run(['help', ...words]);
    expect(viaHelp.status).toBe(0);
    expect(viaHelp.stdout).toBe(r.stdout);
  });

  it('refuses an unknown subcommand, also when asked for its help, with exit 2', () => {
    for (const args of [
      ['rootkey', 'frob', '--help'],
      ['help', 'rootkey', 'frob'],
      ['key', 'frob'],
    ]) {
      const r = run(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^kubekms: (rootkey|key): unknown subcommand "frob" \(expected '/);
    }
    const missing = run(['key']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toBe("kubekms: key: missing subcommand (try 'kubekms help key')\n");
  });

  it('exits 2 naming the flag for unknown flags and bad values', { timeout: 120_000 }, () => {
    const r = run(['serve', '--nope']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('kubekms: unknown flag --nope\n');
    const m = run(['serve', '--dev', '--data-dir', dir, '--socket-mode', '0666']);
    expect(m.status).toBe(2);
    expect(m.stderr).toMatch(/--socket-mode: 0666 gives access to every user/);
    expect(run(['frobnicate']).status).toBe(2);
  });

  it('refuses to start without a root key, naming --root-key-file', () => {
    const r = run(['serve', '--data-dir', dir, '--kms-socket', join(dir, 'k.sock')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--root-key-file/);
  });

  it('takes relative paths under the working directory and logs the absolute socket path', {
    timeout: 120_000,
  }, async () => {
    const child = spawn(
      process.execPath,
      [
        MAIN,
        'serve',
        '--dev',
        '--data-dir',
        '.data',
        '--kms-socket',
        '.data/kms.sock',
        '--health-listen',
        '',
      ],
      { cwd: dir },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    await expect.poll(() => out.includes('kmsv2 plugin serving'), { timeout: 60_000 }).toBe(true);
    const socket = join(dir, '.data', 'kms.sock');
    expect(out).toContain(`"socket":"${socket}"`);
    const c = new ApiserverLikeClient(socket);
    expect((await c.status()).healthz).toBe('ok');
    c.close();
    child.kill('SIGTERM');
    expect(await new Promise((resolve) => child.once('exit', resolve))).toBe(0);
    await expect(stat(join(dir, 'kms.sock'))).rejects.toThrow(/ENOENT/);
  });

  it('serves from environment variables and stops cleanly on SIGTERM', { timeout: 120_000 }, async () => {
    const socket = join(dir, 'kms.sock');
    const child = spawn(process.execPath, [MAIN, 'serve'], {
      env: {
        ...process.env,
        KUBEKMS_DEV: 'true',
        KUBEKMS_DATA_DIR: dir,
        KUBEKMS_KMS_SOCKET: socket,
        KUBEKMS_HEALTH_LISTEN: '127.0.0.1:0',
      },
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    await expect.poll(() => out.includes('kmsv2 plugin serving'), { timeout: 60_000 }).toBe(true);
    const c = new ApiserverLikeClient(socket);
    expect((await c.status()).healthz).toBe('ok');
    c.close();
    child.kill('SIGTERM');
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
    expect(out).toContain('"msg":"stopped"');
    await expect(stat(socket)).rejects.toThrow(/ENOENT/);
  });

  it('lists and rotates keys offline, and refuses --offline while serve holds the data dir', {
    timeout: 180_000,
  }, async () => {
    const env = { KUBEKMS_DEV: 'true', KUBEKMS_DATA_DIR: dir };
    const first = run(['key', 'list'], env);
    expect(first.status).toBe(0);
    const child = spawn(process.execPath, [MAIN, 'serve', '--kms-socket', '', '--health-listen', ''], {
      env: { ...process.env, ...env },
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    await expect
      .poll(() => out.includes('cluster-managed Secrets key ready'), { timeout: 60_000 })
      .toBe(true);
    // Offline (--offline) is refused while serve holds the keystore; without it, rotate goes through serve's
    // admin socket (admin-socket.test.ts).
    const busy = run(['key', 'rotate', 'alias/kubekms/secrets', '--offline'], env);
    expect(busy.status).toBe(1);
    expect(busy.stderr).toMatch(/another kubekms \(pid \d+\) uses this data dir/);
    child.kill('SIGTERM');
    expect(await new Promise((resolve) => child.once('exit', resolve))).toBe(0);
    const rotated = run(['key', 'rotate', 'alias/kubekms/secrets'], env);
    expect(rotated.stdout).toMatch(/primary version 2/);
    expect(run(['key', 'list'], env).stdout).toMatch(
      /Enabled +SYMMETRIC_DEFAULT +ENCRYPT_DECRYPT +v2 +alias\/kubekms\/secrets/,
    );
    expect(run(['key', 'rotate'], env).status).toBe(2);
  });
});
