/**
 * The database keystore (ADR 0016) through the engine, at each size, in one run (issue 17's numbers):
 *
 *   node bench/keystore.ts [--sizes 100,100000] [--creates 300] [--ops 3000] [--store sqlite|file]
 *
 * For each size n: a keystore.db holding n symmetric keys (each version wrapped by a file root key) is seeded,
 * then
 * - start-up, in a fresh process: SqliteKeyStore.open (read and check every row, the seal and the root key) and
 *   EngineCore.open (which opens the store again and unwraps every key version), wall and CPU time (on a shared
 *   machine the CPU time is what the work costs), and the resident memory they added, per key;
 * - CreateKey through the engine, `--creates` times on every size in turn (one call each, so that load from other
 *   processes hits every size alike): p50/p99, and the store's commit alone (p50/p99);
 * - Encrypt+Decrypt (one call each, 32 bytes), each after yielding to the event loop once, idle and while a
 *   CreateKey loop runs in the same process (what a request waits for while commits run), in 5 alternating rounds
 *   of `--ops`/5 calls each (busy rounds last until the loop created `--creates`/5 keys); p99 = median of rounds.
 * The ratios compare the largest size with the smallest, and the busy Encrypt+Decrypt with the idle one.
 * `--store file` runs the same on the file keystore (keystore.json, ADR 0003), the store this one replaces.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { nodeCrypto } from '../src/crypto/node-provider.ts';
import { EngineCore } from '../src/engine/core.ts';
import { decrypt, encrypt } from '../src/engine/ops-encrypt.ts';
import { createKey } from '../src/engine/ops-keys.ts';
import { SYSTEM } from '../src/engine/policy.ts';
import type { KeyStore } from '../src/engine/ports.ts';
import type { StoreChange } from '../src/engine/records.ts';
import { FileKeyStore } from '../src/keystore/file-keystore.ts';
import { SqliteKeyStore } from '../src/keystore/sqlite-keystore.ts';
import { FileRootKey } from '../src/rootkey/file-root-key.ts';
import { seedKeys } from './lib/process.ts';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100,100000' },
    creates: { type: 'string', default: '300' },
    ops: { type: 'string', default: '3000' },
    store: { type: 'string', default: 'sqlite' }, // or `file`: the file keystore (keystore.json), for comparison
    startup: { type: 'string' }, // internal: `<dataDir>,<rootKeyFile>` measures start-up in this process
  },
});
const sys = { caller: SYSTEM };
const makeStore = (o: { dataDir: string; rootKey: FileRootKey }): KeyStore =>
  args.store === 'file' ? new FileKeyStore(o) : new SqliteKeyStore(o);
const pct = (t: number[], p: number) => {
  const s = [...t].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
};
const f = (ms: number) => (ms < 10 ? ms.toFixed(2) : ms.toFixed(1));
const ROUNDS = 5;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const p99s = (rounds: number[][]) => median(rounds.map((r) => pct(r, 0.99)));
const rssMiB = () => process.memoryUsage().rss / 2 ** 20;

if (args.startup !== undefined) {
  const [dataDir, keyFile] = args.startup.split(',') as [string, string];
  const rootKey = await FileRootKey.load(keyFile);
  const rss0 = rssMiB();
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  let c = cpu();
  let t = performance.now();
  const probe = makeStore({ dataDir, rootKey });
  await probe.open();
  const storeMs = performance.now() - t;
  const storeCpuMs = cpu() - c;
  await probe.close();
  c = cpu();
  t = performance.now();
  const core = await EngineCore.open({
    crypto: nodeCrypto,
    rootKey,
    store: new SqliteKeyStore({ dataDir, rootKey }),
  });
  const engineMs = performance.now() - t;
  const engineCpuMs = cpu() - c;
  globalThis.gc?.();
  const rss = rssMiB() - rss0;
  console.log(
    JSON.stringify({ storeMs, storeCpuMs, engineMs, engineCpuMs, rssMiB: rss, keys: core.counts().keys }),
  );
  process.exit(0);
}

/** Times every commit of the store it wraps. */
class TimedStore implements KeyStore {
  readonly times: number[] = [];
  readonly description: string;
  readonly #inner: KeyStore;
  constructor(inner: KeyStore) {
    this.#inner = inner;
    this.description = inner.description;
  }
  open() {
    return this.#inner.open();
  }
  async commit(change: StoreChange) {
    const t = performance.now();
    await this.#inner.commit(change);
    this.times.push(performance.now() - t);
  }
  close() {
    return this.#inner.close();
  }
}

async function seed(dataDir: string, rootKey: FileRootKey, n: number): Promise<void> {
  await seedKeys(makeStore({ dataDir, rootKey }), rootKey, n);
}

/** Encrypt+Decrypt latencies, each measured from a yield to the event loop to the end of the Decrypt. */
async function cryptoLatencies(
  core: EngineCore,
  keyId: string,
  ops: number,
  more: () => boolean = () => false,
): Promise<number[]> {
  const plaintext = new Uint8Array(32);
  const times: number[] = [];
  for (let i = 0; i < ops || more(); i++) {
    const t = performance.now();
    await new Promise(setImmediate);
    const { ciphertextBlob } = encrypt(core, sys, { keyId, plaintext });
    decrypt(core, sys, { ciphertextBlob });
    times.push(performance.now() - t);
  }
  return times;
}

interface Prepared {
  readonly n: number;
  readonly dir: string;
  readonly seedMs: number;
  readonly startup: {
    storeMs: number;
    storeCpuMs: number;
    engineMs: number;
    engineCpuMs: number;
    rssMiB: number;
  };
  readonly store: TimedStore;
  readonly core: EngineCore;
}

/** A store of n keys, its start-up measured in a fresh process, then opened through the engine here. */
async function prepare(n: number): Promise<Prepared> {
  const dir = await mkdtemp(join(tmpdir(), 'kubekms-bench-sqlite-'));
  const keyFile = join(dir, 'root.key');
  const rootKey = await FileRootKey.create(keyFile);
  const dataDir = join(dir, 'data');
  const t = performance.now();
  await seed(dataDir, rootKey, n);
  const seedMs = performance.now() - t;
  const probeArgs = ['--store', String(args.store), '--startup', `${dataDir},${keyFile}`];
  const child = spawnSync(process.execPath, ['--expose-gc', import.meta.filename, ...probeArgs], {
    encoding: 'utf8',
    maxBuffer: 2 ** 20,
  });
  if (child.status !== 0) throw new Error(`start-up probe failed: ${child.stderr}`);
  const store = new TimedStore(makeStore({ dataDir, rootKey }));
  const core = await EngineCore.open({ crypto: nodeCrypto, rootKey, store });
  return { n, dir, seedMs, startup: JSON.parse(child.stdout) as Prepared['startup'], store, core };
}

/** Encrypt+Decrypt idle and during a CreateKey loop, in alternating rounds. */
async function cryptoRounds(core: EngineCore) {
  const keyId = (await createKey(core, sys, {})).keyId;
  const idle: number[][] = [];
  const busy: number[][] = [];
  let busyCreates = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const ops = Math.ceil(Number(args.ops) / ROUNDS);
    idle.push(await cryptoLatencies(core, keyId, ops));
    let running = true;
    const target = busyCreates + Math.ceil(Number(args.creates) / ROUNDS);
    const loop = (async () => {
      while (running) {
        await createKey(core, sys, {});
        busyCreates++;
      }
    })();
    busy.push(await cryptoLatencies(core, keyId, ops, () => busyCreates < target));
    running = false;
    await loop;
  }
  return { idle, busy, busyCreates };
}

const sizes = args.sizes.split(',').map(Number);
const prepared: Prepared[] = [];
try {
  for (const n of sizes) prepared.push(await prepare(n));
  // CreateKey on every size in turn, one call each: load from other processes hits every size alike.
  const creates = prepared.map((): number[] => []);
  for (let i = 0; i < Number(args.creates); i++)
    for (const [j, p] of prepared.entries()) {
      const t = performance.now();
      await createKey(p.core, sys, {});
      creates[j]!.push(performance.now() - t);
    }
  const results = [];
  for (const [j, p] of prepared.entries()) {
    const commits = p.store.times.slice();
    results.push({ ...p, creates: creates[j]!, commits, ...(await cryptoRounds(p.core)) });
  }
  for (const r of results) {
    const n = r.n;
    console.log(
      `${String(n).padStart(7)} keys: seeded in ${(r.seedMs / 1000).toFixed(1)} s; start-up: store open ${f(r.startup.storeMs)} ms ` +
        `(CPU ${f(r.startup.storeCpuMs)} ms), engine open incl. the store and the unwrap of every version ` +
        `${f(r.startup.engineMs)} ms (CPU ${f(r.startup.engineCpuMs)} ms), +${r.startup.rssMiB.toFixed(0)} MiB RSS ` +
        `(${((r.startup.rssMiB * 2 ** 20) / n / 1024).toFixed(2)} KiB/key)`,
    );
    console.log(
      `         CreateKey p50 ${f(pct(r.creates, 0.5))} ms p99 ${f(pct(r.creates, 0.99))} ms; ` +
        `commit alone p50 ${f(pct(r.commits, 0.5))} ms p99 ${f(pct(r.commits, 0.99))} ms`,
    );
    console.log(
      `         Encrypt+Decrypt p99 (median of ${ROUNDS} rounds) idle ${f(p99s(r.idle))} ms, during a CreateKey loop ` +
        `(${r.busyCreates} keys created) ${f(p99s(r.busy))} ms: ${(p99s(r.busy) / p99s(r.idle)).toFixed(2)}× idle; ` +
        `rounds idle ${r.idle.map((x) => f(pct(x, 0.99))).join('/')}, busy ${r.busy.map((x) => f(pct(x, 0.99))).join('/')} ms`,
    );
  }
  const [small, large] = [results[0]!, results[results.length - 1]!];
  const perKey = ((large.startup.rssMiB - small.startup.rssMiB) * 2 ** 20) / (large.n - small.n);
  console.log(
    `resident memory per key (RSS added at ${large.n} keys − at ${small.n}, per key): ${(perKey / 1024).toFixed(2)} KiB`,
  );
  console.log(
    `ratio ${large.n} / ${small.n} keys: CreateKey p50 ${(pct(large.creates, 0.5) / pct(small.creates, 0.5)).toFixed(2)}×, ` +
      `commit p50 ${(pct(large.commits, 0.5) / pct(small.commits, 0.5)).toFixed(2)}×, ` +
      `commit p99 ${(pct(large.commits, 0.99) / pct(small.commits, 0.99)).toFixed(2)}×`,
  );
} finally {
  for (const p of prepared) {
    await p.store.close();
    await rm(p.dir, { recursive: true, force: true });
  }
}
