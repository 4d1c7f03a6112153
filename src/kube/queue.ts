/**
 * A work queue with client-go's semantics: a key is queued at most once however many times it is added
 * (dirty set), and never handed to two workers at once (processing set: a key added while processing is
 * queued again when done). Delayed adds keep the earliest time; rate-limited adds back off per key
 * exponentially until forget().
 */
import type { ControllerMetrics, QueueStats } from './controller-metrics.ts';

export interface RateLimiterOptions {
  /** First retry delay. Default 200 ms. */
  readonly baseMs?: number;
  /** Largest retry delay. Default 5 minutes. */
  readonly maxMs?: number;
}

/** Per-key exponential backoff: base·2^failures, capped. */
export class ExponentialRateLimiter {
  readonly #base: number;
  readonly #max: number;
  readonly #failures = new Map<string, number>();

  constructor(o: RateLimiterOptions = {}) {
    this.#base = o.baseMs ?? 200;
    this.#max = o.maxMs ?? 300_000;
  }

  when(key: string): number {
    const n = this.#failures.get(key) ?? 0;
    this.#failures.set(key, n + 1);
    return Math.min(this.#max, this.#base * 2 ** Math.min(n, 40));
  }

  retries(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  forget(key: string): void {
    this.#failures.delete(key);
  }
}

export interface WorkQueueOptions extends RateLimiterOptions {
  readonly name: string;
  readonly metrics?: ControllerMetrics;
  readonly now?: () => number;
}

export class WorkQueue implements QueueStats {
  readonly name: string;
  readonly #limiter: ExponentialRateLimiter;
  readonly #metrics: ControllerMetrics | undefined;
  readonly #now: () => number;
  readonly #queue: string[] = [];
  readonly #dirty = new Set<string>();
  readonly #processing = new Map<string, number>();
  readonly #addedAt = new Map<string, number>();
  readonly #waiting = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  #getters: ((key: string | undefined) => void)[] = [];
  #shutDown = false;

  constructor(o: WorkQueueOptions) {
    this.name = o.name;
    this.#limiter = new ExponentialRateLimiter(o);
    this.#metrics = o.metrics;
    this.#now = o.now ?? Date.now;
    this.#metrics?.queues.add(this);
  }

  get length(): number {
    return this.#queue.length;
  }

  get shuttingDown(): boolean {
    return this.#shutDown;
  }

  add(key: string): void {
    if (this.#shutDown || this.#dirty.has(key)) return;
    this.#dirty.add(key);
    this.#metrics?.adds.inc(this.#labels());
    if (this.#processing.has(key)) return;
    this.#push(key);
  }

  /** Adds after `ms`; a key already waiting keeps the earlier of the two times. */
  addAfter(key: string, ms: number): void {
    if (this.#shutDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.#now() + ms;
    const w = this.#waiting.get(key);
    if (w && w.at <= at) return;
    if (w) clearTimeout(w.timer);
    const timer = setTimeout(() => {
      this.#waiting.delete(key);
      this.add(key);
    }, ms);
    timer.unref();
    this.#waiting.set(key, { at, timer });
  }

  addRateLimited(key: string): void {
    this.#metrics?.retries.inc(this.#labels());
    this.addAfter(key, this.#limiter.when(key));
  }

  forget(key: string): void {
    this.#limiter.forget(key);
  }

  retries(key: string): number {
    return this.#limiter.retries(key);
  }

  /** The next key, waiting if none is queued; undefined once the queue is shut down. */
  get(): Promise<string | undefined> {
    if (this.#shutDown) return Promise.resolve(undefined);
    const key = this.#queue.shift();
    if (key !== undefined) return Promise.resolve(this.#take(key));
    return new Promise((resolve) => this.#getters.push(resolve));
  }

  done(key: string): void {
    const started = this.#processing.get(key);
    this.#processing.delete(key);
    if (started !== undefined)
      this.#metrics?.workDuration.observe(this.#labels(), (this.#now() - started) / 1000);
    if (this.#dirty.has(key) && !this.#shutDown) this.#push(key);
  }

  /** Stops handing out keys: pending get() calls resolve with undefined; timers are cancelled. */
  shutDown(): void {
    this.#shutDown = true;
    for (const w of this.#waiting.values()) clearTimeout(w.timer);
    this.#waiting.clear();
    for (const g of this.#getters.splice(0)) g(undefined);
    this.#queue.length = 0;
    this.#dirty.clear();
    this.#metrics?.depth.set(this.#labels(), 0);
    this.#metrics?.queues.delete(this);
  }

  unfinishedWorkSeconds(): number {
    const now = this.#now();
    let total = 0;
    for (const t of this.#processing.values()) total += now - t;
    return total / 1000;
  }

  longestRunningProcessorSeconds(): number {
    const now = this.#now();
    let oldest = now;
    for (const t of this.#processing.values()) oldest = Math.min(oldest, t);
    return (now - oldest) / 1000;
  }

  #labels() {
    return { name: this.name, controller: this.name };
  }

  #push(key: string): void {
    this.#addedAt.set(key, this.#now());
    const getter = this.#getters.shift();
    if (getter) {
      getter(this.#take(key));
      return;
    }
    this.#queue.push(key);
    this.#metrics?.depth.set(this.#labels(), this.#queue.length);
  }

  #take(key: string): string {
    const now = this.#now();
    const added = this.#addedAt.get(key);
    this.#addedAt.delete(key);
    if (added !== undefined) this.#metrics?.queueDuration.observe(this.#labels(), (now - added) / 1000);
    this.#metrics?.depth.set(this.#labels(), this.#queue.length);
    this.#processing.set(key, now);
    this.#dirty.delete(key);
    return key;
  }
}
