/**
 * The Kubernetes calls cluster mode makes on kubekms.io objects (get, list, create, merge patch, delete): the
 * kube client's object reader and writer, narrowed to what the cluster operations use.
 */
import type { ObjectReader, ObjectWriter } from '../../kube/client.ts';
import { nodeKubeClient } from '../../kube/client-node.ts';
import { loadKubeConfig } from '../../kube/kubeconfig.ts';
import type { KubeObject, ResourceType } from '../../kube/objects.ts';

export interface ClusterApi {
  get<T extends KubeObject>(type: ResourceType, namespace: string, name: string): Promise<T | undefined>;
  /** Every object of the type, in all namespaces. */
  list<T extends KubeObject>(type: ResourceType): Promise<readonly T[]>;
  create<T extends KubeObject>(type: ResourceType, namespace: string, body: T): Promise<T>;
  /** JSON merge patch of the object. */
  patch<T extends KubeObject>(type: ResourceType, namespace: string, name: string, body: unknown): Promise<T>;
  /** Deletes the object; absent is fine. */
  delete(type: ResourceType, namespace: string, name: string): Promise<void>;
}

/**
 * A kubeconfig file; empty: in-cluster service account, else $KUBECONFIG or ~/.kube/config. Loaded at the first
 * call, and again after a failure: `kubekms serve` starts before the API server may exist (invariant 1), so a
 * kubeconfig that is not there yet fails requests, not the start.
 */
export function clusterApiFromKubeconfig(path: string): ClusterApi {
  let loaded: ClusterApi | undefined;
  const api = (): ClusterApi => {
    loaded ??= load(path);
    return loaded;
  };
  return {
    get: (t, ns, name) => api().get(t, ns, name),
    list: (t) => api().list(t),
    create: (t, ns, body) => api().create(t, ns, body),
    patch: (t, ns, name, body) => api().patch(t, ns, name, body),
    delete: (t, ns, name) => api().delete(t, ns, name),
  };
}

function load(path: string): ClusterApi {
  return clusterApiOver(nodeKubeClient(loadKubeConfig(path)));
}

/** The ClusterApi on a Kubernetes client's object reader and writer. */
export function clusterApiOver(client: ObjectReader & ObjectWriter): ClusterApi {
  return {
    get: (t, ns, name) => client.get(t, ns, name),
    list: async <T extends KubeObject>(t: ResourceType) => (await client.list<T>(t)).items,
    create: (t, ns, body) => client.create(t, ns, body),
    patch: (t, ns, name, body) => client.patch(t, ns, name, body, { patchType: 'merge' }),
    delete: (t, ns, name) => client.delete(t, ns, name),
  };
}
