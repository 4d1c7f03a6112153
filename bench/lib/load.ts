/**
 * Closed-loop load generation for request/response benchmarks: `concurrency` workers each issue one request at
 * a time for `durationMs` (after a warm-up), and every latency is recorded. Reports throughput and p50/p99.
 */
export interface LoadResult {
  readonly concurrency: number;
  readonly ops: number;
  readonly opsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function runLoad(
  call: () => Promise<unknown>,
  concurrency: number,
  durationMs: number,
  warmupMs = Math.min(500, durationMs / 4),
): Promise<LoadResult> {
  const warmEnd = performance.now() + warmupMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < warmEnd) await call();
    }),
  );
  const latencies: number[] = [];
  const start = performance.now();
  const end = start + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        await call();
        latencies.push(performance.now() - t);
      }
    }),
  );
  const elapsed = performance.now() - start;
  const sorted = Float64Array.from(latencies).sort();
  return {
    concurrency,
    ops: latencies.length,
    opsPerSec: (latencies.length * 1000) / elapsed,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
  };
}

export const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
