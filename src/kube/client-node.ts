/**
 * KubeClient on @kubernetes/client-node 2.x: generated clients for requests, its Watch for streams. Patches set
 * their Content-Type explicitly (the generated default, JSON Patch, breaks merge patches); MicroTime fields are
 * sent as six-digit strings; every error is normalized to KubeApiError.
 */
import {
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  EventsV1Api,
  type EventsV1Event,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Lease,
  Watch,
} from '@kubernetes/client-node';
import type { EventBody, KubeClient, Lease, ListResult, WatchEventType, WatchHandle } from './client.ts';
import { isKubeCode, isNotFound, normalizeKubeError } from './errors.ts';
import type { KubeObject, ResourceType } from './objects.ts';

/** Server-side watch timeout: below the client's 30 s inactivity timeout, so quiet watches end cleanly. */
const WATCH_TIMEOUT_SECONDS = 25;

/** Runs one API call; every failure comes out as KubeApiError (or the network error as is). */
export async function call<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw normalizeKubeError(e);
  }
}

/**
 * Watches `path` from `resourceVersion` with bookmarks and the server-side timeout. `onDone` is called once: with
 * no error for a clean close or the client's timeout, with a normalized error otherwise; never after stop().
 */
export async function watchPath<T>(
  watcher: Watch,
  path: string,
  resourceVersion: string,
  onEvent: (type: WatchEventType, object: T) => void,
  onDone: (err?: unknown) => void,
): Promise<WatchHandle> {
  let stopped = false;
  const controller = await watcher.watch(
    path,
    { resourceVersion, allowWatchBookmarks: true, timeoutSeconds: WATCH_TIMEOUT_SECONDS },
    (type: string, obj: unknown) => {
      if (!stopped) onEvent(type as WatchEventType, obj as T);
    },
    (err: unknown) => {
      if (stopped) return;
      stopped = true;
      const timeout = err instanceof Error && err.name === 'TimeoutError';
      onDone(err && !timeout ? normalizeKubeError(err) : undefined);
    },
  );
  return {
    stop() {
      stopped = true;
      controller.abort();
    },
  };
}

const CONTENT_TYPE = { merge: PatchStrategy.MergePatch, json: PatchStrategy.JsonPatch } as const;

export function nodeKubeClient(kc: KubeConfig): KubeClient {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const events = kc.makeApiClient(EventsV1Api);
  const coordination = kc.makeApiClient(CoordinationV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  const watcher = new Watch(kc);

  return {
    async list<T extends KubeObject>(t: ResourceType): Promise<ListResult<T>> {
      const r = (await call(() =>
        custom.listClusterCustomObject({ group: t.group, version: t.version, plural: t.plural }),
      )) as { items?: T[]; metadata?: { resourceVersion?: string } };
      return { items: r.items ?? [], resourceVersion: r.metadata?.resourceVersion ?? '' };
    },

    watch<T extends KubeObject>(
      t: ResourceType,
      resourceVersion: string,
      onEvent: (type: WatchEventType, object: T) => void,
      onDone: (err?: unknown) => void,
    ): Promise<WatchHandle> {
      return watchPath(
        watcher,
        `/apis/${t.group}/${t.version}/${t.plural}`,
        resourceVersion,
        onEvent,
        onDone,
      );
    },

    async get<T extends KubeObject>(
      t: ResourceType,
      namespace: string,
      name: string,
    ): Promise<T | undefined> {
      try {
        return (await call(() =>
          custom.getNamespacedCustomObject({
            group: t.group,
            version: t.version,
            plural: t.plural,
            namespace,
            name,
          }),
        )) as T;
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    },

    async create<T extends KubeObject>(t: ResourceType, namespace: string, body: T): Promise<T> {
      return (await call(() =>
        custom.createNamespacedCustomObject({
          group: t.group,
          version: t.version,
          plural: t.plural,
          namespace,
          body,
        }),
      )) as T;
    },

    async patch<T extends KubeObject>(
      t: ResourceType,
      namespace: string,
      name: string,
      body: unknown,
      opts: { patchType: 'merge' | 'json'; status?: boolean },
    ): Promise<T> {
      const req = {
        group: t.group,
        version: t.version,
        plural: t.plural,
        namespace,
        name,
        body: body as object,
      };
      const headers = setHeaderOptions('Content-Type', CONTENT_TYPE[opts.patchType]);
      return (await call(() =>
        opts.status
          ? custom.patchNamespacedCustomObjectStatus(req, headers)
          : custom.patchNamespacedCustomObject(req, headers),
      )) as T;
    },

    async createEvent(body: EventBody): Promise<void> {
      await call(() =>
        events.createNamespacedEvent({
          namespace: body.metadata.namespace,
          body: body as unknown as EventsV1Event,
        }),
      );
    },

    async patchEventSeries(namespace: string, name: string, series: EventBody['series']): Promise<void> {
      await call(() =>
        events.patchNamespacedEvent(
          { namespace, name, body: { series } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        ),
      );
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
      return toLease(
        await call(() =>
          coordination.createNamespacedLease({ namespace, body: lease as unknown as V1Lease }),
        ),
      );
    },

    async replaceLease(lease: Lease): Promise<Lease> {
      const namespace = lease.metadata.namespace ?? '';
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

    async ensureNamespace(name: string): Promise<void> {
      try {
        await call(() => core.readNamespace({ name }));
      } catch (e) {
        if (!isNotFound(e)) throw e;
        try {
          await call(() => core.createNamespace({ body: { metadata: { name } } }));
        } catch (e2) {
          if (!isKubeCode(e2, 409)) throw e2;
        }
      }
    },
  };
}

/** MicroTime fields come back as Date or string depending on the serializer: keep strings. */
function toLease(l: V1Lease): Lease {
  const time = (v: unknown): string | undefined =>
    v instanceof Date ? v.toISOString() : typeof v === 'string' ? v : undefined;
  const s = l.spec ?? {};
  const acquireTime = time(s.acquireTime);
  const renewTime = time(s.renewTime);
  return {
    metadata: {
      name: l.metadata?.name ?? '',
      ...(l.metadata?.namespace ? { namespace: l.metadata.namespace } : {}),
      ...(l.metadata?.resourceVersion ? { resourceVersion: l.metadata.resourceVersion } : {}),
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
