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
import type { MigrationApi, ReencryptApi } from './reencrypt-api.ts';
import type { PassResult } from './reencrypt-pass.ts';
import {
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
    targets.push({ resource, name });
  }
  const s0: ReencryptionStatus = {
    ...start,
    ...(unknown.length > 0 ? { unknownResources: unknown } : {}),
  };
  const stop = () => (o.signal?.aborted ?? false) || (o.shouldStop?.() ?? false);
  let last: ReencryptionStatus | undefined;
  for (;;) {
    const tracked: TrackedMigration[] = [];
    for (const t of targets) tracked.push({ ...t, state: migrationState(await m.get(t.name)) });
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
