/** runDoctor end to end in one process: a real serve (plugin socket, keystore, root key file), a fake API. */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sha256Label } from '../api/apiserver-writes.ts';
import { DOCTOR_FLAGS, doctorOptions } from '../cli/doctor-command.ts';
import { parseFlags } from '../cli/flags.ts';
import { type Running, serve } from '../cli/serve.ts';
import { serveConfig } from '../cli/serve-config.ts';
import { SERVE_FLAGS } from '../cli/serve-flags.ts';
import type { KubeGet, KubeResponse } from '../kube/raw-http.ts';
import { FileRootKey } from '../rootkey/file-root-key.ts';
import { ProviderFixtures } from '../rootkey/testing/providers.ts';
import type { CheckRow } from './report.ts';
import { type DoctorOptions, runDoctor } from './run-doctor.ts';

let dir: string;
let socket: string;
let dataDir: string;
let rootKeyFile: string;
let running: Running | undefined;
let servers: Server[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubekms-doctor-'));
  socket = join(dir, 'kms.sock');
  dataDir = join(dir, 'data');
  rootKeyFile = join(dir, 'root.key');
  await FileRootKey.create(rootKeyFile);
});
afterEach(async () => {
  await running?.stop();
  running = undefined;
  for (const s of servers) s.close();
  servers = [];
  await rm(dir, { recursive: true, force: true });
});

async function startServe(): Promise<Running> {
  const { values } = parseFlags(
    SERVE_FLAGS,
    ['--root-key-file', rootKeyFile, '--data-dir', dataDir, '--kms-socket', socket, '--health-listen', ''],
    {},
  );
  running = await serve(serveConfig(values, {}), new PassThrough());
  return running;
}

function fakeKube(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://api.test:6443', skipTLSVerify: false }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

const NOW = Date.parse('2026-11-29T18:00:00Z');
const ok = (body: unknown, date = new Date(NOW).toUTCString()): KubeResponse => ({
  status: 200,
  headers: { date },
  body: JSON.stringify(body),
  sentAt: NOW,
  receivedAt: NOW + 20,
});

function lease(name: string, keyId: string, held: Record<string, number>) {
  return {
    metadata: {
      name: `kubekms-instance-${name}`,
      labels: { 'kubekms.io/role': 'instance' },
      annotations: { 'kubekms.io/key-id': keyId, 'kubekms.io/held-versions': JSON.stringify(held) },
    },
    spec: { holderIdentity: name, leaseDurationSeconds: 30, renewTime: new Date(NOW - 3_000).toISOString() },
  };
}

function api(routes: Record<string, KubeResponse | 'hang'>): KubeGet {
  return async (path) => {
    const key = Object.keys(routes).find((p) => path.startsWith(p));
    const r =
      key === undefined ? { status: 404, headers: {}, body: '', sentAt: NOW, receivedAt: NOW } : routes[key];
    if (r === 'hang') return new Promise<KubeResponse>(() => undefined);
    return r as KubeResponse;
  };
}

function options(extra: string[] = [], o: Partial<DoctorOptions> = {}): DoctorOptions {
  const { values } = parseFlags(
    DOCTOR_FLAGS,
    [
      '--root-key-file',
      rootKeyFile,
      '--data-dir',
      dataDir,
      '--kms-socket',
      socket,
      '--timeout',
      '1s',
      ...extra,
    ],
    {},
  );
  return { ...doctorOptions(values), now: () => NOW, ...o };
}

const table = (rows: CheckRow[]) => Object.fromEntries(rows.map((r) => [r.check, `${r.status} ${r.detail}`]));

describe('runDoctor', () => {
  it('is ok everywhere for a healthy serve and API, and reads the live instances', async () => {
    await startServe();
    const rows = await runDoctor(
      options([], {
        kube: fakeKube(),
        kubeGet: api({
          '/version': ok({ gitVersion: 'v1.36.3' }),
          '/apis/kubekms.io/v1alpha1': ok({ resources: [{ name: 'kmsstaterecords' }] }),
          '/apis/coordination.k8s.io/v1/namespaces/kubekms/leases?labelSelector=kubekms.io%2Frole%3Dinstance':
            ok({
              items: [lease('a', 'kubekms:k:v1', { k: 1 }), lease('b', 'kubekms:k:v1', { k: 1 })],
            }),
        }),
      }),
    );
    const t = table(rows);
    expect(rows.map((r) => r.check)).toEqual([
      'socket',
      'root key',
      'keystore',
      'api',
      'clock skew',
      'instance a',
      'instance b',
      'instances',
      'shared records',
    ]);
    expect(rows.every((r) => r.status === 'ok')).toBe(true);
    expect(t.socket).toMatch(/\(mode 0600\): version v2, healthz ok, key_id kubekms:[0-9a-f-]{36}:v1$/);
    expect(t['root key']).toMatch(
      /^ok file:.*root\.key \(fingerprint [0-9a-f]{16}\): wrap\/unwrap round trip ok$/,
    );
    expect(t.keystore).toMatch(
      new RegExp(
        `1 key, 1 alias, 0 grants, in use by pid ${process.pid}; Secrets key [0-9a-f-]{36} primary v1 of 1$`,
      ),
    );
    expect(t.api).toBe('ok https://api.test:6443 (Kubernetes v1.36.3); KmsStateRecord CRD served');
    expect(t.instances).toMatch(/^ok 2 live instances agree: key_id kubekms:k:v1/);
  });

  it('FAILs "root-key rotation" while the root marker says records are still moving', async () => {
    await startServe();
    const rows = await runDoctor(
      options([], {
        kube: fakeKube(),
        kubeGet: api({
          '/version': ok({ gitVersion: 'v1.36.3' }),
          '/apis/kubekms.io/v1alpha1': ok({ resources: [{ name: 'kmsstaterecords' }] }),
          '/apis/coordination.k8s.io/v1/namespaces/kubekms/leases/kubekms-root-key': ok({
            metadata: {
              name: 'kubekms-root-key',
              annotations: {
                'kubekms.io/root-key': 'file:0123456789abcdef',
                'kubekms.io/root-rotation': 'moving',
              },
            },
            spec: {},
          }),
          '/apis/coordination.k8s.io/v1/namespaces/kubekms/leases?labelSelector=kubekms.io%2Frole%3Dinstance':
            ok({ items: [lease('a', 'kubekms:k:v1', { k: 1 })] }),
        }),
      }),
    );
    expect(table(rows)['root-key rotation']).toMatch(
      /^FAIL a root-key rotation to file:0123456789abcdef is half done: records may still be under the old root/,
    );
  });

  it('FAILs "keystore vs data" only when the API server wrote under a newer version of the Secrets key', async () => {
    await startServe();
    const base = {
      '/version': ok({ gitVersion: 'v1.36.3' }),
      '/apis/kubekms.io/v1alpha1': ok({ resources: [{ name: 'kmsstaterecords' }] }),
      '/apis/coordination.k8s.io/v1/namespaces/kubekms/leases': ok({ items: [] }),
    };
    const first = table(await runDoctor(options([], { kube: fakeKube(), kubeGet: api(base) })));
    const keyId = /Secrets key ([0-9a-f-]{36}) primary v1/.exec(first.keystore ?? '')?.[1];
    expect(keyId).toBeDefined();
    const write = (v: number) =>
      `apiserver_envelope_encryption_key_id_hash_last_timestamp_seconds{apiserver_id_hash="sha256:aa",` +
      `key_id_hash="${sha256Label(`kubekms:${keyId}:v${v}`)}",provider_name="kubekms",transformation_type="to_storage"} 1.7e9`;
    const metrics = (lines: string[]): KubeResponse => ({ ...ok({}), body: `${lines.join('\n')}\n` });
    const held = await runDoctor(
      options([], { kube: fakeKube(), kubeGet: api({ ...base, '/metrics': metrics([write(1)]) }) }),
    );
    expect(held.map((r) => r.check)).not.toContain('keystore vs data');
    const newer = table(
      await runDoctor(
        options([], {
          kube: fakeKube(),
          kubeGet: api({ ...base, '/metrics': metrics([write(1), write(3)]) }),
        }),
      ),
    );
    expect(newer['keystore vs data']).toBe(
      `FAIL the API server wrote data under kubekms:${keyId}:v3 (2023-11-14T22:13:20.000Z), but this keystore's ` +
        'newest version of the Secrets key is v1: the keystore is older than the data (restored from an older ' +
        'backup, or an older copy put back?); restore the newest backup (docs/disaster-recovery.md)',
    );
  });

  it('FAILs the socket and the keystore for a wrong socket path and data dir, and skips the API without a kubeconfig', async () => {
    await startServe();
    const rows = table(
      await runDoctor(
        options(['--kms-socket', join(dir, 'nope.sock'), '--data-dir', join(dir, 'elsewhere')], {
          kube: 'no kubeconfig: test',
        }),
      ),
    );
    expect(rows.socket).toBe(
      `FAIL no socket at ${join(dir, 'nope.sock')} (is kubekms serve running with this --kms-socket?)`,
    );
    expect(rows.keystore).toMatch(
      /^FAIL keystore: no keystore at .*elsewhere\/keystore\.db \(or keystore\.json\)/,
    );
    expect(rows.api).toBe('skip no kubeconfig: test');
    expect(rows['clock skew']).toBe('skip needs the API');
    expect(rows.instances).toBe('skip needs the API');
  });

  it('FAILs a world-accessible socket and one nothing answers on within the timeout', async () => {
    const server = createServer(() => undefined);
    servers.push(server);
    await new Promise<void>((r) => server.listen(socket, r));
    await chmod(socket, 0o600);
    const silent = table(await runDoctor(options(['--timeout', '300ms'], { kube: 'x' })));
    expect(silent.socket).toMatch(
      /^FAIL .*\(mode 0600\): Status failed: .*(DEADLINE_EXCEEDED|no answer within)/,
    );
    await chmod(socket, 0o666);
    expect(table(await runDoctor(options([], { kube: 'x' }))).socket).toMatch(
      /^FAIL .*mode 0666: every local user/,
    );
  });

  it('FAILs the root key (and skips the keystore) when the key file is missing, and never creates a --dev key', async () => {
    const rows = table(
      await runDoctor(options(['--root-key-file', join(dir, 'missing.key')], { kube: 'x' })),
    );
    expect(rows['root key']).toMatch(/^FAIL rootkey: cannot read root key file .*missing\.key: ENOENT/);
    expect(rows.keystore).toBe('skip needs the root key');
    const dev = parseFlags(DOCTOR_FLAGS, ['--dev', '--data-dir', dataDir, '--kms-socket', ''], {}).values;
    const devRows = table(await runDoctor({ ...doctorOptions(dev), kube: 'x' }));
    expect(devRows['root key']).toBe(
      `FAIL no development root key at ${join(dataDir, 'dev-root.key')} (--dev; the doctor never creates one)`,
    );
    expect(devRows.socket).toMatch(/^skip --kms-socket is empty/);
  });

  it('FAILs the keystore sealed by another root key', async () => {
    await startServe();
    const other = join(dir, 'other.key');
    await FileRootKey.create(other);
    const rows = table(await runDoctor(options(['--root-key-file', other], { kube: 'x' })));
    expect(rows['root key']).toMatch(/^ok /);
    expect(rows.keystore).toMatch(
      /^FAIL keystore: .*keystore\.db is sealed under a different root key than file:.*other\.key/,
    );
  });

  it('FAILs API checks that time out, and instances that disagree', async () => {
    const hanging = table(
      await runDoctor(
        options(['--timeout', '200ms'], { kube: fakeKube(), kubeGet: api({ '/version': 'hang' }) }),
      ),
    );
    expect(hanging.api).toMatch(/^FAIL https:\/\/api\.test:6443: GET \/version: no answer within/);
    const disagree = table(
      await runDoctor(
        options([], {
          kube: fakeKube(),
          kubeGet: api({
            '/version': ok({ gitVersion: 'v1.36.3' }, new Date(NOW + 90_000).toUTCString()),
            '/apis/kubekms.io/v1alpha1': ok({ resources: [] }),
            '/apis/coordination.k8s.io/': ok({
              items: [lease('a', 'kubekms:k:v1', { k: 1 }), lease('b', 'kubekms:j:v1', { k: 1 })],
            }),
          }),
        }),
      ),
    );
    expect(disagree.api).toMatch(/^FAIL .*KmsStateRecord CRD/);
    expect(disagree['clock skew']).toMatch(/^FAIL API server clock 90\.0 s ahead/);
    expect(disagree['instances: key_id']).toBe(
      'FAIL live instances report different key_ids: a → kubekms:k:v1; b → kubekms:j:v1',
    );
  });

  it('checks --encryption-config, naming a missing file and the line of unparseable YAML', async () => {
    const missing = table(
      await runDoctor(options(['--encryption-config', join(dir, 'none.yaml')], { kube: 'x' })),
    );
    expect(missing['encryption config']).toBe(
      `FAIL ${join(dir, 'none.yaml')}: no such file (--encryption-config)`,
    );
    const bad = join(dir, 'bad.yaml');
    await writeFile(
      bad,
      'apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- [\n',
    );
    expect(
      table(await runDoctor(options(['--encryption-config', bad], { kube: 'x' })))['encryption config'],
    ).toMatch(new RegExp(`^FAIL ${bad}: line 5, column 1: not valid YAML`));
    const good = join(dir, 'good.yaml');
    await writeFile(
      good,
      `apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers: [{kms: {apiVersion: v2, name: kubekms, endpoint: "unix://${socket}"}}]\n`,
    );
    const rows = table(await runDoctor(options(['--encryption-config', good], { kube: 'x' })));
    expect(rows['encryption config: secrets']).toMatch(/^ok secrets → kms v2 "kubekms"/);
    expect(rows['encryption config: own state']).toMatch(/^ok no rule names kmsstaterecords/);
  });
});

describe('runDoctor with the pkcs11 root key (SoftHSM2), through the same flags as serve', () => {
  let fixtures: ProviderFixtures;
  beforeAll(async () => {
    fixtures = await ProviderFixtures.create();
  });
  afterAll(async () => {
    await fixtures?.cleanup();
  });

  it('opens the HSM key, round-trips, and reads the keystore it sealed; the file key is refused by that keystore', async () => {
    const { values } = parseFlags(
      SERVE_FLAGS,
      [...fixtures.serveArgs('pkcs11'), '--data-dir', dataDir, '--kms-socket', socket, '--health-listen', ''],
      {},
    );
    running = await serve(serveConfig(values, {}), new PassThrough());
    const base = ['--data-dir', dataDir, '--kms-socket', socket, '--timeout', '5s'];
    const hsm = parseFlags(DOCTOR_FLAGS, [...fixtures.serveArgs('pkcs11'), ...base], {}).values;
    const rows = table(await runDoctor({ ...doctorOptions(hsm), kube: 'x' }));
    expect(rows['root key']).toMatch(/^ok pkcs11:.*kubekms-root.*: wrap\/unwrap round trip ok$/);
    expect(rows.keystore).toMatch(
      /^ok .*sealed by this root key \(pkcs11, fingerprint [0-9a-f]{16}\), .*Secrets key [0-9a-f-]{36} primary v1 of 1$/,
    );
    expect(rows.socket).toMatch(/^ok /);
    const file = parseFlags(DOCTOR_FLAGS, [...fixtures.serveArgs('file'), ...base], {}).values;
    expect(table(await runDoctor({ ...doctorOptions(file), kube: 'x' })).keystore).toMatch(
      /^FAIL keystore: .* is sealed under a different root key than file:/,
    );
  });

  it('refuses pkcs11 flags without --root-key-provider pkcs11, naming the flag (as serve does)', () => {
    const { values } = parseFlags(DOCTOR_FLAGS, ['--pkcs11-key-label', 'k', '--data-dir', dataDir], {});
    expect(() => doctorOptions(values)).toThrow(/--pkcs11-key-label: only with --root-key-provider pkcs11/);
  });
});
