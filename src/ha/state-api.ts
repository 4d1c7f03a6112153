/**
 * The shared state's port to the Kubernetes API: KmsStateRecord objects of one namespace, and the heartbeat
 * Leases. `stateApiOver` binds the kube client's small interfaces to the namespace; `testing.ts` has an in-memory
 * fake. Errors are KubeApiError for API answers, anything else for network failures.
 */

import { KMS_STATE_RECORD, type KmsStateRecord } from '../api/kinds.ts';
import type { Lease, Leases, ObjectReader, ObjectWriter } from '../kube/client.ts';
import type { ListWatch } from '../kube/informer.ts';

/** The records of one namespace (listed and watched as an informer's source) and its heartbeat Leases. */
export interface StateApi extends ListWatch<KmsStateRecord> {
  readonly namespace: string;
  get(name: string): Promise<KmsStateRecord | undefined>;
  create(body: KmsStateRecord): Promise<KmsStateRecord>;
  /** PUT with `metadata.resourceVersion`: 409 when another instance wrote the object first. */
  replace(body: KmsStateRecord): Promise<KmsStateRecord>;
  /** DELETE with a resourceVersion precondition when one is given; 404 is not an error. */
  delete(name: string, resourceVersion?: string): Promise<void>;

  listLeases(labelSelector: string): Promise<readonly Lease[]>;
  getLease(name: string): Promise<Lease | undefined>;
  createLease(lease: Lease): Promise<Lease>;
  replaceLease(lease: Lease): Promise<Lease>;
}

/** The StateApi of `namespace` on a Kubernetes client. */
export function stateApiOver(client: ObjectReader & ObjectWriter & Leases, namespace: string): StateApi {
  const t = KMS_STATE_RECORD;
  return {
    namespace,
    list: () => client.list<KmsStateRecord>(t, namespace),
    watch: (rv, onEvent, onDone) => client.watch(t, rv, onEvent, onDone, namespace),
    get: (name) => client.get<KmsStateRecord>(t, namespace, name),
    create: (body) => client.create(t, namespace, body),
    replace: (body) => client.replace(t, namespace, body),
    delete: (name, resourceVersion) => client.delete(t, namespace, name, resourceVersion),
    listLeases: (labelSelector) => client.listLeases(namespace, labelSelector),
    getLease: (name) => client.getLease(namespace, name),
    createLease: (lease) => client.createLease(lease),
    replaceLease: (lease) => client.replaceLease(lease),
  };
}
