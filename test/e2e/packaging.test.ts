/**
 * Packaging, checked against real tools (issue 7): the production install the Dockerfile performs works from a
 * clean clone (no image is built on CI machines).
 */

import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, REPO_ROOT } from '../controlplane/harness.ts';
import { must } from '../packaging/exec.ts';
import { waitFor } from './secrets.ts';

const temps: string[] = [];
const temp = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  temps.push(d);
  return d;
};
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

describe('Dockerfile install steps from a clean clone', () => {
  it('npm ci --omit=dev + dist/ + proto/ start `serve`, which answers /readyz 200 and stops on SIGTERM', async () => {
    // Build stage: a clean clone, full install, `npm run build`.
    const src = temp('kubekms-build-');
    await must('git', ['clone', '-q', REPO_ROOT, src]);
    await must('npm', ['ci', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: src });
    await must('npm', ['run', 'build', '--silent'], { cwd: src });
    // Runtime stage: exactly the files the Dockerfile copies, production dependencies only.
    const app = temp('kubekms-app-');
    for (const f of ['package.json', 'package-lock.json']) cpSync(join(src, f), join(app, f));
    await must('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: app });
    for (const d of ['dist', 'proto', 'crds']) cpSync(join(src, d), join(app, d), { recursive: true });
    const modules = readdirSync(join(app, 'node_modules'));
    expect(modules).not.toContain('typescript');
    expect(modules).not.toContain('vitest');

    const data = temp('kubekms-run-');
    const port = await freePort();
    const child = spawn(
      'node',
      [
        'dist/cli/main.js',
        'serve',
        '--dev',
        `--data-dir=${join(data, 'data')}`,
        `--kms-socket=${join(data, 'kms.sock')}`,
        `--health-listen=127.0.0.1:${port}`,
      ],
      {
        cwd: app,
        env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let log = '';
    child.stdout.on('data', (b: Buffer) => (log += b.toString()));
    child.stderr.on('data', (b: Buffer) => (log += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const body = await waitFor(
        `/readyz 200 (log: ${log.slice(-2000)})`,
        async () => {
          const r = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
          return r?.status === 200 ? await r.text() : undefined;
        },
        60_000,
        200,
      );
      expect(body).toContain('[+]kmsv2');
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toContain('kubekms_kmsv2_healthy 1');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  }, 300_000);
});
