/**
 * The shared state's port to the Kubernetes API: KmsStateRecord objects of one namespace, and the heartbeat
 * Leases. `state-api-node.ts` implements it on @kubernetes/client-node; `testing.ts` has an in-memory fake.
 * Errors are KubeApiError (operator runtime) for API answers, anything else for network failures.
 */
import type { ListResult, WatchEventType, WatchHandle } from '../kube/client.ts';
import type { StateRecordObject } from './state-records.ts';

export interface HeartbeatLease {
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
    readonly renewTime?: string;
  };
}

export interface StateApi {
  readonly namespace: string;
  list(): Promise<ListResult<StateRecordObject>>;
  watch(
    resourceVersion: string,
    onEvent: (type: WatchEventType, object: StateRecordObject) => void,
    onDone: (err?: unknown) => void,
  ): Promise<WatchHandle>;
  get(name: string): Promise<StateRecordObject | undefined>;
  create(body: StateRecordObject): Promise<StateRecordObject>;
  /** PUT with `metadata.resourceVersion`: 409 when another instance wrote the object first. */
  replace(body: StateRecordObject): Promise<StateRecordObject>;
  /** DELETE with a resourceVersion precondition when one is given; 404 is not an error. */
  delete(name: string, resourceVersion?: string): Promise<void>;

  listLeases(labelSelector: string): Promise<readonly HeartbeatLease[]>;
  getLease(name: string): Promise<HeartbeatLease | undefined>;
  createLease(lease: HeartbeatLease): Promise<HeartbeatLease>;
  replaceLease(lease: HeartbeatLease): Promise<HeartbeatLease>;
}
