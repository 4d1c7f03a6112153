/** Test double of the re-encryption port: an API server with snapshot lists and a current key for writes. */

import { KubeApiError } from '../kube/errors.ts';
import type {
  ListPage,
  MigrationApi,
  RawObject,
  ReencryptApi,
  ServedResource,
  StorageMigration,
} from './reencrypt-api.ts';

interface Stored {
  rv: number;
  key: number;
}

/** An API server with one snapshot-consistent list per continue chain and a "current key" for writes. */
export class FakeApi implements ReencryptApi {
  readonly objects = new Map<string, Stored>();
  readonly served = new Set(['secrets']);
  currentKey = 2;
  lists = 0;
  replaces = 0;
  /** Hooks to inject failures. */
  beforeReplace: (ns: string, name: string) => void = () => undefined;
  expireContinue = false;
  snapshot = new Map<string, Stored>();
  /** Set to serve StorageVersionMigrations (as Kubernetes ≥ 1.37 does). */
  migrations?: FakeMigrations;

  add(ns: string, name: string, key = 1): void {
    this.objects.set(`${ns}/${name}`, { rv: 1, key });
  }

  async resolve(name: string): Promise<ServedResource | undefined> {
    return this.served.has(name)
      ? { name, group: '', version: 'v1', plural: name, kind: 'Secret', namespaced: true }
      : undefined;
  }

  async list(_r: ServedResource, limit: number, cont: string | undefined): Promise<ListPage> {
    this.lists++;
    if (cont && this.expireContinue) {
      this.expireContinue = false;
      throw new KubeApiError(410, 'Expired', 'continue token expired');
    }
    // A continue chain lists one snapshot, as the API server does.
    if (!cont || this.snapshot.size === 0)
      this.snapshot = new Map([...this.objects].map(([k, v]) => [k, { ...v }]));
    const keys = [...this.snapshot.keys()].sort();
    const from = cont ? keys.findIndex((k) => k > cont) : 0;
    const start = from < 0 ? keys.length : from;
    const page = keys.slice(start, start + limit);
    const items: RawObject[] = page.map((k) => {
      const [namespace, name] = k.split('/') as [string, string];
      return { metadata: { namespace, name, resourceVersion: String(this.snapshot.get(k)?.rv) } };
    });
    const rest = keys.length - start - page.length;
    return {
      items,
      ...(rest > 0 ? { continue: page.at(-1), remainingItemCount: rest } : {}),
    };
  }

  async replace(_r: ServedResource, o: RawObject): Promise<void> {
    const k = `${o.metadata.namespace}/${o.metadata.name}`;
    this.beforeReplace(o.metadata.namespace ?? '', o.metadata.name);
    const s = this.objects.get(k);
    if (!s) throw new KubeApiError(404, 'NotFound', `${k} not found`);
    if (String(s.rv) !== o.metadata.resourceVersion) throw new KubeApiError(409, 'Conflict', 'modified');
    this.replaces++;
    this.objects.set(k, { rv: s.rv + 1, key: this.currentKey });
  }

  async get(_r: ServedResource, namespace: string | undefined, name: string): Promise<RawObject | undefined> {
    const s = this.objects.get(`${namespace}/${name}`);
    return s ? { metadata: { namespace, name, resourceVersion: String(s.rv) } } : undefined;
  }

  staleCount(): number {
    return [...this.objects.values()].filter((s) => s.key !== this.currentKey).length;
  }
}

export function populate(api: FakeApi, namespaces: number, perNs: number): void {
  for (let n = 0; n < namespaces; n++)
    for (let i = 0; i < perNs; i++)
      api.add(`ns${String(n).padStart(2, '0')}`, `s${String(i).padStart(3, '0')}`);
}

/**
 * StorageVersionMigrations with a storage-version-migrator behind them: each `get` moves a migration one step
 * (Running with the count of stale objects, then every stale object rewritten and Succeeded, or Failed when
 * `failNext` is set), as kube-controller-manager's conditions would show.
 */
export class FakeMigrations implements MigrationApi {
  readonly #api: FakeApi;
  readonly objects = new Map<
    string,
    { resource: string; step: number; conditions: StorageMigration['conditions'] }
  >();
  readonly created: string[] = [];
  readonly deleted: string[] = [];
  failNext = false;

  constructor(api: FakeApi) {
    this.#api = api;
  }

  async served(): Promise<boolean> {
    return true;
  }

  async create(name: string, _group: string, resource: string): Promise<void> {
    if (this.objects.has(name)) throw new KubeApiError(409, 'AlreadyExists', `${name} exists`);
    this.created.push(name);
    this.objects.set(name, { resource, step: 0, conditions: [] });
  }

  async get(name: string): Promise<StorageMigration | undefined> {
    const m = this.objects.get(name);
    if (!m) return undefined;
    const total = this.#api.objects.size;
    if (m.step === 0) {
      const stale = this.#api.staleCount();
      m.conditions = [
        {
          type: 'Running',
          status: 'True',
          message: `The migration is running, ${stale}/${total} objects not yet migrated`,
        },
      ];
    } else if (m.step === 1 && this.failNext) {
      this.failNext = false;
      m.conditions = [
        { type: 'Running', status: 'False', message: 'The migration is running' },
        {
          type: 'Failed',
          status: 'True',
          message: `3/${total} not yet migrated. migration encountered unhandled error: boom`,
        },
      ];
    } else if (m.step === 1) {
      for (const [k, v] of this.#api.objects)
        this.#api.objects.set(k, { rv: v.rv + 1, key: this.#api.currentKey });
      m.conditions = [
        {
          type: 'Running',
          status: 'False',
          // kube-controller-manager 1.37 overwrites the counts with this once the migration succeeded.
          message: 'Migration completed',
        },
        { type: 'Succeeded', status: 'True', message: 'Migration completed' },
      ];
    }
    m.step++;
    return { name, conditions: m.conditions };
  }

  async delete(name: string): Promise<void> {
    if (this.objects.delete(name)) this.deleted.push(name);
  }
}
