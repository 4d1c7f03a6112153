import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { Condition } from '../api/conditions.ts';
import type { KmsAlias, KmsGrant, KmsKey, KmsKeyStatus } from '../api/kinds.ts';
import { keyReadyCondition } from './key-status.ts';
import { registerStatusMetrics, type StatusCache, type StatusCaches, suspended } from './status-metrics.ts';

const KEY_ID = '0b7c3f0e-1111-4222-8333-444455556666';

function cond(type: string, status: string, reason: string): Condition {
  return {
    type,
    status,
    reason,
    message: `key ${KEY_ID}`,
    lastTransitionTime: '2026-01-01T00:00:00Z',
  } as Condition;
}

function key(
  ns: string,
  name: string,
  o: { conditions?: Condition[]; enabled?: boolean; status?: Partial<KmsKeyStatus> } = {},
): KmsKey {
  return {
    metadata: { namespace: ns, name, generation: 1 },
    spec: { enabled: o.enabled ?? true },
    ...(o.conditions || o.status
      ? { status: { keyId: KEY_ID, keyState: 'Enabled', ...o.status, conditions: o.conditions ?? [] } }
      : {}),
  };
}

const alias = (name: string, conditions: Condition[]): KmsAlias => ({
  metadata: { namespace: 'apps', name },
  spec: { aliasName: `alias/${name}`, targetKeyRef: { name: 'k' } },
  status: { targetKeyId: KEY_ID, conditions },
});

const grant = (name: string, conditions: Condition[]): KmsGrant => ({
  metadata: { namespace: 'apps', name },
  spec: { keyRef: { name: 'k' }, grantee: { user: 'u' }, operations: ['Decrypt'] },
  status: { keyId: KEY_ID, conditions },
});

class FakeCache<T> implements StatusCache<T> {
  objects: T[];
  synced: boolean;
  constructor(objects: T[], synced = true) {
    this.objects = objects;
    this.synced = synced;
  }
  list(): T[] {
    return [...this.objects];
  }
  hasSynced(): boolean {
    return this.synced;
  }
}

function setup(keys: KmsKey[], aliases: KmsAlias[] = [], grants: KmsGrant[] = []) {
  const caches = {
    keys: new FakeCache(keys),
    aliases: new FakeCache(aliases),
    grants: new FakeCache(grants),
  };
  const registry = new Registry();
  registerStatusMetrics(registry, () => caches);
  return { caches, registry, scrape: () => registry.metrics() };
}

/** The sample lines of one metric, without HELP/TYPE. */
const samples = (text: string, metric: string): string[] =>
  text.split('\n').filter((l) => l.startsWith(`${metric}{`));

describe('status metrics from the informer caches', () => {
  it('reports each condition as three series, 1 for the current status, for the three kinds', async () => {
    const { scrape } = setup(
      [
        key('apps', 'good', { conditions: [cond('Ready', 'True', 'KeyEnabled')] }),
        key('apps', 'broken', { conditions: [cond('Ready', 'False', 'InvalidPolicy')] }),
        key('apps', 'new'), // not reconciled yet: no status
        key('kubekms', 'secrets', {
          conditions: [cond('Ready', 'True', 'ClusterManaged'), cond('Reencrypted', 'False', 'InProgress')],
          status: { keyManager: 'CLUSTER' },
        }),
      ],
      [alias('orders', [cond('Ready', 'True', 'Bound')])],
      [grant('batch', [cond('Ready', 'False', 'IncompatibleOperations')])],
    );
    const text = await scrape();
    expect(samples(text, 'kubekms_kmskey_status_condition')).toEqual([
      'kubekms_kmskey_status_condition{namespace="apps",name="good",condition="Ready",status="True"} 1',
      'kubekms_kmskey_status_condition{namespace="apps",name="good",condition="Ready",status="False"} 0',
      'kubekms_kmskey_status_condition{namespace="apps",name="good",condition="Ready",status="Unknown"} 0',
      'kubekms_kmskey_status_condition{namespace="apps",name="broken",condition="Ready",status="True"} 0',
      'kubekms_kmskey_status_condition{namespace="apps",name="broken",condition="Ready",status="False"} 1',
      'kubekms_kmskey_status_condition{namespace="apps",name="broken",condition="Ready",status="Unknown"} 0',
      'kubekms_kmskey_status_condition{namespace="apps",name="new",condition="Ready",status="True"} 0',
      'kubekms_kmskey_status_condition{namespace="apps",name="new",condition="Ready",status="False"} 0',
      'kubekms_kmskey_status_condition{namespace="apps",name="new",condition="Ready",status="Unknown"} 1',
      'kubekms_kmskey_status_condition{namespace="kubekms",name="secrets",condition="Ready",status="True"} 1',
      'kubekms_kmskey_status_condition{namespace="kubekms",name="secrets",condition="Ready",status="False"} 0',
      'kubekms_kmskey_status_condition{namespace="kubekms",name="secrets",condition="Ready",status="Unknown"} 0',
      'kubekms_kmskey_status_condition{namespace="kubekms",name="secrets",condition="Reencrypted",status="True"} 0',
      'kubekms_kmskey_status_condition{namespace="kubekms",name="secrets",condition="Reencrypted",status="False"} 1',
      'kubekms_kmskey_status_condition{namespace="kubekms",name="secrets",condition="Reencrypted",status="Unknown"} 0',
    ]);
    expect(samples(text, 'kubekms_kmsalias_status_condition')).toEqual([
      'kubekms_kmsalias_status_condition{namespace="apps",name="orders",condition="Ready",status="True"} 1',
      'kubekms_kmsalias_status_condition{namespace="apps",name="orders",condition="Ready",status="False"} 0',
      'kubekms_kmsalias_status_condition{namespace="apps",name="orders",condition="Ready",status="Unknown"} 0',
    ]);
    expect(samples(text, 'kubekms_kmsgrant_status_condition')).toEqual([
      'kubekms_kmsgrant_status_condition{namespace="apps",name="batch",condition="Ready",status="True"} 0',
      'kubekms_kmsgrant_status_condition{namespace="apps",name="batch",condition="Ready",status="False"} 1',
      'kubekms_kmsgrant_status_condition{namespace="apps",name="batch",condition="Ready",status="Unknown"} 0',
    ]);
    // Key ids, reasons and messages stay in the objects.
    expect(text).not.toContain(KEY_ID);
    expect(text).not.toMatch(/InvalidPolicy|KeyEnabled|Bound/);
  });

  it('follows the cache at each scrape: a deleted object disappears, a changed one moves', async () => {
    const { caches, scrape } = setup([
      key('apps', 'a', { conditions: [cond('Ready', 'False', 'Provisioning')] }),
      key('apps', 'b', { conditions: [cond('Ready', 'True', 'KeyEnabled')] }),
    ]);
    expect(await scrape()).toContain('name="a",condition="Ready",status="False"} 1');
    caches.keys.objects = [key('apps', 'a', { conditions: [cond('Ready', 'True', 'KeyEnabled')] })];
    const text = await scrape();
    expect(text).toContain('name="a",condition="Ready",status="True"} 1');
    expect(text).toContain('name="a",condition="Ready",status="False"} 0');
    expect(text).not.toContain('name="b"');
  });

  it('bounds the labels: condition types outside the kind list are left out, an odd status reads Unknown', async () => {
    const { scrape } = setup([
      key('apps', 'k', {
        conditions: [
          cond('Ready', 'Maybe', 'KeyEnabled'),
          cond('SomeoneElses', 'True', 'X'),
          cond('x'.repeat(300), 'True', 'X'),
        ],
      }),
    ]);
    const lines = samples(await scrape(), 'kubekms_kmskey_status_condition');
    expect(lines).toEqual([
      'kubekms_kmskey_status_condition{namespace="apps",name="k",condition="Ready",status="True"} 0',
      'kubekms_kmskey_status_condition{namespace="apps",name="k",condition="Ready",status="False"} 0',
      'kubekms_kmskey_status_condition{namespace="apps",name="k",condition="Ready",status="Unknown"} 1',
    ]);
  });

  it('serves nothing before the caches exist or while one has not listed yet', async () => {
    const registry = new Registry();
    let caches: StatusCaches | undefined;
    registerStatusMetrics(registry, () => caches);
    expect(await registry.metrics()).not.toMatch(/^kubekms_\w+\{/m);
    caches = {
      keys: new FakeCache([key('apps', 'k', { conditions: [cond('Ready', 'True', 'KeyEnabled')] })], false),
      aliases: new FakeCache([alias('a', [cond('Ready', 'True', 'Bound')])]),
      grants: new FakeCache<KmsGrant>([]),
    };
    const text = await registry.metrics();
    expect(text).not.toContain('kubekms_kmskey_status_condition{');
    expect(text).toContain('kubekms_kmsalias_status_condition{namespace="apps",name="a"');
    // A second registration on the same registry (a second operator in one process) keeps the first.
    expect(() => registerStatusMetrics(registry, () => undefined)).not.toThrow();
    expect(await registry.metrics()).toContain('kubekms_kmsalias_status_condition{namespace="apps",name="a"');
  });
});

describe('kubekms_kmskey_suspended', () => {
  const DAY = 86_400_000;
  const o = (enabled: boolean): KmsKey => ({
    metadata: { namespace: 'apps', name: 'k', generation: 1 },
    spec: { enabled },
  });
  const record = (
    state: 'Enabled' | 'Disabled' | 'PendingDeletion',
    keyManager: 'CUSTOMER' | 'CLUSTER' = 'CUSTOMER',
  ) =>
    ({
      keyId: KEY_ID,
      createdAt: 0,
      description: '',
      keySpec: 'SYMMETRIC_DEFAULT',
      keyUsage: 'ENCRYPT_DECRYPT',
      keyManager,
      state,
      deletionDate: 30 * DAY,
      rotation: { enabled: false, periodDays: 365 },
      versions: [],
      primaryVersion: 1,
      tags: {},
      revision: 1,
    }) as unknown as Parameters<typeof keyReadyCondition>[1];
  /** A KmsKey whose Ready condition is the operator's own for the engine state. */
  const reconciled = (
    enabled: boolean,
    state: 'Enabled' | 'Disabled' | 'PendingDeletion',
    manager?: 'CLUSTER',
  ): KmsKey => {
    const c = keyReadyCondition(o(enabled), record(state, manager));
    return {
      ...o(enabled),
      status: {
        keyState: state,
        ...(manager ? { keyManager: manager } : {}),
        conditions: [{ ...c, lastTransitionTime: '' }],
      },
    };
  };

  it.each([
    ['enabled and Ready', reconciled(true, 'Enabled'), false],
    ['disabled by spec.enabled: false', reconciled(false, 'Disabled'), true],
    ['disabled although spec says enabled (e.g. through the AWS API)', reconciled(true, 'Disabled'), false],
    ['deletion scheduled', reconciled(true, 'PendingDeletion'), true],
    ["kubekms's own cluster-managed key disabled", reconciled(false, 'Disabled', 'CLUSTER'), false],
    [
      'refused (InvalidPolicy)',
      key('apps', 'k', { conditions: [cond('Ready', 'False', 'InvalidPolicy')] }),
      false,
    ],
    ['not reconciled yet', o(false), false],
  ])('%s → %s', async (_what, k, want) => {
    expect(suspended(k)).toBe(want);
    const { scrape } = setup([k]);
    expect(await scrape()).toContain(`kubekms_kmskey_suspended{namespace="apps",name="k"} ${want ? 1 : 0}`);
  });
});

describe('kubekms_kmskey_next_rotation_timestamp_seconds', () => {
  it('is the status next rotation time of enabled keys that rotate automatically, in Unix seconds', async () => {
    const at = '2027-03-01T12:00:00.000Z';
    const ready = [cond('Ready', 'True', 'KeyEnabled')];
    const { scrape } = setup([
      key('apps', 'rotating', { conditions: ready, status: { nextRotationTime: at } }),
      key('apps', 'manual', { conditions: ready }),
      key('apps', 'off', {
        enabled: false,
        conditions: [cond('Ready', 'False', 'KeyDisabled')],
        status: { keyState: 'Disabled', nextRotationTime: at },
      }),
      key('apps', 'garbled', { conditions: ready, status: { nextRotationTime: 'soon' } }),
    ]);
    expect(samples(await scrape(), 'kubekms_kmskey_next_rotation_timestamp_seconds')).toEqual([
      `kubekms_kmskey_next_rotation_timestamp_seconds{namespace="apps",name="rotating"} ${Date.parse(at) / 1000}`,
    ]);
  });
});
