/**
 * What `kubekms serve` loads (issue 21): the static pod beside kube-apiserver runs the plugin only, and must not pay
 * for the Kubernetes client, the AWS API or the pkcs11 binding. The real CLI runs in a child process under a module
 * hook (record-modules.ts) that lists every module it loaded; a static import of a feature module on the plugin's
 * start-up path makes this fail.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const HOOK = fileURLToPath(new URL('./record-modules.ts', import.meta.url));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubekms-footprint-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Starts serve with `args`, waits for `ready` in its log, stops it with SIGTERM, and returns what it loaded. */
async function modulesLoadedBy(name: string, args: string[], ready: string): Promise<string[]> {
  const out = join(dir, `${name}.modules`);
  const child = spawn(
    process.execPath,
    [
      '--import',
      HOOK,
      MAIN,
      'serve',
      '--dev',
      '--data-dir',
      join(dir, name),
      '--health-listen',
      '127.0.0.1:0',
      ...args,
    ],
    { env: { ...process.env, KUBEKMS_RECORD_MODULES: out } },
  );
  let log = '';
  child.stdout.on('data', (c: Buffer) => {
    log += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    log += c.toString();
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await expect.poll(() => log.includes(ready) || child.exitCode !== null, { timeout: 60_000 }).toBe(true);
  expect(log).toContain(ready);
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
  return (await readFile(out, 'utf8')).split('\n');
}

const packageOf = (url: string): string | undefined =>
  /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1];
const srcRoomOf = (url: string): string | undefined => /\/src\/([^/]+)\//.exec(url)?.[1];

describe('serve loads only what is on', () => {
  it('plugin only: no Kubernetes client, no AWS API, no operator, HA or pkcs11 binding', {
    timeout: 120_000,
  }, async () => {
    const loaded = await modulesLoadedBy(
      'plugin',
      ['--kms-socket', join(dir, 'kms.sock')],
      'health listener serving',
    );
    const packages = new Set(loaded.map(packageOf).filter((p) => p !== undefined));
    const rooms = new Set(loaded.map(srcRoomOf).filter((r) => r !== undefined));
    expect(packages).toContain('@grpc/grpc-js'); // the hook sees packages: this is what the plugin needs
    for (const p of [
      '@kubernetes/client-node',
      'pkcs11js',
      'js-yaml',
      'protobufjs',
      '@grpc/proto-loader',
      '@noble/curves',
      '@noble/ciphers',
    ])
      expect(packages).not.toContain(p);
    expect(rooms).toContain('kmsv2');
    for (const r of ['kube', 'operator', 'ha', 'aws', 'doctor']) expect(rooms).not.toContain(r);
    // Node's fetch stack (≈ 13 MiB): an ESM import of node:http loads it (src/observability/node-http.ts).
    expect(loaded).toContain('NativeModule http');
    expect(loaded.filter((m) => m.includes('undici'))).toEqual([]);
  });

  it('--aws-listen loads the AWS API but still not the Kubernetes client', { timeout: 120_000 }, async () => {
    const loaded = await modulesLoadedBy(
      'aws',
      ['--kms-socket', '', '--aws-listen', '127.0.0.1:0'],
      'AWS KMS API serving',
    );
    expect(loaded.some((u) => srcRoomOf(u) === 'aws')).toBe(true);
    expect(loaded.some((u) => packageOf(u) === '@kubernetes/client-node')).toBe(false);
  });

  it('--operator loads the Kubernetes client (the check above can see it)', {
    timeout: 120_000,
  }, async () => {
    const kubeconfig = join(dir, 'kubeconfig');
    await import('node:fs/promises').then((fs) =>
      fs.writeFile(
        kubeconfig,
        'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\n' +
          'users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
      ),
    );
    const loaded = await modulesLoadedBy(
      'operator',
      ['--kms-socket', '', '--operator', '--kubeconfig', kubeconfig],
      'health listener serving',
    );
    expect(loaded.some((u) => packageOf(u) === '@kubernetes/client-node')).toBe(true);
  });
});
