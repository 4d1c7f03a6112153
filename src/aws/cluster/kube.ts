/**
 * The Kubernetes calls cluster mode makes on kubekms.io objects (get, list, create, merge patch, delete), on
 * @kubernetes/client-node, with the operator's error normalization. Kept separate from the operator's KubeClient
 * port, which has no delete.
 */
import { CustomObjectsApi } from '@kubernetes/client-node';
import { nodeKubeClient } from '../../kube/client-node.ts';
import { isNotFound, normalizeKubeError } from '../../kube/errors.ts';
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
  const kc = loadKubeConfig(path);
  const client = nodeKubeClient(kc);
  const custom = kc.makeApiClient(CustomObjectsApi);
  return {
    get: (t, ns, name) => client.get(t, ns, name),
    list: async <T extends KubeObject>(t: ResourceType) => (await client.list<T>(t)).items,
    create: (t, ns, body) => client.create(t, ns, body),
    patch: (t, ns, name, body) => client.patch(t, ns, name, body, { patchType: 'merge' }),
    async delete(t, namespace, name) {
      try {
        await custom.deleteNamespacedCustomObject({
          group: t.group,
          version: t.version,
          plural: t.plural,
          namespace,
          name,
        });
      } catch (e) {
        const err = normalizeKubeError(e);
        if (!isNotFound(err)) throw err;
      }
    },
  };
}
