/**
 * Status and finalizer writes. Status goes to the status subresource as a JSON merge patch holding the whole
 * status (fields that disappeared are sent as null, lists such as conditions are replaced whole); nothing is sent
 * when nothing changed, so a reconcile never triggers itself. Finalizers are written with the object's
 * resourceVersion, so a concurrent change gives 409 (retried) instead of dropping someone else's finalizer.
 */
import { isDeepStrictEqual } from 'node:util';
import type { KubeClient } from '../kube/client.ts';
import type { KubeObject, ResourceType } from '../kube/objects.ts';

/** The merge patch turning `before` into `after` (top-level fields; absent ones become null). */
export function statusMergePatch(before: object | undefined, after: object): Record<string, unknown> {
  const patch: Record<string, unknown> = { ...after };
  for (const k of Object.keys(before ?? {})) if (!(k in after)) patch[k] = null;
  return patch;
}

export async function writeStatus<S extends object>(
  client: KubeClient,
  type: ResourceType,
  o: KubeObject & { readonly status?: S },
  next: S,
): Promise<boolean> {
  if (isDeepStrictEqual(o.status ?? {}, next)) return false;
  await client.patch(
    type,
    o.metadata.namespace ?? '',
    o.metadata.name,
    { status: statusMergePatch(o.status, next) },
    {
      patchType: 'merge',
      status: true,
    },
  );
  return true;
}

export async function setFinalizers(
  client: KubeClient,
  type: ResourceType,
  o: KubeObject,
  finalizers: readonly string[],
): Promise<void> {
  await client.patch(
    type,
    o.metadata.namespace ?? '',
    o.metadata.name,
    { metadata: { finalizers, resourceVersion: o.metadata.resourceVersion } },
    { patchType: 'merge' },
  );
}

export const addFinalizer = (c: KubeClient, t: ResourceType, o: KubeObject, f: string): Promise<void> =>
  setFinalizers(c, t, o, [...(o.metadata.finalizers ?? []), f]);

export const removeFinalizer = (c: KubeClient, t: ResourceType, o: KubeObject, f: string): Promise<void> =>
  setFinalizers(
    c,
    t,
    o,
    (o.metadata.finalizers ?? []).filter((x) => x !== f),
  );
