/**
 * ReencryptApi over the kube room's raw requests: raw JSON in and out, so an object is sent back exactly as it
 * was read (no model classes that could drop fields); StorageVersionMigrations the same way.
 */
import { isNotFound, normalizeKubeError } from '../kube/errors.ts';
import type { KubeConfig } from '../kube/kubeconfig.ts';
import { kubeRequester } from '../kube/raw-http.ts';
import {
  type ListPage,
  type MigrationApi,
  type RawObject,
  type ReencryptApi,
  resourcePath,
  type ServedResource,
  type StorageMigration,
  splitResource,
} from './reencrypt-api.ts';

const TIMEOUT_MS = 30_000;

interface Discovery {
  readonly resources?: readonly {
    name: string;
    kind: string;
    namespaced: boolean;
    verbs?: readonly string[];
  }[];
}

export function httpReencryptApi(kc: KubeConfig): ReencryptApi {
  const request = kubeRequester(kc);
  async function call<T>(
    method: 'GET' | 'PUT' | 'POST' | 'DELETE',
    path: string,
    body?: unknown,
  ): Promise<T> {
    const r = await request(method, path, { body, timeoutMs: TIMEOUT_MS });
    if (r.status < 200 || r.status > 299) throw normalizeKubeError({ code: r.status, body: r.body });
    return JSON.parse(r.body) as T;
  }

  return {
    migrations: httpMigrationApi(call),
    async resolve(name: string): Promise<ServedResource | undefined> {
      const { plural, group } = splitResource(name);
      let version = 'v1';
      if (group) {
        try {
          const g = await call<{ preferredVersion?: { version: string } }>('GET', `/apis/${group}`);
          if (!g.preferredVersion) return undefined;
          version = g.preferredVersion.version;
        } catch (e) {
          if (isNotFound(e)) return undefined;
          throw e;
        }
      }
      const d = await call<Discovery>('GET', group ? `/apis/${group}/${version}` : '/api/v1');
      const r = d.resources?.find((x) => x.name === plural);
      if (!r || !(r.verbs ?? []).includes('update') || !(r.verbs ?? []).includes('list')) return undefined;
      return { name, group, version, plural, kind: r.kind, namespaced: r.namespaced };
    },

    async list(r: ServedResource, limit: number, cont: string | undefined): Promise<ListPage> {
      const q = new URLSearchParams({ limit: String(limit) });
      if (cont) q.set('continue', cont);
      const l = await call<{
        items?: RawObject[];
        metadata?: { continue?: string; remainingItemCount?: number };
      }>('GET', `${resourcePath(r)}?${q}`);
      return {
        items: l.items ?? [],
        ...(l.metadata?.continue ? { continue: l.metadata.continue } : {}),
        ...(l.metadata?.remainingItemCount !== undefined
          ? { remainingItemCount: l.metadata.remainingItemCount }
          : {}),
      };
    },

    async replace(r: ServedResource, o: RawObject): Promise<void> {
      const apiVersion = r.group ? `${r.group}/${r.version}` : r.version;
      await call('PUT', resourcePath(r, o.metadata.namespace, o.metadata.name), {
        ...o,
        apiVersion,
        kind: r.kind,
      });
    },

    async get(
      r: ServedResource,
      namespace: string | undefined,
      name: string,
    ): Promise<RawObject | undefined> {
      try {
        return await call<RawObject>('GET', resourcePath(r, namespace, name));
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    },
  };
}

const SVM = '/apis/storagemigration.k8s.io/v1/storageversionmigrations';

type Call = <T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown) => Promise<T>;

function httpMigrationApi(call: Call): MigrationApi {
  return {
    async served(): Promise<boolean> {
      try {
        const d = await call<Discovery>('GET', '/apis/storagemigration.k8s.io/v1');
        return (d.resources ?? []).some((r) => r.name === 'storageversionmigrations');
      } catch (e) {
        if (isNotFound(e)) return false;
        throw e;
      }
    },
    async create(name: string, group: string, resource: string): Promise<void> {
      await call('POST', SVM, {
        apiVersion: 'storagemigration.k8s.io/v1',
        kind: 'StorageVersionMigration',
        metadata: { name, labels: { 'app.kubernetes.io/managed-by': 'kubekms' } },
        spec: { resource: { group, resource } },
      });
    },
    async get(name: string): Promise<StorageMigration | undefined> {
      try {
        const o = await call<{ status?: { conditions?: StorageMigration['conditions'] } }>(
          'GET',
          `${SVM}/${encodeURIComponent(name)}`,
        );
        return { name, conditions: o.status?.conditions ?? [] };
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    },
    async delete(name: string): Promise<void> {
      try {
        await call('DELETE', `${SVM}/${encodeURIComponent(name)}`);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    },
  };
}
