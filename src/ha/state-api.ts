/**
 * The shared state's port to the Kubernetes API: KmsStateRecord objects of one namespace, and the heartbeat
 * Leases. `stateApiOver` binds the kube client's small interfaces to the namespace; `testing.ts` has an in-memory
 * fake. Errors are KubeApiError for API answers, anything else for network failures.
 */
import type {
  Lease,
  Leases,
  ListResult,
  ObjectReader,
  ObjectWriter,
  WatchCallback,
  WatchHandle,
} from '../kube/client.ts';
import { STATE_RECORD_TYPE, type StateRecordObject } from './state-records.ts';

export interface StateApi {
  readonly namespace: string;
  list(): Promise<ListResult<StateRecordObject>>;
  watch(
    resourceVersion: string,
    onEvent: WatchCallback<StateRecordObject>,
    onDone: (err?: unknown) => void,
  ): Promise<WatchHandle>;
  get(name: string): Promise<StateRecordObject | undefined>;
  create(body: StateRecordObject): Promise<StateRecordObject>;
  /** PUT with `metadata.resourceVersion`: 409 when another instance wrote the object first. */
  replace(body: StateRecordObject): Promise<StateRecordObject>;
  /** DELETE with a resourceVersion precondition when one is given; 404 is not an error. */
  delete(name: string, resourceVersion?: string): Promise<void>;

  listLeases(labelSelector: string): Promise<readonly Lease[]>;
  getLease(name: string): Promise<Lease | undefined>;
  createLease(lease: Lease): Promise<Lease>;
  replaceLease(lease: Lease): Promise<Lease>;
}

/** The StateApi of `namespace` on a Kubernetes client. */
export function stateApiOver(client: ObjectReader & ObjectWriter & Leases, namespace: string): StateApi {
  const t = STATE_RECORD_TYPE;
  return {
    namespace,
    list: () => client.list<StateRecordObject>(t, namespace),
    watch: (rv, onEvent, onDone) => client.watch(t, rv, onEvent, onDone, namespace),
    get: (name) => client.get<StateRecordObject>(t, namespace, name),
    create: (body) => client.create(t, namespace, body),
    replace: (body) => client.replace(t, namespace, body),
    delete: (name, resourceVersion) => client.delete(t, namespace, name, resourceVersion),
    listLeases: (labelSelector) => client.listLeases(namespace, labelSelector),
    getLease: (name) => client.getLease(namespace, name),
    createLease: (lease) => client.createLease(lease),
    replaceLease: (lease) => client.replaceLease(lease),
  };
}
