/**
 * kind end to end (issue 11): kubekms deployed the way users deploy it, in a real single-node kind cluster built by
 * test/kind/build.sh (stock kind and the official node image on an ordinary Docker host; a locally built stack on
 * CI). The cluster is created by running the `sh kind-install` blocks of docs/install.md, so the guide is the test.
 *   1. static pod beside kube-apiserver; Secrets in etcd under k8s:enc:kms:v2:kubekms:; kubekms's container stopped
 *      (kubelet restarts it) and the whole node restarted (cold start) with every Secret readable.
 * One cluster for the whole file, deleted afterwards (KUBEKMS_KIND_KEEP=1 keeps it for debugging).
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../controlplane/harness.ts';
import { docBlocks, IMAGE, KindRun, kindState, NODE, poll } from '../kind/cluster.ts';
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
    // The last documented block prints the prefix of the demo Secret's stored value.
    expect(docOutput.at(-1)).toContain(PREFIX);
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
