/**
 * Disaster recovery (issue 17, docs/disaster-recovery.md), against a real kube-apiserver and etcd: 200 Secrets
 * encrypted through kubekms, `kubekms backup` while it serves, the key state destroyed — the data dir of a single
 * node; in HA both instances' data dirs, their KmsStateRecords and heartbeat Leases — `kubekms restore` (into the
 * data dir; `--shared-state` into the namespace), kubekms and kube-apiserver restarted (so no DEK is cached), and
 * every Secret reads back through the API server while etcd holds it under the kubekms KMS v2 prefix. The shared
 * restore is refused while the instances' heartbeats are live.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type Apiserver,
  createPki,
  createRunDir,
  type Etcd,
  encryptionConfigYaml,
  KMS_V2_PREFIX,
  type Plugin,
  startApiserver,
  startEtcd,
} from '../controlplane/harness.ts';
import { keepLogsOnFailure, stopsAfterAll } from './lifecycle.ts';
import { kubekmsCli as kubekms, newRootKeyFile, startRootKeyControlPlane } from './root-key-serve.ts';
import {
  applySecrets,
  createNamespace,
  newSecret,
  readAllSecrets,
  type SecretSpec,
  storedSecrets,
} from './secrets.ts';
import { prepareSharedState, startSharedStateKubekms, waitLive } from './shared-state.ts';

keepLogsOnFailure();

const NS = 'dr';
const COUNT = 200;
const stops = stopsAfterAll();

async function write200(api: Apiserver): Promise<SecretSpec[]> {
  await createNamespace(api, NS);
  const secrets = Array.from({ length: COUNT }, (_, i) => newSecret(NS, `s-${String(i).padStart(3, '0')}`));
  for (let i = 0; i < COUNT; i += 100) await applySecrets(api, secrets.slice(i, i + 100));
  return secrets;
}

/** Every Secret reads back through `api`; etcd holds each under the kubekms prefix and `keyId`, not in clear. */
async function expectAllBack(api: Apiserver, etcd: Etcd, secrets: readonly SecretSpec[], keyId: string) {
  const got = await readAllSecrets(api, NS);
  expect(secrets.filter((s) => got.get(s.name) !== s.value).map((s) => s.name)).toEqual([]);
  const stored = await storedSecrets(etcd, NS);
  expect(stored.size).toBe(COUNT);
  for (const [name, { raw, obj }] of stored) {
    expect(raw.subarray(0, KMS_V2_PREFIX.length + 8).toString(), name).toBe(`${KMS_V2_PREFIX}kubekms:`);
    expect(obj.keyID).toBe(keyId);
    expect(raw.includes(Buffer.from(got.get(name) ?? 'x'))).toBe(false);
  }
}

async function keyIdOf(etcd: Etcd): Promise<string> {
  const ids = new Set([...(await storedSecrets(etcd, NS)).values()].map((v) => v.obj.keyID));
  expect(ids.size).toBe(1);
  return [...ids][0]!;
}

describe('disaster recovery: single node', () => {
  it('backup, destroy the data dir, restore, restart: all 200 Secrets read back', async () => {
    const dir = createRunDir('kubekms-dr1-');
    const rootKeyFile = newRootKeyFile(dir);
    const cp = await startRootKeyControlPlane(dir, rootKeyFile);
    let plugin = cp.plugin!;
    stops.push(
      () => cp.stop(),
      () => plugin.stop(),
    );
    const secrets = await write200(cp.apiserver);
    const keyId = await keyIdOf(cp.etcd);
    const backup = join(dir, 'backup.json');
    expect(
      await kubekms([
        'backup',
        '--out',
        backup,
        '--data-dir',
        plugin.dataDir,
        '--root-key-file',
        rootKeyFile,
      ]),
    ).toMatch(/^backup written to .*: 1 key \(1 version\), 1 alias/);

    await plugin.stop();
    rmSync(plugin.dataDir, { recursive: true, force: true });
    expect(
      await kubekms(['restore', backup, '--data-dir', plugin.dataDir, '--root-key-file', rootKeyFile]),
    ).toMatch(/^restored .* into .*: 1 key \(1 version\), 1 alias/);
    plugin = await plugin.restart();
    await cp.apiserver.restart();
    await expectAllBack(cp.apiserver, cp.etcd, secrets, keyId);
    await cp.stop();
  }, 300_000);
});

describe('disaster recovery: HA, the KmsStateRecords lost too', () => {
  it('backup, destroy both caches and the records, restore --shared-state, restart: all 200 Secrets read back', async () => {
    const dir = createRunDir('kubekms-dr2-');
    const rootKeyFile = newRootKeyFile(dir);
    const etcd = await startEtcd(dir);
    stops.push(() => etcd.stop());
    const api = await startApiserver({
      dir,
      etcd,
      pki: await createPki(dir),
      encryptionConfig: encryptionConfigYaml({ socket: join(dir, 'a.sock') }),
      waitReady: false,
    });
    stops.push(() => api.stop());
    await waitLive(api);
    await prepareSharedState(api);
    const start = (name: string) =>
      startSharedStateKubekms({
        dir,
        name,
        rootKeyFile,
        kubeconfig: () => api.kubeconfigPath,
        timeoutMs: 120_000,
      });
    const instances: Plugin[] = [await start('a')];
    await api.waitReady(180_000);
    instances.push(await start('b'));
    stops.push(async () => {
      for (const i of instances) await i.stop();
    });
    const secrets = await write200(api);
    const keyId = await keyIdOf(etcd);
    const backup = join(dir, 'backup.json');
    await kubekms([
      'backup',
      '--out',
      backup,
      '--data-dir',
      instances[1]!.dataDir,
      '--root-key-file',
      rootKeyFile,
    ]);

    const restore = [
      ...['restore', backup, '--shared-state', '--namespace', 'kubekms'],
      ...['--kubeconfig', api.kubeconfigPath, '--root-key-file', rootKeyFile],
    ];
    await expect(kubekms(restore)).rejects.toThrow(
      /kubekms instance\(s\) (a, b|b, a) in namespace kubekms are live \(heartbeat Lease current\): stop every kubekms instance/,
    );
    for (const i of instances) {
      await i.stop();
      rmSync(i.dataDir, { recursive: true, force: true });
    }
    await api.kubectl(['delete', 'kmsstaterecords', '--all', '-n', 'kubekms']);
    await api.kubectl(['delete', 'leases', '-l', 'kubekms.io/role=instance', '-n', 'kubekms']);
    expect(await api.kubectl(['get', 'kmsstaterecords', '-n', 'kubekms', '-o', 'name'])).toBe('');
    expect(await kubekms(restore)).toMatch(
      /into the KmsStateRecords of namespace kubekms: .*; 2 records created\n$/,
    );
    expect(await kubekms(restore)).toMatch(
      /; 0 records created \(2 already there from an interrupted restore\)\n$/,
    );

    for (const [n, i] of instances.entries()) instances[n] = await i.restart();
    await api.restart({ timeoutMs: 180_000 });
    await expectAllBack(api, etcd, secrets, keyId);
  }, 400_000);
});
