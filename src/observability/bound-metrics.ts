/**
 * A counter and a histogram for hot paths (the KMS v2 handlers): a label set is bound once (`labels()`), and
 * recording into it is plain arithmetic. prom-client's own children hash the labels on every call and its histogram
 * looks the bucket up by its bound as a string key: ≈ 5 % of a KMS v2 Decrypt's server CPU
 * (bench/kmsv2-profile.ts, docs/benchmarks.md). Both register in a prom-client Registry and read out exactly as a
 * prom-client Counter or Histogram of the same name, help, labels and buckets fed the same calls would (series in
 * the order first recorded; bound-metrics.test.ts compares the texts).
 */
import type { Metric, Registry } from 'prom-client';

type Labels<L extends string> = Readonly<Record<L, string>>;

interface Config<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  readonly registers: readonly Registry[];
}

/** One exposition line: what prom-client's Registry formats (`get()` of its metric types). */
interface Sample {
  readonly labels: Record<string, string | number>;
  readonly value: number;
  readonly metricName?: string;
}

/** The label sets of one metric, each bound once, listed in the order they were first recorded into. */
abstract class BoundMetric<L extends string, Child> {
  name: string;
  readonly help: string;
  readonly aggregator = 'sum';
  readonly #labelNames: readonly L[];
  readonly #children = new Map<string, { labels: Labels<L>; child: Child }>();
  /** Children recorded into since the last reset, in first-recorded order. */
  protected listed: { labels: Labels<L>; child: Child }[] = [];

  constructor(config: Config<L>) {
    this.name = config.name;
    this.help = config.help;
    this.#labelNames = config.labelNames;
    // The registry reads metrics through name, help, type, aggregator, get() and reset(), which this provides.
    for (const r of config.registers) r.registerMetric(this as unknown as Metric);
  }

  protected abstract newChild(list: () => void): Child;
  protected abstract zero(child: Child): void;

  /** The child of one label set (every label name, nothing else): made once, then the same object. */
  labels(labels: Labels<L>): Child {
    const names = this.#labelNames;
    if (Object.keys(labels).length !== names.length || names.some((n) => typeof labels[n] !== 'string'))
      throw new Error(`${this.name}: labels must be exactly ${names.join(', ')}`);
    const key = names.map((n) => labels[n]).join('\0');
    let entry = this.#children.get(key);
    if (entry === undefined) {
      const made = { labels: { ...labels }, child: this.newChild(() => this.listed.push(made)) };
      this.#children.set(key, made);
      entry = made;
    }
    return entry.child;
  }

  reset(): void {
    for (const { child } of this.listed) this.zero(child);
    this.listed = [];
  }
}

export interface CounterChild {
  inc(by?: number): void;
}

class CounterCell implements CounterChild {
  value = 0;
  listed = false;
  readonly #list: () => void;
  constructor(list: () => void) {
    this.#list = list;
  }
  inc(by = 1): void {
    if (!Number.isFinite(by) || by < 0) throw new TypeError(`counter increment must be ≥ 0, got ${by}`);
    if (!this.listed) {
      this.listed = true;
      this.#list();
    }
    this.value += by;
  }
}

export class BoundCounter<L extends string> extends BoundMetric<L, CounterCell> {
  readonly type = 'counter';

  protected newChild(list: () => void): CounterCell {
    return new CounterCell(list);
  }
  protected zero(c: CounterCell): void {
    c.value = 0;
    c.listed = false;
  }

  inc(labels: Labels<L>, by = 1): void {
    this.labels(labels).inc(by);
  }

  async get(): Promise<{ name: string; help: string; type: 'counter'; values: Sample[]; aggregator: 'sum' }> {
    const values = this.listed.map(({ labels, child }) => ({ labels: { ...labels }, value: child.value }));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

export interface HistogramChild {
  observe(value: number): void;
}

class HistogramCell implements HistogramChild {
  /** counts[i]: observations in (bounds[i-1], bounds[i]]; above the last bound they count only in `count`. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  listed = false;
  readonly #bounds: readonly number[];
  readonly #list: () => void;
  constructor(bounds: readonly number[], list: () => void) {
    this.#bounds = bounds;
    this.counts = new Float64Array(bounds.length);
    this.#list = list;
  }
  observe(value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`histogram value must be finite, got ${value}`);
    if (!this.listed) {
      this.listed = true;
      this.#list();
    }
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    if (i < bounds.length) this.counts[i]!++;
    this.sum += value;
    this.count += 1;
  }
}

export class BoundHistogram<L extends string> extends BoundMetric<L, HistogramCell> {
  readonly type = 'histogram';
  readonly #bounds: readonly number[];

  constructor(config: Config<L> & { readonly buckets: readonly number[] }) {
    super(config);
    this.#bounds = [...config.buckets];
  }

  protected newChild(list: () => void): HistogramCell {
    return new HistogramCell(this.#bounds, list);
  }
  protected zero(c: HistogramCell): void {
    c.counts.fill(0);
    c.sum = 0;
    c.count = 0;
    c.listed = false;
  }

  async get(): Promise<{
    name: string;
    help: string;
    type: 'histogram';
    values: Sample[];
    aggregator: 'sum';
  }> {
    const values: Sample[] = [];
    const bucket = `${this.name}_bucket`;
    for (const { labels, child } of this.listed) {
      let cumulative = 0;
      this.#bounds.forEach((le, i) => {
        cumulative += child.counts[i]!;
        values.push({ labels: { le, ...labels }, value: cumulative, metricName: bucket });
      });
      values.push({ labels: { le: '+Inf', ...labels }, value: child.count, metricName: bucket });
      values.push({ labels: { ...labels }, value: child.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...labels }, value: child.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}
