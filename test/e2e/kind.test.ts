/**
 * kind end to end (issue 11): kubekms deployed the way users deploy it, in a real single-node kind cluster built by
 * test/kind/build.sh (stock kind and the official node image on an ordinary Docker host; a locally built stack on
 * CI). The cluster is created by running the `sh kind-install` blocks of docs/install.md, so the guide is the test.
 *   1. static pod beside kube-apiserver; Secrets in etcd under k8s:enc:kms:v2:kubekms:; kubekms's container stopped
 *      (kubelet restarts it) and the whole node restarted (cold start) with every Secret readable.
 *   2. the Helm chart with default values: operator Available from the built image with only the chart's RBAC, a
 *      KmsKey Ready with Events, leader handover on pod deletion, `helm upgrade` keeps keys (PVC), `helm uninstall`
 *      leaves what docs/install.md says it leaves.
 *   3. a real Prometheus (Debian's) scrapes the static pod through `kubectl port-forward` and sees the kubekms_
 *      series move with the KMS traffic Secrets cause.
 *   4. rotation in this topology: the operator runs inside the static pod (docs/install.md), the Secrets key is
 *      rotated offline (docs/rotation.md), kubekms re-encrypts every Secret, etcd holds all of them under the new
 *      key_id, and reads never fail meanwhile.
 *   5. bad input: the root key file world-readable, or removed, on the node → one clear error line from kubekms,
 *      /readyz names the kms provider, fixing the file recovers without restarting kube-apiserver; a Helm value of
 *      the wrong type is refused by values.schema.json.
 *   6. web identity (issue 19): the chart serves the AWS API with TLS and aws.webIdentity; pods run the AWS SDK
 *      (bundled into a ConfigMap, node from the kubekms image) with only the environment variables and a projected
 *      token: the ServiceAccount the key policy names encrypts and decrypts, another is denied, a token for another
 *      audience and expired session credentials are refused.
 * One cluster for the whole file, deleted afterwards (KUBEKMS_KIND_KEEP=1 keeps it for debugging).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type ManagedProcess, REPO_ROOT, spawnManaged } from '../controlplane/harness.ts';
import { docBlocks, IMAGE, KindRun, kindState, kmsv2KeyId, NODE, poll } from '../kind/cluster.ts';
import { must } from '../packaging/exec.ts';

const INSTALL = join(REPO_ROOT, 'docs', 'install.md');
const PREFIX = 'k8s:enc:kms:v2:kubekms:';
const LABEL = 'kubekms.e2e/kind=1';
const POD = `kubekms-${NODE}`;

let k: KindRun;
const docOutput: string[] = [];
/** Every Secret this suite wrote: name → plaintext value of key `v`. */
const written = new Map<string, string>();

async function writeSecrets(prefix: string, n: number): Promise<void> {
  const items = [];
  for (let i = 0; i < n; i++) {
    const name = `${prefix}-${i}`;
    const value = `plain-${randomBytes(12).toString('hex')}`;
    written.set(name, value);
    items.push({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace: 'default', labels: { 'kubekms.e2e/kind': '1' } },
      stringData: { v: value },
    });
  }
  await k.mustKubectl(['apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }),
  });
}

/** Reads every Secret this suite wrote through the API; resolves with name → value of `v`. */
async function readSecrets(): Promise<Map<string, string>> {
  const out = await k.mustKubectl(['get', 'secrets', '-n', 'default', '-l', LABEL, '-o', 'json']);
  const list = JSON.parse(out) as { items: { metadata: { name: string }; data: { v: string } }[] };
  return new Map(list.items.map((s) => [s.metadata.name, Buffer.from(s.data.v, 'base64').toString()]));
}

async function expectAllSecretsReadBack(): Promise<void> {
  const got = await readSecrets();
  expect(got.size).toBe(written.size);
  for (const [name, value] of written) expect(got.get(name), name).toBe(value);
}

interface PodStatus {
  ready: boolean;
  restarts: number;
  containerId: string;
}
async function kubekmsPod(): Promise<PodStatus | undefined> {
  const r = await k.kubectl(['-n', 'kube-system', 'get', 'pod', POD, '-o', 'json']);
  if (r.code !== 0) return undefined;
  const pod = JSON.parse(r.stdout) as {
    status: { containerStatuses?: { ready: boolean; restartCount: number; containerID?: string }[] };
  };
  const c = pod.status.containerStatuses?.[0];
  return c ? { ready: c.ready, restarts: c.restartCount, containerId: c.containerID ?? '' } : undefined;
}

beforeAll(async () => {
  const state = await kindState();
  console.log(
    `kind suite: mode ${state.MODE}, node image ${state.NODE_IMAGE}, no-privileged ${state.NOPRIV}`,
  );
  k = new KindRun();
  await k.deleteCluster(); // a leftover of an interrupted run
  const blocks = docBlocks(INSTALL, 'kind-install');
  expect(blocks.length).toBeGreaterThanOrEqual(3);
  for (const block of blocks) docOutput.push(await k.mustSh(block, 900_000));
}, 1_200_000);

afterAll(async () => {
  if (!k) return;
  if (!process.env.KUBEKMS_KIND_KEEP) {
    await k.deleteCluster();
    rmSync(k.dir, { recursive: true, force: true });
  } else console.log(`kind suite: cluster kept; KUBECONFIG=${k.env.KUBECONFIG}`);
}, 300_000);

describe('kubekms as a static pod beside kube-apiserver (docs/install.md, On kind)', () => {
  it('runs from the built image as a kubelet static pod, and the documented check sees the kms prefix', async () => {
    const pod = JSON.parse(await k.mustKubectl(['-n', 'kube-system', 'get', 'pod', POD, '-o', 'json'])) as {
      metadata: { annotations: Record<string, string>; ownerReferences: { kind: string; name: string }[] };
      spec: { containers: { image: string }[]; hostNetwork: boolean };
      status: { phase: string };
    };
    expect(pod.metadata.annotations['kubernetes.io/config.source']).toBe('file'); // a static pod (mirror)
    expect(pod.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'Node', name: NODE })]);
    expect(pod.spec.containers[0]!.image).toContain(IMAGE);
    expect(pod.status.phase).toBe('Running');
    // kube-apiserver runs with the EncryptionConfiguration and the shared socket directory.
    const api = await k.mustKubectl([
      '-n',
      'kube-system',
      'get',
      'pod',
      `kube-apiserver-${NODE}`,
      '-o',
      'json',
    ]);
    expect(api).toContain('--encryption-provider-config=/etc/kubernetes/encryption-config.yaml');
    expect(api).toContain('/var/run/kubekms');
    const readyz = await k.mustKubectl(['get', '--raw', '/readyz?verbose']);
    expect(readyz).toMatch(/\[\+\]kms-providers ok/);
    // The documented check prints the prefix of the demo Secret's stored value.
    const check = docBlocks(INSTALL, 'kind-install').findIndex((b) => b.includes('grep -ao'));
    expect(check).toBeGreaterThan(0);
    expect(docOutput[check]).toContain(PREFIX);
  });

  it('Secrets land in etcd under k8s:enc:kms:v2:kubekms: without their plaintext', async () => {
    await writeSecrets('s1', 8);
    for (const [name, value] of written) {
      const raw = await k.etcdGet(`/registry/secrets/default/${name}`);
      expect(raw, name).toBeDefined();
      expect(raw!.subarray(0, PREFIX.length).toString()).toBe(PREFIX);
      expect(raw!.includes(Buffer.from(value)), `${name}: plaintext in etcd`).toBe(false);
    }
    const demo = await k.etcdGet('/registry/secrets/default/demo');
    expect(demo!.subarray(0, PREFIX.length).toString()).toBe(PREFIX);
    expect(demo!.includes(Buffer.from('correct-horse-battery'))).toBe(false);
    await expectAllSecretsReadBack();
  });

  it('crictl stop of the kubekms container: the kubelet restarts it and every Secret reads back', async () => {
    const before = await poll(
      'kubekms Ready',
      async () => ((await kubekmsPod())?.ready ? kubekmsPod() : undefined),
      120_000,
    );
    const id = (await k.mustNode(['crictl', 'ps', '--name', 'kubekms', '-q'])).trim();
    expect(id).toMatch(/^[0-9a-f]{12,}$/);
    await k.mustNode(['crictl', 'stop', id]);
    const after = await poll(
      'kubekms restarted by the kubelet',
      async () => {
        const p = await kubekmsPod();
        return p && p.restarts > before.restarts && p.ready ? p : undefined;
      },
      180_000,
    );
    expect(after.containerId).not.toBe(before.containerId);
    await writeSecrets('s2', 4); // new writes go through the restarted plugin
    await expectAllSecretsReadBack();
  });

  it('docker restart of the node: the control plane cold-starts with kubekms as a static pod, every Secret reads back', async () => {
    const before = await kubekmsPod();
    await must('docker', ['restart', NODE], { timeoutMs: 180_000 });
    await poll(
      'kube-apiserver ready after the node restart',
      async () => {
        const r = await k.kubectl(['get', '--raw', '/readyz'], { timeoutMs: 15_000 });
        return r.code === 0 && r.stdout.trim() === 'ok' ? true : undefined;
      },
      300_000,
      2000,
    );
    // After a cold start nothing is cached: reading needs kubekms to decrypt every DEK again.
    await poll(
      'Secrets readable after the cold start',
      async () => ((await readSecrets()).size === written.size ? true : undefined),
      120_000,
    );
    await expectAllSecretsReadBack();
    const after = await poll(
      'kubekms Ready after the node restart',
      async () => {
        const p = await kubekmsPod();
        return p?.ready ? p : undefined;
      },
      120_000,
    );
    expect(after.containerId).not.toBe(before?.containerId); // a new kubekms process, started by the new kubelet
    await writeSecrets('s3', 2);
    await expectAllSecretsReadBack();
  });
});

const NS = 'kubekms';
const SA = `system:serviceaccount:${NS}:kubekms`;

interface Lease {
  spec: { holderIdentity?: string; leaseDurationSeconds?: number };
}
async function leaseHolderPod(): Promise<string | undefined> {
  const r = await k.kubectl(['-n', NS, 'get', 'lease', 'kubekms-operator', '-o', 'json']);
  if (r.code !== 0) return undefined;
  const h = (JSON.parse(r.stdout) as Lease).spec.holderIdentity;
  return h ? h.slice(0, h.lastIndexOf('_')) : undefined;
}
async function operatorPods(): Promise<string[]> {
  const out = await k.mustKubectl([
    '-n',
    NS,
    'get',
    'pods',
    '-l',
    'app.kubernetes.io/name=kubekms',
    '-o',
    'json',
  ]);
  const list = JSON.parse(out) as {
    items: {
      metadata: { name: string; deletionTimestamp?: string };
      status: { conditions?: { type: string; status: string }[] };
    }[];
  };
  return list.items
    .filter(
      (p) =>
        !p.metadata.deletionTimestamp &&
        p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    )
    .map((p) => p.metadata.name);
}
interface KmsKeyObj {
  status?: {
    keyId?: string;
    keyState?: string;
    conditions?: { type: string; status: string; reason?: string }[];
  };
}
async function kmsKey(ns: string, name: string): Promise<KmsKeyObj> {
  return JSON.parse(await k.mustKubectl(['-n', ns, 'get', 'kmskey', name, '-o', 'json'])) as KmsKeyObj;
}
async function readyKey(ns: string, name: string): Promise<string> {
  return poll(
    `KmsKey ${ns}/${name} Ready`,
    async () => {
      const kk = await kmsKey(ns, name);
      const ready = kk.status?.conditions?.find((c) => c.type === 'Ready');
      return ready?.status === 'True' && kk.status?.keyId ? kk.status.keyId : undefined;
    },
    90_000,
  );
}
async function eventsOf(ns: string, name: string): Promise<{ reason: string; message: string }[]> {
  const out = await k.mustKubectl([
    '-n',
    ns,
    'get',
    'events',
    '--field-selector',
    `involvedObject.name=${name}`,
    '-o',
    'json',
  ]);
  return (JSON.parse(out) as { items: { reason: string; message: string }[] }).items;
}
async function canI(verb: string, resource: string, ns?: string): Promise<string> {
  const r = await k.kubectl(['auth', 'can-i', verb, resource, `--as=${SA}`, ...(ns ? ['-n', ns] : ['-A'])]);
  return r.stdout.trim();
}

describe('the Helm chart with default values (docs/install.md, On kind)', () => {
  it('the operator Deployment is Available from the built image, with its own ServiceAccount and only the chart RBAC', async () => {
    const dep = JSON.parse(
      await k.mustKubectl(['-n', NS, 'get', 'deploy', 'kubekms-operator', '-o', 'json']),
    ) as {
      spec: { template: { spec: { serviceAccountName: string; containers: { image: string }[] } } };
      status: { readyReplicas?: number; conditions: { type: string; status: string }[] };
    };
    expect(dep.status.conditions.find((c) => c.type === 'Available')?.status).toBe('True');
    expect(dep.status.readyReplicas).toBe(2);
    expect(dep.spec.template.spec.serviceAccountName).toBe('kubekms');
    expect(dep.spec.template.spec.containers[0]!.image).toBe(IMAGE);
    // Every binding that names the ServiceAccount is the chart's own.
    const bindings: string[] = [];
    for (const kind of ['clusterrolebindings', 'rolebindings']) {
      const out = await k.mustKubectl(['get', kind, '-A', '-o', 'json']);
      const list = JSON.parse(out) as {
        items: {
          metadata: { name: string; labels?: Record<string, string> };
          subjects?: { kind: string; name: string; namespace?: string }[];
        }[];
      };
      for (const b of list.items) {
        if (
          !b.subjects?.some((s) => s.kind === 'ServiceAccount' && s.name === 'kubekms' && s.namespace === NS)
        )
          continue;
        expect(b.metadata.labels?.['app.kubernetes.io/managed-by'], b.metadata.name).toBe('Helm');
        bindings.push(`${kind}/${b.metadata.name}`);
      }
    }
    expect(bindings.sort()).toEqual([
      'clusterrolebindings/kubekms-operator',
      'rolebindings/kubekms-leader-election',
    ]);
    expect(await canI('list', 'kmskeys.kubekms.io')).toBe('yes');
    expect(await canI('get', 'secrets')).toBe('no');
    expect(await canI('get', 'secrets', 'kube-system')).toBe('no');
    expect(await canI('delete', 'pods', NS)).toBe('no');
    expect(await canI('update', 'leases.coordination.k8s.io', NS)).toBe('yes');
    expect(await canI('update', 'leases.coordination.k8s.io', 'kube-system')).toBe('no');
  });

  it('a KmsKey applied with kubectl becomes Ready, with Events', async () => {
    await k.mustKubectl(['create', 'namespace', 'shop']);
    const kk = {
      apiVersion: 'kubekms.io/v1alpha1',
      kind: 'KmsKey',
      metadata: { name: 'orders', namespace: 'shop' },
    };
    await k.mustKubectl(['apply', '-f', '-'], {
      input: JSON.stringify({ ...kk, spec: { description: 'order records', deletionPolicy: 'Retain' } }),
    });
    const keyId = await readyKey('shop', 'orders');
    expect(keyId).toMatch(/^[0-9a-f-]{36}$/);
    const events = await eventsOf('shop', 'orders');
    expect(events.find((e) => e.reason === 'KeyCreated')?.message).toContain(keyId);
    const described = await k.mustKubectl(['-n', 'shop', 'describe', 'kmskey', 'orders']);
    expect(described).toContain('KeyCreated');
  });

  it('deleting the leader pod hands leadership to the other replica within the lease duration', async () => {
    const lease = JSON.parse(
      await k.mustKubectl(['-n', NS, 'get', 'lease', 'kubekms-operator', '-o', 'json']),
    ) as Lease;
    const duration = lease.spec.leaseDurationSeconds ?? 0;
    expect(duration).toBeGreaterThan(0);
    const leader = await poll('a lease holder', leaseHolderPod, 60_000);
    // A replica may win the Lease before its readiness probe first passes (the install waits for the Deployment,
    // not for every pod): wait until both replicas are Ready before taking the leader down.
    const pods = await poll(
      'both operator replicas Ready, the lease holder among them',
      async () => {
        const ready = await operatorPods();
        return ready.length === 2 && ready.includes(leader) ? ready : undefined;
      },
      120_000,
    );
    expect(pods).toContain(leader);
    const other = pods.find((p) => p !== leader);
    expect(other).toBeDefined();
    // The old leader's own account of its shutdown (SIGTERM → step down → lease released), printed below.
    const logs = spawn('kubectl', ['-n', NS, 'logs', '-f', '--since=1s', leader], { cwd: k.dir, env: k.env });
    let said = '';
    logs.stdout.on('data', (d: Buffer) => (said += d.toString()));
    const t0 = Date.now();
    await k.mustKubectl(['-n', NS, 'delete', 'pod', leader, '--wait=false']);
    const next = await poll(
      'a new lease holder',
      async () => {
        const h = await leaseHolderPod();
        return h && h !== leader ? h : undefined;
      },
      duration * 1000 * 3,
      250,
    );
    const took = Date.now() - t0;
    logs.kill();
    const shutdown = said.split('\n').filter((l) => /leader election|shutting down|"stopped"/.test(l));
    console.log(
      `leader handover: ${leader} -> ${next} in ${took} ms (lease ${duration} s)\n${shutdown.join('\n')}`,
    );
    expect(next).toBe(other);
    expect(took).toBeLessThan(duration * 1000);
    // The new leader reconciles. (A key the old leader created is not in the new leader's emptyDir keystore: with
    // default values the replicas do not share keys — docs/install.md, "Limitation today" — so it reports
    // KeyNotFound for shop/orders; a new KmsKey shows the new leader at work.)
    const kk = {
      apiVersion: 'kubekms.io/v1alpha1',
      kind: 'KmsKey',
      metadata: { name: 'after-failover', namespace: 'shop' },
    };
    await k.mustKubectl(['apply', '-f', '-'], {
      input: JSON.stringify({ ...kk, spec: { deletionPolicy: 'Retain' } }),
    });
    const keyId = await readyKey('shop', 'after-failover');
    expect(
      (await eventsOf('shop', 'after-failover')).find((e) => e.reason === 'KeyCreated')?.message,
    ).toContain(keyId);
    await poll(
      'two ready operator pods again',
      async () => ((await operatorPods()).length === 2 ? true : undefined),
      120_000,
    );
  });

  it('helm upgrade keeps keys (operator keystore on a PVC, one replica as documented)', async () => {
    // A PersistentVolume on the node owned by the operator's uid (kind's fallback host-path StorageClass creates
    // root-owned 0755 directories, which fsGroup does not change); the claim is what a user would name.
    await k.mustNode([
      'install',
      '-d',
      '-o',
      '1000',
      '-g',
      '1000',
      '-m',
      '0700',
      '/var/lib/kubekms-operator-e2e',
    ]);
    const pv = {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: 'kubekms-keystore-e2e' },
      spec: {
        capacity: { storage: '64Mi' },
        accessModes: ['ReadWriteOnce'],
        persistentVolumeReclaimPolicy: 'Retain',
        storageClassName: '',
        hostPath: { path: '/var/lib/kubekms-operator-e2e', type: 'Directory' },
        claimRef: { namespace: NS, name: 'keystore' },
      },
    };
    const pvc = {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'keystore', namespace: NS },
      spec: {
        accessModes: ['ReadWriteOnce'],
        storageClassName: '',
        volumeName: pv.metadata.name,
        resources: { requests: { storage: '64Mi' } },
      },
    };
    await k.mustKubectl(['apply', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [pv, pvc] }),
    });
    const helm = (args: string) =>
      k.mustSh(`helm upgrade kubekms charts/kubekms -n ${NS} --wait --timeout 4m ${args}`);
    await helm('--set operator.replicas=1 --set operator.persistence.existingClaim=keystore');
    const kk = {
      apiVersion: 'kubekms.io/v1alpha1',
      kind: 'KmsKey',
      metadata: { name: 'invoices', namespace: 'shop' },
    };
    await k.mustKubectl(['apply', '-f', '-'], {
      input: JSON.stringify({ ...kk, spec: { description: 'invoices', deletionPolicy: 'Retain' } }),
    });
    const keyId = await readyKey('shop', 'invoices');
    const before = await operatorPods();
    await helm('--reuse-values --set operator.logLevel=debug'); // a new pod template: the pod is replaced
    const after = await poll(
      'the upgraded operator pod',
      async () => {
        const p = await operatorPods();
        return p.length === 1 && !before.includes(p[0]!) ? p : undefined;
      },
      120_000,
    );
    expect(after).toHaveLength(1);
    // The upgraded operator still has the key: a spec change is applied to it, not refused with KeyNotFound.
    await k.mustKubectl([
      '-n',
      'shop',
      'patch',
      'kmskey',
      'invoices',
      '--type=merge',
      '-p',
      '{"spec":{"description":"invoices v2"}}',
    ]);
    await poll(
      'DescriptionUpdated after the upgrade',
      async () =>
        (await eventsOf('shop', 'invoices')).some((e) => e.reason === 'DescriptionUpdated') || undefined,
      90_000,
    );
    expect(await readyKey('shop', 'invoices')).toBe(keyId);
    expect((await eventsOf('shop', 'invoices')).filter((e) => e.reason === 'KeyCreated')).toHaveLength(1);
    expect((await eventsOf('shop', 'invoices')).some((e) => e.reason === 'KeyNotFound')).toBe(false);
  });

  it('helm uninstall removes the operator and its RBAC, and leaves CRDs, KmsKeys, the root key Secret and the PVC', async () => {
    await k.mustSh(`helm uninstall kubekms -n ${NS} --wait --timeout 3m`);
    for (const [kind, name, ns] of [
      ['deployment', 'kubekms-operator', NS],
      ['serviceaccount', 'kubekms', NS],
      ['service', 'kubekms-metrics', NS],
      ['poddisruptionbudget', 'kubekms-operator', NS],
      ['rolebinding', 'kubekms-leader-election', NS],
      ['clusterrolebinding', 'kubekms-operator', undefined],
      ['clusterrole', 'kubekms-operator', undefined],
    ] as const) {
      const r = await k.kubectl(['get', kind, name, ...(ns ? ['-n', ns] : [])]);
      expect(r.code, `${kind}/${name} still exists`).not.toBe(0);
      expect(r.stderr).toContain('NotFound');
    }
    for (const crd of ['kmskeys.kubekms.io', 'kmsaliases.kubekms.io', 'kmsgrants.kubekms.io'])
      await k.mustKubectl(['get', 'crd', crd]);
    const kks = JSON.parse(await k.mustKubectl(['-n', 'shop', 'get', 'kmskeys', '-o', 'json'])) as {
      items: KmsKeyObj[];
    };
    expect(kks.items).toHaveLength(3);
    for (const item of kks.items) expect(item.status?.keyId).toMatch(/^[0-9a-f-]{36}$/);
    await k.mustKubectl(['-n', NS, 'get', 'secret', 'kubekms-root-key']);
    await k.mustKubectl(['-n', NS, 'get', 'pvc', 'keystore']);
    await k.mustKubectl(['-n', NS, 'get', 'lease', 'kubekms-operator']);
  });
});

describe('a real Prometheus scraping the kubekms static pod through kubectl port-forward', () => {
  const procs: ManagedProcess[] = [];
  let prom = '';
  afterAll(async () => {
    for (const p of procs) await p.stop(5000);
  });

  async function query(expr: string): Promise<number | undefined> {
    const res = await fetch(`http://${prom}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as { status: string; data: { result: { value: [number, string] }[] } };
    if (body.status !== 'success') throw new Error(`query ${expr}: ${JSON.stringify(body)}`);
    return body.data.result.length === 0 ? undefined : Number(body.data.result[0]!.value[1]);
  }
  const counter = (method: string) =>
    `sum(kubekms_kmsv2_requests_total{job="kubekms",method="${method}",code="OK"})`;

  it('scrapes it, sees it healthy, and sees Encrypt and Decrypt move when the API server wraps and reads Secrets', async () => {
    const local = await freePort();
    // kubectl port-forward goes through kube-apiserver: when it restarts, the forward is started again.
    procs.push(
      spawnManaged(
        k.dir,
        'port-forward',
        'bash',
        ['-c', `while true; do kubectl -n kube-system port-forward pod/${POD} ${local}:9810; sleep 1; done`],
        { env: k.env },
      ),
    );
    prom = `127.0.0.1:${await freePort()}`;
    const config = join(k.dir, 'prometheus.yml');
    writeFileSync(
      config,
      [
        'global: {scrape_interval: 1s}',
        'scrape_configs:',
        '  - job_name: kubekms',
        `    static_configs: [{targets: ["127.0.0.1:${local}"]}]`,
        '',
      ].join('\n'),
    );
    procs.push(
      spawnManaged(k.dir, 'prometheus', 'prometheus', [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(k.dir, 'tsdb')}`,
        `--web.listen-address=${prom}`,
      ]),
    );
    await poll(
      'prometheus ready',
      async () => ((await fetch(`http://${prom}/-/ready`)).status === 200 ? true : undefined),
      60_000,
      500,
    );
    await poll(
      'target up',
      async () => ((await query('up{job="kubekms"}')) === 1 ? true : undefined),
      60_000,
      500,
    );
    await poll(
      'healthy',
      async () => ((await query('kubekms_kmsv2_healthy{job="kubekms"}')) === 1 ? true : undefined),
      90_000,
      500,
    );
    expect(await query('kubekms_keys{job="kubekms"}')).toBeGreaterThanOrEqual(1);
    const encrypt0 = (await query(counter('Encrypt'))) ?? 0;
    const decrypt0 = (await query(counter('Decrypt'))) ?? 0;
    // KMS v2 reuses one wrapped seed per API server start and key_id: writing Secrets makes no plugin call by
    // itself (measured). A new seed is wrapped (Encrypt) when kube-apiserver starts, and a fresh kube-apiserver
    // unwraps (Decrypt) the seeds of the Secrets it reads. Restart it with crictl, then write and read Secrets.
    const api = (await k.mustNode(['crictl', 'ps', '--name', 'kube-apiserver', '-q'])).trim();
    await k.mustNode(['crictl', 'stop', api]);
    await poll(
      'kube-apiserver back',
      async () => {
        const r = await k.kubectl(['get', '--raw', '/readyz'], { timeoutMs: 10_000 });
        return r.code === 0 && r.stdout.trim() === 'ok' ? true : undefined;
      },
      180_000,
      2000,
    );
    await writeSecrets('s4', 3);
    await expectAllSecretsReadBack();
    const encrypt1 = await poll(
      'Encrypt to move',
      async () => {
        const v = await query(counter('Encrypt'));
        return v !== undefined && v > encrypt0 ? v : undefined;
      },
      90_000,
      1000,
    );
    const decrypt1 = await poll(
      'Decrypt to move',
      async () => {
        const v = await query(counter('Decrypt'));
        return v !== undefined && v > decrypt0 ? v : undefined;
      },
      90_000,
      1000,
    );
    console.log(`prometheus: Encrypt ${encrypt0} -> ${encrypt1}, Decrypt ${decrypt0} -> ${decrypt1}`);
    expect(await query('sum(kubekms_kmsv2_requests_total{job="kubekms",code!="OK"})')).toBeUndefined();
  });
});

describe('rotating the Secrets key with the operator in the static pod', () => {
  it('re-encrypts every Secret: etcd holds all of them under the new key_id, and no read fails meanwhile', async () => {
    const before = await k.etcdGetPrefix('/registry/secrets/');
    const oldIds = new Set([...before.values()].map((v) => kmsv2KeyId(v, PREFIX)));
    expect(oldIds.size).toBe(1);
    const oldId = [...oldIds][0];
    expect(oldId).toMatch(/^kubekms:/);

    // The operator in the static pod (docs/install.md, "The operator in the static pod"): a client certificate for
    // user kubekms as a kubeconfig on the node, the chart with controlPlaneSubjects and no Deployment replicas.
    await k.mustNode([
      'sh',
      '-c',
      'umask 077 && kubeadm kubeconfig user --client-name kubekms --config /kind/kubeadm.conf > /etc/kubernetes/kubekms.conf',
    ]);
    await k.mustSh(
      `helm install kubekms charts/kubekms -n ${NS} --set operator.replicas=0 --set-json 'rbac.controlPlaneSubjects=[{"kind":"User","name":"kubekms"}]' --wait`,
    );

    // Readers: every Secret this suite wrote, listed through the API every 250 ms until the pass is done.
    let reads = 0;
    const failures: string[] = [];
    let reading = true;
    const reader = (async () => {
      while (reading) {
        try {
          const got = await readSecrets();
          for (const [name, value] of written) if (got.get(name) !== value) failures.push(`${name} differs`);
          reads++;
        } catch (e) {
          failures.push(String(e).slice(0, 300));
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    })();

    // Stop kubekms (the manifest is a bind mount in kind: unmount it, then remove it) and rotate offline.
    await k.mustNode([
      'sh',
      '-c',
      'umount /etc/kubernetes/manifests/kubekms.yaml && rm /etc/kubernetes/manifests/kubekms.yaml',
    ]);
    await poll(
      'the kubekms static pod gone',
      async () => {
        const mirror = await k.kubectl(['-n', 'kube-system', 'get', 'pod', POD]);
        const running = (await k.mustNode(['crictl', 'ps', '--name', 'kubekms', '-q'])).trim();
        return mirror.code !== 0 && running === '' ? true : undefined;
      },
      120_000,
    );
    const volume = (
      await must('docker', [
        'inspect',
        '-f',
        '{{range .Mounts}}{{if eq .Destination "/var"}}{{.Source}}{{end}}{{end}}',
        NODE,
      ])
    ).trim();
    expect(volume).not.toBe('');
    const rotated = await must('docker', [
      ...['run', '--rm', '-u', '0', '--network', 'none', '--entrypoint', 'node'],
      ...[
        '-v',
        `${volume}/lib/kubekms:/var/lib/kubekms`,
        '-v',
        `${join(k.dir, 'deploy/kind/host/root.key')}:/etc/kubekms/root.key:ro`,
      ],
      ...[IMAGE, 'dist/cli/main.js', 'key', 'rotate', 'alias/kubekms/secrets'],
      ...['--data-dir', '/var/lib/kubekms', '--root-key-file', '/etc/kubekms/root.key'],
    ]);
    expect(rotated).toContain('primary version 2');

    // Start it again with the operator. Test-only: --reencrypt-delay 100s instead of 10 min (it must cover the API
    // server's 1-minute Status poll; the wrap of the new seed does not fail here).
    const manifest = await must('node', [
      join(REPO_ROOT, 'src', 'cli', 'main.ts'),
      ...[
        'static-pod',
        '--image',
        IMAGE,
        '--operator-kubeconfig',
        '/etc/kubernetes/kubekms.conf',
        '--operator-namespace',
        NS,
      ],
    ]);
    const withDelay = manifest.replace(
      `        - --namespace=${NS}\n`,
      `        - --namespace=${NS}\n        - --reencrypt-delay=100s\n`,
    );
    expect(withDelay).toContain('--reencrypt-delay=100s');
    await k.mustSh(
      `docker exec -i ${NODE} sh -c 'cat > /etc/kubernetes/manifests/kubekms.yaml' <<'EOF'\n${withDelay}EOF\n`,
    );

    const status = await poll(
      're-encryption Completed',
      async () => {
        const out = await k.kubectl([
          '-n',
          NS,
          'get',
          'kmskey',
          'secrets',
          '-o',
          'jsonpath={.status.reencryption}',
        ]);
        if (out.code !== 0 || out.stdout === '') return undefined;
        const r = JSON.parse(out.stdout) as {
          phase: string;
          keyVersion: number;
          total: number;
          done: number;
          failed: number;
        };
        return r.phase === 'Completed' && r.keyVersion === 2 ? r : undefined;
      },
      420_000,
      2000,
    );
    reading = false;
    await reader;
    console.log(`rotation: ${JSON.stringify(status)}; ${reads} full reads during the rotation`);
    expect(status.failed).toBe(0);
    expect(status.done).toBeGreaterThan(written.size);
    expect(failures).toEqual([]);
    expect(reads).toBeGreaterThan(20);
    expect((await eventsOf(NS, 'secrets')).some((e) => e.reason === 'ReencryptionCompleted')).toBe(true);

    const after = await k.etcdGetPrefix('/registry/secrets/');
    expect(after.size).toBeGreaterThan(written.size);
    const ids = new Map<string, string | undefined>(
      [...after].map(([key, v]) => [key, kmsv2KeyId(v, PREFIX)]),
    );
    const newIds = new Set(ids.values());
    expect(newIds.size, JSON.stringify([...ids])).toBe(1);
    const newId = [...newIds][0];
    expect(newId).toMatch(/^kubekms:/);
    expect(newId).not.toBe(oldId);
    await expectAllSecretsReadBack();
  }, 900_000);
});

describe('bad input', () => {
  const hostKey = () => join(k.dir, 'deploy', 'kind', 'host', 'root.key');
  const apiserverId = async () =>
    (await k.mustNode(['crictl', 'ps', '--name', 'kube-apiserver', '-q'])).trim();

  /** Stops the running kubekms container and waits for a failed attempt whose log has a `rootkey:` line. */
  async function failedAttemptLog(): Promise<string[]> {
    const all = async () =>
      (await k.mustNode(['crictl', 'ps', '-a', '--name', 'kubekms', '-q'])).trim().split('\n');
    const earlier = new Set(await all()); // attempts from before this test (their logs do not count)
    const running = (await k.mustNode(['crictl', 'ps', '--name', 'kubekms', '-q'])).trim();
    if (running) await k.mustNode(['crictl', 'stop', running]);
    return poll(
      'a new kubekms attempt that fails on the root key',
      async () => {
        for (const id of (await all()).filter((i) => i && !earlier.has(i))) {
          const r = await k.node(['crictl', 'logs', id]);
          const lines = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.length > 0);
          if (lines.some((l) => l.includes('rootkey:'))) return lines;
        }
        return undefined;
      },
      180_000,
      2000,
    );
  }

  async function expectProviderNamedUnhealthy(): Promise<void> {
    const r = await poll(
      'kms-providers failing',
      async () => {
        const x = await k.kubectl(['get', '--raw', '/readyz/kms-providers'], { timeoutMs: 20_000 });
        return x.code !== 0 ? x : undefined;
      },
      120_000,
      2000,
    );
    expect(r.stderr).toContain('kms-provider-0');
    expect(r.stderr).toContain('/var/run/kubekms/kms.sock');
    const verbose = await k.kubectl(['get', '--raw', '/readyz?verbose']);
    expect(verbose.code).not.toBe(0);
    expect(verbose.stderr).toContain('[-]kms-providers failed');
  }

  async function expectRecoveredWithoutApiserverRestart(apiserver: string): Promise<void> {
    await poll(
      'kube-apiserver ready again',
      async () => {
        const r = await k.kubectl(['get', '--raw', '/readyz'], { timeoutMs: 20_000 });
        return r.code === 0 && r.stdout.trim() === 'ok' ? true : undefined;
      },
      420_000,
      2000,
    );
    expect(await apiserverId()).toBe(apiserver);
    await poll('kubekms Ready again', async () => ((await kubekmsPod())?.ready ? true : undefined), 120_000);
    await writeSecrets('s5', 2);
    await expectAllSecretsReadBack();
  }

  it('a world-readable root key file: one clear error line, /readyz names the provider, chmod 600 recovers', async () => {
    const apiserver = await apiserverId();
    chmodSync(hostKey(), 0o644); // the kind node bind-mounts this file
    const lines = await failedAttemptLog();
    const errors = lines.filter((l) => l.includes('rootkey:'));
    expect(errors).toEqual([
      'kubekms: rootkey: root key file /etc/kubekms/root.key has mode 0644, so group or others can access it; run chmod 600 /etc/kubekms/root.key',
    ]);
    await expectProviderNamedUnhealthy();
    chmodSync(hostKey(), 0o600);
    await expectRecoveredWithoutApiserverRestart(apiserver);
  }, 900_000);

  it('the root key file removed from the node: one error line naming it, /readyz names the provider, restoring it recovers', async () => {
    const apiserver = await apiserverId();
    // In kind the file is a bind mount: unmount it, then delete what is left. On its next start the container
    // runtime bind-mounts an empty directory it creates at the missing path (the kubelet checks the hostPath type
    // only when the pod is set up), so kubekms sees a directory where the file was.
    await k.mustNode(['sh', '-c', 'umount /etc/kubekms/root.key && rm /etc/kubekms/root.key']);
    const lines = await failedAttemptLog();
    expect(lines.filter((l) => l.includes('rootkey:'))).toEqual([
      'kubekms: rootkey: root key file /etc/kubekms/root.key is not a regular file',
    ]);
    await expectProviderNamedUnhealthy();
    await k.mustSh(
      `docker exec -i ${NODE} sh -c 'rmdir /etc/kubekms/root.key; umask 077 && cat > /etc/kubekms/root.key' < deploy/kind/host/root.key`,
    );
    expect(readFileSync(hostKey()).length).toBe(32);
    await expectRecoveredWithoutApiserverRestart(apiserver);
  }, 900_000);

  it('a Helm value of the wrong type is refused by values.schema.json, naming the field', async () => {
    const r = await k.sh(`helm install kubekms-bad charts/kubekms -n ${NS} --set operator.replicas=two`);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/values don't meet the specifications of the schema/);
    expect(r.stderr).toMatch(/operator[./]replicas/);
    expect(r.stderr).toMatch(/integer/);
    const releases = await k.mustSh(`helm list -n ${NS} -q`);
    expect(releases.split('\n')).not.toContain('kubekms-bad');
  });
});

describe('web identity: pods use the AWS API with their ServiceAccount (docs/workload-identity.md)', () => {
  const WI = 'kms-wi';
  const SVC = `https://${WI}-kubekms-aws.${WI}.svc`;
  const ROLE = 'arn:aws:iam::000000000000:role/kubekms';
  let keyId = '';

  /** Runs the bundled workload client (test/kind/workload-client.ts) in a pod; resolves with its RESULT lines. */
  async function runClient(
    name: string,
    o: { sa: string; audience?: string; env?: Record<string, string> },
  ): Promise<string[]> {
    const env = {
      AWS_ROLE_ARN: ROLE,
      AWS_WEB_IDENTITY_TOKEN_FILE: '/var/run/secrets/kubekms/token',
      AWS_ENDPOINT_URL_STS: SVC,
      AWS_ENDPOINT_URL_KMS: SVC,
      AWS_REGION: 'us-east-1',
      NODE_EXTRA_CA_CERTS: '/ca/ca.crt',
      KEY_ID: keyId,
      ...o.env,
    };
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'apps' },
      spec: {
        serviceAccountName: o.sa,
        restartPolicy: 'Never',
        securityContext: { runAsNonRoot: true, runAsUser: 1000 },
        containers: [
          {
            name: 'client',
            image: IMAGE,
            imagePullPolicy: 'IfNotPresent',
            command: ['node', '/client/workload-client.js'],
            env: Object.entries(env).map(([n, value]) => ({ name: n, value })),
            volumeMounts: [
              { name: 'token', mountPath: '/var/run/secrets/kubekms', readOnly: true },
              { name: 'client', mountPath: '/client', readOnly: true },
              { name: 'ca', mountPath: '/ca', readOnly: true },
            ],
          },
        ],
        volumes: [
          {
            name: 'token',
            projected: {
              sources: [
                {
                  serviceAccountToken: {
                    audience: o.audience ?? 'kubekms',
                    expirationSeconds: 3600,
                    path: 'token',
                  },
                },
              ],
            },
          },
          { name: 'client', configMap: { name: 'workload-client' } },
          { name: 'ca', configMap: { name: 'kms-ca' } },
        ],
      },
    };
    await k.mustKubectl(['apply', '-f', '-'], { input: JSON.stringify(pod) });
    await poll(
      `pod apps/${name} to finish`,
      async () => {
        const phase = (await k.kubectl(['-n', 'apps', 'get', 'pod', name, '-o', 'jsonpath={.status.phase}']))
          .stdout;
        return phase === 'Succeeded' || phase === 'Failed' ? phase : undefined;
      },
      180_000,
      1000,
    );
    const logs = await k.mustKubectl(['-n', 'apps', 'logs', name]);
    console.log(`kind web identity: ${name}:\n${logs}`);
    return logs.split('\n').filter((l) => l.startsWith('RESULT '));
  }

  beforeAll(async () => {
    // A CA and a certificate for the AWS Service's name; the client pods trust that CA only.
    const d = join(k.dir, 'wi-tls');
    await k.mustSh(
      [
        `mkdir -p ${d} && cd ${d}`,
        'openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=kind-wi-ca 2>/dev/null',
        `openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tls.key -out tls.csr -subj /CN=${WI}-kubekms-aws 2>/dev/null`,
        `printf 'subjectAltName=DNS:${WI}-kubekms-aws.${WI}.svc,DNS:${WI}-kubekms-aws.${WI}.svc.cluster.local\\n' > san.ext`,
        'openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out tls.crt 2>/dev/null',
        '(umask 077 && head -c 32 /dev/urandom > root.key)',
        `printf '{"credentials":[{"accessKeyId":"AKIAWIADMIN","secretAccessKey":"%s","principal":"wi-admin","admin":true}]}' "$(head -c 24 /dev/urandom | base64)" > creds.json`,
      ].join('\n'),
    );
    const admin = JSON.parse(readFileSync(join(d, 'creds.json'), 'utf8')) as {
      credentials: { secretAccessKey: string }[];
    };
    await k.mustKubectl(['create', 'namespace', WI]);
    await k.mustKubectl(['create', 'namespace', 'apps']);
    for (const sa of ['web', 'other']) await k.mustKubectl(['-n', 'apps', 'create', 'serviceaccount', sa]);
    await k.mustKubectl([
      '-n',
      WI,
      'create',
      'secret',
      'tls',
      'kms-tls',
      `--cert=${d}/tls.crt`,
      `--key=${d}/tls.key`,
    ]);
    await k.mustKubectl([
      '-n',
      WI,
      'create',
      'secret',
      'generic',
      'root',
      `--from-file=root.key=${d}/root.key`,
    ]);
    await k.mustKubectl([
      '-n',
      WI,
      'create',
      'secret',
      'generic',
      'creds',
      `--from-file=credentials.json=${d}/creds.json`,
    ]);
    await k.mustKubectl(['-n', 'apps', 'create', 'configmap', 'kms-ca', `--from-file=ca.crt=${d}/ca.crt`]);
    // The workload: the AWS SDK bundled into one ConfigMap (about 460 kB), run by node from the kubekms image.
    const { build } = await import('rolldown');
    const bundle = await build({
      input: join(REPO_ROOT, 'test', 'kind', 'workload-client.ts'),
      platform: 'node',
      write: false,
      output: { format: 'esm', minify: true },
    });
    const data: Record<string, string> = { 'package.json': '{"type":"module"}' };
    for (const c of bundle.output) data[c.fileName] = c.type === 'chunk' ? c.code : String(c.source);
    await k.mustKubectl(['apply', '--server-side', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'workload-client', namespace: 'apps' },
        data,
      }),
    });
    await k.mustSh(
      [
        `helm install ${WI} charts/kubekms -n ${WI} --wait --timeout 5m`,
        '--set crds.enabled=false --set operator.replicas=1 --set operator.rootKey.existingSecret=root',
        '--set aws.enabled=true --set aws.management=engine --set aws.tls.existingSecret=kms-tls',
        '--set aws.credentials.existingSecret=creds --set aws.webIdentity.enabled=true --set aws.webIdentity.minDuration=1s',
        `--set-json 'aws.networkPolicy.allowedClients=[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"apps"}}}]'`,
      ].join(' '),
    );
    const policy = {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { AWS: 'wi-admin' }, Action: 'kms:*', Resource: '*' },
        {
          Effect: 'Allow',
          Principal: { AWS: 'system:serviceaccount:apps:web' },
          Action: ['kms:Encrypt', 'kms:Decrypt'],
          Resource: '*',
        },
      ],
    };
    const created = await runClient('create-key', {
      sa: 'other',
      env: {
        MODE: 'create',
        POLICY: JSON.stringify(policy),
        AWS_ACCESS_KEY_ID: 'AKIAWIADMIN',
        AWS_SECRET_ACCESS_KEY: admin.credentials[0]!.secretAccessKey,
        AWS_ROLE_ARN: '',
        AWS_WEB_IDENTITY_TOKEN_FILE: '',
      },
    });
    keyId = /^RESULT create OK ([0-9a-f-]{36})$/.exec(created[0] ?? '')?.[1] ?? '';
    expect(keyId, created.join('\n')).not.toBe('');
  }, 600_000);

  afterAll(async () => {
    await k.sh(`helm uninstall ${WI} -n ${WI} --wait --timeout 3m`);
  }, 300_000);

  it('a pod whose ServiceAccount the key policy names encrypts and decrypts with only the env vars and its projected token', async () => {
    expect(await runClient('web-use', { sa: 'web' })).toEqual(['RESULT use OK from a pod']);
  });

  it('a pod of another ServiceAccount is denied', async () => {
    const out = await runClient('other-use', { sa: 'other' });
    expect(out[0]).toMatch(/^RESULT use AccessDeniedException: /);
  });

  it('a projected token for another audience is refused', async () => {
    const out = await runClient('web-wrong-audience', {
      sa: 'web',
      audience: 'https://kubernetes.default.svc',
    });
    expect(out[0]).toMatch(/^RESULT use InvalidIdentityTokenException: Incorrect token audience/);
  });

  it('expired session credentials are refused with ExpiredTokenException', async () => {
    const out = await runClient('web-expire', { sa: 'web', env: { MODE: 'expire' } });
    expect(out[0]).toBe('RESULT fresh OK ');
    expect(out[1]).toMatch(/^RESULT expired ExpiredTokenException: /);
  });
});
