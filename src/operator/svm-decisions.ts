/**
 * Re-encryption through StorageVersionMigrations, as pure functions: the name of the migration of one resource
 * for one key version, its state read from its conditions (the storage-version-migrator's Running/Succeeded/Failed
 * and the object counts its messages carry), and the `status.reencryption` those states add up to.
 */
import type { MigrationStatus, ReencryptionStatus } from '../api/kinds.ts';
import type { ServedResource, StorageMigration } from './reencrypt-api.ts';

/** `kubekms-v2-secrets`, `kubekms-v2-widgets.example.com`: a DNS subdomain, one per key version and resource. */
export function migrationName(version: number, r: Pick<ServedResource, 'plural' | 'group'>): string {
  return `kubekms-v${version}-${r.plural}${r.group ? `.${r.group}` : ''}`.toLowerCase().slice(0, 253);
}

export interface MigrationState {
  readonly phase: MigrationStatus['phase'];
  /** Objects the migration found, and those not migrated yet, when its message says. */
  readonly total?: number;
  readonly remaining?: number;
  readonly message?: string;
}

const NOT_YET = /(\d+)\/(\d+) (?:objects )?not yet migrated/;
const VERIFIED = /(\d+) objects verified migrated/;

/** The state of a migration from its conditions; a Failed or Succeeded condition that is True ends it. */
export function migrationState(m: StorageMigration | undefined): MigrationState {
  const c = (type: string) => m?.conditions.find((x) => x.type === type && x.status === 'True');
  const failed = c('Failed');
  const succeeded = c('Succeeded');
  const running = m?.conditions.find((x) => x.type === 'Running');
  const phase = failed ? 'Failed' : succeeded ? 'Succeeded' : running ? 'Running' : 'Pending';
  const message = (failed ?? succeeded ?? running)?.message;
  const counts = (text: string | undefined): { total?: number; remaining?: number } => {
    const n = text ? NOT_YET.exec(text) : null;
    if (n) return { remaining: Number(n[1]), total: Number(n[2]) };
    const v = text ? VERIFIED.exec(text) : null;
    return v ? { remaining: 0, total: Number(v[1]) } : {};
  };
  // Succeeded says only "Migration completed": the counts are in the Running condition beside it.
  const n = failed ? counts(failed.message) : counts(running?.message);
  const remaining = phase === 'Succeeded' ? 0 : n.remaining;
  return {
    phase,
    ...(n.total !== undefined ? { total: n.total } : {}),
    ...(remaining !== undefined ? { remaining } : {}),
    ...(message ? { message: message.slice(0, 1024) } : {}),
  };
}

export interface TrackedMigration {
  readonly resource: string;
  readonly name: string;
  readonly state: MigrationState;
}

/**
 * The pass status the migrations add up to: `total` the objects they found, `done` those migrated, `failed` the
 * objects a failed migration left (at least 1 per failed migration).
 */
export function migrationProgress(
  s0: ReencryptionStatus,
  tracked: readonly TrackedMigration[],
): ReencryptionStatus {
  let total = 0;
  let done = 0;
  let failed = 0;
  for (const t of tracked) {
    const { state } = t;
    const n = state.total ?? 0;
    const left = state.phase === 'Succeeded' ? 0 : (state.remaining ?? n);
    total += n;
    done += n - left;
    if (state.phase === 'Failed') failed += Math.max(1, left);
  }
  return {
    ...s0,
    total,
    done,
    skipped: 0,
    failed,
    method: 'StorageVersionMigration',
    migrations: tracked.map((t) => ({
      resource: t.resource,
      name: t.name,
      phase: t.state.phase,
      ...(t.state.message ? { message: t.state.message } : {}),
    })),
  };
}

export const migrationsEnded = (tracked: readonly TrackedMigration[]): boolean =>
  tracked.every((t) => t.state.phase === 'Succeeded' || t.state.phase === 'Failed');
