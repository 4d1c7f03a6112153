/**
 * The AWS API under load, next to local-kms (github.com/nsmithuk/local-kms, the Go AWS KMS emulator), in one
 * run and through the same client: @aws-sdk/client-kms, keep-alive HTTP on loopback, Encrypt / Decrypt /
 * GenerateDataKey at concurrency 1, 16 and 64. kubekms verifies SigV4 (with replay protection), enforces the
 * key policy and writes one audit line per request (to /dev/null here); local-kms does none of that.
 *
 *   node bench/aws.ts [--seconds 3] [--rounds 2] [--only Encrypt] [--concurrency 1,16,64] [--no-local-kms]
 *                     [--baseline DIR]
 *
 * local-kms is built once with `go install` from the Go module proxy into ~/.cache/kubekms/bin/local-kms-<ver>/.
 * A third server, a bare node:http stub with canned answers, shows what Node's HTTP stack alone costs.
 * `--baseline DIR` adds a fourth server, `kubekms (before)`: the same command run from another checkout of the
 * repository (e.g. `git archive <commit> src package.json | tar -x -C DIR` plus a node_modules link), so a change
 * is measured before and after in the same run.
 * Each (operation, concurrency) cell runs the servers alternately for `rounds` rounds and keeps the median.
 * Besides requests/s and p99 latency it reports each server's CPU time per request (from /proc, all threads):
 * on a shared machine that is the steadier measure of what a request costs the server. Ratios are
 * kubekms / local-kms (req/s: higher is better for kubekms; CPU/req: lower is better).
 */

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { cpus, homedir, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  CreateKeyCommand,
  DecryptCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  KMSClient,
  ListKeysCommand,
} from '@aws-sdk/client-kms';
import { freePort } from './lib/process.ts';

const LOCAL_KMS_VERSION = 'v0.0.0-20260228092603-2a5e92d09ab6';
const REGION = 'us-east-1';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '2' },
    only: { type: 'string' },
    concurrency: { type: 'string', default: '1,16,64' },
    'no-local-kms': { type: 'boolean', default: false },
    baseline: { type: 'string' },
  },
});
const seconds = Number(args.seconds);
const rounds = Number(args.rounds);
const levels = args.concurrency.split(',').map(Number);

/**
 * With taskset and ≥ 2 CPUs, each server runs pinned to the last CPU (so a multi-threaded Go server and the
 * single-threaded Node server get the same one core) and this client process to the others.
 */
const ncpu = cpus().length;
const pin = (() => {
  if (ncpu < 2) return undefined;
  try {
    execFileSync('taskset', ['-cp', `0-${ncpu - 2}`, String(process.pid)], { stdio: 'ignore' });
    return String(ncpu - 1);
  } catch {
    return undefined;
  }
})();

function spawnPinned(cmd: string, argv: string[], opts: Parameters<typeof spawn>[2]): ChildProcess {
  return pin ? spawn('taskset', ['-c', pin, cmd, ...argv], opts) : spawn(cmd, argv, opts);
}

function localKmsBinary(): { path?: string; why?: string } {
  const dir = join(homedir(), '.cache', 'kubekms', 'bin', `local-kms-${LOCAL_KMS_VERSION}`);
  const bin = join(dir, 'local-kms');
  if (existsSync(bin)) return { path: bin };
  const go = ['go', '/usr/local/go/bin/go'].find((g) => {
    try {
      execFileSync(g, ['version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  });
  if (!go) return { why: 'Go is not installed, so local-kms cannot be built' };
  mkdirSync(dir, { recursive: true });
  process.stderr.write(`building local-kms ${LOCAL_KMS_VERSION} with ${go} install (once)…\n`);
  try {
    execFileSync(go, ['install', `github.com/nsmithuk/local-kms@${LOCAL_KMS_VERSION}`], {
      env: { ...process.env, GOBIN: dir, GOFLAGS: '-buildvcs=false' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  } catch (e) {
    return { why: `go install github.com/nsmithuk/local-kms failed: ${(e as Error).message}` };
  }
  return existsSync(bin) ? { path: bin } : { why: 'go install produced no binary' };
}

interface Target {
  readonly name: string;
  readonly client: KMSClient;
  readonly keyId: string;
  readonly blob: Uint8Array;
  readonly proc: ChildProcess;
  readonly dir: string;
}

async function waitReady(client: KMSClient, proc: ChildProcess, name: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${name} exited with ${proc.exitCode}`);
    try {
      await client.send(new ListKeysCommand({}));
      return;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`${name} did not become ready: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function makeClient(port: number, accessKeyId: string, secretAccessKey: string): KMSClient {
  return new KMSClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: REGION,
    credentials: { accessKeyId, secretAccessKey },
    maxAttempts: 1,
    requestHandler: { httpAgent: new Agent({ keepAlive: true, maxSockets: 256 }) },
  });
}

async function startTarget(
  name: string,
  start: (port: number, dir: string) => ChildProcess,
  creds: [string, string],
): Promise<Target> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `bench-aws-${name}-`));
  const proc = start(port, dir);
  const client = makeClient(port, ...creds);
  await waitReady(client, proc, name);
  const keyId = (await client.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
  const blob = (
    await client.send(new EncryptCommand({ KeyId: keyId, Plaintext: new Uint8Array(32).fill(7) }))
  ).CiphertextBlob!;
  return { name, client, keyId, blob, proc, dir };
}

type Op = 'Encrypt' | 'Decrypt' | 'GenerateDataKey';
const OPS: Op[] = ['Encrypt', 'Decrypt', 'GenerateDataKey'];

function call(t: Target, op: Op): Promise<unknown> {
  switch (op) {
    case 'Encrypt':
      return t.client.send(new EncryptCommand({ KeyId: t.keyId, Plaintext: new Uint8Array(32).fill(1) }));
    case 'Decrypt':
      return t.client.send(new DecryptCommand({ CiphertextBlob: t.blob }));
    case 'GenerateDataKey':
      return t.client.send(new GenerateDataKeyCommand({ KeyId: t.keyId, KeySpec: 'AES_256' }));
  }
}

interface Result {
  readonly rps: number;
  readonly p99ms: number;
  /** Server CPU time (user + system, all threads) per request, in microseconds. */
  readonly cpuUs: number;
  readonly errors: number;
}

/** CPU time of a process so far, in seconds (Linux /proc; clock ticks of 10 ms). */
function cpuSeconds(pid: number | undefined): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

async function load(t: Target, op: Op, concurrency: number, ms: number): Promise<Result> {
  const latencies: number[] = [];
  let errors = 0;
  let measuring = false;
  const warmupEnd = Date.now() + Math.min(1000, ms / 3);
  const end = warmupEnd + ms;
  let t0 = 0n;
  let cpu0 = 0;
  const worker = async () => {
    for (;;) {
      const now = Date.now();
      if (now >= end) return;
      if (!measuring && now >= warmupEnd) {
        measuring = true;
        t0 = process.hrtime.bigint();
        cpu0 = cpuSeconds(t.proc.pid);
      }
      const s = process.hrtime.bigint();
      try {
        await call(t, op);
        if (measuring) latencies.push(Number(process.hrtime.bigint() - s) / 1e6);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const cpu = cpuSeconds(t.proc.pid) - cpu0;
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  latencies.sort((a, b) => a - b);
  const p99 = latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))] ?? Number.NaN;
  return { rps: latencies.length / elapsed, p99ms: p99, cpuUs: (cpu * 1e6) / latencies.length, errors };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const targets: Target[] = [];
const stopAll = () => {
  for (const t of targets) {
    t.client.destroy();
    t.proc.kill('SIGTERM');
    rmSync(t.dir, { recursive: true, force: true });
  }
};
process.on('exit', stopAll);

const root = new URL('..', import.meta.url).pathname;
const kubekms = (checkout: string) => (port: number, dir: string) =>
  spawnPinned(
    process.execPath,
    [
      join(checkout, 'src/cli/main.ts'),
      'serve',
      '--dev',
      '--data-dir',
      dir,
      '--kms-socket',
      '',
      '--health-listen',
      '',
      '--aws-listen',
      `127.0.0.1:${port}`,
      '--arn-region',
      REGION,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
targets.push(await startTarget('kubekms', kubekms(root), ['test', 'test']));
if (args.baseline)
  targets.push(await startTarget('kubekms (before)', kubekms(args.baseline), ['test', 'test']));
let localKmsNote = '';
if (!args['no-local-kms']) {
  const bin = localKmsBinary();
  if (bin.path) {
    targets.push(
      await startTarget(
        'local-kms',
        (port, dir) =>
          spawnPinned(bin.path!, [], {
            env: {
              ...process.env,
              PORT: String(port),
              KMS_DATA_PATH: dir,
              KMS_REGION: REGION,
              KMS_ACCOUNT_ID: '000000000000',
            },
            stdio: 'ignore',
          }),
        ['test', 'test'],
      ),
    );
  } else localKmsNote = `local-kms not measured: ${bin.why}`;
}

/**
 * The floor: a bare node:http server that answers canned AWS responses without parsing, checking or logging
 * anything. Its CPU per request is what Node's HTTP stack alone costs, on the same client and core.
 */
const FLOOR_SERVER = `
const { createServer } = require('node:http');
const b64 = (n) => Buffer.alloc(n, 7).toString('base64');
const arn = 'arn:aws:kms:${REGION}:000000000000:key/00000000-0000-4000-8000-000000000000';
const canned = {
  'TrentService.CreateKey': { KeyMetadata: { KeyId: '00000000-0000-4000-8000-000000000000', Arn: arn } },
  'TrentService.ListKeys': { Keys: [], Truncated: false },
  'TrentService.Encrypt': { CiphertextBlob: b64(89), KeyId: arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' },
  'TrentService.Decrypt': { Plaintext: b64(32), KeyId: arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' },
  'TrentService.GenerateDataKey': { CiphertextBlob: b64(89), Plaintext: b64(32), KeyId: arn },
};
createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const body = JSON.stringify(canned[req.headers['x-amz-target']] || {});
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': 'r' }).end(body);
  });
}).listen(Number(process.argv[1]), '127.0.0.1');
`;
targets.push(
  await startTarget(
    'node-http floor',
    (port) => spawnPinned(process.execPath, ['-e', FLOOR_SERVER, String(port)], { stdio: 'ignore' }),
    ['test', 'test'],
  ),
);

console.log(
  `AWS API benchmark: node ${process.version}, ${ncpu} CPUs (${cpus()[0]?.model ?? '?'}), ${seconds}s per cell, ${rounds} round(s), median kept; ${pin ? `servers pinned to CPU ${pin}, client to CPUs 0-${ncpu - 2}` : 'not pinned'}; load average ${loadavg()[0]!.toFixed(1)} at start`,
);
if (localKmsNote) console.log(localKmsNote);
const header = [
  'operation',
  'conc',
  ...targets.flatMap((t) => [`${t.name} req/s`, `${t.name} p99 ms`, `${t.name} CPU µs/req`]),
  'req/s ratio',
  'CPU/req ratio',
  ...(args.baseline ? ['after/before req/s', 'after/before CPU'] : []),
];
const rows: string[][] = [];
// Warm every server (JIT, connection pools) on every operation before anything is measured.
for (const t of targets) for (const op of OPS) await load(t, op, 16, 1500);
for (const op of OPS.filter((o) => !args.only || o === args.only)) {
  for (const c of levels) {
    const per = new Map<string, Result[]>(targets.map((t) => [t.name, []]));
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? targets : [...targets].reverse();
      for (const t of order) per.get(t.name)!.push(await load(t, op, c, seconds * 1000));
    }
    const agg = targets.map((t) => {
      const rs = per.get(t.name)!;
      return {
        rps: median(rs.map((x) => x.rps)),
        p99: median(rs.map((x) => x.p99ms)),
        cpu: median(rs.map((x) => x.cpuUs)),
        errors: rs.reduce((a, x) => a + x.errors, 0),
      };
    });
    for (const [i, a] of agg.entries())
      if (a.errors) console.log(`  ${targets[i]!.name} ${op} c=${c}: ${a.errors} errors`);
    const kk = agg[targets.findIndex((t) => t.name === 'kubekms')]!;
    const lk = agg[targets.findIndex((t) => t.name === 'local-kms')];
    const ratio = lk ? (kk.rps / lk.rps).toFixed(2) : '-';
    const cpuRatio = lk ? (kk.cpu / lk.cpu).toFixed(2) : '-';
    const before = agg[targets.findIndex((t) => t.name === 'kubekms (before)')];
    rows.push([
      op,
      String(c),
      ...agg.flatMap((a) => [a.rps.toFixed(0), a.p99.toFixed(2), a.cpu.toFixed(0)]),
      ratio,
      cpuRatio,
      ...(before ? [(kk.rps / before.rps).toFixed(2), (kk.cpu / before.cpu).toFixed(2)] : []),
    ]);
  }
}
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padStart(widths[i]!)).join(' | ')} |`;
console.log(line(header));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const r of rows) console.log(line(r));
stopAll();
process.exit(0);
