/**
 * Online root-key rotation (serve-root-rotation.ts, ADR 0024): `kubekms rootkey rotate` reaches a running serve
 * through its admin socket; serve moves its keystore to the new root key while a KMS v2 client keeps decrypting
 * (0 failures) and keeps rotating the Secrets key; afterwards new versions are wrapped by the new root, the store
 * opens only under it, and a serve restarted with it decrypts everything.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { rotateKeyOnDemand } from '../engine/ops-rotation.ts';
import { SYSTEM } from '../engine/policy.ts';
import { SqliteKeyStore } from '../keystore/sqlite-keystore.ts';
import { materials } from '../keystore/testdata/rotation-checks.ts';
import { ApiserverLikeClient } from '../kmsv2/testing/apiserver-client.ts';
import { FileRootKey } from '../rootkey/file-root-key.ts';
import { Pkcs11RootKey } from '../rootkey/pkcs11-root-key.ts';
import { createSoftHsm, SOFTHSM_MODULE } from '../rootkey/testing/softhsm.ts';
import { parseFlags } from './flags.ts';
import { ROTATE_FLAGS, rotateCommand } from './rootkey-rotate-command.ts';
import { type Running, serve } from './serve.ts';
import { serveConfig } from './serve-config.ts';
import { SERVE_FLAGS } from './serve-flags.ts';
import { parseNewRoot } from './serve-root-rotation.ts';

let dir: string;
let dataDir: string;
let socket: string;
const running: Running[] = [];
const clients: ApiserverLikeClient[] = [];

beforeEach(async () => {
  dir = await mkdtemp('/tmp/kubekms-online-rootrot-');
  dataDir = join(dir, 'data');
  socket = join(dir, 'run', 'kms.sock');
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const r of running.splice(0)) await r.stop();
  await rm(dir, { recursive: true, force: true });
});

async function start(keyFile: string): Promise<Running> {
  const argv = [
    '--data-dir',
    dataDir,
    '--kms-socket',
    socket,
    '--health-listen',
    '',
    '--root-key-file',
    keyFile,
  ];
  const r = await serve(serveConfig(parseFlags(SERVE_FLAGS, argv, {}).values, {}), new PassThrough());
  running.push(r);
  return r;
}

function client(): ApiserverLikeClient {
  const c = new ApiserverLikeClient(socket);
  clients.push(c);
  return c;
}

it('rotates the root key inside a running serve while Decrypt keeps answering, 0 failures', async () => {
  const oldFile = join(dir, 'old.key');
  const newFile = join(dir, 'new.key');
  const oldRoot = await FileRootKey.create(oldFile);
  const newRoot = await FileRootKey.create(newFile);
  const r = await start(oldFile);
  for (let i = 0; i < 3; i++) await rotateKeyOnDemand(r.core, { caller: SYSTEM }, 'alias/kubekms/secrets');
  const c = client();
  const seeds = [randomBytes(32), randomBytes(32)];
  const blobs = [await c.encrypt(seeds[0]!, (await c.status()).keyId)];

  // Decrypt in a loop, before, during and after the rotation.
  let stop = false;
  let rotating = false;
  const tally = { ok: 0, failed: 0, duringRotation: 0 };
  const loop = (async () => {
    while (!stop) {
      const during = rotating;
      try {
        const back = await c.decrypt(blobs[0]!.ciphertext, blobs[0]!.keyId);
        if (back.equals(seeds[0]!)) tally.ok++;
        else tally.failed++;
      } catch {
        tally.failed++;
      }
      if (during && rotating) tally.duringRotation++;
    }
  })();
  while (tally.ok < 20) await new Promise((res) => setTimeout(res, 5));

  let out = '';
  rotating = true;
  const rotation = rotateCommand(
    parseFlags(ROTATE_FLAGS, ['--data-dir', dataDir, '--to-root-key-file', newFile], {}).values,
    {
      out: (s) => {
        out += s;
      },
      env: {},
    },
  );
  // A management change queued behind the rotation, while it runs: it must wrap under the new root.
  const rotatedKey = rotateKeyOnDemand(r.core, { caller: SYSTEM }, 'alias/kubekms/secrets');
  await rotation;
  rotating = false;
  await rotatedKey;
  const okAfter = tally.ok;
  while (tally.ok < okAfter + 20) await new Promise((res) => setTimeout(res, 5));
  stop = true;
  await loop;
  console.log(`online root rotation: ${JSON.stringify(tally)}`);
  expect(tally.failed).toBe(0);
  expect(tally.duringRotation).toBeGreaterThan(0);
  expect(out).toMatch(
    /^root key rotated online by serve: 1 keys \(5 versions\) re-wrapped and 2 records re-authenticated\n/,
  );
  expect(out).toContain(`  from: ${oldRoot.description}\n  to:   ${newRoot.description}\n`);
  blobs.push(await c.encrypt(seeds[1]!, (await c.status()).keyId));

  // Restart: only the new root opens the store; every version (the one made during the rotation too) unwraps.
  c.close();
  await r.stop();
  running.splice(0);
  const store = (root: FileRootKey) => new SqliteKeyStore({ dataDir, rootKey: root });
  await expect(store(oldRoot).open()).rejects.toThrow(/is sealed under a different root key/);
  const s = store(newRoot);
  const state = await s.open();
  await s.close();
  expect(state.keys[0]!.versions).toHaveLength(5);
  expect((await materials(state, newRoot)).size).toBe(5);
  await start(newFile);
  const c2 = client();
  for (const [i, b] of blobs.entries())
    expect((await c2.decrypt(b.ciphertext, b.keyId)).equals(seeds[i]!)).toBe(true);
}, 120_000);

it('rotates a running serve from a file root key to a key in an HSM (SoftHSM2, PIN from a file)', async () => {
  const hsm = await createSoftHsm(['kubekms-online']);
  process.env.SOFTHSM2_CONF = hsm.conf;
  const target = {
    modulePath: SOFTHSM_MODULE,
    tokenLabel: 'kubekms-online',
    keyLabel: 'root-2',
    pin: hsm.pin,
  };
  try {
    await (await Pkcs11RootKey.create(target)).close();
    const pinFile = join(dir, 'pin');
    await writeFile(pinFile, `${hsm.pin}\n`, { mode: 0o600 });
    const oldFile = join(dir, 'old.key');
    await FileRootKey.create(oldFile);
    const r = await start(oldFile);
    const c = client();
    const seed = randomBytes(32);
    const blob = await c.encrypt(seed, (await c.status()).keyId);
    const argv = [
      '--data-dir',
      dataDir,
      '--to-pkcs11-module',
      SOFTHSM_MODULE,
      '--to-pkcs11-token-label',
      'kubekms-online',
    ];
    let out = '';
    await rotateCommand(
      parseFlags(
        ROTATE_FLAGS,
        [...argv, '--to-pkcs11-key-label', 'root-2', '--to-pkcs11-pin-file', pinFile],
        {},
      ).values,
      {
        out: (t) => {
          out += t;
        },
        env: {},
      },
    );
    expect(out).toContain('to:   pkcs11:libsofthsm2.so slot');
    expect(out).toContain('restart serve with: --root-key-provider pkcs11 --pkcs11-module');
    expect((await c.decrypt(blob.ciphertext, blob.keyId)).equals(seed)).toBe(true);
    await rotateKeyOnDemand(r.core, { caller: SYSTEM }, 'alias/kubekms/secrets');
    c.close();
    await r.stop();
    running.splice(0);
    const hsmKey = await Pkcs11RootKey.open(target);
    const s = new SqliteKeyStore({ dataDir, rootKey: hsmKey });
    const state = await s.open();
    await s.close();
    for (const k of state.keys) for (const v of k.versions) expect(v.wrappedMaterial[0]).toBe(0x02);
    expect((await materials(state, hsmKey)).size).toBe(2);
    await hsmKey.close();
  } finally {
    await hsm.cleanup();
  }
}, 120_000);

it('reads the new root of a request strictly, naming the field', () => {
  expect(parseNewRoot({ provider: 'file', rootKeyFile: '/k' })).toEqual({
    provider: 'file',
    rootKeyFile: '/k',
    dev: false,
  });
  expect(() => parseNewRoot({ provider: 'file' })).toThrow('to.rootKeyFile: required');
  expect(() => parseNewRoot({ provider: 'hsm' })).toThrow('to.provider: file or pkcs11');
  expect(() =>
    parseNewRoot({ provider: 'pkcs11', pkcs11: { modulePath: '/m.so', tokenLabel: 't' } }),
  ).toThrow(/--pkcs11-key-label: required for the new root key/);
  expect(() => parseNewRoot({ provider: 'pkcs11', pkcs11: { modulePath: '/m.so', slot: 'x' } })).toThrow(
    'to.pkcs11.slot: not a whole number',
  );
});
