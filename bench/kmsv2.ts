/**
 * KMS v2 plugin throughput and latency through the unix socket, against a no-op grpc-js server (same service
 * definition and codec, fixed answers) on the same kind of socket, measured in the same run:
 *   node bench/kmsv2.ts [seconds-per-point] [rounds]        (defaults 3 and 3)
 * Both servers run at once, each in its own process; this process is the client (one grpc-js channel per server,
 * like kube-apiserver). Every round measures each point on the no-op server and on kubekms back to back (the order
 * alternates between rounds), so that load from elsewhere hits both alike; the table gives per-round ratios and
 * their median. Besides ops/s it reports each server's own CPU time per call (from /proc/PID/stat), which a busy
 * machine disturbs far less than throughput: "cpu ratio" is no-op CPU / kubekms CPU per call.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, makeGenericClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { KMS_V2_SERVICE } from '../src/kmsv2/service.ts';
import { fmt, type LoadResult, runLoad } from './lib/load.ts';
import { cpuMs } from './lib/process.ts';

const seconds = Number(process.argv[2] ?? 3);
const rounds = Number(process.argv[3] ?? 3);
const CONCURRENCY = [1, 16, 64];
const METHODS = ['Decrypt', 'Encrypt'] as const;
type Method = (typeof METHODS)[number];
type Mode = 'kubekms' | 'noop';
const dir = mkdtempSync(join(tmpdir(), 'kubekms-bench-'));

type Point = LoadResult & { readonly cpuUsPerCall: number };

/** runLoad, plus the server's CPU per call (warm-up calls included on both sides of the division). */
async function measure(pid: number, call: () => Promise<unknown>, concurrency: number): Promise<Point> {
  let calls = 0;
  const counted = () => {
    calls++;
    return call();
  };
  const before = cpuMs(pid);
  const r = await runLoad(counted, concurrency, seconds * 1000);
  return { ...r, cpuUsPerCall: ((cpuMs(pid) - before) * 1000) / calls };
}

type Unary = (req: object, cb: (e: ServiceError | null, r: Record<string, unknown>) => void) => void;

async function startServer(mode: Mode): Promise<ChildProcess & { socket: string }> {
  const socket = join(dir, `${mode}.sock`);
  const child = spawn(
    process.execPath,
    [new URL('./kmsv2-server.ts', import.meta.url).pathname, mode, socket, join(dir, mode)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => c.toString().includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`${mode} server exited ${code}`)));
  });
  return Object.assign(child, { socket });
}

/** A client of one server and the two calls to measure (Decrypt of a real ciphertext, Encrypt of 32 bytes). */
async function target(mode: Mode) {
  const child = await startServer(mode);
  const Ctor = makeGenericClientConstructor(KMS_V2_SERVICE, 'KeyManagementService');
  const c = new Ctor(`unix://${child.socket}`, credentials.createInsecure(), {
    'grpc.default_authority': 'localhost',
  }) as unknown as Record<'Status' | 'Encrypt' | 'Decrypt', Unary> & { close(): void };
  const call = (m: 'Status' | 'Encrypt' | 'Decrypt', req: object) =>
    new Promise<Record<string, unknown>>((resolve, reject) =>
      c[m].call(c, req, (e, r) => (e ? reject(e) : resolve(r))),
    );
  const status = (await call('Status', {})) as { key_id: string };
  const enc = (await call('Encrypt', { plaintext: randomBytes(32), uid: randomUUID() })) as {
    ciphertext: Buffer;
  };
  const calls: Record<Method, () => Promise<unknown>> = {
    Decrypt: () =>
      call('Decrypt', {
        ciphertext: enc.ciphertext,
        key_id: status.key_id,
        uid: randomUUID(),
        annotations: {},
      }),
    Encrypt: () => call('Encrypt', { plaintext: randomBytes(32), uid: randomUUID() }),
  };
  const stop = async () => {
    c.close();
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  };
  return { pid: child.pid!, calls, stop };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const servers = { noop: await target('noop'), kubekms: await target('kubekms') };
/** results[method][concurrency index][round] = [noop, kubekms] */
const results = Object.fromEntries(
  METHODS.map((m) => [m, CONCURRENCY.map(() => [] as [Point, Point][])]),
) as Record<Method, [Point, Point][][]>;
for (let r = 0; r < rounds; r++) {
  const order: Mode[] = r % 2 === 0 ? ['noop', 'kubekms'] : ['kubekms', 'noop'];
  for (const method of METHODS) {
    for (const [i, n] of CONCURRENCY.entries()) {
      const got: Partial<Record<Mode, Point>> = {};
      for (const mode of order) got[mode] = await measure(servers[mode].pid, servers[mode].calls[method], n);
      results[method][i]!.push([got.noop!, got.kubekms!]);
    }
  }
}
await Promise.all([servers.noop.stop(), servers.kubekms.stop()]);
rmSync(dir, { recursive: true, force: true });

console.log(`KMS v2 over a unix socket, ${seconds} s per point, ${rounds} rounds, Node ${process.version}`);
console.log(
  '| method | concurrency | no-op ops/s | kubekms ops/s | ratio (median) | ratio per round | kubekms p50 ms | kubekms p99 ms | no-op p99 ms | cpu ratio (median) |',
);
console.log('|---|---:|---:|---:|---:|---|---:|---:|---:|---:|');
for (const method of METHODS) {
  for (const [i, n] of CONCURRENCY.entries()) {
    const runs = results[method][i]!;
    const ratios = runs.map(([a, b]) => b.opsPerSec / a.opsPerSec);
    const cpu = runs.map(([a, b]) => a.cpuUsPerCall / b.cpuUsPerCall);
    const med = (f: (p: Point) => number, side: 0 | 1) => median(runs.map((pair) => f(pair[side])));
    console.log(
      `| ${method} | ${n} | ${fmt(med((p) => p.opsPerSec, 0))} | ${fmt(med((p) => p.opsPerSec, 1))} | ${fmt(median(ratios), 2)} | ${ratios.map((x) => fmt(x, 2)).join(' ')} | ${fmt(
        med((p) => p.p50Ms, 1),
        3,
      )} | ${fmt(
        med((p) => p.p99Ms, 1),
        3,
      )} | ${fmt(
        med((p) => p.p99Ms, 0),
        3,
      )} | ${fmt(median(cpu), 2)} |`,
    );
  }
}
