/**
 * Issue 17's latency numbers as clients see them: one `kubekms serve` (plugin + AWS API) on a keystore.db holding
 * --keys keys, measured from outside.
 *
 *   node bench/keystore-served.ts [--keys 100000] [--rounds 5] [--seconds 4] [--entry dist|src]
 *
 * - Start-up: exec → the first 200 from /readyz, on the seeded store (every record read and authenticated, every
 *   version unwrapped), and resident memory once ready.
 * - KMS v2 Encrypt+Decrypt over the socket, one call after the other (what kube-apiserver does per Secret), and
 *   AWS Encrypt+Decrypt through @aws-sdk/client-kms, each in its own closed loop: p99 while the server is otherwise
 *   idle, and while an AWS client creates keys in a closed loop (a GitOps burst of KmsKeys), in --rounds rounds
 *   that alternate idle and busy; the table gives each round and the median p99s, and busy ÷ idle.
 * The store is seeded directly (SqliteKeyStore under serve's --dev root key) before serve starts.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { SqliteKeyStore } from '../src/keystore/sqlite-keystore.ts';
import { ApiserverLikeClient } from '../src/kmsv2/testing/apiserver-client.ts';
import { FileRootKey } from '../src/rootkey/file-root-key.ts';
import { DEV_ROOT_KEY_FILE } from '../src/rootkey/root-key-config.ts';
import { freePort, httpOk, rssMiB, seedKeys, sleep } from './lib/process.ts';

const { values: opts } = parseArgs({
  options: {
    keys: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '4' },
    entry: { type: 'string', default: 'dist' },
  },
});
const MAIN = fileURLToPath(
  new URL(opts.entry === 'src' ? '../src/cli/main.ts' : '../dist/cli/main.js', import.meta.url),
);
const p99 = (xs: number[]) => Float64Array.from(xs).sort()[Math.floor(0.99 * (xs.length - 1))] ?? Number.NaN;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Starts serve on `dataDir`; resolves once /readyz answers, with the time that took. */
async function startServe(dataDir: string, socket: string, awsPort: number, credentials: string) {
  const health = await freePort();
  const t = performance.now();
  const child = spawn(
    process.execPath,
    [
      MAIN,
      'serve',
      '--dev',
      '--data-dir',
      dataDir,
      '--kms-socket',
      socket,
      '--health-listen',
      `127.0.0.1:${health}`,
    ].concat([
      '--aws-listen',
      `127.0.0.1:${awsPort}`,
      '--aws-credentials',
      credentials,
      '--log-level',
      'warn',
      '--aws-max-keys',
      '1000000',
    ]),
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  while (!(await httpOk(`http://127.0.0.1:${health}/readyz`))) {
    if (child.exitCode !== null) throw new Error(`serve exited with ${child.exitCode}`);
    await sleep(20);
  }
  return { child, readyMs: performance.now() - t };
}

async function stop(child: ReturnType<typeof spawn>): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function seed(dataDir: string, n: number): Promise<void> {
  const rootKey = await FileRootKey.load(join(dataDir, DEV_ROOT_KEY_FILE));
  await seedKeys(new SqliteKeyStore({ dataDir, rootKey }), rootKey, n);
}

/** Runs `call` in a closed loop until `until`; returns its latencies in ms. */
async function closedLoop(until: number, call: () => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  while (Date.now() < until) {
    const t = performance.now();
    await call();
    times.push(performance.now() - t);
  }
  return times;
}

const dir = await mkdtemp(join(tmpdir(), 'kubekms-bench-served-'));
try {
  const dataDir = join(dir, 'data');
  const socket = join(dir, 'kms.sock');
  const awsPort = await freePort();
  const cred = { accessKeyId: 'BENCH0001', secretAccessKey: randomBytes(20).toString('hex') };
  const credentials = join(dir, 'credentials.json');
  await writeFile(
    credentials,
    JSON.stringify({ credentials: [{ ...cred, principal: 'bench', admin: true }] }),
    { mode: 0o600 },
  );
  await stop((await startServe(dataDir, socket, awsPort, credentials)).child); // creates the root key and store
  const t = performance.now();
  await seed(dataDir, Number(opts.keys));
  console.log(`seeded ${opts.keys} keys in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const { child, readyMs } = await startServe(dataDir, socket, awsPort, credentials);
  console.log(
    `start-up with ${opts.keys} keys: exec → /readyz ${(readyMs / 1000).toFixed(2)} s, RSS ${(await rssMiB(child.pid!)).toFixed(0)} MiB`,
  );
  try {
    await measure(socket, awsPort, cred);
  } finally {
    await stop(child);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}

async function measure(
  socket: string,
  awsPort: number,
  cred: { accessKeyId: string; secretAccessKey: string },
) {
  const aws = () =>
    new KMSClient({
      endpoint: `http://127.0.0.1:${awsPort}`,
      region: 'us-east-1',
      credentials: cred,
      maxAttempts: 1,
      requestHandler: { httpAgent: new Agent({ keepAlive: true }) },
    });
  const [user, creator] = [aws(), aws()];
  const kms = new ApiserverLikeClient(socket);
  const keyId = (await user.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
  const v2Call = async () => {
    const e = await kms.encrypt(randomBytes(32));
    await kms.decrypt(e.ciphertext, e.keyId, e.annotations);
  };
  const awsCall = async () => {
    const e = await user.send(new EncryptCommand({ KeyId: keyId, Plaintext: randomBytes(32) }));
    await user.send(new DecryptCommand({ CiphertextBlob: e.CiphertextBlob }));
  };
  await closedLoop(Date.now() + 1000, v2Call); // warm-up
  await closedLoop(Date.now() + 1000, awsCall);
  const rows: { busy: boolean; v2: number; aws: number; created: number }[] = [];
  for (let round = 0; round < 2 * Number(opts.rounds); round++) {
    const busy = round % 2 === 1;
    const until = Date.now() + Number(opts.seconds) * 1000;
    let created = 0;
    const creating = busy
      ? closedLoop(until, async () => {
          await creator.send(new CreateKeyCommand({ Description: 'bench' }));
          created++;
        })
      : Promise.resolve([]);
    const [v2, awsTimes] = await Promise.all([
      closedLoop(until, v2Call),
      closedLoop(until, awsCall),
      creating,
    ]);
    rows.push({ busy, v2: p99(v2), aws: p99(awsTimes), created });
  }
  const ms = (x: number) => x.toFixed(2);
  const pick = (busy: boolean, k: 'v2' | 'aws') => rows.filter((r) => r.busy === busy).map((r) => r[k]);
  for (const k of ['v2', 'aws'] as const) {
    const [idle, busy] = [median(pick(false, k)), median(pick(true, k))];
    console.log(
      `${k === 'v2' ? 'KMS v2' : 'AWS   '} Encrypt+Decrypt p99: idle ${ms(idle)} ms, during CreateKey ${ms(busy)} ms: ${(busy / idle).toFixed(2)}× (rounds idle ${pick(false, k).map(ms).join('/')}, busy ${pick(true, k).map(ms).join('/')})`,
    );
  }
  console.log(
    `keys created per busy round: ${rows
      .filter((r) => r.busy)
      .map((r) => r.created)
      .join('/')}`,
  );
  kms.close();
  user.destroy();
  creator.destroy();
}
