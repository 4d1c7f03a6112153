/**
 * The KMS v2 plugin (in-process `serve`, real socket, an apiserver-like client) with each root-of-trust provider:
 * Status, Encrypt and Decrypt; a rotation; and after a restart on the same keystore the same key_id and every
 * earlier ciphertext still decrypts. The same checks as server.test.ts, parameterised over file and pkcs11
 * (SoftHSM2).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseFlags } from '../cli/flags.ts';
import { type Running, serve } from '../cli/serve.ts';
import { serveConfig } from '../cli/serve-config.ts';
import { SERVE_FLAGS } from '../cli/serve-flags.ts';
import { rotateKeyOnDemand } from '../engine/ops-rotation.ts';
import { SYSTEM } from '../engine/policy.ts';
import { ProviderFixtures, type ProviderName, ROOT_KEY_PROVIDERS } from '../rootkey/testing/providers.ts';
import { ApiserverLikeClient } from './testing/apiserver-client.ts';

let fixtures: ProviderFixtures;
let dir: string;
let socket: string;
let logs: string;
const running: Running[] = [];
const clients: ApiserverLikeClient[] = [];

beforeAll(async () => {
  fixtures = await ProviderFixtures.create();
});
afterAll(async () => {
  await fixtures?.cleanup();
});
beforeEach(async () => {
  dir = await mkdtemp('/tmp/kubekms-hsm-kmsv2-');
  socket = join(dir, 'run', 'kms.sock');
  logs = '';
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const r of running.splice(0)) await r.stop();
  await rm(dir, { recursive: true, force: true });
});

async function start(provider: ProviderName): Promise<Running> {
  const sink = new PassThrough();
  sink.on('data', (c: Buffer) => {
    logs += c.toString();
  });
  const argv = [
    '--data-dir',
    join(dir, 'data'),
    '--kms-socket',
    socket,
    '--health-listen',
    '',
    ...fixtures.serveArgs(provider),
  ];
  const r = await serve(serveConfig(parseFlags(SERVE_FLAGS, argv, {}).values, {}), sink);
  running.push(r);
  return r;
}

async function stop(r: Running): Promise<void> {
  await r.stop();
  running.splice(running.indexOf(r), 1);
}

function client(): ApiserverLikeClient {
  const c = new ApiserverLikeClient(socket);
  clients.push(c);
  return c;
}

describe.each(ROOT_KEY_PROVIDERS)('KMS v2 plugin with the %s root key', (provider) => {
  it('serves Status/Encrypt/Decrypt, rotates, and after a restart keeps key_id and decrypts everything', async () => {
    const r = await start(provider);
    expect(logs).toContain(`"msg":"root key loaded"`);
    expect(logs).toContain(
      provider === 'pkcs11' ? '"rootKey":"pkcs11:libsofthsm2.so slot' : '"rootKey":"file:',
    );
    expect(logs).not.toContain(fixtures.hsm.pin);
    // The start-up log says which root of trust protects the store: its kind and fingerprint.
    const opened = logs.split('\n').find((l) => l.includes('"msg":"keystore opened"'));
    const root = await fixtures.open(provider);
    expect(JSON.parse(opened ?? '{}')).toMatchObject({
      rootKeyKind: provider,
      rootKeyFingerprint: root.identity?.fingerprint,
    });
    expect(root.identity?.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    let c = client();
    const s1 = await c.status();
    expect(s1).toMatchObject({ version: 'v2', healthz: 'ok' });
    const seeds = [randomBytes(32), randomBytes(32)];
    const old = await c.encrypt(seeds[0]!, s1.keyId);
    expect((await c.decrypt(old.ciphertext, old.keyId)).equals(seeds[0]!)).toBe(true);
    await rotateKeyOnDemand(r.core, { caller: SYSTEM }, 'alias/kubekms/secrets');
    const s2 = await c.status();
    expect(s2.keyId).not.toBe(s1.keyId);
    const fresh = await c.encrypt(seeds[1]!, s2.keyId);
    c.close();
    await stop(r);

    await start(provider);
    c = client();
    expect((await c.status()).keyId).toBe(s2.keyId);
    expect((await c.decrypt(old.ciphertext, old.keyId)).equals(seeds[0]!)).toBe(true);
    expect((await c.decrypt(fresh.ciphertext, fresh.keyId)).equals(seeds[1]!)).toBe(true);
  });
});
