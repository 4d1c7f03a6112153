/**
 * StateApi on @kubernetes/client-node 2.x: namespaced custom-object calls for KmsStateRecords, its Watch for the
 * stream, CoordinationV1 for heartbeat Leases. Every API error is normalized to KubeApiError.
 */
import {
  CoordinationV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type V1Lease,
  Watch,
} from '@kubernetes/client-node';
import type { WatchHandle } from '../kube/client.ts';
import { call, watchPath } from '../kube/client-node.ts';
import { isNotFound } from '../kube/errors.ts';
import type { HeartbeatLease, StateApi } from './state-api.ts';
import { STATE_RECORD_TYPE, type StateRecordObject } from './state-records.ts';

export function nodeStateApi(kc: KubeConfig, namespace: string): StateApi {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const coordination = kc.makeApiClient(CoordinationV1Api);
  const watcher = new Watch(kc);
  const t = {
    group: STATE_RECORD_TYPE.group,
    version: STATE_RECORD_TYPE.version,
    plural: STATE_RECORD_TYPE.plural,
  };

  return {
    namespace,
    async list() {
      const r = (await call(() => custom.listNamespacedCustomObject({ ...t, namespace }))) as {
        items?: StateRecordObject[];
        metadata?: { resourceVersion?: string };
      };
      return { items: r.items ?? [], resourceVersion: r.metadata?.resourceVersion ?? '' };
    },

    watch(resourceVersion, onEvent, onDone): Promise<WatchHandle> {
      const path = `/apis/${t.group}/${t.version}/namespaces/${namespace}/${t.plural}`;
      return watchPath(watcher, path, resourceVersion, onEvent, onDone);
    },

    async get(name) {
      try {
        return (await call(() =>
          custom.getNamespacedCustomObject({ ...t, namespace, name }),
        )) as StateRecordObject;
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    },

    async create(body) {
      return (await call(() =>
        custom.createNamespacedCustomObject({ ...t, namespace, body }),
      )) as StateRecordObject;
    },

    async replace(body) {
      return (await call(() =>
        custom.replaceNamespacedCustomObject({ ...t, namespace, name: body.metadata.name, body }),
      )) as StateRecordObject;
    },

    async delete(name, resourceVersion) {
      try {
        await call(() =>
          custom.deleteNamespacedCustomObject({
            ...t,
            namespace,
            name,
            ...(resourceVersion ? { body: { preconditions: { resourceVersion } } } : {}),
          }),
        );
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    },

    async listLeases(labelSelector) {
      const r = await call(() => coordination.listNamespacedLease({ namespace, labelSelector }));
      return r.items.map(toLease);
    },

    async getLease(name) {
      try {
        return toLease(await call(() => coordination.readNamespacedLease({ namespace, name })));
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    },

    async createLease(lease) {
      return toLease(
        await call(() =>
          coordination.createNamespacedLease({ namespace, body: lease as unknown as V1Lease }),
        ),
      );
    },

    async replaceLease(lease) {
      return toLease(
        await call(() =>
          coordination.replaceNamespacedLease({
            namespace,
            name: lease.metadata.name,
            body: lease as unknown as V1Lease,
          }),
        ),
      );
    },
  };
}

/** MicroTime fields come back as Date or string depending on the serializer: keep strings. */
function toLease(l: V1Lease): HeartbeatLease {
  const s = l.spec ?? {};
  const renew: unknown = s.renewTime;
  const renewTime =
    renew instanceof Date ? renew.toISOString() : typeof renew === 'string' ? renew : undefined;
  const m = l.metadata ?? {};
  return {
    metadata: {
      name: m.name ?? '',
      ...(m.namespace ? { namespace: m.namespace } : {}),
      ...(m.resourceVersion ? { resourceVersion: m.resourceVersion } : {}),
      ...(m.labels ? { labels: m.labels } : {}),
      ...(m.annotations ? { annotations: m.annotations } : {}),
    },
    spec: {
      ...(s.holderIdentity !== undefined ? { holderIdentity: s.holderIdentity } : {}),
      ...(s.leaseDurationSeconds !== undefined ? { leaseDurationSeconds: s.leaseDurationSeconds } : {}),
      ...(renewTime ? { renewTime } : {}),
    },
  };
}
