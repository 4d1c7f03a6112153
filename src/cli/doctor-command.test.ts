/** `kubekms doctor` as users run it: serve's flags, exit codes, table and JSON output. */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCTOR_FLAGS, doctorOptions } from './doctor-command.ts';
import { parseFlags, UsageError } from './flags.ts';
import { type Running, serve } from './serve.ts';
import { serveConfig } from './serve-config.ts';
import { SERVE_FLAGS } from './serve-flags.ts';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

function run(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    // No kubeconfig anywhere: the API checks skip.
    const child = spawn(process.execPath, [MAIN, 'doctor', ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: dir, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

let dir: string;
let running: Running;
let flags: string[];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubekms-doctor-cli-'));
  const { values } = parseFlags(
    SERVE_FLAGS,
    ['--dev', '--data-dir', join(dir, 'data'), '--kms-socket', join(dir, 'kms.sock'), '--health-listen', ''],
    {},
  );
  running = await serve(serveConfig(values, {}), new PassThrough());
  flags = ['--dev', '--data-dir', join(dir, 'data'), '--kms-socket', join(dir, 'kms.sock')];
});
afterAll(async () => {
  await running.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('kubekms doctor', () => {
  it("takes serve's own flag definitions (not copies) and adds --encryption-config, --timeout and --output", () => {
    for (const name of [
      'data-dir',
      'kms-socket',
      'root-key-file',
      'dev',
      'kubeconfig',
      'namespace',
      'secrets-key',
    ]) {
      expect(DOCTOR_FLAGS.find((f) => f.name === name)).toBe(SERVE_FLAGS.find((f) => f.name === name));
    }
    for (const f of SERVE_FLAGS.filter((s) => s.name.startsWith('pkcs11-') || s.name.startsWith('root-key-')))
      expect(DOCTOR_FLAGS).toContain(f);
    expect(DOCTOR_FLAGS.map((f) => f.name)).toEqual(
      expect.arrayContaining(['encryption-config', 'timeout', 'output']),
    );
    expect(DOCTOR_FLAGS.map((f) => f.name)).not.toContain('operator');
  });

  it('prints the table and exits 0 when nothing FAILs (the dev key is a warning)', {
    timeout: 60_000,
  }, async () => {
    const r = await run(flags);
    expect(r.stderr).toBe('');
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^CHECK\s+STATUS\s+DETAIL$/);
    expect(lines.slice(1).map((l) => l.split(/\s{2,}/).slice(0, 2))).toEqual([
      ['socket', 'ok'],
      ['root key', 'warn'],
      ['keystore', 'ok'],
      ['api', 'skip'],
      ['clock skew', 'skip'],
      ['instances', 'skip'],
    ]);
  });

  it('reads the flags from KUBEKMS_* variables, prints JSON, and exits 1 on a FAIL', {
    timeout: 60_000,
  }, async () => {
    const r = await run(['--dev', '--output', 'json'], {
      KUBEKMS_DATA_DIR: join(dir, 'data'),
      KUBEKMS_KMS_SOCKET: join(dir, 'wrong.sock'),
    });
    expect(r.code, r.stderr).toBe(1);
    const out = JSON.parse(r.stdout) as {
      status: string;
      exitCode: number;
      checks: { check: string; status: string; detail: string }[];
    };
    expect(out.status).toBe('FAIL');
    expect(out.exitCode).toBe(1);
    expect(out.checks[0]).toEqual({
      check: 'socket',
      status: 'FAIL',
      detail: `no socket at ${join(dir, 'wrong.sock')} (is kubekms serve running with this --kms-socket?)`,
    });
    expect(out.checks.find((c) => c.check === 'keystore')?.status).toBe('ok');
  });

  it.each([
    [['--output', 'yaml'], /--output: must be one of table, json, got "yaml"/],
    [['extra'], /doctor takes no arguments, got "extra"/],
  ])('exits 2 naming the flag for %j', { timeout: 60_000 }, async (args, message) => {
    const r = await run([...flags, ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it.each([
    [['--timeout', 'soon'], /--timeout: expected a duration/],
    [['--timeout', '10ms'], /--timeout: at least 100ms/],
    [['--data-dir', ''], /--data-dir: must not be empty/],
    [['--operator'], /unknown flag --operator/],
  ])('refuses %j with a UsageError naming the flag', (args, message) => {
    const e = (() => {
      try {
        doctorOptions(parseFlags(DOCTOR_FLAGS, [...flags, ...args], {}).values);
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message).toMatch(message);
  });

  it('documents its flags in --help', { timeout: 60_000 }, async () => {
    const r = await run(['--help']);
    expect(r.code, r.stderr).toBe(0);
    for (const f of [
      '--encryption-config',
      '--timeout',
      '--output',
      '--kms-socket',
      'KUBEKMS_DATA_DIR',
      'Exit status',
    ])
      expect(r.stdout).toContain(f);
    const viaHelp = spawnSync(process.execPath, [MAIN, 'help', 'doctor'], { encoding: 'utf8' });
    expect(viaHelp.stdout).toBe(r.stdout);
  });
});
