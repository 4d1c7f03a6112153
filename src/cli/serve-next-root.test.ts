/**
 * The pkcs11 twin of `serve --next-root-key-file` (serve-next-root.ts, docs/adr/0026) with SoftHSM2 as the HSM:
 * serve's flags select a key in the HSM that is opened at start, round-trips, is held staged and is what the
 * heartbeat publishes as its next root key; a wrong PIN, a missing PIN or a missing label stops serve at start
 * naming the flag (and the CKR_ code) with nothing written. And `kubekms rootkey stage --to-pkcs11-*` through the
 * admin socket of an HA serve (in process, the Kubernetes API faked) stages the HSM key the same way.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeCrypto } from '../crypto/node-provider.ts';
import { EngineCore } from '../engine/core.ts';
import { ensureClusterKey, SECRETS_KEY_ALIAS } from '../engine/ops-maintenance.ts';
import { SecretBytes } from '../engine/secret.ts';
import { MemoryKeyStore } from '../engine/testing.ts';
import { SharedRootRotation } from '../ha/root-rotation.ts';
import { SharedState } from '../ha/shared-state.ts';
import { FakeStateApi } from '../ha/testing.ts';
import { FileRootKey } from '../rootkey/file-root-key.ts';
import { Pkcs11RootKey } from '../rootkey/pkcs11-root-key.ts';
import { rootIdentity, SwitchableRootKey } from '../rootkey/switchable-root-key.ts';
import { createSoftHsm, SOFTHSM_MODULE, type SoftHsm } from '../rootkey/testing/softhsm.ts';
import { startAdminServer } from './admin-server.ts';
import { parseFlags } from './flags.ts';
import { STAGE_FLAGS, stageCommand } from './rootkey-rotate-command.ts';
import { parseServeArgs } from './serve-config.ts';
import { openEngine, sharedRootOps, stageFromFlags } from './serve-engine.ts';
import { openNextRoot } from './serve-next-root.ts';
import { Stoppers } from './stoppers.ts';

const TOKEN = 'kubekms-next';
const LABEL = 'root-next';
const silent = pino({ level: 'silent' });
let hsm: SoftHsm;
let dir: string;
let pinFile: string;
let wrongPinFile: string;
let currentFile: string;
let hsmId: string;

beforeAll(async () => {
  hsm = await createSoftHsm([TOKEN]);
  process.env.SOFTHSM2_CONF = hsm.conf;
  dir = await mkdtemp(join(tmpdir(), 'kubekms-next-pkcs11-'));
  const created = await Pkcs11RootKey.create({
    modulePath: SOFTHSM_MODULE,
    tokenLabel: TOKEN,
    keyLabel: LABEL,
    pin: hsm.pin,
  });
  hsmId = rootIdentity(created);
  await created.close();
  pinFile = join(dir, 'pin');
  await writeFile(pinFile, `${hsm.pin}\n`, { mode: 0o600 });
  wrongPinFile = join(dir, 'wrong-pin');
  await writeFile(wrongPinFile, 'not-the-pin\n', { mode: 0o600 });
  currentFile = join(dir, 'current.key');
  await FileRootKey.create(currentFile);
});
afterAll(async () => {
  await hsm?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

/** serve's flags: the current root a file key, the next one the HSM key (`label`, PIN from `pin`). */
function serveArgs(dataDir: string, label = LABEL, pin: string | null = pinFile): string[] {
  return [
    '--data-dir',
    dataDir,
    '--shared-state',
    '--root-key-file',
    currentFile,
    '--next-pkcs11-module',
    SOFTHSM_MODULE,
    '--next-pkcs11-token-label',
    TOKEN,
    '--next-pkcs11-key-label',
    label,
    ...(pin === null ? [] : ['--next-pkcs11-pin-file', pin]),
  ];
}

/** An HA instance "a" on a faked Kubernetes API, wrapping under `root`. */
async function haInstance(root: SwitchableRootKey) {
  const api = new FakeStateApi();
  const shared = new SharedState({
    cache: new MemoryKeyStore(),
    rootKey: root,
    namespace: api.namespace,
    api,
  });
  const core = await EngineCore.open({ crypto: nodeCrypto, rootKey: root, store: shared.store });
  const run = await shared.run({ core, log: silent, instance: 'a', keyId: () => '', initialWaitMs: 500 });
  await ensureClusterKey(core, SECRETS_KEY_ALIAS, 'secrets');
  const nextRootAnnotation = () =>
    api.leases.get('kubekms-instance-a')?.metadata.annotations?.['kubekms.io/next-root-key'];
  return { api, shared, core, run, nextRootAnnotation };
}

describe('serve --next-pkcs11-* (SoftHSM2)', () => {
  // First in the file: a PKCS#11 login belongs to the process, so once a key of the token is open a wrong PIN
  // is not even checked (C_Login answers CKR_USER_ALREADY_LOGGED_IN).
  it.each([
    [
      'a wrong PIN',
      () => serveArgs(join(dir, 'data-wrong-pin'), LABEL, wrongPinFile),
      /^--next-pkcs11-pin-file: the next root key: rootkey: login to .* failed: CKR_PIN_INCORRECT \(check --next-pkcs11-pin-file or KUBEKMS_NEXT_PKCS11_PIN\)$/,
    ],
    [
      'a missing key label',
      () => serveArgs(join(dir, 'no-label'), 'nope'),
      /^--next-pkcs11-key-label: the next root key: rootkey: no secret key labelled "nope" in token "kubekms-next"/,
    ],
  ])(
    'stops serve at start on %s, naming the flag, with nothing written',
    async (_, argv, message) => {
      const config = parseServeArgs(argv(), {});
      const started = new Stoppers(1000);
      const failure = await openEngine(config, silent, started).then(
        () => new Error('serve started'),
        (e: unknown) => e as Error,
      );
      expect(failure.message).toMatch(message);
      expect(failure.message).not.toContain(hsm.pin);
      expect(existsSync(config.keystore.dataDir)).toBe(false);
    },
    60_000,
  );

  it('names the PIN flag and its environment variables when no PIN is given', async () => {
    const spec = parseServeArgs(serveArgs(join(dir, 'no-pin'), LABEL, null), {}).nextRootKey;
    if (spec === undefined) throw new Error('no next root key');
    await expect(openNextRoot(spec, join(dir, 'no-pin'), silent, {})).rejects.toThrow(
      /^--next-pkcs11-pin-file: the next root key: rootkey: no PKCS#11 PIN: pass --next-pkcs11-pin-file PATH \(mode 0600\) or set KUBEKMS_NEXT_PKCS11_PIN \(or KUBEKMS_PKCS11_PIN\) in the environment$/,
    );
  });

  it('opens the HSM key at start, holds it staged (reads under it), and the heartbeat publishes it', async () => {
    const dataDir = join(dir, 'ok');
    const config = parseServeArgs(serveArgs(dataDir), {});
    const spec = config.nextRootKey;
    expect(spec).toMatchObject({ provider: 'pkcs11', pkcs11: { keyLabel: LABEL, pinFile } });
    if (spec === undefined) throw new Error('no next root key');
    const root = new SwitchableRootKey(await FileRootKey.load(currentFile));
    await stageFromFlags(root, spec, dataDir, silent, {});
    expect(hsmId).toMatch(/^pkcs11:[0-9a-f]{16}$/);
    expect(rootIdentity(root.staged)).toBe(hsmId);
    expect(rootIdentity(root.current)).toMatch(/^file:/);
    // A record wrapped under the staged HSM key (as after the rotation) unwraps through serve's root key.
    const aad = new TextEncoder().encode('next-pkcs11-test');
    const wrapped = await root.staged?.wrap(new SecretBytes(new Uint8Array(32).fill(7)), aad);
    if (wrapped === undefined) throw new Error('nothing staged');
    expect(Buffer.from((await root.unwrap(wrapped, aad)).unsafeBytes())).toEqual(Buffer.alloc(32, 7));
    // What the heartbeat Lease says this instance holds staged.
    const a = await haInstance(root);
    try {
      await a.run.heartbeat.renewNow();
      expect(a.nextRootAnnotation()).toBe(hsmId);
    } finally {
      await a.run.stop();
    }
    // The PIN from KUBEKMS_NEXT_PKCS11_PIN when there is no --next-pkcs11-pin-file.
    const fromEnv = parseServeArgs(serveArgs(dataDir, LABEL, null), {}).nextRootKey;
    if (fromEnv === undefined) throw new Error('no next root key');
    const again = new SwitchableRootKey(await FileRootKey.load(currentFile));
    await stageFromFlags(again, fromEnv, dataDir, silent, { KUBEKMS_NEXT_PKCS11_PIN: hsm.pin });
    expect(rootIdentity(again.staged)).toBe(hsmId);
    expect(existsSync(dataDir)).toBe(false);
    // A PKCS#11 login belongs to the process: with a key of the token open, a wrong PIN is not checked again.
    const wrong = parseServeArgs(serveArgs(dataDir, LABEL, wrongPinFile), {}).nextRootKey;
    if (wrong === undefined) throw new Error('no next root key');
    expect(rootIdentity(await openNextRoot(wrong, dataDir, silent, {}))).toBe(hsmId);
  }, 60_000);
});

describe('kubekms rootkey stage --to-pkcs11-* through the admin socket of an HA serve (SoftHSM2)', () => {
  it('stages the HSM key: held for reads, published by the heartbeat, and the answer names it', async () => {
    const adminDir = await mkdtemp(join(tmpdir(), 'kubekms-stage-hsm-'));
    const root = new SwitchableRootKey(await FileRootKey.load(currentFile));
    const a = await haInstance(root);
    const rot = new SharedRootRotation({
      core: a.core,
      cache: { switchRoot: () => Promise.reject(new Error('must not switch')) },
      store: a.shared.store,
      api: a.api,
      root,
      renew: () => a.run.heartbeat.renewNow(),
      instance: 'a',
      log: silent,
    });
    const ops = sharedRootOps(rot, root, adminDir, silent);
    const server = await startAdminServer(a.core, adminDir, silent, ops.rotateRoot, ops.stageRoot);
    try {
      const argv = ['--data-dir', adminDir, '--to-pkcs11-module', SOFTHSM_MODULE];
      argv.push(
        '--to-pkcs11-token-label',
        TOKEN,
        '--to-pkcs11-key-label',
        LABEL,
        '--to-pkcs11-pin-file',
        pinFile,
      );
      let out = '';
      const code = await stageCommand(parseFlags(STAGE_FLAGS, argv, {}).values, {
        out: (t) => {
          out += t;
        },
      });
      expect(code).toBe(0);
      expect(out).toMatch(
        / {2}staged: {2}pkcs11:libsofthsm2\.so slot \d+ token kubekms-next label root-next/,
      );
      expect(out).toContain('--next-pkcs11-*');
      expect(rootIdentity(root.staged)).toBe(hsmId);
      expect(a.nextRootAnnotation()).toBe(hsmId);
    } finally {
      await server.close();
      await a.run.stop();
      await rm(adminDir, { recursive: true, force: true });
    }
  }, 60_000);
});
