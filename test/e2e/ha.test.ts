import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Apiserver,
  createPki,
  createRunDir,
  type Etcd,
  type Pki,
  type Plugin,
  run,
  startEtcd,
} from '../controlplane/harness.ts';
import { keepLogsOnFailure, MAIN } from './lifecycle.ts';
import { newRootKeyFile } from './root-key-serve.ts';
import { secretBook } from './secret-book.ts';
import { storedSecret, waitFor } from './secrets.ts';
import { prepareSharedState, startNodeApiserver, startSharedStateKubekms, waitLive } from './shared-state.ts';

const NS = 'ha';
const KUBEKMS_NS = 'kubekms';

interface Node {
  name: string;
  apiserver: Apiserver;
  kubekms: Plugin;
}

let dir: string;
let pki: Pki;
let etcd: Etcd;
let rootKeyFile: string;
const nodes: Node[] = [];
const { write, expectAllReadable, readLoop } = secretBook(NS);

/** `kubekms serve` of one control-plane node: its own socket and data dir, the shared root key and state. */
function startKubekms(name: string, kubeconfig: () => string): Promise<Plugin> {
  return startSharedStateKubekms({
    dir,
    name,
    rootKeyFile,
    kubeconfig,
    namespace: KUBEKMS_NS,
    extraArgs: ['--maintenance-interval', '2s'],
    timeoutMs: 120_000,
  });
}

async function heartbeats(
  api: Apiserver,
): Promise<Map<string, { keyId: string; held: Record<string, number> }>> {
  const out = JSON.parse(
    await api.kubectl(['get', 'leases', '-n', KUBEKMS_NS, '-l', 'kubekms.io/role=instance', '-o', 'json']),
  ) as { items: { spec: { holderIdentity: string }; metadata: { annotations?: Record<string, string> } }[] };
  return new Map(
    out.items.map((l) => [
      l.spec.holderIdentity,
      {
        keyId: l.metadata.annotations?.['kubekms.io/key-id'] ?? '',
        held: JSON.parse(l.metadata.annotations?.['kubekms.io/held-versions'] ?? '{}') as Record<
          string,
          number
        >,
      },
    ]),
  );
}

/** The key_id a fresh write through `api` is stored under (waits for the API server's Status poll to see it). */
async function keyIdOfWriteThrough(api: Apiserver, want: string, timeoutMs = 150_000): Promise<string> {
  return waitFor(
    `a write through ${api.url} stored under ${want}`,
    async () => {
      const [s] = await write(api, 'probe', 1);
      const id = (await storedSecret(etcd, s!)).obj.keyID;
      return id === want ? id : undefined;
    },
    timeoutMs,
    5_000,
  );
}

async function rotateOnline(via: Apiserver): Promise<string> {
  const r = await run(
    process.execPath,
    [
      MAIN,
      'key',
      'rotate',
      'alias/kubekms/secrets',
      '--shared-state',
      '--kubeconfig',
      via.kubeconfigPath,
      '--namespace',
      KUBEKMS_NS,
      '--root-key-file',
      rootKeyFile,
      '--rotation-ack-timeout',
      '90s',
    ],
    { timeoutMs: 180_000 },
  );
  return r.stdout.toString('utf8');
}

describe('HA: two control-plane nodes, one key state', () => {
  keepLogsOnFailure();

  beforeAll(async () => {
    dir = createRunDir('kubekms-ha-');
    pki = await createPki(dir);
    etcd = await startEtcd(dir);
    rootKeyFile = newRootKeyFile(dir);
    // Node a bootstraps the cluster: its API server comes up without a plugin, serves kubekms's CRD and
    // namespace, and kubekms a (empty cache, empty API) creates the cluster's Secrets key.
    const apiA = await startNodeApiserver({ dir, etcd, pki }, 'a', join(dir, 'a.sock'));
    await waitLive(apiA);
    await prepareSharedState(apiA, KUBEKMS_NS);
    const kA = await startKubekms('a', () => apiA.kubeconfigPath);
    await apiA.waitReady(180_000);
    nodes.push({ name: 'a', apiserver: apiA, kubekms: kA });
    // Node b joins: empty cache, it takes the shared state through its own API server.
    const apiB = await startNodeApiserver({ dir, etcd, pki }, 'b', join(dir, 'b.sock'));
    await waitLive(apiB);
    const kB = await startKubekms('b', () => apiB.kubeconfigPath);
    await apiB.waitReady(180_000);
    nodes.push({ name: 'b', apiserver: apiB, kubekms: kB });
    await apiA.kubectl(['create', 'namespace', NS]);
  }, 600_000);

  afterAll(async () => {
    for (const n of nodes.reverse()) {
      await n.apiserver.stop().catch(() => undefined);
      await n.kubekms.stop().catch(() => undefined);
    }
    await etcd?.stop();
  });

  it('both instances report the same key_id; Secrets written through either read back through both', async () => {
    const [a, b] = nodes as [Node, Node];
    const hb = await waitFor(
      'heartbeats of a and b with the same key_id',
      async () => {
        const h = await heartbeats(a.apiserver);
        const ka = h.get('a')?.keyId;
        return ka && ka === h.get('b')?.keyId ? h : undefined;
      },
      60_000,
    );
    expect(hb.get('a')?.keyId).toMatch(/^kubekms:[0-9a-f-]{36}:v1$/);
    const viaA = await write(a.apiserver, 'a', 10);
    const viaB = await write(b.apiserver, 'b', 10);
    await expectAllReadable(a.apiserver);
    await expectAllReadable(b.apiserver);
    const ids = new Set<string>();
    for (const s of [...viaA, ...viaB]) {
      const { raw, obj } = await storedSecret(etcd, s);
      expect(raw.includes(Buffer.from(s.value))).toBe(false);
      ids.add(obj.keyID);
    }
    expect([...ids]).toEqual([hb.get('a')?.keyId]);
  }, 180_000);

  it('a rotation is promoted after both hold the new version; reads never fail; both then write under it', async () => {
    const [a, b] = nodes as [Node, Node];
    const before = (await heartbeats(a.apiserver)).get('a')!.keyId;
    const reader = readLoop(() => [a.apiserver, b.apiserver]);
    const out = await rotateOnline(a.apiserver);
    expect(out).toMatch(/rotated .*: primary version 2/);
    const want = before.replace(/:v1$/, ':v2');
    const hb = await waitFor(
      'both heartbeats to report v2',
      async () => {
        const h = await heartbeats(a.apiserver);
        return h.get('a')?.keyId === want && h.get('b')?.keyId === want ? h : undefined;
      },
      30_000,
    );
    expect(Object.values(hb.get('b')!.held)).toContain(2);
    await write(a.apiserver, 'rot-a', 5);
    await write(b.apiserver, 'rot-b', 5);
    await keyIdOfWriteThrough(a.apiserver, want);
    await keyIdOfWriteThrough(b.apiserver, want);
    const stats = await reader.stop();
    expect(stats.reads).toBeGreaterThan(5);
    expect(stats.failures).toEqual([]);
  }, 400_000);

  it('an instance killed during a rotation: the rotation waits for its heartbeat to expire, it catches up on restart', async () => {
    const [a, b] = nodes as [Node, Node];
    const before = (await heartbeats(a.apiserver)).get('a')!.keyId;
    const want = before.replace(/:v(\d+)$/, (_m, v: string) => `:v${Number(v) + 1}`);
    let bUp = true;
    const reader = readLoop(() => (bUp ? [a.apiserver, b.apiserver] : [a.apiserver]));
    // SIGKILL: no goodbye, its heartbeat Lease stays live for up to 30 s.
    bUp = false;
    process.kill(-b.kubekms.process.pid, 'SIGKILL');
    await waitFor(
      'kubekms b to exit',
      async () => (b.kubekms.process.exited() ? true : undefined),
      10_000,
      100,
    );
    const t0 = Date.now();
    const out = await rotateOnline(a.apiserver);
    expect(out).toMatch(/primary version \d+/);
    // Promoted only once b's Lease expired (30 s from its last renewal, at most 10 s before the kill).
    expect(Date.now() - t0).toBeGreaterThan(15_000);
    await write(a.apiserver, 'while-b-down', 5);
    await keyIdOfWriteThrough(a.apiserver, want);
    // b comes back with its old cache, catches up from the API, and reads what a wrote under the new version.
    b.kubekms = await b.kubekms.restart();
    await b.apiserver.waitReady(120_000);
    await expectAllReadable(b.apiserver);
    bUp = true;
    await waitFor(
      'b to report the new key_id',
      async () => ((await heartbeats(a.apiserver)).get('b')?.keyId === want ? true : undefined),
      30_000,
    );
    await keyIdOfWriteThrough(b.apiserver, want);
    const stats = await reader.stop();
    expect(stats.failures).toEqual([]);
  }, 500_000);

  it('a cold start with no API: both instances serve from their caches, then the API servers come back', async () => {
    for (const n of nodes) await n.apiserver.stop();
    for (const n of nodes) {
      // No API server answers: serve listens after the state-sync wait (3 s), from the local cache.
      n.kubekms = await n.kubekms.restart();
    }
    for (const n of nodes) await n.apiserver.restart({ waitReady: true, timeoutMs: 180_000 });
    for (const n of nodes) await expectAllReadable(n.apiserver);
    const h = await heartbeats(nodes[0]!.apiserver);
    expect(h.get('a')?.keyId).toBe(h.get('b')?.keyId);
  }, 600_000);

  it('a third instance with an empty cache joins through another API server and serves the same keys', async () => {
    const [a] = nodes as [Node];
    // Node c joins through another node's API server (as through the control-plane load balancer): its kubekms
    // is serving before its own API server starts.
    const kC = await startKubekms('c', () => a.apiserver.kubeconfigPath);
    const apiC = await startNodeApiserver({ dir, etcd, pki }, 'c', join(dir, 'c.sock'));
    await apiC.waitReady(180_000);
    nodes.push({ name: 'c', apiserver: apiC, kubekms: kC });
    await expectAllReadable(apiC);
    const viaC = await write(apiC, 'c', 5);
    await expectAllReadable(a.apiserver);
    const want = (await heartbeats(a.apiserver)).get('a')!.keyId;
    expect((await storedSecret(etcd, viaC[0]!)).obj.keyID).toBe(want);
    expect((await heartbeats(a.apiserver)).get('c')?.keyId).toBe(want);
  }, 400_000);
});
