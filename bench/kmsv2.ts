/**
 * KMS v2 plugin throughput and latency through the unix socket, against a no-op grpc-js server (same service
 * definition and codec, fixed answers) on the same kind of socket, measured in the same run:
 *   node bench/kmsv2.ts [seconds-per-point] [rounds] [--baseline DIR]        (defaults 3 and 3)
 * Both servers run at once, each in its own process; this process is the client (one grpc-js channel per server,
 * like kube-apiserver). Every round measures each point on the no-op server and on kubekms back to back (the order
 * alternates between rounds), so that load from elsewhere hits both alike; the table gives per-round ratios and
 * their median. Besides ops/s it reports each server's own CPU time per call (from /proc/PID/stat), which a busy
 * machine disturbs far less than throughput: "cpu ratio" is no-op CPU / kubekms CPU per call.
 * `--baseline DIR` adds a third server, `before`: bench/kmsv2-server.ts of another checkout (with node_modules
 * linked), measured in the same rounds, for same-run before/after ratios:
 *   mkdir /tmp/before && git archive <old-commit> src bench package.json tsconfig.json | tar -x -C /tmp/before
 *   ln -s "$PWD/node_modules" /tmp/before/node_modules
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startTarget, type Target } from './lib/kmsv2-target.ts';
import { fmt, type LoadResult, runLoad } from './lib/load.ts';
import { cpuMs } from './lib/process.ts';

const { values: args, positionals } = parseArgs({
  options: { baseline: { type: 'string' } },
  allowPositionals: true,
});
const seconds = Number(positionals[0] ?? 3);
const rounds = Number(positionals[1] ?? 3);
const CONCURRENCY = [1, 16, 64];
const METHODS = ['Decrypt', 'Encrypt'] as const;
type Method = (typeof METHODS)[number];
type Server = 'noop' | 'kubekms' | 'before';
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

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const servers: Partial<Record<Server, Target>> = {
  noop: await startTarget('noop', dir),
  kubekms: await startTarget('kubekms', dir),
};
if (args.baseline)
  servers.before = await startTarget('kubekms', dir, { name: 'before', checkout: args.baseline });
const names = Object.keys(servers) as Server[];
/** results[method][concurrency index][round][server] */
const results = Object.fromEntries(
  METHODS.map((m) => [m, CONCURRENCY.map(() => [] as Record<Server, Point>[])]),
) as Record<Method, Record<Server, Point>[][]>;
for (let r = 0; r < rounds; r++) {
  // Each round starts at the next server, so that no server is always measured first.
  const order = names.map((_, i) => names[(i + r) % names.length]!);
  for (const method of METHODS) {
    for (const [i, n] of CONCURRENCY.entries()) {
      const got: Partial<Record<Server, Point>> = {};
      for (const s of order) got[s] = await measure(servers[s]!.pid, servers[s]!.calls[method], n);
      results[method][i]!.push(got as Record<Server, Point>);
    }
  }
}
await Promise.all(names.map((s) => servers[s]!.stop()));
rmSync(dir, { recursive: true, force: true });

console.log(`KMS v2 over a unix socket, ${seconds} s per point, ${rounds} rounds, Node ${process.version}`);
const extra = args.baseline ? ' after/before ops/s | after/before cpu |' : '';
console.log(
  '| method | concurrency | no-op ops/s | kubekms ops/s | ratio (median) | ratio per round | kubekms p50 ms | kubekms p99 ms | no-op p99 ms | ' +
    `no-op cpu µs/call | kubekms cpu µs/call | cpu ratio (median) |${extra}`,
);
console.log(
  `|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|${args.baseline ? '---:|---:|' : ''}`,
);
for (const method of METHODS) {
  for (const [i, n] of CONCURRENCY.entries()) {
    const runs = results[method][i]!;
    const ratio = (f: (p: Point) => number, a: Server, b: Server) => runs.map((x) => f(x[a]) / f(x[b]));
    const ops = (p: Point) => p.opsPerSec;
    const cpu = (p: Point) => p.cpuUsPerCall;
    const med = (f: (p: Point) => number, s: Server) => median(runs.map((x) => f(x[s])));
    const opsRatios = ratio(ops, 'kubekms', 'noop');
    const cells = [
      method,
      n,
      fmt(med(ops, 'noop')),
      fmt(med(ops, 'kubekms')),
      fmt(median(opsRatios), 2),
      opsRatios.map((x) => fmt(x, 2)).join(' '),
      fmt(
        med((p) => p.p50Ms, 'kubekms'),
        3,
      ),
      fmt(
        med((p) => p.p99Ms, 'kubekms'),
        3,
      ),
      fmt(
        med((p) => p.p99Ms, 'noop'),
        3,
      ),
      fmt(med(cpu, 'noop'), 1),
      fmt(med(cpu, 'kubekms'), 1),
      fmt(median(ratio(cpu, 'noop', 'kubekms')), 2),
      ...(args.baseline
        ? [fmt(median(ratio(ops, 'kubekms', 'before')), 2), fmt(median(ratio(cpu, 'before', 'kubekms')), 2)]
        : []),
    ];
    console.log(`| ${cells.join(' | ')} |`);
  }
}
