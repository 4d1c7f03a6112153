/**
 * Re-encryption by the cluster itself (Kubernetes ≥ 1.37): one StorageVersionMigration per configured resource,
 * which kube-controller-manager's storage-version-migrator works through (a no-op patch of every object, so the
 * API server rewrites those stored under a stale key_id). kubekms follows their conditions into
 * `status.reencryption` after every change, and deletes them once all ended. A fresh run first deletes a
 * leftover migration of the same name (a failed earlier attempt); a resumed one follows what exists.
 */
import type { ReencryptionStatus } from '../api/kinds.ts';
import { sleep } from '../kube/backoff.ts';
import { isConflict } from '../kube/errors.ts';
import type { MigrationApi, ReencryptApi, ServedResource } from './reencrypt-api.ts';
import type { PassResult } from './reencrypt-pass.ts';
import {
  type MigrationState,
  migrationName,
  migrationProgress,
  migrationState,
  migrationsEnded,
  type TrackedMigration,
} from './svm-decisions.ts';

export interface MigrateOptions {
  readonly api: ReencryptApi;
  readonly migrations: MigrationApi;
  readonly resources: readonly string[];
  /** A resumed run follows the migrations it created before. */
  readonly resumed: boolean;
  readonly signal?: AbortSignal;
  /** Persists progress; called whenever a migration's state changes. */
  readonly onPage: (s: ReencryptionStatus) => Promise<void>;
  readonly onUnknownResource?: (name: string) => void;
  readonly shouldStop?: () => boolean;
  readonly pollMs?: number;
}

interface Target {
  readonly resource: string;
  readonly name: string;
  readonly served: ServedResource;
}

/**
 * A Succeeded migration's conditions no longer carry its object count (the migrator overwrites its Running message
 * with "Migration completed"): take the count last seen while it ran, else count the resource (a list of 1 with
 * the API server's remainingItemCount).
 */
async function withTotal(
  api: ReencryptApi,
  t: Target,
  state: MigrationState,
  seen: Map<string, number>,
): Promise<MigrationState> {
  if (state.total !== undefined) {
    seen.set(t.name, state.total);
    return state;
  }
  if (state.phase !== 'Succeeded') return state;
  let total = seen.get(t.name);
  if (total === undefined) {
    const page = await api.list(t.served, 1, undefined);
    total = page.items.length + (page.remainingItemCount ?? 0);
    seen.set(t.name, total);
  }
  return { ...state, total, remaining: 0 };
}

export async function runMigrations(start: ReencryptionStatus, o: MigrateOptions): Promise<PassResult> {
  const m = o.migrations;
  const targets: Target[] = [];
  const unknown: string[] = [];
  for (const resource of o.resources) {
    const r = await o.api.resolve(resource);
    if (!r) {
      unknown.push(resource);
      o.onUnknownResource?.(resource);
      continue;
    }
    const name = migrationName(start.keyVersion, r);
    if (!o.resumed) await m.delete(name);
    try {
      await m.create(name, r.group, r.plural);
    } catch (e) {
      if (!isConflict(e)) throw e; // 409 AlreadyExists: resumed, follow it
    }
    targets.push({ resource, name, served: r });
  }
  const s0: ReencryptionStatus = {
    ...start,
    ...(unknown.length > 0 ? { unknownResources: unknown } : {}),
  };
  const stop = () => (o.signal?.aborted ?? false) || (o.shouldStop?.() ?? false);
  let last: ReencryptionStatus | undefined;
  const seen = new Map<string, number>();
  for (;;) {
    const tracked: TrackedMigration[] = [];
    for (const t of targets) {
      const state = await withTotal(o.api, t, migrationState(await m.get(t.name)), seen);
      tracked.push({ resource: t.resource, name: t.name, state });
    }
    const s = migrationProgress(s0, tracked);
    if (JSON.stringify(s) !== JSON.stringify(last)) await o.onPage(s);
    last = s;
    if (migrationsEnded(tracked)) {
      for (const t of targets) await m.delete(t.name);
      return { status: s, stopped: false };
    }
    if (stop()) return { status: s, stopped: true };
    await sleep(o.pollMs ?? 2_000, o.signal);
  }
}
