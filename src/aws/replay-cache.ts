/**
 * Replay protection for SigV4: a signature is used once. Every verified signature is remembered until it can
 * no longer pass the clock-skew check. Memory is bounded: when more than `capacity` signatures are held, the
 * oldest are forgotten and the cache remembers the newest signing time it forgot (the horizon); a request signed
 * at or before the horizon can no longer be proved fresh, so it is refused too. The cache fails closed.
 *
 * One allowance: botocore (the AWS CLI, boto3) signs only content-type, host, x-amz-date and x-amz-target, so
 * two identical calls within one second — or a retry — carry the same signature. A caller may therefore allow
 * copies of a signature within `graceMs` of its first use (server clock); later copies are replays. Clients that
 * sign a per-call id (the JS, Java and Go SDKs sign amz-sdk-invocation-id) get no grace at all.
 */
export type ReplayVerdict = 'fresh' | 'repeat' | 'replayed' | 'beyond-horizon';

interface Seen {
  readonly signedAt: number;
  readonly firstSeen: number;
}

export class ReplayCache {
  readonly capacity: number;
  readonly windowMs: number;
  /** signature → when it was signed and first used (ms), in insertion order. */
  readonly #seen = new Map<string, Seen>();
  #horizon = Number.NEGATIVE_INFINITY;

  constructor(capacity: number, windowMs: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error('replay cache capacity must be ≥ 1');
    this.capacity = capacity;
    this.windowMs = windowMs;
  }

  get size(): number {
    return this.#seen.size;
  }

  /**
   * Records `signature` (signed at `signedAt`, client clock) and says whether it may be used. Call only for
   * valid signatures whose `signedAt` passed the skew check (|now - signedAt| ≤ windowMs).
   */
  check(signature: string, signedAt: number, now: number, graceMs = 0): ReplayVerdict {
    const expiry = now - this.windowMs;
    // Drop entries that can no longer pass the skew check, from the front (insertion order ≈ signing order).
    for (const [sig, s] of this.#seen) {
      if (s.signedAt >= expiry) break;
      this.#seen.delete(sig);
    }
    const prev = this.#seen.get(signature);
    if (prev) return graceMs > 0 && now - prev.firstSeen <= graceMs ? 'repeat' : 'replayed';
    if (signedAt <= this.#horizon) return 'beyond-horizon';
    this.#seen.set(signature, { signedAt, firstSeen: now });
    while (this.#seen.size > this.capacity) {
      const first = this.#seen.entries().next().value;
      if (!first) break;
      const [sig, s] = first;
      this.#seen.delete(sig);
      if (s.signedAt >= expiry && s.signedAt > this.#horizon) this.#horizon = s.signedAt;
    }
    return 'fresh';
  }
}
