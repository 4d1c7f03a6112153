/**
 * The port the re-encryption pass works through: discover a resource, list it in pages, replace one object as
 * read, read one object again. `reencrypt-http.ts` implements it over HTTPS; unit tests use a fake. Errors are
 * KubeApiError (code 404, 409, 410 …) or network errors.
 */

/** A resource the API server serves, from discovery. */
export interface ServedResource {
  /** As configured: `secrets`, `configmaps`, `widgets.example.com`. */
  readonly name: string;
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
  readonly namespaced: boolean;
}

/** An object as the API server returned it: sent back unchanged (plus apiVersion/kind). */
export interface RawObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly resourceVersion?: string;
  };
  readonly [field: string]: unknown;
}

export interface ListPage {
  readonly items: readonly RawObject[];
  /** Empty or absent on the last page. */
  readonly continue?: string;
  /** How many objects the snapshot holds after this page (the API server's estimate). */
  readonly remainingItemCount?: number;
}

/** A StorageVersionMigration (storagemigration.k8s.io/v1, cluster-scoped) as read. */
export interface StorageMigration {
  readonly name: string;
  readonly conditions: readonly {
    readonly type: string;
    readonly status: string;
    readonly reason?: string;
    readonly message?: string;
  }[];
}

/** StorageVersionMigrations: kube-controller-manager's storage-version-migrator rewrites every object. */
export interface MigrationApi {
  /** Whether the API server serves storagemigration.k8s.io/v1 (Kubernetes ≥ 1.37 by default). */
  served(): Promise<boolean>;
  /** Creates one for `group`/`resource` (409 when the name exists). */
  create(name: string, group: string, resource: string): Promise<void>;
  get(name: string): Promise<StorageMigration | undefined>;
  /** Absent (404) is not an error. */
  delete(name: string): Promise<void>;
}

export interface ReencryptApi {
  /** Where the cluster can migrate by itself; absent: kubekms's own pass only. */
  readonly migrations?: MigrationApi;
  /** undefined when the API server does not serve it. */
  resolve(resource: string): Promise<ServedResource | undefined>;
  list(r: ServedResource, limit: number, cont: string | undefined): Promise<ListPage>;
  /** PUT of the object as read: a stale stored key makes the API server rewrite it under the current one. */
  replace(r: ServedResource, o: RawObject): Promise<void>;
  get(r: ServedResource, namespace: string | undefined, name: string): Promise<RawObject | undefined>;
}

/** `secrets` → core, `widgets.example.com` → group example.com. */
export function splitResource(name: string): { plural: string; group: string } {
  const i = name.indexOf('.');
  return i < 0 ? { plural: name, group: '' } : { plural: name.slice(0, i), group: name.slice(i + 1) };
}

export function resourcePath(r: ServedResource, namespace?: string, name?: string): string {
  const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  const ns = r.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${base}${ns}/${r.plural}${name ? `/${encodeURIComponent(name)}` : ''}`;
}
