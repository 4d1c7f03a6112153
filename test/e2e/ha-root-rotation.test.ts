/**
 * Root-key rotation in HA, two phases (docs/adr/0026, docs/root-of-trust.md): two kube-apiservers on one etcd,
 * each with its own `kubekms serve --shared-state`, Secrets written. The new root key is staged on a only
 * (`kubekms rootkey stage`): the rotation through a is refused, naming b. b is restarted with
 * `--next-root-key-file`: the rotation succeeds while every Secret is read through both API servers in a loop
 * (0 failed reads); both heartbeats then show the new root current; no KmsStateRecord verifies, and no version
 * unwraps, for a holder of the old root alone, and a record it makes is refused; each instance restarted with only
 * the new root key reads every Secret, and one started with only the old root key refuses to start.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KmsStateRecord } from '../../src/api/kinds.ts';
import { fromObject, toObject } from '../../src/api/state-records.ts';
import { keyMaterialAad } from '../../src/engine/records.ts';
import { RecordAuthRing } from '../../src/keystore/record-auth-ring.ts';
import { RootKeyMismatchError } from '../../src/rootkey/errors.ts';
import { FileRootKey } from '../../src/rootkey/file-root-key.ts';
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
import { waitFor } from './secrets.ts';
import { prepareSharedState, startNodeApiserver, startSharedStateKubekms, waitLive } from './shared-state.ts';

const NS = 'harot';
const KUBEKMS_NS = 'kubekms';

/** The root-key flags of an instance's next (re)start. */
interface RootFlags {
  rootKeyFile: string;
  nextRootKeyFile: string | undefined;
}

interface Node {
  name: string;
  apiserver: Apiserver;
  kubekms: Plugin;
  flags: RootFlags;
}

let dir: string;
let pki: Pki;
let etcd: Etcd;
let oldKeyFile: string;
let newKeyFile: string;
const nodes: Node[] = [];
const { write, expectAllReadable, readLoop } = secretBook(NS);

/** `kubekms serve` of one node; its root-key flags are read from `flags` at every (re)start. */
function startKubekms(name: string, flags: RootFlags, kubeconfig: () => string): Promise<Plugin> {
  return startSharedStateKubekms({
    dir,
    name,
    get rootKeyFile() {
      return flags.rootKeyFile;
    },
    kubeconfig,
    namespace: KUBEKMS_NS,
    get extraArgs() {
      return [
        '--maintenance-interval',
        '1s',
        ...(flags.nextRootKeyFile !== undefined ? ['--next-root-key-file', flags.nextRootKeyFile] : []),
      ];
    },
    timeoutMs: 120_000,
  });
}

const kubekms = async (args: readonly string[]): Promise<string> =>
  (await run(process.execPath, [MAIN, ...args], { timeoutMs: 240_000 })).stdout.toString('utf8');

/** Instance → its heartbeat's current and staged root keys. */
async function roots(api: Apiserver): Promise<Map<string, { root: string; next: string }>> {
  const out = JSON.parse(
    await api.kubectl(['get', 'leases', '-n', KUBEKMS_NS, '-l', 'kubekms.io/role=instance', '-o', 'json']),
  ) as { items: { spec: { holderIdentity: string }; metadata: { annotations?: Record<string, string> } }[] };
  return new Map(
    out.items.map((l) => [
      l.spec.holderIdentity,
      {
        root: l.metadata.annotations?.['kubekms.io/root-key'] ?? '',
        next: l.metadata.annotations?.['kubekms.io/next-root-key'] ?? '',
      },
    ]),
  );
}

async function records(api: Apiserver): Promise<KmsStateRecord[]> {
  return (
    JSON.parse(await api.kubectl(['get', 'kmsstaterecords', '-n', KUBEKMS_NS, '-o', 'json'])) as {
      items: KmsStateRecord[];
    }
  ).items;
}

/** Problems of each record for a holder of `only` this root key: its auth, then every version's unwrap. */
async function problemsUnder(only: FileRootKey, objects: readonly KmsStateRecord[]): Promise<string[]> {
  const ring = await RecordAuthRing.create(only, 'refuse');
  await ring.learn(objects.map((o) => o.spec?.auth));
  const out: string[] = [];
  for (const o of objects) {
    try {
      const d = fromObject(o, ring);
      if (d.kind === 'Key')
        for (const v of d.record.versions)
          (await only.unwrap(v.wrappedMaterial, keyMaterialAad(d.record.keyId, v.version))).wipe();
    } catch (e) {
      out.push(
        `${o.metadata.name}: ${e instanceof RootKeyMismatchError ? 'version does not unwrap' : (e as Error).message}`,
      );
    }
  }
  return out;
}

describe('HA root-key rotation: two phases', () => {
  keepLogsOnFailure();
  let oldId = '';
  let newId = '';

  beforeAll(async () => {
    dir = createRunDir('kubekms-harot-');
    pki = await createPki(dir);
    etcd = await startEtcd(dir);
    oldKeyFile = newRootKeyFile(dir);
    newKeyFile = join(dir, 'root-2.key');
    writeFileSync(newKeyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
    const fp = async (f: string) => `file:${(await FileRootKey.load(f)).identity.fingerprint}`;
    oldId = await fp(oldKeyFile);
    newId = await fp(newKeyFile);
    const apiA = await startNodeApiserver({ dir, etcd, pki }, 'a', join(dir, 'a.sock'));
    await waitLive(apiA);
    await prepareSharedState(apiA, KUBEKMS_NS);
    const flagsA: RootFlags = { rootKeyFile: oldKeyFile, nextRootKeyFile: undefined };
    const kA = await startKubekms('a', flagsA, () => apiA.kubeconfigPath);
    await apiA.waitReady(180_000);
    nodes.push({ name: 'a', flags: flagsA, apiserver: apiA, kubekms: kA });
    const apiB = await startNodeApiserver({ dir, etcd, pki }, 'b', join(dir, 'b.sock'));
    await waitLive(apiB);
    const flagsB: RootFlags = { rootKeyFile: oldKeyFile, nextRootKeyFile: undefined };
    const kB = await startKubekms('b', flagsB, () => apiB.kubeconfigPath);
    await apiB.waitReady(180_000);
    nodes.push({ name: 'b', flags: flagsB, apiserver: apiB, kubekms: kB });
    await apiA.kubectl(['create', 'namespace', NS]);
    await write(apiA, 'a', 10);
    await write(apiB, 'b', 10);
  }, 600_000);

  afterAll(async () => {
    for (const n of [...nodes].reverse()) {
      await n.apiserver.stop().catch(() => undefined);
      await n.kubekms.stop().catch(() => undefined);
    }
    await etcd?.stop();
  });

  it('staged on a only: the rotation is refused naming b, and no record moves', async () => {
    const [a] = nodes as [Node, Node];
    const staged = await kubekms([
      'rootkey',
      'stage',
      '--data-dir',
      a.kubekms.dataDir,
      '--to-root-key-file',
      newKeyFile,
    ]);
    expect(staged).toMatch(/^root key staged by serve/);
    expect((await roots(a.apiserver)).get('a')).toEqual({ root: oldId, next: newId });
    const before = await records(a.apiserver);
    const refused = await kubekms([
      'rootkey',
      'rotate',
      '--data-dir',
      a.kubekms.dataDir,
      '--to-root-key-file',
      newKeyFile,
    ]).then(
      () => '',
      (e: Error) => e.message,
    );
    expect(refused).toMatch(
      new RegExp(
        `serve refused: live instances do not hold the new root key ${newId}.*: b \\(holds ${oldId}\\)`,
      ),
    );
    expect(await problemsUnder(await FileRootKey.load(oldKeyFile), before)).toEqual([]);
    expect((await records(a.apiserver)).map((o) => o.metadata.resourceVersion)).toEqual(
      before.map((o) => o.metadata.resourceVersion),
    );
  }, 300_000);

  it('staged on b too (--next-root-key-file): the rotation moves every record, 0 failed reads', async () => {
    const [a, b] = nodes as [Node, Node];
    b.flags.nextRootKeyFile = newKeyFile;
    b.kubekms = await b.kubekms.restart();
    await b.apiserver.waitReady(120_000);
    await waitFor(
      'b to publish the staged root',
      async () => ((await roots(a.apiserver)).get('b')?.next === newId ? true : undefined),
      60_000,
    );
    const reader = readLoop(() => [a.apiserver, b.apiserver], 100);
    const t0 = Date.now();
    const out = await kubekms([
      'rootkey',
      'rotate',
      '--data-dir',
      a.kubekms.dataDir,
      '--to-root-key-file',
      newKeyFile,
    ]);
    const took = Date.now() - t0;
    expect(out).toMatch(
      /^root key rotated online by serve: \d+ keys \(\d+ versions\) re-wrapped and \d+ records/,
    );
    await write(a.apiserver, 'after-a', 3);
    await write(b.apiserver, 'after-b', 3);
    const stats = await reader.stop();
    expect(stats.reads).toBeGreaterThan(4);
    expect(stats.failures).toEqual([]);
    const r = await roots(a.apiserver);
    expect(r.get('a')?.root).toBe(newId);
    expect(r.get('b')?.root).toBe(newId);
    // The root marker names the new root, and says every record moved.
    const marker = JSON.parse(
      await a.apiserver.kubectl(['get', 'lease', 'kubekms-root-key', '-n', KUBEKMS_NS, '-o', 'json']),
    ) as { metadata: { annotations?: Record<string, string> } };
    expect(marker.metadata.annotations).toMatchObject({
      'kubekms.io/root-key': newId,
      'kubekms.io/root-rotation': 'done',
    });
    console.log(`HA root rotation took ${took} ms; ${stats.reads} reads through both API servers, 0 failed`);
  }, 300_000);

  it('no record verifies and no version unwraps under the old root alone; a record made with it is refused', async () => {
    const [a] = nodes as [Node];
    const objs = await records(a.apiserver);
    expect(objs.length).toBeGreaterThan(1);
    const oldRoot = await FileRootKey.load(oldKeyFile);
    const newRoot = await FileRootKey.load(newKeyFile);
    expect(await problemsUnder(newRoot, objs)).toEqual([]);
    const underOld = await problemsUnder(oldRoot, objs);
    expect(underOld).toHaveLength(objs.length);
    for (const p of underOld) expect(p).toMatch(/writer key is not wrapped by this root key/);
    // Versions: the old root alone unwraps none of them.
    const ringNew = await RecordAuthRing.create(newRoot);
    await ringNew.learn(objs.map((o) => o.spec?.auth));
    let versions = 0;
    for (const o of objs) {
      const d = fromObject(o, ringNew);
      if (d.kind !== 'Key') continue;
      for (const v of d.record.versions) {
        versions++;
        await expect(
          oldRoot.unwrap(v.wrappedMaterial, keyMaterialAad(d.record.keyId, v.version)),
        ).rejects.toBeInstanceOf(RootKeyMismatchError);
      }
    }
    expect(versions).toBeGreaterThan(0);
    // A holder of the old root makes a record (a wider description, signed by a writer key under the old root).
    const key = objs.find((o) => o.metadata.name.startsWith('key-'));
    if (key === undefined) throw new Error('no key record');
    const d = fromObject(key, ringNew);
    if (d.kind !== 'Key') throw new Error('not a key');
    const forged = toObject(
      { kind: 'Key', record: { ...d.record, description: 'forged' } },
      await RecordAuthRing.create(oldRoot),
      KUBEKMS_NS,
    );
    expect(await problemsUnder(newRoot, [forged])).toEqual([
      expect.stringMatching(
        /not written by a holder of the root key \(its writer key is not wrapped by this root key\)/,
      ),
    ]);
  }, 120_000);

  it('restarted with only the new root key, each instance reads every Secret; with only the old one, serve refuses to start', async () => {
    for (const n of nodes) {
      n.flags.rootKeyFile = newKeyFile;
      n.flags.nextRootKeyFile = undefined;
      n.kubekms = await n.kubekms.restart();
    }
    for (const n of nodes) {
      await n.apiserver.waitReady(120_000);
      await expectAllReadable(n.apiserver);
    }
    const r = await roots(nodes[0]!.apiserver);
    expect([r.get('a')?.root, r.get('b')?.root]).toEqual([newId, newId]);
    expect([r.get('a')?.next, r.get('b')?.next]).toEqual(['', '']);
    // Node a with the old root key only: its cache is under the new root; serve stops with a clear error.
    const a = nodes[0]!;
    await a.kubekms.stop();
    const refused = await run(
      process.execPath,
      [
        MAIN,
        'serve',
        ...['--root-key-file', oldKeyFile, '--data-dir', a.kubekms.dataDir, '--kms-socket', ''],
        ...[
          '--shared-state',
          '--kubeconfig',
          a.apiserver.kubeconfigPath,
          '--namespace',
          KUBEKMS_NS,
          '--instance-name',
          'a',
        ],
      ],
      { timeoutMs: 60_000 },
    ).then(
      () => '',
      (e: Error) => e.message,
    );
    expect(refused).toMatch(/is sealed under a different root key than/);
    a.kubekms = await a.kubekms.restart();
    await a.apiserver.waitReady(120_000);
    await expectAllReadable(a.apiserver);
  }, 400_000);
});
