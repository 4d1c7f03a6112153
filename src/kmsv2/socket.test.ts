/**
 * The plugin socket's permissions: never reachable with a mode wider than its final one (even under umask 000),
 * bound in a private directory, and a stopping server never removes a successor's socket.
 */
import { spawn } from 'node:child_process';
import { lstat, mkdtemp, readdir, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nodeCrypto } from '../crypto/node-provider.ts';
import { EngineCore } from '../engine/core.ts';
import { createKey } from '../engine/ops-keys.ts';
import { SYSTEM } from '../engine/policy.ts';
import { MemoryKeyStore, TestRootKey } from '../engine/testing.ts';
import { createLogger } from '../observability/logger.ts';
import { createMetrics } from '../observability/metrics.ts';
import { KmsV2Plugin } from './plugin.ts';
import { startKmsV2Server } from './server.ts';
import { bindPrivately } from './socket.ts';
import { ApiserverLikeClient } from './testing/apiserver-client.ts';

let dir: string;
let path: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubekms-sock-'));
  path = join(dir, 'kms.sock');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function plugin(): Promise<KmsV2Plugin> {
  const core = await EngineCore.open({
    crypto: nodeCrypto,
    rootKey: new TestRootKey(nodeCrypto),
    store: new MemoryKeyStore(),
  });
  const { keyId } = await createKey(core, { caller: SYSTEM }, {});
  return new KmsV2Plugin({ core, secretsKey: keyId });
}

const start = async (p: KmsV2Plugin) =>
  startKmsV2Server(p, { path }, createLogger('silent'), createMetrics());

/** A second process that lstat()s `path` in a tight loop and prints every permission mode it saw. */
function watchModes(): { stop: () => Promise<number[]> } {
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const fs = require('node:fs'); const seen = new Set();
       process.stdin.on('data', () => { console.log(JSON.stringify([...seen])); process.exit(0); });
       const poll = () => { const end = Date.now() + 20;
         while (Date.now() < end) { try { seen.add(fs.lstatSync(${JSON.stringify(path)}).mode & 0o777); } catch {} }
         setImmediate(poll); };
       poll();`,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  return {
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin.end('stop\n');
      await exited;
      return JSON.parse(out) as number[];
    },
  };
}

describe('KMS v2 socket permissions', () => {
  it('under umask 000, is never seen at its path with a mode other than 0600 (20 starts)', async () => {
    const p = await plugin();
    const watcher = watchModes();
    await new Promise((r) => setTimeout(r, 200)); // the watcher is polling
    const previous = process.umask(0o000);
    try {
      for (let i = 0; i < 20; i++) await (await start(p)).stop(0);
    } finally {
      process.umask(previous);
    }
    const modes = await watcher.stop();
    expect(modes.map((m) => m.toString(8))).toEqual(['600']);
  });

  it('binds in a private 0700 directory, links the restricted socket into place, and leaves nothing behind', async () => {
    const seen: { dirMode: number; finalExists: boolean }[] = [];
    const previous = process.umask(0o000);
    try {
      await bindPrivately({ path, mode: 0o640 }, async (temp) => {
        seen.push({
          dirMode: (await stat(dirname(temp))).mode & 0o777,
          finalExists: await lstat(path).then(
            () => true,
            () => false,
          ),
        });
        await writeFile(temp, ''); // stands in for the bind: created with 0666 under this umask
      });
    } finally {
      process.umask(previous);
    }
    expect(seen).toEqual([{ dirMode: 0o700, finalExists: false }]);
    expect((await lstat(path)).mode & 0o777).toBe(0o640);
    expect(await readdir(dir)).toEqual(['kms.sock']);
  });

  it('refuses, and cleans up, when something appears at the path while binding', async () => {
    await expect(
      bindPrivately({ path }, async (temp) => {
        await writeFile(temp, '');
        await writeFile(path, 'another starter');
      }),
    ).rejects.toThrow(`kms-socket: ${path} appeared while binding; is another kubekms starting?`);
    expect(await readdir(dir)).toEqual(['kms.sock']);
  });

  it('removes a private bind directory a killed start left more than a minute ago, and keeps a fresh one', async () => {
    const { mkdir, utimes } = await import('node:fs/promises');
    for (const name of ['.kms-OLD123', '.kms-NEW456']) {
      await mkdir(join(dir, name), { mode: 0o700 });
      await writeFile(join(dir, name, 's'), '');
    }
    const old = new Date(Date.now() - 61_000);
    await utimes(join(dir, '.kms-OLD123'), old, old);
    await (await start(await plugin())).stop(0);
    expect(await readdir(dir)).toEqual(['.kms-NEW456']);
  });

  it('a stopping server leaves alone the socket a successor bound at the same path', async () => {
    const p = await plugin();
    const old = await start(p);
    await unlink(path); // what a successor does with a socket that no longer answers
    const next = await start(p);
    await old.stop(0);
    const c = new ApiserverLikeClient(path);
    expect((await c.status()).healthz).toBe('ok');
    c.close();
    await next.stop(0);
    await expect(lstat(path)).rejects.toThrow(/ENOENT/);
  });
});
