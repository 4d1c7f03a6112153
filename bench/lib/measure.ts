/**
 * A tiny, honest micro-benchmark helper: warm up, then time a loop until it has run at least `minOps` operations
 * and at least `minMs` milliseconds, and report operations per second. Everything runs in this process, on this
 * thread, one call after another (no parallelism). `compare` interleaves two functions in ~1 ms batches and keeps
 * the median of several rounds, so load from other processes hits both sides alike.
 *
 * The clock is either `wall` (hrtime) or `cpu`: the CPU time this process used (user + system, all its threads,
 * so garbage collection on helper threads counts). On a shared machine CPU time is the fairer measure of what an
 * operation costs: time the process spent waiting for a core is not charged to whichever side was running.
 */

export interface Measurement {
  readonly ops: number;
  readonly ms: number;
  readonly opsPerSec: number;
}

export interface MeasureOptions {
  /** Warm-up time before timing (JIT, caches). Default 200 ms. */
  readonly warmupMs?: number;
  /** Timed loop runs at least this long. Default 1000 ms. */
  readonly minMs?: number;
  /** ... and at least this many operations. Default 100. */
  readonly minOps?: number;
  /** Default 'cpu'. */
  readonly clock?: Clock;
}

export type Clock = 'wall' | 'cpu';

/** Nanoseconds on the chosen clock. */
function now(clock: Clock): bigint {
  if (clock === 'wall') return process.hrtime.bigint();
  const u = process.cpuUsage();
  return BigInt(u.user + u.system) * 1000n;
}

/** Results are kept here so that the JIT cannot drop the work as dead code. */
let sink: unknown;
export const lastResult = (): unknown => sink;

function loop(fn: () => unknown, minMs: number, minOps: number, clock: Clock): Measurement {
  const start = now(clock);
  const minNs = BigInt(Math.round(minMs * 1e6));
  let ops = 0;
  let elapsed = 0n;
  // Check the clock every `batch` calls; the batch grows so that slow and fast operations both check cheaply.
  let batch = 1;
  for (;;) {
    for (let i = 0; i < batch; i++) sink = fn();
    ops += batch;
    elapsed = now(clock) - start;
    if (elapsed >= minNs && ops >= minOps) break;
    if (batch < 64) batch *= 2;
  }
  const ms = Number(elapsed) / 1e6;
  return { ops, ms, opsPerSec: (ops * 1000) / ms };
}

export function measure(fn: () => unknown, o: MeasureOptions = {}): Measurement {
  const clock = o.clock ?? 'cpu';
  loop(fn, o.warmupMs ?? 200, 1, clock);
  return loop(fn, o.minMs ?? 1000, o.minOps ?? 100, clock);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export interface Comparison {
  readonly name: string;
  readonly engine: number;
  readonly raw: number;
  readonly ratio: number;
  /** Smallest and largest per-round ratio: how much the machine moved the result. */
  readonly spread: readonly [number, number];
}

/** How many calls of `fn` take about `targetMs` on `clock` (at least 1). */
function batchFor(fn: () => unknown, targetMs: number, clock: Clock): number {
  const m = loop(fn, targetMs * 4, 1, clock);
  return Math.max(1, Math.round((m.opsPerSec * targetMs) / 1000));
}

/**
 * Measures `engine` against `raw` in paired, interleaved batches of about 1 ms each (raw batch, engine batch, raw
 * batch, ...) until each side has run `minMs` in the round, for `rounds` rounds. Interleaving at this grain means
 * both sides see the same machine: a burst of load from another process slows both, not just whichever ran then.
 * ops/s are medians over the rounds; ratio = median of the per-round engine / raw ratios.
 */
export function compare(
  name: string,
  engine: () => unknown,
  raw: () => unknown,
  rounds: number,
  o: MeasureOptions = {},
): Comparison {
  const clock = o.clock ?? 'cpu';
  const minNs = BigInt(Math.round((o.minMs ?? 1000) * 1e6));
  loop(raw, o.warmupMs ?? 200, 1, clock);
  loop(engine, o.warmupMs ?? 200, 1, clock);
  const rawBatch = batchFor(raw, 1, clock);
  const engineBatch = batchFor(engine, 1, clock);
  const e: number[] = [];
  const r: number[] = [];
  const ratios: number[] = [];
  for (let round = 0; round < rounds; round++) {
    let rawNs = 0n;
    let engineNs = 0n;
    let rawOps = 0;
    let engineOps = 0;
    while (rawNs < minNs || engineNs < minNs) {
      let t = now(clock);
      for (let i = 0; i < rawBatch; i++) sink = raw();
      rawNs += now(clock) - t;
      rawOps += rawBatch;
      t = now(clock);
      for (let i = 0; i < engineBatch; i++) sink = engine();
      engineNs += now(clock) - t;
      engineOps += engineBatch;
    }
    const rawRate = (rawOps * 1e9) / Number(rawNs);
    const engineRate = (engineOps * 1e9) / Number(engineNs);
    r.push(rawRate);
    e.push(engineRate);
    ratios.push(engineRate / rawRate);
  }
  return {
    name,
    engine: median(e),
    raw: median(r),
    ratio: median(ratios),
    spread: [Math.min(...ratios), Math.max(...ratios)],
  };
}

const fmt = (n: number): string => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1));

/** A Markdown table, so the output can be pasted into docs/benchmarks.md as is. */
export function table(rows: readonly Comparison[]): string {
  const head = ['operation', 'engine ops/s', 'raw node:crypto ops/s', 'engine / raw', 'min–max over rounds'];
  const body = rows.map((c) => [
    c.name,
    fmt(c.engine),
    fmt(c.raw),
    c.ratio.toFixed(2),
    `${c.spread[0].toFixed(2)}–${c.spread[1].toFixed(2)}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 2)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(head), rule, ...body.map(line)].join('\n');
}
