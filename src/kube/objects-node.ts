/**
 * ObjectReader and ObjectWriter on @kubernetes/client-node 2.x for custom objects (kubekms.io and the like): the
 * generated CustomObjectsApi for requests, its Watch for streams. Patches set their Content-Type explicitly (the
 * generated default, JSON Patch, breaks merge patches).
 */
import {
  CustomObjectsApi,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  Watch,
} from '@kubernetes/client-node';
import { call, watchPath } from './call-node.ts';
import type { ListResult, ObjectReader, ObjectWriter, PatchType } from './client.ts';
import { isNotFound } from './errors.ts';
import type { KubeObject, ResourceType } from './objects.ts';

const CONTENT_TYPE = { merge: PatchStrategy.MergePatch, json: PatchStrategy.JsonPatch } as const;

const gvp = (t: ResourceType) => ({ group: t.group, version: t.version, plural: t.plural });

/** `/apis/group/version[/namespaces/ns]/plural`: the watch path of a type, in one namespace or all. */
export function collectionPath(t: ResourceType, namespace?: string): string {
  return `/apis/${t.group}/${t.version}${namespace ? `/namespaces/${namespace}` : ''}/${t.plural}`;
}

export function nodeObjects(kc: KubeConfig): ObjectReader & ObjectWriter {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const watcher = new Watch(kc);
  return {
    async list<T extends KubeObject>(t: ResourceType, namespace?: string): Promise<ListResult<T>> {
      const r = (await call(() =>
        namespace
          ? custom.listNamespacedCustomObject({ ...gvp(t), namespace })
          : custom.listClusterCustomObject(gvp(t)),
      )) as { items?: T[]; metadata?: { resourceVersion?: string } };
      return { items: r.items ?? [], resourceVersion: r.metadata?.resourceVersion ?? '' };
    },

    watch: (t, resourceVersion, onEvent, onDone, namespace) =>
      watchPath(watcher, collectionPath(t, namespace), resourceVersion, onEvent, onDone),

    async get<T extends KubeObject>(
      t: ResourceType,
      namespace: string,
      name: string,
    ): Promise<T | undefined> {
      try {
        return (await call(() => custom.getNamespacedCustomObject({ ...gvp(t), namespace, name }))) as T;
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    },

    async create<T extends KubeObject>(t: ResourceType, namespace: string, body: T): Promise<T> {
      return (await call(() => custom.createNamespacedCustomObject({ ...gvp(t), namespace, body }))) as T;
    },

    async patch<T extends KubeObject>(
      t: ResourceType,
      namespace: string,
      name: string,
      body: unknown,
      opts: { readonly patchType: PatchType; readonly status?: boolean },
    ): Promise<T> {
      const req = { ...gvp(t), namespace, name, body: body as object };
      const headers = setHeaderOptions('Content-Type', CONTENT_TYPE[opts.patchType]);
      return (await call(() =>
        opts.status
          ? custom.patchNamespacedCustomObjectStatus(req, headers)
          : custom.patchNamespacedCustomObject(req, headers),
      )) as T;
    },

    async replace<T extends KubeObject>(t: ResourceType, namespace: string, body: T): Promise<T> {
      const name = body.metadata.name;
      return (await call(() =>
        custom.replaceNamespacedCustomObject({ ...gvp(t), namespace, name, body }),
      )) as T;
    },

    async delete(t: ResourceType, namespace: string, name: string, resourceVersion?: string): Promise<void> {
      const preconditions = resourceVersion ? { body: { preconditions: { resourceVersion } } } : {};
      try {
        await call(() =>
          custom.deleteNamespacedCustomObject({ ...gvp(t), namespace, name, ...preconditions }),
        );
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    },
  };
}
