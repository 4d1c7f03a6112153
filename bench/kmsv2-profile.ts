/**
 * Where the KMS v2 plugin spends its CPU per call beyond what grpc-js itself costs: profiles the no-op server and
 * the real plugin (bench/kmsv2-server.ts, both under `node --cpu-prof`) while this process drives one method at one
 * concurrency, alternating between them every second, and prints their main-thread self time in µs per call, by
 * package and by function, sorted by what kubekms spends more than the no-op server. Only samples taken while a
 * server's load ran count (not start-up, warm-up or shutdown): the profile's clock is the same monotonic clock as
 * process.hrtime here.
 *   node bench/kmsv2-profile.ts [seconds] [concurrency] [Decrypt|Encrypt]        (defaults 10 1 Decrypt)
 * KEEP_PROFILE=DIR keeps the two .cpuprofile files (for Chrome DevTools, or line-level ticks).
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Method, type Mode, startTarget } from './lib/kmsv2-target.ts';
import { fmt, runLoad } from './lib/load.ts';
import { cpuMs } from './lib/process.ts';

const seconds = Number(process.argv[2] ?? 10);
const concurrency = Number(process.argv[3] ?? 1);
const method = (process.argv[4] ?? 'Decrypt') as Method;

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}
interface Run {
  readonly opsPerSec: number;
  readonly cpuUsPerCall: number;
  /** Main-thread self µs per call, by function and by package. */
  readonly byFunction: Map<string, number>;
  readonly byArea: Map<string, number>;
}

const where = (n: ProfileNode): string => {
  const { functionName, url, lineNumber } = n.callFrame;
  const short = url.replace(/^file:\/\/.*?\/(node_modules|src|bench)\//, '$1/');
  return `${functionName || '(anonymous)'} ${short}${url ? `:${lineNumber + 1}` : ''}`;
};
const area = (n: ProfileNode): string => {
  const url = n.callFrame.url;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg) return pkg;
  if (url.includes('/src/')) return `src/${url.split('/src/')[1]!.split('/')[0]}`;
  if (url.startsWith('node:')) return 'node: (JS)';
  return n.callFrame.functionName.startsWith('(') ? n.callFrame.functionName : 'native';
};

/** Self time per call of the samples inside `windows` ([from, to] µs, monotonic), keyed by `key`. */
function selfTime(
  p: Profile,
  windows: readonly (readonly [number, number])[],
  calls: number,
  key: (n: ProfileNode) => string,
) {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const out = new Map<string, number>();
  let t = p.startTime;
  p.samples.forEach((id, i) => {
    t += p.timeDeltas[i]!;
    const n = byId.get(id)!;
    if (n.callFrame.functionName === '(idle)' || !windows.some(([from, to]) => t >= from && t <= to)) return;
    const k = key(n);
    out.set(k, (out.get(k) ?? 0) + (p.timeDeltas[i + 1] ?? 0) / calls);
  });
  return out;
}

const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

/**
 * Both servers run at once under the profiler; the load alternates between them in one-second slices (the order
 * swapping every slice), so that whatever else the machine runs hits both alike.
 */
async function profileBoth(dir: string): Promise<Record<Mode, Run>> {
  const modes = ['noop', 'kubekms'] as const;
  const args = (mode: Mode) => [
    '--cpu-prof',
    '--cpu-prof-dir',
    join(dir, `prof-${mode}`),
    '--cpu-prof-interval',
    '50',
  ];
  const targets = {
    noop: await startTarget('noop', dir, { nodeArgs: args('noop') }),
    kubekms: await startTarget('kubekms', dir, { nodeArgs: args('kubekms') }),
  };
  for (const mode of modes) await runLoad(targets[mode].calls[method], concurrency, 2000); // warm-up (JIT)
  const state = Object.fromEntries(
    modes.map((m) => [m, { calls: 0, cpuMs: 0, ops: 0, ms: 0, windows: [] as [number, number][] }]),
  ) as Record<Mode, { calls: number; cpuMs: number; ops: number; ms: number; windows: [number, number][] }>;
  for (let i = 0; i < seconds; i++) {
    for (const mode of i % 2 === 0 ? modes : ([...modes].reverse() as Mode[])) {
      const s = state[mode];
      const call = targets[mode].calls[method];
      const counted = () => {
        s.calls++;
        return call();
      };
      const cpu = cpuMs(targets[mode].pid);
      const from = monotonicUs();
      const r = await runLoad(counted, concurrency, 1000, 0);
      const to = monotonicUs();
      s.cpuMs += cpuMs(targets[mode].pid) - cpu;
      s.ops += r.ops;
      s.ms += (to - from) / 1000;
      s.windows.push([from, to]);
    }
  }
  await Promise.all(modes.map((m) => targets[m].stop()));
  const out = {} as Record<Mode, Run>;
  for (const mode of modes) {
    const profDir = join(dir, `prof-${mode}`);
    const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error(`${mode}: no .cpuprofile written`);
    if (process.env.KEEP_PROFILE)
      copyFileSync(join(profDir, file), join(process.env.KEEP_PROFILE, `${mode}.cpuprofile`));
    const p = JSON.parse(readFileSync(join(profDir, file), 'utf8')) as Profile;
    const s = state[mode];
    out[mode] = {
      opsPerSec: (s.ops * 1000) / s.ms,
      cpuUsPerCall: (s.cpuMs * 1000) / s.calls,
      byFunction: selfTime(p, s.windows, s.calls, where),
      byArea: selfTime(p, s.windows, s.calls, area),
    };
  }
  return out;
}

function table(title: string, noop: Map<string, number>, kubekms: Map<string, number>, rows: number): void {
  const keys = [...new Set([...noop.keys(), ...kubekms.keys()])];
  const extra = (k: string) => (kubekms.get(k) ?? 0) - (noop.get(k) ?? 0);
  keys.sort((a, b) => extra(b) - extra(a));
  console.log(`\n| ${title} | no-op µs/call | kubekms µs/call | kubekms − no-op |\n|---|---:|---:|---:|`);
  for (const k of keys.slice(0, rows))
    console.log(
      `| ${k} | ${fmt(noop.get(k) ?? 0, 2)} | ${fmt(kubekms.get(k) ?? 0, 2)} | ${fmt(extra(k), 2)} |`,
    );
}

const dir = mkdtempSync(join(tmpdir(), 'kubekms-prof-'));
const { noop, kubekms } = await profileBoth(dir);
rmSync(dir, { recursive: true, force: true });

const total = (r: Run) => [...r.byArea.values()].reduce((a, b) => a + b, 0);
console.log(`${method} at concurrency ${concurrency}, ${seconds} s each, Node ${process.version}`);
for (const [name, r] of [
  ['no-op', noop],
  ['kubekms', kubekms],
] as const)
  console.log(
    `${name}: ${fmt(r.opsPerSec)} ops/s; server CPU ${fmt(r.cpuUsPerCall, 1)} µs/call (all threads, user + ` +
      `system), profiled main thread ${fmt(total(r), 1)} µs/call`,
  );
table('package', noop.byArea, kubekms.byArea, 15);
table('function', noop.byFunction, kubekms.byFunction, 40);
