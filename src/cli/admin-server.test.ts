// The admin socket's protocol in process: bad requests get a ValidationException naming the field, and nothing
// changes; oversized requests are refused. With --shared-state, a root-key rotation is refused, naming the
// instance, while a live instance does not hold the new root key (docs/adr/0026).
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeCrypto } from '../crypto/node-provider.ts';
import { EngineCore } from '../engine/core.ts';
import { ensureClusterKey, SECRETS_KEY_ALIAS } from '../engine/ops-maintenance.ts';
import { MemoryKeyStore, TestRootKey } from '../engine/testing.ts';
import { SharedRootRotation } from '../ha/root-rotation.ts';
import { type RunningSharedState, SharedState } from '../ha/shared-state.ts';
import { FakeStateApi } from '../ha/testing.ts';
import { microTime } from '../kube/client.ts';
import { FileRootKey } from '../rootkey/file-root-key.ts';
import { SwitchableRootKey } from '../rootkey/switchable-root-key.ts';
import { adminSocketPath } from './admin-protocol.ts';
import { type AdminServer, parseAdminRequest, startAdminServer } from './admin-server.ts';
import { sharedRootOps } from './serve-engine.ts';

let dir: string;
let core: EngineCore;
let keyId: string;
let server: AdminServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubekms-admin-proto-'));
  core = await EngineCore.open({
    crypto: nodeCrypto,
    rootKey: new TestRootKey(nodeCrypto),
    store: new MemoryKeyStore(),
  });
  keyId = await ensureClusterKey(core, SECRETS_KEY_ALIAS, 'secrets');
  server = await startAdminServer(core, dir, pino({ level: 'silent' }));
});
afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

function send(raw: string, at = dir): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const s = connect(adminSocketPath(at));
    let body = '';
    s.setEncoding('utf8');
    s.once('connect', () => s.write(raw));
    s.on('data', (c: string) => {
      body += c;
    });
    s.once('end', () => resolve(JSON.parse(body) as Record<string, unknown>));
    s.once('error', reject);
  });
}

describe('admin socket requests', () => {
  it.each([
    ['not JSON', 'rotate please\n', /^request: not JSON$/],
    ['an array', '[1]\n', /^request: not a JSON object$/],
    ['an unknown op', '{"op":"deleteKey","key":"x"}\n', /^op: "deleteKey" is not one of rotate, versions, /],
    ['no key', '{"op":"rotate"}\n', /^key: /],
    [
      'a version that is not a whole number',
      '{"op":"cancelVersionDestruction","key":"x","version":1.5}\n',
      /^version: /,
    ],
    [
      'no waiting period',
      '{"op":"scheduleVersionDestruction","key":"x","version":1}\n',
      /^pendingWindowDays: /,
    ],
  ])('refuses %s, naming the field', async (_what, raw, message) => {
    const a = await send(raw);
    expect(a).toMatchObject({ ok: false, code: 'ValidationException' });
    expect(a.message).toMatch(message);
    expect(core.findKey(keyId)?.primaryVersion).toBe(1);
  });

  it('refuses a request over 4 KiB', async () => {
    const a = await send(`{"op":"rotate","key":"${'a'.repeat(5000)}"}\n`);
    expect(a).toMatchObject({
      ok: false,
      code: 'ValidationException',
      message: 'request: larger than 4096 bytes',
    });
  });

  it('refuses to stage a root key without --shared-state (a single node rotates at once)', async () => {
    const a = await send(
      `${JSON.stringify({ op: 'stageRootKey', to: { provider: 'file', rootKeyFile: '/k' } })}\n`,
    );
    expect(a).toMatchObject({ ok: false, code: 'UnsupportedOperationException' });
    expect(a.message).toMatch(/^stageRootKey: only with --shared-state/);
  });

  it('a valid rotate answers with the new primary version', async () => {
    const a = await send(`${JSON.stringify({ op: 'rotate', key: SECRETS_KEY_ALIAS })}\n`);
    expect(a).toMatchObject({ ok: true, primaryVersion: 2 });
    expect(parseAdminRequest('{"op":"versions","key":"k"}')).toEqual({ op: 'versions', key: 'k' });
  });
});

describe('admin socket with --shared-state: the two-phase root-key rotation', () => {
  let haDir: string;
  let ha: AdminServer;
  let api: FakeStateApi;
  let run: RunningSharedState;
  let newKeyFile: string;
  let root: SwitchableRootKey;
  const silent = pino({ level: 'silent' });

  beforeAll(async () => {
    haDir = await mkdtemp(join(tmpdir(), 'kubekms-admin-ha-'));
    root = new SwitchableRootKey(await FileRootKey.create(join(haDir, 'old.key')));
    newKeyFile = join(haDir, 'new.key');
    await FileRootKey.create(newKeyFile);
    api = new FakeStateApi();
    const shared = new SharedState({
      cache: new MemoryKeyStore(),
      rootKey: root,
      namespace: api.namespace,
      api,
    });
    const haCore = await EngineCore.open({ crypto: nodeCrypto, rootKey: root, store: shared.store });
    run = await shared.run({ core: haCore, log: silent, instance: 'a', keyId: () => '', initialWaitMs: 500 });
    await ensureClusterKey(haCore, SECRETS_KEY_ALIAS, 'secrets');
    // Instance b is live and holds the old root key only.
    api.leases.set('kubekms-instance-b', {
      metadata: {
        name: 'kubekms-instance-b',
        labels: { 'kubekms.io/role': 'instance' },
        annotations: { 'kubekms.io/root-key': `file:${root.current.identity?.fingerprint}` },
      },
      spec: { holderIdentity: 'b', leaseDurationSeconds: 3600, renewTime: microTime(Date.now()) },
    });
    const rot = new SharedRootRotation({
      core: haCore,
      cache: { switchRoot: () => Promise.reject(new Error('must not switch')) },
      store: shared.store,
      api,
      root,
      renew: () => run.heartbeat.renewNow(),
      instance: 'a',
      log: silent,
    });
    const ops = sharedRootOps(rot, root, haDir, silent);
    ha = await startAdminServer(haCore, haDir, silent, ops.rotateRoot, ops.stageRoot);
  });
  afterAll(async () => {
    await ha.close();
    await run.stop();
    await rm(haDir, { recursive: true, force: true });
  });

  it('stages the new root here, then refuses the rotation naming b, which does not hold it; nothing moves', async () => {
    const to = { provider: 'file', rootKeyFile: newKeyFile };
    const staged = await send(`${JSON.stringify({ op: 'stageRootKey', to })}\n`, haDir);
    expect(staged).toMatchObject({ ok: true });
    const newId = `file:${root.staged?.identity?.fingerprint}`;
    expect(api.leases.get('kubekms-instance-a')?.metadata.annotations?.['kubekms.io/next-root-key']).toBe(
      newId,
    );
    const before = JSON.stringify([...api.objects.values()]);
    const a = await send(`${JSON.stringify({ op: 'rotateRootKey', to })}\n`, haDir);
    expect(a).toMatchObject({ ok: false, code: 'KMSInvalidStateException' });
    expect(a.message).toMatch(
      new RegExp(
        `^live instances do not hold the new root key ${newId}, neither current nor staged: b \\(holds file:`,
      ),
    );
    expect(JSON.stringify([...api.objects.values()])).toBe(before);
    expect(api.leases.has('kubekms-root-key')).toBe(false);
  });
});
