/**
 * Issue 16.4: a flood of idle connections to the AWS API (or the health listener) cannot take the descriptors
 * the KMS v2 socket needs. kubekms serve runs with a small descriptor limit (ulimit -n); the flood is several
 * times larger than what is left; the listeners' caps close the excess as it arrives, and kube-apiserver's
 * Status, Encrypt and Decrypt keep answering.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiserverLikeClient } from '../kmsv2/testing/apiserver-client.ts';

const MAIN = fileURLToPath(new URL('../cli/main.ts', import.meta.url));
const FD_LIMIT = 256;
const FLOOD = 600;

let dir: string;
let child: ChildProcess | undefined;
const sockets: Socket[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubekms-caps-'));
});
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  if (child && child.exitCode === null) {
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
  }
  await rm(dir, { recursive: true, force: true });
});

/** `kubekms serve --dev` under `ulimit -n FD_LIMIT`, with the AWS API and health listeners on free ports. */
async function serveLimited(args: string[]): Promise<{ socket: string; aws: URL; health: string }> {
  const socket = join(dir, 'kms.sock');
  const argv = ['serve', '--dev', '--data-dir', dir, '--kms-socket', socket, ...args];
  const cmd = `ulimit -n ${FD_LIMIT} && exec "$0" "$@"`;
  child = spawn('sh', ['-c', cmd, process.execPath, MAIN, ...argv], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
  });
  await expect.poll(() => /"msg":"health listener serving/.test(out), { timeout: 60_000 }).toBe(true);
  const aws = /"endpoint":"(http:\/\/[^"]+)"/.exec(out)![1]!;
  const health = /"address":"([^"]+)","msg":"health listener serving/.exec(out)![1]!;
  return { socket, aws: new URL(aws), health };
}

/** Opens `n` idle TCP connections and waits until each is connected or refused/closed. */
async function flood(host: string, port: number, n: number): Promise<void> {
  await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<void>((resolve) => {
          const s = connect({ host, port });
          sockets.push(s);
          s.once('connect', () => resolve());
          s.once('error', () => resolve());
          s.once('close', () => resolve());
        }),
    ),
  );
  await new Promise((r) => setTimeout(r, 300));
}

async function pluginAnswers(socket: string): Promise<void> {
  const c = new ApiserverLikeClient(socket);
  try {
    for (let i = 0; i < 3; i++) {
      expect((await c.status()).healthz).toBe('ok');
      const seed = new Uint8Array(32).fill(i);
      const enc = await c.encrypt(seed);
      expect(Buffer.from(await c.decrypt(enc.ciphertext, enc.keyId))).toEqual(Buffer.from(seed));
    }
  } finally {
    c.close();
  }
}

describe('connection caps keep descriptors for the plugin', () => {
  it(`${FLOOD} idle connections to the AWS API, then to the health listener: KMS v2 keeps answering`, {
    timeout: 120_000,
  }, async () => {
    const s = await serveLimited([
      '--aws-listen',
      '127.0.0.1:0',
      '--health-listen',
      '127.0.0.1:0',
      '--aws-max-connections',
      '64',
      '--health-max-connections',
      '16',
    ]);
    await flood(s.aws.hostname, Number(s.aws.port), FLOOD);
    await pluginAnswers(s.socket);
    expect((await fetch(`http://${s.health}/readyz`)).status).toBe(200);
    const [host, port] = [
      s.health.slice(0, s.health.lastIndexOf(':')),
      s.health.slice(s.health.lastIndexOf(':') + 1),
    ];
    await flood(host, Number(port), FLOOD);
    await pluginAnswers(s.socket);
    expect(child!.exitCode).toBeNull();
  });
});
