import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BoundCounter, BoundHistogram } from './bound-metrics.ts';

const BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 1];
const METHODS = ['Status', 'Encrypt', 'Decrypt'] as const;
const CODES = ['OK', 'INVALID_ARGUMENT', 'NOT_FOUND'] as const;

/** The same metric definitions twice: prom-client's own types in one registry, the bound ones in another. */
function pair() {
  const ours = new Registry();
  const theirs = new Registry();
  const counter = { name: 'x_requests_total', help: 'Requests.', labelNames: ['method', 'code'] as const };
  const histogram = {
    name: 'x_duration_seconds',
    help: 'Latency.',
    labelNames: ['method'] as const,
    buckets: BUCKETS,
  };
  return {
    ours,
    theirs,
    counters: [
      new BoundCounter({ ...counter, registers: [ours] }),
      new Counter({ ...counter, registers: [theirs] }),
    ],
    histograms: [
      new BoundHistogram({ ...histogram, registers: [ours] }),
      new Histogram({ ...histogram, registers: [theirs] }),
    ],
  } as const;
}

/** A deterministic mix of values: on a bound, between bounds, above the last, zero, negative, tiny. */
function values(n: number): number[] {
  const out: number[] = [];
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const pick = x % 7;
    out.push(
      pick === 0
        ? BUCKETS[x % BUCKETS.length]!
        : pick === 1
          ? 0
          : pick === 2
            ? 2 + (x % 100) / 7
            : pick === 3
              ? -1e-6
              : 10 ** (-5 + (x % 5000) / 1000),
    );
  }
  return out;
}

describe('bound metrics read out exactly as prom-client metrics fed the same calls', () => {
  it('counters and histograms, through bound children and label objects, in first-recorded order', async () => {
    const { ours, theirs, counters, histograms } = pair();
    const [oc, tc] = counters;
    const [oh, th] = histograms;
    const boundOk = {
      ours: oc.labels({ method: 'Decrypt', code: 'OK' }),
      theirs: tc.labels({ method: 'Decrypt', code: 'OK' }),
    };
    const boundDuration = {
      ours: oh.labels({ method: 'Decrypt' }),
      theirs: th.labels({ method: 'Decrypt' }),
    };
    // Nothing recorded: no series at all, as with prom-client's labelled metrics.
    expect(await ours.metrics()).toBe(await theirs.metrics());
    values(5000).forEach((v, i) => {
      const method = METHODS[i % 3]!;
      const code = CODES[(i >> 2) % 3]!;
      if (method === 'Decrypt' && code === 'OK') {
        boundOk.ours.inc();
        boundOk.theirs.inc();
        boundDuration.ours.observe(v);
        boundDuration.theirs.observe(v);
      } else {
        oc.inc({ method, code }, i % 5 === 0 ? 2 : 1);
        tc.inc({ method, code }, i % 5 === 0 ? 2 : 1);
        oh.labels({ method }).observe(v);
        th.observe({ method }, v);
      }
    });
    const text = await ours.metrics();
    expect(text).toBe(await theirs.metrics());
    expect(text).toMatch(/^x_duration_seconds_bucket\{le="\+Inf",method="Decrypt"\} \d+$/m);
    expect(text).toMatch(/^x_requests_total\{method="Decrypt",code="OK"\} \d+$/m);
    const json = (r: Registry) =>
      r
        .getMetricsAsJSON()
        .then((ms) =>
          ms.map((m) => [m.name, m.type, m.values.map((v) => ({ labels: v.labels, value: v.value }))]),
        );
    expect(await json(ours)).toEqual(await json(theirs));
  });

  it('reset empties both alike, and bound children keep counting afterwards', async () => {
    const { ours, theirs, counters, histograms } = pair();
    const children = [
      counters[0].labels({ method: 'Status', code: 'OK' }),
      counters[1].labels({ method: 'Status', code: 'OK' }),
    ];
    const observers = [
      histograms[0].labels({ method: 'Status' }),
      histograms[1].labels({ method: 'Status' }),
    ];
    for (const c of children) c.inc();
    for (const h of observers) h.observe(0.0003);
    ours.resetMetrics();
    theirs.resetMetrics();
    expect(await ours.metrics()).toBe(await theirs.metrics());
    for (const c of children) c.inc(3);
    for (const h of observers) h.observe(0.2);
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('refuses what prom-client refuses: a non-finite observation, a negative or infinite increment', () => {
    const { counters, histograms } = pair();
    for (const h of [
      histograms[0].labels({ method: 'Encrypt' }),
      histograms[1].labels({ method: 'Encrypt' }),
    ]) {
      expect(() => h.observe(Number.NaN)).toThrow();
      expect(() => h.observe(Number.POSITIVE_INFINITY)).toThrow();
    }
    for (const c of [
      counters[0].labels({ method: 'Encrypt', code: 'OK' }),
      counters[1].labels({ method: 'Encrypt', code: 'OK' }),
    ]) {
      expect(() => c.inc(-1)).toThrow();
      expect(() => c.inc(Number.POSITIVE_INFINITY)).toThrow();
    }
    // prom-client adds a NaN increment (the counter reads NaN from then on); a bound counter refuses it.
    expect(() => counters[0].labels({ method: 'Encrypt', code: 'OK' }).inc(Number.NaN)).toThrow();
  });

  it('binds a label set once and refuses labels that are not exactly the metric’s', () => {
    const { counters } = pair();
    const c = counters[0];
    expect(c.labels({ method: 'Decrypt', code: 'OK' })).toBe(c.labels({ code: 'OK', method: 'Decrypt' }));
    expect(() => c.labels({ method: 'Decrypt' } as { method: string; code: string })).toThrow(
      /exactly method, code/,
    );
    expect(() =>
      c.labels({ method: 'Decrypt', code: 'OK', extra: 'x' } as { method: string; code: string }),
    ).toThrow(/exactly/);
  });
});
