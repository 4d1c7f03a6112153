/**
 * `kubekms doctor` against a real control plane (issue 9): two kubekms instances sharing key state through the API
 * (--shared-state, real heartbeat Leases), a kube-apiserver encrypting Secrets through one of them with the shipped
 * deploy/encryption-config.yaml, and `scripts/kubekms doctor` run as users run it.
 *
 * Topology: etcd; apiserver 1 (no encryption) for instance a's bootstrap; instance a (socket a.sock); apiserver 2 on
 * the same etcd with deploy/encryption-config.yaml pointed at a.sock; instance b (socket b.sock) through apiserver 2.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FileRootKey } from '../../src/rootkey/file-root-key.ts';
import {
  type Apiserver,
  type ControlPlane,
  createRunDir,
  etcdKey,
  type Plugin,
  REPO_ROOT,
  startApiserver,
  startControlPlane,
} from '../controlplane/harness.ts';
import { keepLogsOnFailure } from './lifecycle.ts';
import { applySecrets, createNamespace, newSecret, readSecret, waitFor } from './secrets.ts';
import { startSharedStateKubekms } from './shared-state.ts';

keepLogsOnFailure();

const KUBEKMS = join(REPO_ROOT, 'scripts', 'kubekms');

let dir: string;
let cp: ControlPlane;
let encrypting: Apiserver;
let rootKey: string;
let configPath: string;
const instances: Record<'a' | 'b', Plugin> = {} as Record<'a' | 'b', Plugin>;

interface Doctor {
  code: number | null;
  stdout: string;
  stderr: string;
  /** CHECK → "STATUS DETAIL", from the table. */
  rows: Map<string, string>;
}

function doctor(args: readonly string[]): Promise<Doctor> {
  return new Promise((resolve) => {
    execFile(
      KUBEKMS,
      ['doctor', ...args],
      { timeout: 120_000, env: { ...process.env } },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        const rows = new Map<string, string>();
        for (const line of stdout.trimEnd().split('\n').slice(1)) {
          const [check, status, ...detail] = line.split(/ {2,}/);
          if (check && status) rows.set(check, `${status} ${detail.join('  ')}`);
        }
        resolve({ code, stdout, stderr, rows });
      },
    );
  });
}

/** Instance a's flags, as serve got them, plus the kubeconfig of the encrypting apiserver. */
function flagsOfA(extra: readonly string[] = []): string[] {
  return [
    '--root-key-file',
    rootKey,
    '--data-dir',
    instances.a.dataDir,
    '--kms-socket',
    instances.a.socket,
    '--kubeconfig',
    encrypting.kubeconfigPath,
    '--namespace',
    'kubekms',
    '--encryption-config',
    configPath,
    ...extra,
  ];
}

function instance(name: 'a' | 'b', kubeconfig: string): Promise<Plugin> {
  return startSharedStateKubekms({ dir, name, rootKeyFile: rootKey, kubeconfig: () => kubeconfig });
}

beforeAll(async () => {
  dir = createRunDir('kubekms-doctor-');
  rootKey = join(dir, 'root.key');
  await FileRootKey.create(rootKey);
  cp = await startControlPlane({ version: '1.36', dir, plugin: false });
  await cp.apiserver.kubectl(['apply', '-f', join(REPO_ROOT, 'crds')]);
  await cp.apiserver.kubectl(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=60s']);
  await createNamespace(cp.apiserver, 'kubekms');
  instances.a = await instance('a', cp.apiserver.kubeconfigPath);
  // The shipped EncryptionConfiguration, pointed at instance a's socket (the only change).
  const shipped = readFileSync(join(REPO_ROOT, 'deploy', 'encryption-config.yaml'), 'utf8');
  expect(shipped).toContain('endpoint: unix:///var/run/kubekms/kms.sock');
  configPath = join(dir, 'deploy-encryption-config.yaml');
  writeFileSync(
    configPath,
    shipped.replace('unix:///var/run/kubekms/kms.sock', `unix://${instances.a.socket}`),
  );
  encrypting = await startApiserver({
    dir,
    etcd: cp.etcd,
    pki: cp.pki,
    name: 'kube-apiserver-enc',
    extraArgs: [`--encryption-provider-config=${configPath}`],
  });
  instances.b = await instance('b', encrypting.kubeconfigPath);
}, 600_000);

describe('kubekms doctor on a real control plane', () => {
  it('reports ok for every check of a healthy two-instance setup and exits 0', async () => {
    // Both heartbeats carry the same key_id once b has bootstrapped from the API and renewed its Lease.
    const d = await waitFor(
      'both instances in agreement',
      async () => {
        const r = await doctor(flagsOfA());
        return r.rows.get('instances')?.startsWith('ok 2 live instances agree') ? r : undefined;
      },
      90_000,
      2_000,
    );
    expect(d.stderr).toBe('');
    expect(d.code).toBe(0);
    expect([...d.rows.keys()]).toEqual([
      'socket',
      'root key',
      'keystore',
      'api',
      'clock skew',
      'instance a',
      'instance b',
      'instances',
      'shared records',
      'encryption config: own state',
      'encryption config: secrets',
    ]);
    for (const [check, row] of d.rows) expect(row, check).toMatch(/^ok /);
    const keyId = /key_id (kubekms:[0-9a-f-]{36}:v1)$/.exec(d.rows.get('socket') ?? '')?.[1];
    expect(keyId).toBeDefined();
    expect(d.rows.get('instance a')).toMatch(new RegExp(`^ok live, key_id ${keyId}, holds `));
    expect(d.rows.get('instance b')).toMatch(new RegExp(`^ok live, key_id ${keyId}, holds `));
    expect(d.rows.get('keystore')).toMatch(
      /sealed by this root key \(file, fingerprint [0-9a-f]{16}\), .*1 key, 1 alias, 0 grants, in use by pid \d+; Secrets key/,
    );
    expect(d.rows.get('api')).toMatch(/\(Kubernetes v1\.36\.\d+\); KmsStateRecord CRD served$/);
    expect(d.rows.get('shared records')).toMatch(/every one written by a root key holder$/);
    expect(d.rows.get('encryption config: own state')).toBe(
      'ok kmsstaterecords.kubekms.io → identity (rule resources[0] (kmsstaterecords.kubekms.io))',
    );
    expect(d.rows.get('encryption config: secrets')).toMatch(
      new RegExp(
        `^ok secrets → kms v2 "kubekms" unix://${instances.a.socket} \\(rule resources\\[1\\] \\(secrets\\)\\)$`,
      ),
    );

    // The configuration doctor approved does what it says on this apiserver: Secrets through kubekms, the shared
    // state (written by instance b through this apiserver) stored as is.
    const s = newSecret('kubekms', 'doctor-check');
    await applySecrets(encrypting, [s]);
    expect((await cp.etcd.get(etcdKey('secrets', 'kubekms', s.name)))?.subarray(0, 23).toString()).toBe(
      'k8s:enc:kms:v2:kubekms:',
    );
    expect(await readSecret(encrypting, s)).toBe(s.value);
    const records = await cp.etcd.keys('/registry/kubekms.io/kmsstaterecords/kubekms/');
    expect(records.length).toBeGreaterThanOrEqual(2);
    for (const k of records)
      expect((await cp.etcd.get(k))?.toString()).toMatch(/^\{"apiVersion":"kubekms\.io\/v1alpha1"/);

    const json = await doctor([...flagsOfA(), '--output', 'json']);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as { status: string; checks: { check: string; status: string }[] };
    expect(parsed.status).toBe('ok');
    expect(parsed.checks.map((c) => c.check)).toEqual([...d.rows.keys()]);
  });

  it('FAILs the socket check when the socket path is wrong, and exits 1', async () => {
    const wrong = join(dir, 'nope.sock');
    const d = await doctor(flagsOfA(['--kms-socket', wrong, '--encryption-config', '']));
    expect(d.code).toBe(1);
    expect(d.rows.get('socket')).toBe(
      `FAIL no socket at ${wrong} (is kubekms serve running with this --kms-socket?)`,
    );
    expect(d.rows.get('keystore')).toMatch(/^ok /);
    expect(d.rows.get('api')).toMatch(/^ok /);
  });

  it('FAILs an EncryptionConfiguration that encrypts *.* with kms first, naming the rule', async () => {
    const bad = join(dir, 'star-star.yaml');
    writeFileSync(
      bad,
      [
        'apiVersion: apiserver.config.k8s.io/v1',
        'kind: EncryptionConfiguration',
        'resources:',
        '  - resources: ["*.*"]',
        '    providers:',
        `      - kms: {apiVersion: v2, name: kubekms, endpoint: "unix://${instances.a.socket}"}`,
        '      - identity: {}',
        '',
      ].join('\n'),
    );
    const d = await doctor(flagsOfA(['--encryption-config', bad]));
    expect(d.code).toBe(1);
    expect(d.rows.get('encryption config: own state')).toMatch(
      /^FAIL kmsstaterecords\.kubekms\.io is written by kms v2 "kubekms" .* \(rule resources\[0\] \(\*\.\*\)\): kubekms would be needed to read its own state/,
    );
    expect(d.rows.get('encryption config: kubekms objects')).toMatch(/^warn .*leases\.coordination\.k8s\.io/);
    expect(d.rows.get('encryption config: secrets')).toMatch(/^ok secrets → kms v2/);
    expect(d.rows.get('socket')).toMatch(/^ok /);
  });

  it('FAILs the instances check for two heartbeat Leases reporting different key_ids, naming both', async () => {
    await createNamespace(encrypting, 'doctor-fake');
    const now = new Date().toISOString().replace('Z', '000Z');
    const lease = (name: string, keyId: string, renewTime: string) =>
      [
        'apiVersion: coordination.k8s.io/v1',
        'kind: Lease',
        'metadata:',
        `  name: kubekms-instance-${name}`,
        '  namespace: doctor-fake',
        '  labels: {kubekms.io/role: instance}',
        '  annotations:',
        `    kubekms.io/key-id: "${keyId}"`,
        `    kubekms.io/held-versions: '{"k1":1}'`,
        'spec:',
        `  holderIdentity: ${name}`,
        '  leaseDurationSeconds: 30',
        `  renewTime: "${renewTime}"`,
      ].join('\n');
    await encrypting.kubectl(['apply', '-f', '-'], {
      input: [
        lease('fake-1', 'kubekms:11111111-1111-4111-8111-111111111111:v1', now),
        lease('fake-2', 'kubekms:22222222-2222-4222-8222-222222222222:v1', now),
        lease(
          'fake-old',
          'kubekms:33333333-3333-4333-8333-333333333333:v1',
          new Date(Date.now() - 3_600_000).toISOString().replace('Z', '000Z'),
        ),
      ].join('\n---\n'),
    });
    const d = await doctor(flagsOfA(['--namespace', 'doctor-fake', '--encryption-config', '']));
    expect(d.code).toBe(1);
    expect(d.rows.get('instance fake-1')).toBe(
      'ok live, key_id kubekms:11111111-1111-4111-8111-111111111111:v1, holds k1:v1',
    );
    expect(d.rows.get('instance fake-old')).toMatch(
      /^warn Lease expired (59|60)m ago \(instance down\?\), key_id kubekms:33333333-3333-4333-8333-333333333333:v1/,
    );
    expect(d.rows.get('instances: key_id')).toBe(
      'FAIL live instances report different key_ids: fake-1 → kubekms:11111111-1111-4111-8111-111111111111:v1; ' +
        'fake-2 → kubekms:22222222-2222-4222-8222-222222222222:v1',
    );
    expect(d.rows.get('socket')).toMatch(/^ok /);
  });
});
