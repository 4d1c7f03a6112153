/**
 * Secrets encrypted at rest by a real kube-apiserver (v1.36) through kubekms, checked in etcd.
 * Issue: real control plane, tests 1, 2, 3 and 5.
 */
import { execFileSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { ApiserverLikeClient } from '../../src/kmsv2/testing/apiserver-client.ts';
import { type ControlPlane, createRunDir, type Plugin, startControlPlane } from '../controlplane/harness.ts';
import { keepLogsOnFailure, MAIN } from './lifecycle.ts';
import {
  applySecrets,
  createNamespace,
  keyIdOfNewWrite,
  newSecret,
  readAllSecrets,
  readSecret,
  type SecretSpec,
  storedSecret,
  storedSecrets,
  waitFor,
} from './secrets.ts';

keepLogsOnFailure();

let cp: ControlPlane;
let plugin: Plugin;
const bulk: SecretSpec[] = [];

async function pluginKeyId(): Promise<string> {
  const c = new ApiserverLikeClient(plugin.socket);
  try {
    return (await c.status()).keyId;
  } finally {
    c.close();
  }
}

async function expectAllBulkReadable(): Promise<void> {
  const values = await readAllSecrets(cp.apiserver, 'bulk');
  expect(values.size).toBe(bulk.length);
  for (const s of bulk) expect(values.get(s.name)).toBe(s.value);
}

beforeAll(async () => {
  cp = await startControlPlane({ version: '1.36', dir: createRunDir('kubekms-e2e-') });
  plugin = cp.plugin!;
  await createNamespace(cp.apiserver, 'e2e');
  await createNamespace(cp.apiserver, 'bulk');
}, 300_000);

describe('kube-apiserver 1.36 with the kubekms KMS v2 provider', () => {
  it('stores a Secret in etcd under k8s:enc:kms:v2:kubekms: with our key_id and without its plaintext', async () => {
    const s = newSecret('e2e', 'first');
    await applySecrets(cp.apiserver, [s]);
    const { raw, obj } = await storedSecret(cp.etcd, s);
    expect(raw.subarray(0, 'k8s:enc:kms:v2:kubekms:'.length).toString()).toBe('k8s:enc:kms:v2:kubekms:');
    expect(raw.includes(Buffer.from(s.value))).toBe(false);
    expect(raw.includes(Buffer.from(Buffer.from(s.value).toString('base64')))).toBe(false);
    expect(obj.providerName).toBe('kubekms');
    expect(obj.keyID).toMatch(/^kubekms:[0-9a-f-]{36}:v1$/);
    expect(obj.keyID).toBe(await pluginKeyId());
    expect(obj.encryptedDEKSource.length).toBe(81);
    expect(obj.annotations).toEqual({});
    expect(await readSecret(cp.apiserver, s)).toBe(s.value);
  });

  it('writes 1 000 Secrets under one key_id with one shared encrypted DEK source', async () => {
    for (let i = 0; i < 1000; i++) bulk.push(newSecret('bulk', `s-${String(i).padStart(4, '0')}`));
    for (let i = 0; i < bulk.length; i += 250) await applySecrets(cp.apiserver, bulk.slice(i, i + 250));
    const stored = await storedSecrets(cp.etcd, 'bulk');
    expect(stored.size).toBe(1000);
    const sources = new Set([...stored.values()].map((v) => v.obj.encryptedDEKSource.toString('base64')));
    const keyIds = new Set([...stored.values()].map((v) => v.obj.keyID));
    expect(sources.size).toBe(1);
    expect(keyIds.size).toBe(1);
    await expectAllBulkReadable();
  });

  it('reads every Secret back after a kube-apiserver restart and after a kubekms restart', async () => {
    await cp.apiserver.restart();
    await expectAllBulkReadable();
    plugin = await plugin.restart();
    await expectAllBulkReadable();
    // A second apiserver restart empties its DEK cache, so every read goes through the restarted kubekms.
    await cp.apiserver.restart();
    await expectAllBulkReadable();
    expect(await readSecret(cp.apiserver, { namespace: 'e2e', name: 'first' })).toMatch(/^plaintext-/);
  });

  it('rotates: new writes use the new key_id within a Status poll, old Secrets stay readable, a no-op replace re-encrypts', async () => {
    const before = await pluginKeyId();
    await plugin.stop();
    const out = execFileSync(
      process.execPath,
      [MAIN, 'key', 'rotate', 'alias/kubekms/secrets', '--dev', '--data-dir', plugin.dataDir],
      {
        encoding: 'utf8',
      },
    );
    expect(out).toMatch(/primary version 2/);
    plugin = await plugin.restart();
    const after = await pluginKeyId();
    expect(after).not.toBe(before);
    expect(after).toMatch(/:v2$/);
    // The apiserver polls Status every 10 s while unhealthy and every 60 s when healthy.
    await waitFor(
      'a new write under the new key_id',
      async () => ((await keyIdOfNewWrite(cp.apiserver, cp.etcd, 'e2e')) === after ? true : undefined),
      150_000,
      5_000,
    );
    await expectAllBulkReadable();
    const old = bulk[0]!;
    expect((await storedSecret(cp.etcd, old)).obj.keyID).toBe(before);
    const json = await cp.apiserver.kubectl(['get', 'secret', '-n', 'bulk', old.name, '-o', 'json']);
    await cp.apiserver.kubectl(['replace', '-f', '-'], { input: json });
    expect((await storedSecret(cp.etcd, old)).obj.keyID).toBe(after);
    expect(await readSecret(cp.apiserver, old)).toBe(old.value);
    await cp.apiserver.restart();
    await expectAllBulkReadable();
  });
});
