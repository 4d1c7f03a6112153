// The admin socket's protocol in process: bad requests get a ValidationException naming the field, and nothing
// changes; oversized requests are refused.
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
import { adminSocketPath } from './admin-protocol.ts';
import { type AdminServer, parseAdminRequest, startAdminServer } from './admin-server.ts';

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

function send(raw: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const s = connect(adminSocketPath(dir));
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

  it('refuses a root-key rotation where serve offers none (--shared-state)', async () => {
    const a = await send(
      `${JSON.stringify({ op: 'rotateRootKey', to: { provider: 'file', rootKeyFile: '/k' } })}\n`,
    );
    expect(a).toMatchObject({ ok: false, code: 'UnsupportedOperationException' });
    expect(a.message).toMatch(/^rotateRootKey: not with --shared-state/);
  });

  it('a valid rotate answers with the new primary version', async () => {
    const a = await send(`${JSON.stringify({ op: 'rotate', key: SECRETS_KEY_ALIAS })}\n`);
    expect(a).toMatchObject({ ok: true, primaryVersion: 2 });
    expect(parseAdminRequest('{"op":"versions","key":"k"}')).toEqual({ op: 'versions', key: 'k' });
  });
});
