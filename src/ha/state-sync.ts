/**
 * Keeps the local engine in step with the KmsStateRecords in the API: the kube room's informer (list,
 * watch, re-list on 410) feeds events into batches; each batch is planned by sync-decisions.ts and absorbed by the
 * engine (durable in the local cache before it is visible). The first complete list also publishes what the API
 * lacks. Malformed objects, and objects not authenticated under the root key (docs/adr/0013), are logged by name
 * and skipped, never half-applied.
 */
import { KMS_STATE_RECORD, type KmsStateRecord } from '../api/kinds.ts';
import {
  aliasObjectName,
  type DecodedRecord,
  fromObject,
  grantObjectName,
  keyObjectName,
  UnauthenticatedRecordError,
} from '../api/state-records.ts';
import type { EngineCore } from '../engine/core.ts';
import type { StoreChange } from '../engine/records.ts';
import { describeError } from '../kube/errors.ts';
import { Informer } from '../kube/informer.ts';
import type { Logger } from '../observability/logger.ts';
import type { SharedKeyStore } from './shared-store.ts';
import type { StateApi } from './state-api.ts';
import { planEvents, planInitial, type RemoteEvent, type SyncPlan } from './sync-decisions.ts';

export interface StateSyncOptions {
  readonly core: EngineCore;
  readonly api: StateApi;
  readonly store: SharedKeyStore;
  readonly log: Logger;
  readonly now?: () => number;
}

export class StateSync {
  readonly #o: StateSyncOptions;
  readonly #informer: Informer<KmsStateRecord>;
  /** Object name → its latest event and resourceVersion, until absorbed. */
  readonly #pending = new Map<string, { event: RemoteEvent; rv: string | undefined }>();
  #initialDone = false;
  #draining: Promise<void> = Promise.resolve();
  #scheduled = false;
  #lastError = '';
  #ready: { promise: Promise<void>; resolve: () => void };
  readonly #badObjects = new Set<string>();
  /** Objects refused because no root-key holder wrote them, with the reason: the shared state is unhealthy. */
  readonly #unauthenticated = new Map<string, string>();
  /** Events waiting for the writer key of their auth to be unwrapped, and the chain doing it. */
  #waiting = 0;
  #learning: Promise<void> = Promise.resolve();
  #stopPoll: () => void = () => undefined;
  /** Keys the API held at older revisions than this cache at the first list (a rollback), for health. */
  #behind = '';

  constructor(o: StateSyncOptions) {
    this.#o = o;
    this.#informer = new Informer<KmsStateRecord>({ source: o.api, type: KMS_STATE_RECORD, log: o.log });
    this.#informer.on((event, obj) => this.#onEvent(event === 'delete' ? 'delete' : 'put', obj));
    let resolve!: () => void;
    const promise = new Promise<void>((r) => {
      resolve = r;
    });
    this.#ready = { promise, resolve };
  }

  start(): void {
    this.#informer.start();
    // An empty list emits no event: watch for the first sync so the initial plan runs anyway.
    const poll = setInterval(() => {
      if (!this.#informer.hasSynced()) return;
      clearInterval(poll);
      this.#schedule();
    }, 50);
    this.#stopPoll = () => clearInterval(poll);
  }

  async stop(): Promise<void> {
    this.#stopPoll();
    await this.#informer.stop();
    await this.#draining;
  }

  /** Resolves once the first complete list has been absorbed (and what the API lacked published). */
  ready(): Promise<void> {
    return this.#ready.promise;
  }

  isReady(): boolean {
    return this.#initialDone;
  }

  health(): { ok: boolean; detail: string } {
    const h = this.#informer.health();
    if (!h.ok) return h;
    if (this.#unauthenticated.size > 0)
      return { ok: false, detail: `shared state: refused ${[...this.#unauthenticated.values()].join('; ')}` };
    if (this.#lastError) return { ok: false, detail: `shared state: ${this.#lastError}` };
    const behind = this.#behind ? `; rollback suspected: the API holds ${this.#behind}` : '';
    return { ok: true, detail: `shared state: ${h.detail}${behind}` };
  }

  /** Fetches objects now (after a 409, or for a version a Decrypt needs) and absorbs them. */
  async refresh(names: readonly string[]): Promise<void> {
    for (const name of names) {
      const obj = await this.#o.api.get(name);
      if (obj) this.#onEvent('put', obj);
    }
    this.#draining = this.#draining.then(() => this.#drain());
    await this.#draining;
  }

  #take(type: 'put' | 'delete', obj: KmsStateRecord): void {
    const name = obj.metadata.name;
    let record: DecodedRecord;
    try {
      record = fromObject(obj, this.#o.store.ring);
      this.#badObjects.delete(name);
      this.#unauthenticated.delete(name);
    } catch (e) {
      if (e instanceof UnauthenticatedRecordError) {
        if (type === 'delete') this.#unauthenticated.delete(name);
        else this.#unauthenticated.set(name, e.message);
      }
      if (!this.#badObjects.has(name)) {
        this.#badObjects.add(name);
        this.#o.log.error(
          { object: name, err: (e as Error).message },
          'shared state: malformed KmsStateRecord skipped',
        );
      }
      return;
    }
    this.#pending.set(name, { event: { type, record }, rv: obj.metadata.resourceVersion });
    this.#schedule();
  }

  /**
   * Takes an event once the writer key of its auth is unwrapped (once per distinct key, docs/adr/0013). While any
   * key is being unwrapped, every event waits on the same chain, so events are taken in the order they came.
   */
  #onEvent(type: 'put' | 'delete', obj: KmsStateRecord): void {
    const auth = obj.spec?.auth;
    if (this.#waiting === 0 && this.#o.store.ring.knows(auth)) {
      this.#take(type, obj);
      return;
    }
    this.#waiting++;
    this.#learning = this.#learning
      .then(() => this.#o.store.ring.learn([auth]))
      .then(
        () => this.#take(type, obj),
        (e: unknown) => {
          this.#lastError = `cannot check ${obj.metadata.name}: ${describeError(e)}`;
          this.#o.log.error({ object: obj.metadata.name, err: this.#lastError }, 'shared state: retrying');
          setTimeout(() => this.#onEvent(type, obj), 2000).unref();
        },
      )
      .finally(() => {
        this.#waiting--;
      });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // After the informer's synchronous burst (a whole list arrives in one turn), so a list is one batch.
    setImmediate(() => {
      this.#scheduled = false;
      this.#draining = this.#draining.then(() => this.#drain());
    });
  }

  async #drain(): Promise<void> {
    if (!this.#informer.hasSynced()) return;
    await this.#learning; // the initial list is checked only once every writer key in it is unwrapped
    const batch = [...this.#pending.entries()];
    this.#pending.clear();
    const events = batch.map(([, p]) => p.event);
    const core = this.#o.core;
    let plan: SyncPlan;
    const initial = !this.#initialDone;
    // A write must carry the resourceVersion of the state the engine decided on, never a newer one it has not
    // absorbed (that would overwrite a change unseen): versions are recorded only after the absorb.
    const seen: [string, string | undefined][] = [];
    if (initial) {
      const remote: DecodedRecord[] = [];
      for (const obj of this.#informer.list()) {
        try {
          remote.push(fromObject(obj, this.#o.store.ring));
          seen.push([obj.metadata.name, obj.metadata.resourceVersion]);
        } catch {
          // Logged when it arrived.
        }
      }
      plan = planInitial(core, remote, (this.#o.now ?? Date.now)());
    } else {
      if (events.length === 0) return;
      plan = planEvents(core, events);
      for (const [name, p] of batch) seen.push([name, p.event.type === 'delete' ? undefined : p.rv]);
    }
    try {
      for (const n of plan.notes) this.#o.log.warn({ note: n }, 'shared state');
      if (plan.behind.length > 0) this.#rolledBack(plan.behind);
      const failed = await this.#absorb(plan.absorb);
      for (const [name, rv] of seen) {
        if (failed.has(name)) continue;
        if (rv === undefined) this.#o.store.versions.forget(name);
        else this.#o.store.versions.observe(name, rv);
      }
      if (failed.size > 0) {
        this.#lastError = [...failed].map(([n, e]) => `${n}: ${e}`).join('; ');
        // Retried slowly: a record this instance cannot take (another root key) must not hold up the rest.
        const retry = batch.filter(([n]) => failed.has(n));
        setTimeout(() => {
          for (const [name, p] of retry) if (!this.#pending.has(name)) this.#pending.set(name, p);
          this.#schedule();
        }, 30_000).unref();
      }
      if (plan.republish.length > 0) {
        await this.#o.store.publish(plan.republish);
        this.#o.log.info({ records: plan.republish.length }, 'shared state: local records published');
      }
      if (failed.size === 0) this.#lastError = '';
      if (initial) {
        this.#initialDone = true;
        this.#o.log.info(core.counts(), 'shared state: in sync with the Kubernetes API');
        this.#ready.resolve();
      }
    } catch (e) {
      this.#lastError = describeError(e);
      this.#o.log.error({ err: this.#lastError }, 'shared state: could not apply changes from the API');
      // Take the batch again (newer events for the same objects win), or the initial list again.
      setTimeout(() => {
        for (const [name, p] of batch) if (!this.#pending.has(name)) this.#pending.set(name, p);
        this.#schedule();
      }, 2000).unref();
    }
  }

  /** The API holds older revisions than this cache: said in the log and in the health detail (not failing it). */
  #rolledBack(behind: SyncPlan['behind']): void {
    this.#behind = behind
      .map((b) => `key ${b.keyId} at revision ${b.api} (this cache: ${b.local})`)
      .join(', ');
    this.#o.log.error(
      { keys: behind },
      'shared state: rollback suspected: the KmsStateRecords hold older revisions than this instance wrote or took ' +
        '(restored from an older backup, or older objects put back?); this instance keeps its newer copies. ' +
        'Restore the newest backup, or back up this instance and restore that',
    );
  }

  /**
   * Absorbs a plan's change; if that fails, record by record, so that one record this instance cannot take does
   * not block the others. Returns the objects that failed, with the reason.
   */
  async #absorb(change: StoreChange): Promise<Map<string, string>> {
    const failed = new Map<string, string>();
    try {
      await this.#o.core.absorb(change);
      return failed;
    } catch {
      for (const { name, change: one } of splitChange(change)) {
        try {
          await this.#o.core.absorb(one);
        } catch (e) {
          failed.set(name, describeError(e));
          this.#o.log.error({ object: name, err: describeError(e) }, 'shared state: record not taken');
        }
      }
      return failed;
    }
  }
}

/** One change per record, named by its object. */
function splitChange(c: StoreChange): { name: string; change: StoreChange }[] {
  return [
    ...(c.putKeys ?? []).map((r) => ({ name: keyObjectName(r.keyId), change: { putKeys: [r] } })),
    ...(c.putGrants ?? []).map((g) => ({ name: grantObjectName(g.grantId), change: { putGrants: [g] } })),
    ...(c.putAliases ?? []).map((a) => ({ name: aliasObjectName(a.aliasName), change: { putAliases: [a] } })),
    ...(c.deleteAliases ?? []).map((n) => ({ name: aliasObjectName(n), change: { deleteAliases: [n] } })),
    ...(c.deleteGrants ?? []).map((id) => ({ name: grantObjectName(id), change: { deleteGrants: [id] } })),
    ...(c.deleteKeys ?? []).map((id) => ({ name: keyObjectName(id), change: { deleteKeys: [id] } })),
  ];
}
