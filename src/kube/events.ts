/**
 * Records events.k8s.io/v1 Events for humans, and one structured JSON audit line per call for the durable
 * trail (the apiserver deletes Events after --event-ttl, 1 h by default).
 *
 * - Repeats of the same (object, type, reason, action, note) within 30 minutes update one Event's `series`
 *   instead of creating new ones, as client-go does.
 * - Each object may have a burst of 25 Events, then one per 5 minutes (client-go's spam filter); the audit line
 *   is written either way.
 * - Writing an Event never fails the caller: errors are logged.
 * Notes are composed by the reconcilers from ids, states and spec values only: never key material.
 */
import type { Logger } from 'pino';
import { type EventBody, type KubeClient, microTime, type ObjectReference } from './client.ts';
import { describeError } from './errors.ts';

export type EventType = 'Normal' | 'Warning';

export interface EventInput {
  readonly regarding: ObjectReference;
  readonly type: EventType;
  /** CamelCase, past tense: KeyCreated, KeyRotated, DeletionScheduled… */
  readonly reason: string;
  /** What the controller did: Create, Rotate, Enable… */
  readonly action: string;
  readonly note: string;
  readonly related?: ObjectReference;
  /** Extra fields for the audit line (e.g. keyId). */
  readonly audit?: Readonly<Record<string, string | number | boolean>>;
}

export interface EventRecorderOptions {
  readonly client: Pick<KubeClient, 'createEvent' | 'patchEventSeries'>;
  readonly reportingController: string;
  readonly reportingInstance: string;
  readonly log?: Logger;
  readonly now?: () => number;
  readonly seriesWindowMs?: number;
  readonly burst?: number;
  readonly refillMs?: number;
}

interface Series {
  readonly name: string;
  readonly namespace: string;
  count: number;
  last: number;
}

export class EventRecorder {
  readonly #o: EventRecorderOptions;
  readonly #now: () => number;
  readonly #series = new Map<string, Series>();
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #pending = new Set<Promise<void>>();
  #seq = 0;

  constructor(o: EventRecorderOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
  }

  record(e: EventInput): void {
    const now = this.#now();
    const r = e.regarding;
    const allowed = this.#take(r.uid ?? `${r.namespace}/${r.name}`, now);
    this.#o.log?.info(
      {
        audit: 'operator',
        kind: r.kind,
        namespace: r.namespace,
        name: r.name,
        uid: r.uid,
        type: e.type,
        reason: e.reason,
        action: e.action,
        note: e.note,
        actor: this.#o.reportingInstance,
        ...(allowed ? {} : { eventSuppressed: true }),
        ...e.audit,
      },
      `${r.kind} ${r.namespace}/${r.name}: ${e.reason}`,
    );
    if (!allowed) return;
    const p = this.#write(e, now).catch((err: unknown) =>
      this.#o.log?.warn({ reason: e.reason, err: describeError(err) }, 'could not write Event'),
    );
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p));
  }

  /** Waits for the Events recorded so far to be written (tests, shutdown). */
  async flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  async #write(e: EventInput, now: number): Promise<void> {
    const key = [
      e.regarding.uid,
      e.regarding.namespace,
      e.regarding.name,
      e.type,
      e.reason,
      e.action,
      e.note,
    ].join('\0');
    const s = this.#series.get(key);
    const window = this.#o.seriesWindowMs ?? 30 * 60_000;
    if (s && now - s.last < window) {
      s.count++;
      s.last = now;
      await this.#o.client.patchEventSeries(s.namespace, s.name, {
        count: s.count,
        lastObservedTime: microTime(now),
      });
      return;
    }
    const name = `${e.regarding.name}.${(BigInt(now) * 1_000_000n + BigInt(this.#seq++ % 1_000_000)).toString(16)}`;
    const body: EventBody = {
      metadata: { name, namespace: e.regarding.namespace },
      eventTime: microTime(now),
      reportingController: this.#o.reportingController,
      reportingInstance: this.#o.reportingInstance.slice(0, 128),
      action: e.action,
      reason: e.reason,
      type: e.type,
      note: e.note.slice(0, 1024),
      regarding: e.regarding,
      ...(e.related ? { related: e.related } : {}),
    };
    this.#series.set(key, { name, namespace: e.regarding.namespace, count: 1, last: now });
    if (this.#series.size > 4096) this.#series.delete(this.#series.keys().next().value as string);
    await this.#o.client.createEvent(body);
  }

  #take(objectKey: string, now: number): boolean {
    const burst = this.#o.burst ?? 25;
    const refill = this.#o.refillMs ?? 5 * 60_000;
    const b = this.#buckets.get(objectKey) ?? { tokens: burst, at: now };
    const gained = Math.floor((now - b.at) / refill);
    if (gained > 0) {
      b.tokens = Math.min(burst, b.tokens + gained);
      b.at += gained * refill;
    }
    this.#buckets.set(objectKey, b);
    if (b.tokens <= 0) return false;
    b.tokens--;
    return true;
  }
}
