/**
 * Replay protection for SigV4: a signature is used once. Every verified signature is remembered, per access key,
 * until its signing time leaves the clock-skew window (then the skew check refuses it anyway). Each access key
 * has its own budget of remembered signatures: when that budget is full, that key's new requests are throttled
 * until some of its signatures expire, and no other key is affected. Nothing is ever forgotten early, so there is
 * no horizon, and no client-supplied date moves anything but that client's own entries' expiry.
 *
 * One allowance: botocore (the AWS CLI, boto3) signs only content-type, host, x-amz-date and x-amz-target, so
 * two identical calls within one second — or a retry — carry the same signature. A caller may therefore allow
 * copies of a signature within `graceMs` of its first use (server clock); later copies are replays. Clients that
 * sign a per-call id (the JS, Java and Go SDKs sign amz-sdk-invocation-id) get no grace at all.
 *
 * Memory: an expired signature is dropped on the next call of any key (at most one pass over the keys per second)
 * and, while anything is remembered, by a sweep every few seconds, so a key that goes quiet — or an API that goes
 * idle — gives its memory back once the window has passed. An entry is the signature and its first-seen time
 * (a small integer), nothing more.
 */
export type ReplayVerdict = 'fresh' | 'repeat' | 'replayed' | 'throttled';

/** The unexpired signatures of one access key, bucketed by signing second so that expiry costs O(expired). */
class KeySignatures {
  /** Signature → when it was first seen, in ms since the cache's epoch. */
  readonly seen = new Map<string, number>();
  readonly #bySecond = new Map<number, string[]>();
  /** Every bucket up to this second has been dropped. */
  #sweptTo: number;

  constructor(deadUpTo: number) {
    this.#sweptTo = deadUpTo;
  }

  add(signature: string, signedAt: number, firstSeen: number): void {
    this.seen.set(signature, firstSeen);
    const second = Math.floor(signedAt / 1000);
    // A wall clock stepped backwards can bring a bucket the sweep already passed: sweep it again later.
    if (second <= this.#sweptTo) this.#sweptTo = second - 1;
    const bucket = this.#bySecond.get(second);
    if (bucket) bucket.push(signature);
    else this.#bySecond.set(second, [signature]);
  }

  /** Drops every signature whose signing second ended at or before `deadUpTo`. */
  sweep(deadUpTo: number): void {
    if (deadUpTo <= this.#sweptTo) return;
    if (deadUpTo - this.#sweptTo <= this.#bySecond.size) {
      for (let s = this.#sweptTo + 1; s <= deadUpTo; s++) this.#drop(s);
    } else {
      for (const s of [...this.#bySecond.keys()]) if (s <= deadUpTo) this.#drop(s);
    }
    this.#sweptTo = deadUpTo;
  }

  #drop(second: number): void {
    const bucket = this.#bySecond.get(second);
    if (!bucket) return;
    for (const sig of bucket) this.seen.delete(sig);
    this.#bySecond.delete(second);
  }
}

export class ReplayCache {
  /** Unexpired signatures remembered per access key; a full budget throttles that key. */
  readonly budgetPerKey: number;
  readonly windowMs: number;
  readonly #keys = new Map<string, KeySignatures>();
  readonly #clock: () => number;
  /** First-seen times are kept relative to this, so that they stay small integers (no boxed number per entry). */
  readonly #epoch: number;
  /** Every key has been swept up to this second. */
  #sweptAllTo = Number.NEGATIVE_INFINITY;
  #sweeper: NodeJS.Timeout | undefined;

  constructor(budgetPerKey: number, windowMs: number, clock: () => number = Date.now) {
    if (!Number.isInteger(budgetPerKey) || budgetPerKey < 1) {
      throw new Error('replay budget per access key must be an integer ≥ 1');
    }
    this.budgetPerKey = budgetPerKey;
    this.windowMs = windowMs;
    this.#clock = clock;
    this.#epoch = clock();
  }

  /** Signatures remembered for one access key, or for all. */
  size(accessKeyId?: string): number {
    if (accessKeyId !== undefined) return this.#keys.get(accessKeyId)?.seen.size ?? 0;
    let n = 0;
    for (const k of this.#keys.values()) n += k.seen.size;
    return n;
  }

  /** Access keys with at least one remembered signature. */
  get keyCount(): number {
    return this.#keys.size;
  }

  /**
   * Records `signature` of `accessKeyId` (signed at `signedAt`, client clock) and says whether it may be used.
   * Call only for valid signatures whose `signedAt` passed the skew check (|now - signedAt| ≤ windowMs), so that
   * only known access keys ever get a budget.
   */
  check(accessKeyId: string, signature: string, signedAt: number, now: number, graceMs = 0): ReplayVerdict {
    this.sweep(now);
    let key = this.#keys.get(accessKeyId);
    if (!key) {
      key = new KeySignatures(this.#deadUpTo(now));
      this.#keys.set(accessKeyId, key);
    }
    key.sweep(this.#deadUpTo(now)); // this key's own buckets, even those a clock stepped back brought back
    const firstSeen = key.seen.get(signature);
    if (firstSeen !== undefined) {
      return graceMs > 0 && now - this.#epoch - firstSeen <= graceMs ? 'repeat' : 'replayed';
    }
    if (key.seen.size >= this.budgetPerKey) return 'throttled';
    key.add(signature, signedAt, now - this.#epoch);
    this.#armSweeper();
    return 'fresh';
  }

  /** Drops what expired by `now` for every key (at most once per second of `now`), and the keys left empty. */
  sweep(now: number = this.#clock()): void {
    const deadUpTo = this.#deadUpTo(now);
    if (deadUpTo <= this.#sweptAllTo) return;
    this.#sweptAllTo = deadUpTo;
    for (const [id, key] of this.#keys) {
      key.sweep(deadUpTo);
      if (key.seen.size === 0) this.#keys.delete(id);
    }
    if (this.#keys.size === 0 && this.#sweeper) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }

  /** Signing seconds that ended at or before now - windowMs can no longer pass the skew check. */
  #deadUpTo(now: number): number {
    return Math.floor((now - this.windowMs) / 1000) - 1;
  }

  /** A timer that exists only while something is remembered (it never keeps the process alive). */
  #armSweeper(): void {
    if (this.#sweeper) return;
    this.#sweeper = setInterval(() => this.sweep(), Math.min(10_000, this.windowMs));
    this.#sweeper.unref();
  }
}
