/**
 * Soak (issue 21): one `kubekms serve` with the KMS v2 plugin and the AWS API under mixed closed-loop load for
 * --minutes (default 10): KMS v2 Encrypt+Decrypt over the socket as kube-apiserver does it, and AWS Encrypt,
 * Decrypt and GenerateDataKey through @aws-sdk/client-kms on keep-alive HTTP. Every 5 s it samples the server's
 * resident memory; at the end it reports the RSS slope after warm-up (least squares over the last 80 % of the
 * samples; a leak shows as a steady positive slope), p50/p99 per API, the error count, and RSS after the load
 * stops and the process idles for --idle seconds.
 *
 *   node bench/soak.ts [--minutes 10] [--kmsv2 8] [--aws 32] [--aws-keys 8] [--idle 30] [--entry dist|src]
 *                      [--heap-snapshots]
 *
 * --heap-snapshots: the server writes a V8 heap snapshot (after a full GC) before the load and after the idle
 * period; the report adds the live heap of each and the kinds of objects that grew most between them.
 *
 * The AWS workers share --aws-keys access keys (administrators, from a credentials file): each key has its own
 * replay budget (ADR 0012, 200 000 signatures per 5 minutes), which one key at full speed exhausts.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  CreateKeyCommand,
  DecryptCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  KMSClient,
} from '@aws-sdk/client-kms';
import { ApiserverLikeClient } from '../src/kmsv2/testing/apiserver-client.ts';
import { growth, type HeapSummary, takeSnapshot, totalBytes } from './lib/heap-snapshot.ts';
import { freePort, httpOk, rssMiB, sleep } from './lib/process.ts';

const { values: opts } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    kmsv2: { type: 'string', default: '8' },
    aws: { type: 'string', default: '32' },
    idle: { type: 'string', default: '30' },
    'aws-keys': { type: 'string', default: '8' },
    entry: { type: 'string', default: 'dist' },
    'heap-snapshots': { type: 'boolean', default: false },
  },
});
const DURATION_MS = Number(opts.minutes) * 60_000;
const MAIN = fileURLToPath(
  new URL(opts.entry === 'src' ? '../src/cli/main.ts' : '../dist/cli/main.js', import.meta.url),
);

/** Least-squares slope of y over x. */
function slope(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

function percentiles(xs: number[]): string {
  const s = Float64Array.from(xs).sort();
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? Number.NaN;
  return `${xs.length} calls, p50 ${at(0.5).toFixed(2)} ms, p99 ${at(0.99).toFixed(2)} ms`;
}

/** Runs `call` in `workers` closed loops until `until`; returns latencies (ms) and the error count. */
async function loop(workers: number, until: number, call: () => Promise<unknown>) {
  const latencies: number[] = [];
  let errors = 0;
  let firstError = '';
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (Date.now() < until) {
        const t = performance.now();
        try {
          await call();
          latencies.push(performance.now() - t);
        } catch (e) {
          errors++;
          firstError ||= e instanceof Error ? e.message : String(e);
        }
      }
    }),
  );
  return { latencies, errors, firstError };
}

const dir = await mkdtemp(join(tmpdir(), 'kubekms-soak-'));
const [health, awsPort] = [await freePort(), await freePort()];
const socket = join(dir, 'kms.sock');
const KEYS = Array.from({ length: Number(opts['aws-keys']) }, (_, i) => ({
  accessKeyId: `SOAK${String(i).padStart(4, '0')}`,
  secretAccessKey: randomBytes(20).toString('hex'),
  principal: `system:serviceaccount:soak:worker-${i}`,
  admin: true,
}));
const credentialsFile = join(dir, 'credentials.json');
await writeFile(credentialsFile, JSON.stringify({ credentials: KEYS }), { mode: 0o600 });
const server = spawn(
  process.execPath,
  [
    ...(opts['heap-snapshots'] ? ['--heapsnapshot-signal=SIGUSR2'] : []),
    MAIN,
    'serve',
    '--dev',
    '--data-dir',
    join(dir, 'data'),
    '--kms-socket',
    socket,
    '--health-listen',
    `127.0.0.1:${health}`,
    '--aws-listen',
    `127.0.0.1:${awsPort}`,
    '--aws-credentials',
    credentialsFile,
    '--log-level',
    'warn',
  ],
  { stdio: ['ignore', 'ignore', 'inherit'], cwd: dir },
);
try {
  while (!(await httpOk(`http://127.0.0.1:${health}/readyz`))) await sleep(50);
  const pid = server.pid!;
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const clients = KEYS.map(
    (k) =>
      new KMSClient({
        endpoint: `http://127.0.0.1:${awsPort}`,
        region: 'us-east-1',
        credentials: { accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey },
        maxAttempts: 1,
        requestHandler: { httpAgent: agent },
      }),
  );
  let turn = 0;
  const nextClient = () => clients[turn++ % clients.length]!;
  const keyId = (await nextClient().send(new CreateKeyCommand({ Description: 'soak' }))).KeyMetadata!.KeyId!;
  const kms = new ApiserverLikeClient(socket);
  const heapBefore: HeapSummary | undefined = opts['heap-snapshots']
    ? await takeSnapshot(pid, dir)
    : undefined;
  const samples: [number, number][] = [];
  const start = Date.now();
  const until = start + DURATION_MS;
  const sampler = setInterval(async () => {
    samples.push([(Date.now() - start) / 60_000, await rssMiB(pid)]);
  }, 5000);
  const context = { app: 'soak' };
  const [v2, awsRun] = await Promise.all([
    loop(Number(opts.kmsv2), until, async () => {
      const e = await kms.encrypt(randomBytes(32));
      await kms.decrypt(e.ciphertext, e.keyId, e.annotations);
    }),
    loop(Number(opts.aws), until, async () => {
      const aws = nextClient();
      const dk = await aws.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' }));
      const enc = await aws.send(
        new EncryptCommand({ KeyId: keyId, Plaintext: randomBytes(64), EncryptionContext: context }),
      );
      await aws.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: context }));
      await aws.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob }));
    }),
  ]);
  clearInterval(sampler);
  const afterLoad = await rssMiB(pid);
  await sleep(Number(opts.idle) * 1000);
  const afterIdle = await rssMiB(pid);
  const heapAfter = heapBefore ? await takeSnapshot(pid, dir) : undefined;
  kms.close();
  for (const c of clients) c.destroy();
  const warm = samples.slice(Math.floor(samples.length * 0.2));
  const rss = samples.map(([, y]) => y);
  console.log(
    `soak ${opts.minutes} min, node ${process.version}, entry ${opts.entry}: KMS v2 ${opts.kmsv2} workers (Encrypt+Decrypt), AWS ${opts.aws} workers on ${KEYS.length} access keys (GenerateDataKey+Encrypt+Decrypt+Decrypt)`,
  );
  console.log(`KMS v2 round trips: ${percentiles(v2.latencies)}, errors ${v2.errors} ${v2.firstError}`);
  console.log(
    `AWS round trips (4 calls): ${percentiles(awsRun.latencies)}, errors ${awsRun.errors} ${awsRun.firstError}`,
  );
  console.log(
    `RSS MiB: start ${rss[0]?.toFixed(0)}, min ${Math.min(...rss).toFixed(0)}, max ${Math.max(...rss).toFixed(0)}, end of load ${afterLoad.toFixed(0)}, after ${opts.idle} s idle ${afterIdle.toFixed(0)}`,
  );
  console.log(
    `RSS slope after warm-up (last 80 % of ${samples.length} samples): ${slope(warm).toFixed(2)} MiB/min`,
  );
  console.log(
    `RSS by minute: ${Array.from({ length: Math.ceil(Number(opts.minutes)) }, (_, m) => {
      const inMinute = samples.filter(([x]) => x >= m && x < m + 1).map(([, y]) => y);
      return inMinute.length ? Math.max(...inMinute).toFixed(0) : '-';
    }).join(' ')}`,
  );
  if (heapBefore && heapAfter) {
    const mib = (h: HeapSummary) => (totalBytes(h) / 2 ** 20).toFixed(1);
    console.log(
      `live heap MiB (after a full GC): before load ${mib(heapBefore)}, after idle ${mib(heapAfter)}`,
    );
    console.log(`grew most:\n${growth(heapBefore, heapAfter).join('\n')}`);
  }
} finally {
  const exited = new Promise((r) => server.once('exit', r));
  server.kill('SIGTERM');
  await exited;
  await rm(dir, { recursive: true, force: true });
}
