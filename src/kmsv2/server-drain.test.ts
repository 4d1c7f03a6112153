/**
 * KmsV2Server.stop: an in-flight call (a Decrypt waiting for the HA fetch of a version) finishes with its real
 * answer while new calls are refused at once; at the grace, whatever still runs is cancelled.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nodeCrypto } from '../crypto/node-provider.ts';
import { createLogger } from '../observability/logger.ts';
import { createMetrics } from '../observability/metrics.ts';
import { KmsV2Plugin } from './plugin.ts';
import { type KmsV2Server, startKmsV2Server } from './server.ts';
import { ApiserverLikeClient } from './testing/apiserver-client.ts';
import { staleInstance } from './testing/stale-instance.ts';

let dir: string;
const clients: ApiserverLikeClient[] = [];
const servers: KmsV2Server[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubekms-stop-'));
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.stop(0);
  await rm(dir, { recursive: true, force: true });
});

const codeOf = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'OK',
    (e: { code?: number }) => GrpcStatus[e.code ?? -1] ?? String(e),
  );

/**
 * A server whose plugin holds version 1 of its key while the ciphertext is under version 2: Decrypt fetches the
 * version through the HA hook, which waits for `open()`.
 */
async function serverWithSlowFetch() {
  const { source, stale, keyId, catchUp } = await staleInstance();
  const seed = nodeCrypto.randomBytes(32);
  const enc = new KmsV2Plugin({ core: source, secretsKey: keyId }).encrypt(seed);
  let release = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let fetching = false;
  const plugin = new KmsV2Plugin({
    core: stale,
    secretsKey: keyId,
    fetchVersion: async (uuid) => {
      fetching = true;
      await gate;
      await catchUp(uuid);
    },
  });
  const path = join(dir, 'kms.sock');
  const server = await startKmsV2Server(plugin, { path }, createLogger('silent'), createMetrics());
  servers.push(server);
  const client = new ApiserverLikeClient(path);
  clients.push(client);
  expect((await client.status()).healthz).toBe('ok'); // the connection is up
  const inFlight = client.decrypt(enc.ciphertext, enc.keyId);
  while (!fetching) await new Promise((r) => setTimeout(r, 5));
  return { server, client, path, seed, inFlight, open: () => release() };
}

describe('KMS v2 server stop', () => {
  it('refuses new calls at once, removes the socket, and lets the in-flight call finish with its answer', async () => {
    const s = await serverWithSlowFetch();
    const started = performance.now();
    let stopped = false;
    const stopping = s.server.stop(10_000).then(() => {
      stopped = true;
    });
    // On the connection that carries the in-flight call, and on a new one.
    expect(await codeOf(s.client.status())).toBe('UNAVAILABLE');
    const late = new ApiserverLikeClient(s.path);
    clients.push(late);
    expect(await codeOf(late.status())).toBe('UNAVAILABLE');
    await expect(stat(s.path)).rejects.toThrow(/ENOENT/);
    expect(stopped).toBe(false);
    s.open();
    expect((await s.inFlight).equals(s.seed)).toBe(true);
    await stopping;
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('cancels what still runs when the grace ends, and stops then', async () => {
    const s = await serverWithSlowFetch();
    const started = performance.now();
    await s.server.stop(300);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(3_000);
    expect(['CANCELLED', 'UNAVAILABLE']).toContain(await codeOf(s.inFlight));
    s.open();
  });
});
