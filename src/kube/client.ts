/**
 * kubekms's port to the Kubernetes API, as small interfaces (objects read and written, Leases, Events,
 * namespaces) composed into KubeClient. `client-node.ts` implements them on @kubernetes/client-node; unit tests use
 * in-memory fakes. Every method throws KubeApiError for API errors.
 */
import type { KubeObject, ResourceType } from './objects.ts';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface ListResult<T> {
  readonly items: readonly T[];
  readonly resourceVersion: string;
}

export type PatchType = 'merge' | 'json';

export interface Lease {
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly resourceVersion?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly spec: {
    readonly holderIdentity?: string;
    readonly leaseDurationSeconds?: number;
    readonly acquireTime?: string;
    readonly renewTime?: string;
    readonly leaseTransitions?: number;
  };
}

/** An events.k8s.io/v1 Event as the recorder writes it. */
export interface EventBody {
  readonly metadata: { readonly name: string; readonly namespace: string };
  readonly eventTime: string;
  readonly reportingController: string;
  readonly reportingInstance: string;
  readonly action: string;
  readonly reason: string;
  readonly type: 'Normal' | 'Warning';
  readonly note: string;
  readonly regarding: ObjectReference;
  readonly related?: ObjectReference;
  readonly series?: { readonly count: number; readonly lastObservedTime: string };
}

export interface ObjectReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
}

export interface WatchHandle {
  stop(): void;
}

export type WatchCallback<T> = (type: WatchEventType, object: T) => void;

/** Reads custom objects: all namespaces, or one when `namespace` is given. */
export interface ObjectReader {
  list<T extends KubeObject>(type: ResourceType, namespace?: string): Promise<ListResult<T>>;
  /**
   * Watches from `resourceVersion`. `onDone` is called exactly once: with no error when the server closed the
   * stream or the client timeout ended it, with a KubeApiError (410 when the version is too old) otherwise.
   */
  watch<T extends KubeObject>(
    type: ResourceType,
    resourceVersion: string,
    onEvent: WatchCallback<T>,
    onDone: (err?: unknown) => void,
    namespace?: string,
  ): Promise<WatchHandle>;
  get<T extends KubeObject>(type: ResourceType, namespace: string, name: string): Promise<T | undefined>;
}

/** Writes custom objects. */
export interface ObjectWriter {
  create<T extends KubeObject>(type: ResourceType, namespace: string, body: T): Promise<T>;
  /** Patches the object (or its status subresource) with a merge patch or a JSON patch. */
  patch<T extends KubeObject>(
    type: ResourceType,
    namespace: string,
    name: string,
    body: unknown,
    opts: { readonly patchType: PatchType; readonly status?: boolean },
  ): Promise<T>;
  /** PUT with `metadata.resourceVersion`: 409 when someone else wrote the object first. */
  replace<T extends KubeObject>(type: ResourceType, namespace: string, body: T): Promise<T>;
  /** DELETE, with a resourceVersion precondition when one is given; absent (404) is not an error. */
  delete(type: ResourceType, namespace: string, name: string, resourceVersion?: string): Promise<void>;
}

/** coordination.k8s.io/v1 Leases: leader election and the HA heartbeats. */
export interface Leases {
  listLeases(namespace: string, labelSelector: string): Promise<readonly Lease[]>;
  getLease(namespace: string, name: string): Promise<Lease | undefined>;
  createLease(lease: Lease): Promise<Lease>;
  /** PUT with the lease's resourceVersion: 409 when someone else wrote it first. */
  replaceLease(lease: Lease): Promise<Lease>;
}

/** events.k8s.io/v1 Events. */
export interface EventSink {
  createEvent(body: EventBody): Promise<void>;
  patchEventSeries(namespace: string, name: string, series: EventBody['series']): Promise<void>;
}

export interface Namespaces {
  /** Creates the namespace if it does not exist. */
  ensureNamespace(name: string): Promise<void>;
}

/** Everything at once, as `nodeKubeClient` makes it; each user names only the small interfaces it needs. */
export interface KubeClient extends ObjectReader, ObjectWriter, Leases, EventSink, Namespaces {}

/** `2026-01-01T00:00:00.000000Z`: MicroTime, which the API server parses with exactly six fractional digits. */
export function microTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, -1)}000Z`;
}
