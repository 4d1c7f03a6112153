/**
 * The README is a test: the first command of its quick-start `sh` block, run exactly as written from a scratch
 * copy of the repository (cwd = the copy, so its relative paths are relative to the copy), serves — /readyz is
 * 200, a KMS v2 Status → Encrypt → Decrypt round trip works over the socket it logged — and SIGTERM stops it
 * with exit code 0.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ApiserverLikeClient } from '../../src/kmsv2/testing/apiserver-client.ts';
import { freePort } from '../controlplane/harness.ts';
import { REPO_ROOT, scratchClone } from '../scratch-clone.ts';

/** The first command of the ```sh block under "## Quick start" in README.md. */
function quickStartCommand(readme: string): string {
  const section = readme.split(/^## Quick start.*$/m)[1];
  const block = section?.match(/^```sh\n([\s\S]*?)^```$/m)?.[1];
  const first = block?.split('\n').find((l) => l.trim() !== '');
  if (first === undefined) throw new Error('README.md: no ```sh block with a command under "## Quick start"');
  return first;
}

const scratch = mkdtempSync(join(tmpdir(), 'kubekms-readme-'));
let child: ChildProcess | undefined;
let failed = false;
afterAll(() => {
  if (child?.exitCode === null) child.kill('SIGKILL');
  if (failed) console.error(`readme: copy and log kept in ${scratch}`);
  else rmSync(scratch, { recursive: true, force: true });
});

interface LogLine {
  msg?: string;
  socket?: string;
  address?: string;
}

/** Resolves with the first JSON log line for which `pick` returns a value; rejects when the process exits. */
function waitForLog<T>(p: ChildProcess, output: string[], pick: (l: LogLine) => T | undefined): Promise<T> {
  return new Promise((resolve, reject) => {
    const scan = () => {
      for (const line of output.join('').split('\n')) {
        if (!line.startsWith('{')) continue;
        const v = pick(JSON.parse(line) as LogLine);
        if (v !== undefined) return resolve(v);
      }
    };
    p.stdout?.on('data', scan);
    p.stderr?.on('data', scan);
    p.on('exit', (code) =>
      reject(new Error(`exited (${code}) before logging it:\n${output.join('').slice(-3000)}`)),
    );
    scan();
  });
}

it('README quick start: the first command serves from a plain copy and stops cleanly', async () => {
  try {
    const command = quickStartCommand(readFileSync(join(REPO_ROOT, 'README.md'), 'utf8'));
    expect(command).toMatch(/^scripts\/kubekms serve /);
    expect(command, 'a single command (run with exec, so SIGTERM reaches it)').not.toMatch(/[;&|<>`$]/);
    const copy = scratchClone(join(scratch, 'kubekms'));
    expect(existsSync(join(scratch, 'shared'))).toBe(false);
    // The health listener's env twin picks a free port (the README's default 9810 may be taken on a shared
    // machine); the command itself runs as written.
    const health = `127.0.0.1:${await freePort()}`;
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KUBEKMS_')));
    const output: string[] = [];
    const p = spawn('sh', ['-c', `exec ${command}`], {
      cwd: copy,
      env: { ...env, KUBEKMS_HEALTH_LISTEN: health },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = p;
    p.stdout.on('data', (d: Buffer) => output.push(d.toString()));
    p.stderr.on('data', (d: Buffer) => output.push(d.toString()));

    const socket = await waitForLog(p, output, (l) =>
      l.msg === 'kmsv2 plugin serving' ? l.socket : undefined,
    );
    expect(socket).toBe(join(copy, '.data', 'kms.sock'));
    expect(statSync(socket).mode & 0o777).toBe(0o600);
    await waitForLog(p, output, (l) => (l.msg?.startsWith('health listener') ? true : undefined));

    const ready = await fetch(`http://${health}/readyz`);
    expect(ready.status, await ready.clone().text()).toBe(200);

    const client = new ApiserverLikeClient(socket);
    try {
      const status = await client.status();
      expect(status.healthz).toBe('ok');
      const seed = randomBytes(32);
      const enc = await client.encrypt(seed, status.keyId);
      expect(Buffer.from(await client.decrypt(enc.ciphertext, enc.keyId, enc.annotations))).toEqual(seed);
    } finally {
      client.close();
    }

    const exited = new Promise<[number | null, NodeJS.Signals | null]>((r) =>
      p.once('exit', (code, signal) => r([code, signal])),
    );
    p.kill('SIGTERM');
    expect(await exited).toEqual([0, null]);
    expect(existsSync(join(copy, '.data'))).toBe(true);
  } catch (e) {
    failed = true;
    throw e;
  }
});
