/**
 * Leases on @kubernetes/client-node 2.x (CoordinationV1Api): the one place a Lease is read, created and replaced,
 * for leader election and the HA heartbeats. MicroTime fields are sent as six-digit strings (microTime) and read
 * back as strings whatever the serializer made of them.
 */
import { CoordinationV1Api, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { call } from './call-node.ts';
import type { Lease, Leases } from './client.ts';
import { isNotFound } from './errors.ts';

export function nodeLeases(kc: KubeConfig): Leases {
  const coordination = kc.makeApiClient(CoordinationV1Api);
  // MicroTime fields stay strings (the generated serializer would print a Date with three fractional digits).
  const body = (lease: Lease): V1Lease => lease as unknown as V1Lease;
  return {
    async listLeases(namespace: string, labelSelector: string): Promise<readonly Lease[]> {
      const r = await call(() => coordination.listNamespacedLease({ namespace, labelSelector }));
      return r.items.map(toLease);
    },

    async getLease(namespace: string, name: string): Promise<Lease | undefined> {
      try {
        return toLease(await call(() => coordination.readNamespacedLease({ namespace, name })));
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    },

    async createLease(lease: Lease): Promise<Lease> {
      const namespace = lease.metadata.namespace ?? '';
      return toLease(await call(() => coordination.createNamespacedLease({ namespace, body: body(lease) })));
    },

    async replaceLease(lease: Lease): Promise<Lease> {
      const { name, namespace = '' } = lease.metadata;
      return toLease(
        await call(() => coordination.replaceNamespacedLease({ namespace, name, body: body(lease) })),
      );
    },
  };
}

/** MicroTime fields come back as Date or string depending on the serializer: keep strings. */
export function toLease(l: V1Lease): Lease {
  const time = (v: unknown): string | undefined =>
    v instanceof Date ? v.toISOString() : typeof v === 'string' ? v : undefined;
  const s = l.spec ?? {};
  const m = l.metadata ?? {};
  const acquireTime = time(s.acquireTime);
  const renewTime = time(s.renewTime);
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
      ...(acquireTime ? { acquireTime } : {}),
      ...(renewTime ? { renewTime } : {}),
      ...(s.leaseTransitions !== undefined ? { leaseTransitions: s.leaseTransitions } : {}),
    },
  };
}
