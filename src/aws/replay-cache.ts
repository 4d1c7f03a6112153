/**
 * Replay protection for SigV4: a signature is accepted once. Every verified signature is remembered until it
 * can no longer pass the clock-skew check (signed more than `windowMs` ago). Memory is bounded: when more than
 * `capacity` live signatures are held, the oldest are forgotten and the cache remembers the newest signing
 * time it forgot (the horizon). A request signed at or before the horizon can no longer be proved fresh, so it
 * is refused too: the cache fails closed, never open.
 */
export type ReplayVerdict = 'fresh' | 'replayed' | 'beyond-horizon';

export class ReplayCache {
  readonly capacity: number;
  readonly windowMs: number;
  /** signature → signing time (ms), in insertion order. */
  readonly #seen = new Map<string, number>();
  #horizon = Number.NEGATIVE_INFINITY;

  constructor(capacity: number, windowMs: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error('replay cache capacity must be ≥ 1');
    this.capacity = capacity;
    this.windowMs = windowMs;
  }

  get size(): number {
    return this.#seen.size;
  }

  /** Records `signature` signed at `signedAt` and says whether it was fresh. Call only for valid signatures. */
  check(signature: string, signedAt: number, now: number): ReplayVerdict {
    const expiry = now - this.windowMs;
    // Drop expired entries from the front (insertion order is nearly signing order).
    for (const [sig, t] of this.#seen) {
      if (t >= expiry) break;
      this.#seen.delete(sig);
    }
    if (this.#seen.has(signature)) return 'replayed';
    if (signedAt <= this.#horizon) return 'beyond-horizon';
    this.#seen.set(signature, signedAt);
    while (this.#seen.size > this.capacity) {
      const first = this.#seen.entries().next().value;
      if (!first) break;
      const [sig, t] = first;
      this.#seen.delete(sig);
      if (t >= expiry && t > this.#horizon) this.#horizon = t;
    }
    return 'fresh';
  }
}
