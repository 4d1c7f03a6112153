/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go does it (15 s lease, 10 s renew deadline,
 * 2 s retry). A candidate takes over only when the holder has not renewed for a lease duration *as observed on
 * its own clock* (immune to clock skew between nodes). A leader that cannot renew within the renew deadline
 * steps down before anyone else may take over.
 *
 * Unlike controller-runtime, losing the lease does not exit the process: kubekms serves the KMS v2 plugin from
 * the same process (invariant 1), so the elector stops the controllers and becomes a candidate again.
 */
import type { Logger } from 'pino';
import { sleep } from './backoff.ts';
import { type KubeClient, type Lease, microTime } from './client.ts';
import type { ControllerMetrics } from './controller-metrics.ts';
import { describeError, isConflict } from './errors.ts';

export interface LeaderElectionOptions {
  readonly client: Pick<KubeClient, 'getLease' | 'createLease' | 'replaceLease'>;
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  /**
   * On stop(), how long the lease stays held while onStoppedLeading winds the controllers down (default: lease
   * duration − renew deadline, the margin a partitioned leader gets before a successor may take over).
   */
  readonly stepDownGraceMs?: number;
  readonly now?: () => number;
  readonly onStartedLeading: () => void;
  readonly onStoppedLeading: () => Promise<void>;
  readonly log?: Logger;
  readonly metrics?: ControllerMetrics;
}

export class LeaderElector {
  readonly identity: string;
  readonly #o: LeaderElectionOptions;
  readonly #leaseMs: number;
  readonly #renewDeadlineMs: number;
  readonly #retryMs: number;
  readonly #stepDownGraceMs: number;
  readonly #now: () => number;
  #leading = false;
  #lastRenew = 0;
  /** What we last saw of the lease, and when on our clock it last changed. */
  #observed: { holder: string; renewTime: string; at: number } | undefined;
  #lease: Lease | undefined;
  #abort = new AbortController();
  #loop: Promise<void> | undefined;
  #tickId = 0;

  constructor(o: LeaderElectionOptions) {
    this.identity = o.identity;
    this.#o = o;
    this.#leaseMs = o.leaseDurationMs ?? 15_000;
    this.#renewDeadlineMs = o.renewDeadlineMs ?? 10_000;
    this.#retryMs = o.retryPeriodMs ?? 2_000;
    this.#stepDownGraceMs = o.stepDownGraceMs ?? Math.max(0, this.#leaseMs - this.#renewDeadlineMs);
    this.#now = o.now ?? Date.now;
    o.metrics?.leaderStatus.set({ name: o.name }, 0);
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  /** The holder we last observed ('' when none). */
  get observedHolder(): string {
    return this.#observed?.holder ?? '';
  }

  start(): void {
    if (this.#loop) return;
    this.#abort = new AbortController();
    const signal = this.#abort.signal;
    this.#loop = (async () => {
      while (!signal.aborted) {
        // A hung request must not keep a leader from noticing its renew deadline.
        await Promise.race([this.tick(), sleep(this.#renewDeadlineMs, signal)]);
        if (signal.aborted) return;
        await sleep(this.#retryMs * (0.9 + 0.2 * Math.random()), signal);
      }
    })();
  }

  /**
   * Stops the loop; a leader steps down and (by default) releases the lease so a successor takes over at once.
   * The step-down (onStoppedLeading) gets at most the step-down grace before the lease is released: a slow
   * controller shutdown must not turn a graceful handover into a lease-duration outage.
   */
  async stop(opts: { release?: boolean } = {}): Promise<void> {
    this.#abort.abort();
    this.#tickId++;
    await this.#loop;
    this.#loop = undefined;
    if (!this.#leading) return;
    const steppedDown = this.#stepDown('stopping');
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#stepDownGraceMs);
    });
    await Promise.race([steppedDown, grace]);
    clearTimeout(timer);
    if (opts.release !== false) await this.#release();
    await steppedDown;
  }

  /**
   * Gives the lease up: no holder, a 1 s duration. A renewal still in flight when stop() began may have moved the
   * lease's resourceVersion past the one we hold, so a conflict reads the lease again and retries while it is ours.
   */
  async #release(): Promise<void> {
    const c = this.#o.client;
    const started = this.#now();
    for (let attempt = 0; attempt < 3 && this.#lease; attempt++) {
      const now = this.#now();
      try {
        await c.replaceLease({
          metadata: this.#lease.metadata,
          spec: {
            leaseDurationSeconds: 1,
            acquireTime: microTime(now),
            renewTime: microTime(now),
            leaseTransitions: this.#lease.spec.leaseTransitions ?? 0,
          },
        });
        this.#o.log?.info(
          { lease: this.#o.name, ms: this.#now() - started },
          'leader election: lease released',
        );
        return;
      } catch (e) {
        const fresh = isConflict(e)
          ? await c.getLease(this.#o.namespace, this.#o.name).catch(() => undefined)
          : undefined;
        if (fresh?.spec.holderIdentity === this.identity) {
          this.#lease = fresh;
          continue;
        }
        if (isConflict(e) && fresh) return; // someone else holds it already
        this.#o.log?.warn({ lease: this.#o.name, err: describeError(e) }, 'leader election: release failed');
        return;
      }
    }
  }

  /** One attempt to acquire or renew. Exposed for tests, which drive it with a fake clock. */
  async tick(): Promise<void> {
    const id = ++this.#tickId;
    const stale = () => id !== this.#tickId;
    const now = this.#now();
    const c = this.#o.client;
    try {
      const lease = await c.getLease(this.#o.namespace, this.#o.name);
      if (stale()) return;
      if (!lease) {
        const created = await c.createLease({
          metadata: { name: this.#o.name, namespace: this.#o.namespace },
          spec: this.#spec(now, now, 0),
        });
        if (stale()) return;
        this.#renewed(created, now);
        return;
      }
      this.#lease = lease;
      const holder = lease.spec.holderIdentity ?? '';
      const renewTime = lease.spec.renewTime ?? '';
      const o = this.#observed;
      if (!o || o.holder !== holder || o.renewTime !== renewTime) {
        this.#observed = { holder, renewTime, at: now };
      }
      const mine = holder === this.identity;
      const durationMs = (lease.spec.leaseDurationSeconds ?? this.#leaseMs / 1000) * 1000;
      const expired = holder === '' || now >= (this.#observed?.at ?? now) + durationMs;
      if (!mine && !expired) {
        if (this.#leading) await this.#stepDown(`lease taken by ${holder}`);
        return;
      }
      const transitions = lease.spec.leaseTransitions ?? 0;
      const acquire = mine && lease.spec.acquireTime ? Date.parse(lease.spec.acquireTime) : now;
      const next: Lease = {
        metadata: lease.metadata,
        spec: this.#spec(acquire, now, mine ? transitions : transitions + 1),
      };
      const written = await c.replaceLease(next);
      if (stale()) return;
      this.#renewed(written, now);
    } catch (e) {
      if (stale()) return;
      if (!isConflict(e)) {
        this.#o.log?.warn(
          { lease: this.#o.name, err: describeError(e) },
          'leader election: lease request failed',
        );
      }
    } finally {
      if (!stale() && this.#leading && this.#now() - this.#lastRenew > this.#renewDeadlineMs) {
        await this.#stepDown(`no renewal for ${this.#renewDeadlineMs} ms`);
      }
    }
  }

  #spec(acquireMs: number, renewMs: number, transitions: number): Lease['spec'] {
    return {
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.round(this.#leaseMs / 1000),
      acquireTime: microTime(acquireMs),
      renewTime: microTime(renewMs),
      leaseTransitions: transitions,
    };
  }

  #renewed(lease: Lease, now: number): void {
    this.#lease = lease;
    this.#lastRenew = now;
    this.#observed = { holder: this.identity, renewTime: lease.spec.renewTime ?? '', at: now };
    if (!this.#leading) {
      this.#leading = true;
      this.#o.metrics?.leaderStatus.set({ name: this.#o.name }, 1);
      this.#o.log?.info({ lease: this.#o.name, identity: this.identity }, 'leader election: became leader');
      this.#o.onStartedLeading();
    }
  }

  async #stepDown(why: string): Promise<void> {
    if (!this.#leading) return;
    this.#leading = false;
    this.#o.metrics?.leaderStatus.set({ name: this.#o.name }, 0);
    this.#o.log?.warn(
      { lease: this.#o.name, identity: this.identity, why },
      'leader election: stopped leading',
    );
    await this.#o.onStoppedLeading();
  }
}
