/** In-memory fakes of the Kubernetes API pieces the runtime uses, for unit tests. */
import type { EventBody, Lease } from './client.ts';
import { KubeApiError } from './errors.ts';

/** Leases with resourceVersion checks: a stale replace gets 409 as from the API server. */
export class FakeLeases {
  readonly leases = new Map<string, Lease>();
  #rv = 0;
  /** Set to make every call fail (a partitioned candidate). */
  down = false;

  #check(): void {
    if (this.down) throw new Error('connect ECONNREFUSED');
  }

  async getLease(namespace: string, name: string): Promise<Lease | undefined> {
    this.#check();
    return this.leases.get(`${namespace}/${name}`);
  }

  async createLease(l: Lease): Promise<Lease> {
    this.#check();
    const k = `${l.metadata.namespace}/${l.metadata.name}`;
    if (this.leases.has(k)) throw new KubeApiError(409, 'AlreadyExists', 'exists');
    const out = { ...l, metadata: { ...l.metadata, resourceVersion: String(++this.#rv) } };
    this.leases.set(k, out);
    return out;
  }

  async replaceLease(l: Lease): Promise<Lease> {
    this.#check();
    const k = `${l.metadata.namespace}/${l.metadata.name}`;
    const cur = this.leases.get(k);
    if (!cur) throw new KubeApiError(404, 'NotFound', 'no lease');
    if (cur.metadata.resourceVersion !== l.metadata.resourceVersion)
      throw new KubeApiError(409, 'Conflict', 'stale');
    const out = { ...l, metadata: { ...l.metadata, resourceVersion: String(++this.#rv) } };
    this.leases.set(k, out);
    return out;
  }
}

export class FakeEvents {
  readonly created: EventBody[] = [];
  readonly patched: { name: string; series: EventBody['series'] }[] = [];
  async createEvent(b: EventBody): Promise<void> {
    this.created.push(b);
  }
  async patchEventSeries(_ns: string, name: string, series: EventBody['series']): Promise<void> {
    this.patched.push({ name, series });
  }
}
