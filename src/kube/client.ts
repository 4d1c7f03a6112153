/**
 * The operator's port to the Kubernetes API: only the calls it makes. `kube-client-node.ts` implements it on
 * @kubernetes/client-node; unit tests use in-memory fakes. Every method throws KubeApiError for API errors.
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

export interface KubeClient {
  list<T extends KubeObject>(type: ResourceType): Promise<ListResult<T>>;
  /**
   * Watches from `resourceVersion`. `onDone` is called exactly once: with no error when the server closed the
   * stream or the client timeout ended it, with a KubeApiError (410 when the version is too old) otherwise.
   */
  watch<T extends KubeObject>(
    type: ResourceType,
    resourceVersion: string,
    onEvent: (type: WatchEventType, object: T) => void,
    onDone: (err?: unknown) => void,
  ): Promise<WatchHandle>;
  get<T extends KubeObject>(type: ResourceType, namespace: string, name: string): Promise<T | undefined>;
  create<T extends KubeObject>(type: ResourceType, namespace: string, body: T): Promise<T>;
  /** Patches the object (or its status subresource) with a merge patch or a JSON patch. */
  patch<T extends KubeObject>(
    type: ResourceType,
    namespace: string,
    name: string,
    body: unknown,
    opts: { readonly patchType: PatchType; readonly status?: boolean },
  ): Promise<T>;

  createEvent(body: EventBody): Promise<void>;
  patchEventSeries(namespace: string, name: string, series: EventBody['series']): Promise<void>;

  getLease(namespace: string, name: string): Promise<Lease | undefined>;
  createLease(lease: Lease): Promise<Lease>;
  /** PUT with the lease's resourceVersion: 409 when someone else wrote it first. */
  replaceLease(lease: Lease): Promise<Lease>;

  /** Creates the namespace if it does not exist. */
  ensureNamespace(name: string): Promise<void>;
}

/** `2026-01-01T00:00:00.000000Z`: MicroTime, which the API server parses with exactly six fractional digits. */
export function microTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, -1)}000Z`;
}
