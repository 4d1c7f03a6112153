import { describe, expect, it } from 'vitest';
import type { ReencryptionStatus } from '../api/kinds.ts';
import type { StorageMigration } from './reencrypt-api.ts';
import {
  type MigrationState,
  migrationName,
  migrationProgress,
  migrationState,
  migrationsEnded,
} from './svm-decisions.ts';

const cond = (type: string, status: string, message?: string) => ({
  type,
  status,
  ...(message ? { message } : {}),
});
const svm = (...conditions: StorageMigration['conditions']): StorageMigration => ({ name: 'm', conditions });

describe('StorageVersionMigration decisions', () => {
  it('names one migration per key version and resource, as a DNS subdomain', () => {
    expect(migrationName(2, { plural: 'secrets', group: '' })).toBe('kubekms-v2-secrets');
    expect(migrationName(7, { plural: 'Widgets', group: 'example.com' })).toBe(
      'kubekms-v7-widgets.example.com',
    );
  });

  // Condition messages as kube-controller-manager 1.37's storage-version-migrator writes them.
  it.each<[string, StorageMigration | undefined, MigrationState]>([
    ['not created', undefined, { phase: 'Pending' }],
    ['no condition yet', svm(), { phase: 'Pending' }],
    [
      'running, with counts',
      svm(cond('Running', 'True', 'The migration is running, 1500/2001 objects not yet migrated')),
      {
        phase: 'Running',
        total: 2001,
        remaining: 1500,
        message: 'The migration is running, 1500/2001 objects not yet migrated',
      },
    ],
    [
      'succeeded: the counts come from the Running condition beside it',
      svm(
        cond('Running', 'False', 'The migration is running, 2001 objects verified migrated'),
        cond('Succeeded', 'True', 'Migration completed'),
      ),
      { phase: 'Succeeded', total: 2001, remaining: 0, message: 'Migration completed' },
    ],
    [
      'succeeded as kube-controller-manager 1.37 leaves it: no count (runMigrations takes the one seen or lists)',
      svm(cond('Running', 'False', 'Migration completed'), cond('Succeeded', 'True', 'Migration completed')),
      { phase: 'Succeeded', remaining: 0, message: 'Migration completed' },
    ],
    [
      'failed',
      svm(
        cond('Running', 'False', 'The migration is running'),
        cond('Failed', 'True', '3/10 not yet migrated. migration encountered unhandled error: boom'),
      ),
      {
        phase: 'Failed',
        total: 10,
        remaining: 3,
        message: '3/10 not yet migrated. migration encountered unhandled error: boom',
      },
    ],
  ])('%s', (_what, m, want) => {
    expect(migrationState(m)).toEqual(want);
  });

  it('adds the migrations up into the pass status: done + failed = total', () => {
    const s0: ReencryptionStatus = {
      phase: 'Running',
      keyVersion: 2,
      total: 0,
      done: 0,
      skipped: 0,
      failed: 0,
    };
    const s = migrationProgress(s0, [
      {
        resource: 'secrets',
        name: 'kubekms-v2-secrets',
        state: { phase: 'Succeeded', total: 20, remaining: 0 },
      },
      {
        resource: 'configmaps',
        name: 'kubekms-v2-configmaps',
        state: { phase: 'Failed', total: 10, remaining: 3, message: 'boom' },
      },
    ]);
    expect(s).toMatchObject({
      total: 30,
      done: 27,
      failed: 3,
      skipped: 0,
      method: 'StorageVersionMigration',
    });
    expect(s.migrations).toEqual([
      { resource: 'secrets', name: 'kubekms-v2-secrets', phase: 'Succeeded' },
      { resource: 'configmaps', name: 'kubekms-v2-configmaps', phase: 'Failed', message: 'boom' },
    ]);
    const noCounts = migrationProgress(s0, [{ resource: 'secrets', name: 'n', state: { phase: 'Failed' } }]);
    expect(noCounts.failed).toBe(1); // a failure is never counted as none
    expect(migrationsEnded([{ resource: 'a', name: 'a', state: { phase: 'Running' } }])).toBe(false);
    expect(migrationsEnded([{ resource: 'a', name: 'a', state: { phase: 'Failed' } }])).toBe(true);
  });
});
