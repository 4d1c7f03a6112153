/**
 * An in-memory StateApi with the API server's semantics that the shared state relies on: resourceVersions from
 * one counter, 409 on create of an existing object and on a stale replace or delete precondition, watches that
 * see every later change in order. `down` makes every call fail like a refused connection.
 */

import type { KmsStateRecord } from '../api/kinds.ts';
import type { Lease, ListResult, WatchEventType, WatchHandle } from '../kube/client.ts';
import { KubeApiError } from '../kube/errors.ts';
import type { StateApi } from './state-api.ts';

type Watcher = (type: WatchEventType, o: KmsStateRecord) => void;

export class FakeStateApi implements StateApi {
  readonly namespace: string;
  readonly objects = new Map<string, KmsStateRecord>();
  readonly leases = new Map<string, Lease>();
  readonly #watchers = new Set<Watcher>();
  #rv = 0;
  down = false;
  /** Calls made, by method, for assertions. */
  readonly calls: string[] = [];

  constructor(namespace = 'kubekms') {
    this.namespace = namespace;
  }

  #check(call: string): void {
    this.calls.push(call);
    if (this.down) throw new Error('connect ECONNREFUSED 127.0.0.1:6443');
  }

  #stamp<T extends { metadata: object }>(o: T): T {
    return { ...o, metadata: { ...o.metadata, resourceVersion: String(++this.#rv) } };
  }

  #emit(type: WatchEventType, o: KmsStateRecord): void {
    for (const w of this.#watchers) w(type, structuredClone(o));
  }

  async list(): Promise<ListResult<KmsStateRecord>> {
    this.#check('list');
    return {
      items: [...this.objects.values()].map((o) => structuredClone(o)),
      resourceVersion: String(this.#rv),
    };
  }

  async watch(
    _rv: string,
    onEvent: (type: WatchEventType, object: KmsStateRecord) => void,
    onDone: (err?: unknown) => void,
  ): Promise<WatchHandle> {
    this.#check('watch');
    const w: Watcher = (t, o) => onEvent(t, o);
    this.#watchers.add(w);
    return {
      stop: () => {
        if (this.#watchers.delete(w)) onDone();
      },
    };
  }

  async get(name: string): Promise<KmsStateRecord | undefined> {
    this.#check('get');
    const o = this.objects.get(name);
    return o ? structuredClone(o) : undefined;
  }

  async create(body: KmsStateRecord): Promise<KmsStateRecord> {
    this.#check(`create ${body.metadata.name}`);
    if (this.objects.has(body.metadata.name)) throw new KubeApiError(409, 'AlreadyExists', 'already exists');
    const o = this.#stamp(structuredClone(body));
    this.objects.set(o.metadata.name, o);
    this.#emit('ADDED', o);
    return structuredClone(o);
  }

  async replace(body: KmsStateRecord): Promise<KmsStateRecord> {
    this.#check(`replace ${body.metadata.name}`);
    const cur = this.objects.get(body.metadata.name);
    if (!cur) throw new KubeApiError(404, 'NotFound', 'not found');
    if (cur.metadata.resourceVersion !== body.metadata.resourceVersion)
      throw new KubeApiError(409, 'Conflict', 'the object has been modified');
    const o = this.#stamp(structuredClone(body));
    this.objects.set(o.metadata.name, o);
    this.#emit('MODIFIED', o);
    return structuredClone(o);
  }

  async delete(name: string, resourceVersion?: string): Promise<void> {
    this.#check(`delete ${name}`);
    const cur = this.objects.get(name);
    if (!cur) return;
    if (resourceVersion && cur.metadata.resourceVersion !== resourceVersion)
      throw new KubeApiError(409, 'Conflict', 'precondition failed');
    this.objects.delete(name);
    this.#emit('DELETED', this.#stamp(cur));
  }

  async listLeases(labelSelector: string): Promise<readonly Lease[]> {
    this.#check('listLeases');
    const [k, v] = labelSelector.split('=');
    return [...this.leases.values()]
      .filter((l) => l.metadata.labels?.[k ?? ''] === v)
      .map((l) => structuredClone(l));
  }

  async getLease(name: string): Promise<Lease | undefined> {
    this.#check('getLease');
    const l = this.leases.get(name);
    return l ? structuredClone(l) : undefined;
  }

  async createLease(lease: Lease): Promise<Lease> {
    this.#check('createLease');
    if (this.leases.has(lease.metadata.name)) throw new KubeApiError(409, 'AlreadyExists', 'exists');
    const l = this.#stamp(structuredClone(lease));
    this.leases.set(l.metadata.name, l);
    return structuredClone(l);
  }

  async replaceLease(lease: Lease): Promise<Lease> {
    this.#check('replaceLease');
    const cur = this.leases.get(lease.metadata.name);
    if (!cur) throw new KubeApiError(404, 'NotFound', 'no lease');
    if (cur.metadata.resourceVersion !== lease.metadata.resourceVersion)
      throw new KubeApiError(409, 'Conflict', 'stale');
    const l = this.#stamp(structuredClone(lease));
    this.leases.set(l.metadata.name, l);
    return structuredClone(l);
  }
}
