/**
 * A token bucket for the re-encryption pass: at most `qps` objects per second on average, bursts of up to
 * `burst` (default: one second's worth). `qps` 0 means unlimited. The clock and sleep are injectable for tests.
 */
import { sleep as abortableSleep } from '../kube/backoff.ts';

export interface RateLimiterOptions {
  readonly qps: number;
  readonly burst?: number;
  readonly now?: () => number;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export class RateLimiter {
  readonly #qps: number;
  readonly #burst: number;
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  #tokens: number;
  #last: number;

  constructor(o: RateLimiterOptions) {
    if (!(o.qps >= 0) || !Number.isFinite(o.qps)) throw new RangeError(`qps must be ≥ 0, got ${o.qps}`);
    this.#qps = o.qps;
    this.#burst = Math.max(1, o.burst ?? Math.ceil(o.qps));
    this.#now = o.now ?? Date.now;
    this.#sleep = o.sleep ?? abortableSleep;
    this.#tokens = this.#burst;
    this.#last = this.#now();
  }

  /** Waits until one more object may be sent (reserving its token at once, so concurrent callers queue up). */
  async take(signal?: AbortSignal): Promise<void> {
    if (this.#qps === 0) return;
    const now = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) * this.#qps) / 1000);
    this.#last = now;
    this.#tokens -= 1;
    if (this.#tokens >= 0) return;
    await this.#sleep((-this.#tokens * 1000) / this.#qps, signal);
  }
}
