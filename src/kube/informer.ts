/**
 * An informer: list, then watch from the list's resourceVersion, keeping a cache and telling handlers about
 * adds, updates and deletes. Unlike client-node's ListWatch it never gives up: a clean close or a client timeout
 * re-watches at once from the last resourceVersion (bookmarks keep it fresh); 410 Gone re-lists (emitting deletes
 * for objects that vanished meanwhile); any other error retries with capped exponential backoff and is reported
 * by health().
 */
import type { Logger } from 'pino';
import { backoffDelay, sleep } from './backoff.ts';
import type { ListResult, ObjectReader, WatchCallback, WatchEventType, WatchHandle } from './client.ts';
import { describeError, isGone, KubeApiError } from './errors.ts';
import { type KubeObject, keyOf, type ResourceType } from './objects.ts';

export type InformerEvent = 'add' | 'update' | 'delete';
export type InformerHandler<T> = (event: InformerEvent, obj: T, old: T | undefined) => void;

/** What an informer lists and watches: one resource type (in one namespace or all), bound. */
export interface ListWatch<T> {
  list(): Promise<ListResult<T>>;
  watch(
    resourceVersion: string,
    onEvent: WatchCallback<T>,
    onDone: (err?: unknown) => void,
  ): Promise<WatchHandle>;
}

/** The ListWatch of `type` on a client, in `namespace` or all namespaces. */
export function listWatch<T extends KubeObject>(
  client: ObjectReader,
  type: ResourceType,
  namespace?: string,
): ListWatch<T> {
  return {
    list: () => client.list<T>(type, namespace),
    watch: (rv, onEvent, onDone) => client.watch<T>(type, rv, onEvent, onDone, namespace),
  };
}

export interface InformerOptions<T> {
  readonly source: ListWatch<T>;
  /** The type listed (its plural names the informer in logs and health). */
  readonly type: ResourceType;
  readonly log?: Logger;
  /** How long an informer may stay in error before health() fails. Default 2 minutes. */
  readonly unhealthyAfterMs?: number;
}

export class Informer<T extends KubeObject> {
  readonly type: ResourceType;
  readonly #o: InformerOptions<T>;
  readonly #cache = new Map<string, T>();
  readonly #handlers: InformerHandler<T>[] = [];
  #rv = '';
  #synced = false;
  #failingSince: number | undefined;
  #lastError = '';
  #abort = new AbortController();
  #watch: { stop(): void } | undefined;
  #loop: Promise<void> | undefined;

  constructor(o: InformerOptions<T>) {
    this.type = o.type;
    this.#o = o;
  }

  on(handler: InformerHandler<T>): void {
    this.#handlers.push(handler);
  }

  get(namespace: string, name: string): T | undefined {
    return this.#cache.get(`${namespace}/${name}`);
  }

  list(): T[] {
    return [...this.#cache.values()];
  }

  hasSynced(): boolean {
    return this.#synced;
  }

  health(): { ok: boolean; detail: string } {
    const name = this.type.plural;
    if (!this.#synced)
      return { ok: false, detail: `${name}: not synced${this.#lastError ? ` (${this.#lastError})` : ''}` };
    const since = this.#failingSince;
    if (since !== undefined && Date.now() - since > (this.#o.unhealthyAfterMs ?? 120_000)) {
      return {
        ok: false,
        detail: `${name}: watch failing since ${new Date(since).toISOString()}: ${this.#lastError}`,
      };
    }
    return { ok: true, detail: `${name}: synced (${this.#cache.size})` };
  }

  start(): void {
    if (this.#loop) return;
    this.#abort = new AbortController();
    this.#loop = this.#run(this.#abort.signal);
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    this.#watch?.stop();
    await this.#loop;
    this.#loop = undefined;
  }

  async #run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    let needList = true;
    while (!signal.aborted) {
      try {
        if (needList) {
          await this.#relist();
          needList = false;
        }
        const started = Date.now();
        const { err, events } = await this.#watchOnce(signal);
        if (signal.aborted) return;
        if (err === undefined) {
          failures = 0;
          this.#failingSince = undefined;
          // A stream that closes at once and empty, over and over, must not spin.
          if (events === 0 && Date.now() - started < 1000) await sleep(1000, signal);
          continue;
        }
        throw err;
      } catch (e) {
        if (signal.aborted) return;
        if (isGone(e)) {
          this.#o.log?.info({ resource: this.type.plural }, 'watch expired (410 Gone); re-listing');
          needList = true;
          continue;
        }
        failures++;
        this.#failingSince ??= Date.now();
        this.#lastError = describeError(e);
        const delay = backoffDelay(failures);
        this.#o.log?.warn(
          { resource: this.type.plural, failures, retryInMs: delay, err: this.#lastError },
          'list/watch failed',
        );
        await sleep(delay, signal);
      }
    }
  }

  async #relist(): Promise<void> {
    const r = await this.#o.source.list();
    const seen = new Set<string>();
    for (const obj of r.items) {
      const k = keyOf(obj);
      seen.add(k);
      this.#upsert(k, obj);
    }
    for (const [k, old] of [...this.#cache]) {
      if (!seen.has(k)) {
        this.#cache.delete(k);
        this.#emit('delete', old, old);
      }
    }
    this.#rv = r.resourceVersion;
    this.#synced = true;
    this.#failingSince = undefined;
    this.#lastError = '';
  }

  #upsert(k: string, obj: T): void {
    const old = this.#cache.get(k);
    this.#cache.set(k, obj);
    if (!old) this.#emit('add', obj, undefined);
    else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.#emit('update', obj, old);
  }

  #emit(event: InformerEvent, obj: T, old: T | undefined): void {
    for (const h of this.#handlers) {
      try {
        h(event, obj, old);
      } catch (e) {
        this.#o.log?.error({ resource: this.type.plural, err: describeError(e) }, 'informer handler threw');
      }
    }
  }

  #watchOnce(signal: AbortSignal): Promise<{ err?: unknown; events: number }> {
    return new Promise((resolve) => {
      let events = 0;
      let settled = false;
      const finish = (err?: unknown) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        resolve(err === undefined ? { events } : { err, events });
      };
      const onAbort = () => {
        this.#watch?.stop();
        finish();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const onEvent = (type: WatchEventType, obj: T) => {
        events++;
        if (type === 'ERROR') {
          const s = obj as unknown as { code?: number; reason?: string; message?: string };
          this.#watch?.stop();
          finish(new KubeApiError(s.code ?? 500, s.reason ?? '', s.message ?? 'watch error event'));
          return;
        }
        const rv = obj.metadata?.resourceVersion;
        if (rv) this.#rv = rv;
        if (type === 'BOOKMARK') return;
        const k = keyOf(obj);
        if (type === 'DELETED') {
          const old = this.#cache.get(k);
          this.#cache.delete(k);
          this.#emit('delete', obj, old);
        } else {
          this.#upsert(k, obj);
        }
      };
      this.#o.source.watch(this.#rv, onEvent, finish).then(
        (h) => {
          this.#watch = h;
          if (settled) h.stop();
        },
        (e: unknown) => finish(e ?? new Error('watch failed')),
      );
    });
  }
}
