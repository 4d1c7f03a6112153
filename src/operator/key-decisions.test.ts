import { describe, expect, it } from 'vitest';
import {
  CANCEL_DELETION_ANNOTATION,
  FINALIZER,
  type KmsKey,
  type KmsKeySpec,
  OWNER_TAG,
} from '../api/kinds.ts';
import type { KeyRecord } from '../engine/records.ts';
import { desiredKey, type KeyInput, type KeyStep, planKey } from './key-decisions.ts';

const NOW = Date.UTC(2026, 5, 1);
const DAY = 86_400_000;

function obj(
  spec: KmsKeySpec = {},
  o: {
    status?: KmsKey['status'];
    deleting?: boolean;
    finalizer?: boolean;
    annotations?: Record<string, string>;
  } = {},
): KmsKey {
  return {
    metadata: {
      name: 'k',
      namespace: 'apps',
      uid: 'u',
      generation: 1,
      ...(o.finalizer === false ? {} : { finalizers: [FINALIZER] }),
      ...(o.deleting ? { deletionTimestamp: '2026-06-01T00:00:00Z' } : {}),
      ...(o.annotations ? { annotations: o.annotations } : {}),
    },
    spec,
    ...(o.status ? { status: o.status } : {}),
  };
}

function rec(over: Partial<KeyRecord> = {}): KeyRecord {
  const base = desiredKey(obj());
  return {
    keyId: 'id-1',
    createdAt: NOW - 10 * DAY,
    description: '',
    keySpec: 'SYMMETRIC_DEFAULT',
    keyUsage: 'ENCRYPT_DECRYPT',
    keyManager: 'CUSTOMER',
    state: 'Enabled',
    rotation: { enabled: false, periodDays: 365 },
    versions: [{ version: 1, createdAt: NOW - 10 * DAY, wrappedMaterial: new Uint8Array(1) }],
    primaryVersion: 1,
    policy: base.policy,
    tags: { [OWNER_TAG]: 'apps/k' },
    revision: 1,
    ...over,
  };
}

const bound = { keyId: 'id-1' };
const kinds = (input: KeyInput) => {
  const p = planKey(input);
  return p.kind === 'refuse' ? `refuse:${p.reason}` : p.steps.map((s: KeyStep) => s.kind).join(',');
};

describe('planKey: a live KmsKey', () => {
  it.each<[string, KeyInput, string]>([
    [
      'new object: finalizer, then create',
      { object: obj({}, { finalizer: false }), record: undefined, now: NOW },
      'addFinalizer,create',
    ],
    [
      'new disabled key: create, then disable',
      { object: obj({ enabled: false }), record: undefined, now: NOW },
      'create,disable',
    ],
    ['in sync: nothing', { object: obj({}, { status: bound }), record: rec(), now: NOW }, ''],
    [
      'spec.retiredVersions set',
      {
        object: obj({ retiredVersions: { disableDecryptAfter: '7d' } }, { status: bound }),
        record: rec(),
        now: NOW,
      },
      'setRetiredPolicy',
    ],
    [
      'spec.retiredVersions in sync',
      {
        object: obj({ retiredVersions: { disableDecryptAfter: '7d' } }, { status: bound }),
        record: rec({ retiredVersions: { disableDecryptAfterMs: 7 * DAY } }),
        now: NOW,
      },
      '',
    ],
    [
      'spec.retiredVersions removed: the policy goes (reversible)',
      {
        object: obj({}, { status: bound }),
        record: rec({ retiredVersions: { disableDecryptAfterMs: DAY } }),
        now: NOW,
      },
      'setRetiredPolicy',
    ],
    [
      'spec.retiredVersions.destroy: a retired version is scheduled, a scheduled one no longer listed is cancelled, a version not retired yet waits',
      {
        object: obj({ retiredVersions: { destroy: [{ version: 1 }, { version: 3 }] } }, { status: bound }),
        record: rec({
          versions: [
            { version: 1, createdAt: NOW, wrappedMaterial: new Uint8Array(1), retiredAt: NOW },
            {
              version: 2,
              createdAt: NOW,
              wrappedMaterial: new Uint8Array(1),
              retiredAt: NOW,
              destroyAt: NOW + DAY,
            },
            { version: 3, createdAt: NOW, wrappedMaterial: new Uint8Array(1) },
            { version: 4, createdAt: NOW, wrappedMaterial: new Uint8Array(1) },
          ],
          primaryVersion: 4,
        }),
        now: NOW,
      },
      'cancelVersionDestruction,scheduleVersionDestruction',
    ],
    [
      'spec.retiredVersions invalid: refused',
      {
        object: obj({ retiredVersions: { disableDecryptAfter: '7 days' } }, { status: bound }),
        record: rec(),
        now: NOW,
      },
      'refuse:InvalidSpec',
    ],
    [
      'spec.enabled false',
      { object: obj({ enabled: false }, { status: bound }), record: rec(), now: NOW },
      'disable',
    ],
    [
      're-enable',
      { object: obj({}, { status: bound }), record: rec({ state: 'Disabled' }), now: NOW },
      'enable',
    ],
    [
      'description',
      { object: obj({ description: 'x' }, { status: bound }), record: rec(), now: NOW },
      'setDescription',
    ],
    [
      'rotation on, then a rotateNow token',
      {
        object: obj({ rotation: { enabled: true, periodDays: 90 }, rotateNow: 't1' }, { status: bound }),
        record: rec(),
        now: NOW,
      },
      'enableRotation,rotate',
    ],
    [
      'period change re-enables with the new period',
      {
        object: obj({ rotation: { enabled: true, periodDays: 100 } }, { status: bound }),
        record: rec({ rotation: { enabled: true, periodDays: 90, nextRotationAt: NOW + DAY } }),
        now: NOW,
      },
      'enableRotation',
    ],
    [
      'rotation off',
      {
        object: obj({}, { status: bound }),
        record: rec({ rotation: { enabled: true, periodDays: 90, nextRotationAt: NOW + DAY } }),
        now: NOW,
      },
      'disableRotation',
    ],
    [
      'a handled token does not rotate again',
      {
        object: obj({ rotateNow: 't1' }, { status: { ...bound, rotateNow: 't1' } }),
        record: rec(),
        now: NOW,
      },
      '',
    ],
    [
      'a token handled by this process but not yet in the cache does not rotate again',
      {
        object: obj({ rotateNow: 't2' }, { status: { ...bound, rotateNow: 't1' } }),
        record: rec(),
        now: NOW,
        handledRotateNow: 't2',
      },
      '',
    ],
    [
      'an adopted key takes the current token as handled',
      { object: obj({ rotateNow: 't1' }), record: rec(), now: NOW },
      '',
    ],
    [
      'disabled key: rotation settings wait, disable stays',
      {
        object: obj({ enabled: false, rotation: { enabled: true }, rotateNow: 'x' }, { status: bound }),
        record: rec({ state: 'Disabled' }),
        now: NOW,
      },
      '',
    ],
    [
      'disabling with a rotation change: rotation first, disable last',
      {
        object: obj({ enabled: false, rotation: { enabled: true } }, { status: bound }),
        record: rec(),
        now: NOW,
      },
      'enableRotation,disable',
    ],
    [
      'policy and tags',
      {
        object: obj(
          {
            tags: { a: 'b' },
            policy: { statements: [{ subjects: [{ user: 'u' }], operations: ['Encrypt'] }] },
          },
          { status: bound },
        ),
        record: rec({ tags: { x: 'y' } }),
        now: NOW,
      },
      'putPolicy,tag,untag',
    ],
    [
      'a key pending deletion while its object exists: cancel, then enable',
      {
        object: obj({}, { status: bound }),
        record: rec({ state: 'PendingDeletion', deletionDate: NOW + DAY, pendingWindowDays: 7 }),
        now: NOW,
      },
      'cancelDeletion,enable',
    ],
    [
      'the engine lost the key: no replacement',
      { object: obj({}, { status: bound }), record: undefined, now: NOW },
      'refuse:KeyNotFound',
    ],
    [
      'adopted key of another spec',
      { object: obj({ keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' }), record: rec(), now: NOW },
      'refuse:SpecMismatch',
    ],
    [
      'cluster-managed key',
      { object: obj(), record: rec({ keyManager: 'CLUSTER' }), now: NOW },
      'refuse:ClusterManaged',
    ],
  ])('%s → %s', (_name, input, want) => {
    expect(kinds(input)).toBe(want);
  });

  it('maps subjects to engine principals and operations to actions; tags carry the owner', () => {
    const d = desiredKey(
      obj({
        tags: { team: 'shop' },
        policy: {
          statements: [
            { subjects: [{ serviceAccount: { name: 'web' } }, { group: 'ops' }], operations: ['Encrypt'] },
            {
              effect: 'Deny',
              subjects: [{ serviceAccount: { name: 'x', namespace: 'other' } }, { user: 'bob' }],
              operations: ['Decrypt'],
            },
          ],
        },
      }),
    );
    expect(d.policy.statements).toEqual([
      {
        sid: 'statement-0',
        effect: 'Allow',
        principals: ['system:serviceaccount:apps:web', 'group:ops'],
        actions: ['kms:Encrypt'],
      },
      {
        sid: 'statement-1',
        effect: 'Deny',
        principals: ['system:serviceaccount:other:x', 'bob'],
        actions: ['kms:Decrypt'],
      },
    ]);
    expect(d.tags).toEqual({ team: 'shop', [OWNER_TAG]: 'apps/k' });
  });

  it('requeues to observe a due rotation, at most hourly', () => {
    const r = rec({ rotation: { enabled: true, periodDays: 90, nextRotationAt: NOW + 10_000 } });
    const p = planKey({
      object: obj({ rotation: { enabled: true, periodDays: 90 } }, { status: bound }),
      record: r,
      now: NOW,
    });
    expect(p).toMatchObject({ kind: 'steps', requeueAfterMs: 11_000 });
    const far = planKey({
      object: obj({ rotation: { enabled: true, periodDays: 90 } }, { status: bound }),
      record: rec({ rotation: { enabled: true, periodDays: 90, nextRotationAt: NOW + 80 * DAY } }),
      now: NOW,
    });
    expect(far).toMatchObject({ requeueAfterMs: 3_600_000 });
  });
});

describe('spec.retiredVersions', () => {
  it('destroy steps carry the version and the window (default 30 days)', () => {
    const versions = [
      { version: 1, createdAt: NOW, wrappedMaterial: new Uint8Array(1), retiredAt: NOW },
      { version: 2, createdAt: NOW, wrappedMaterial: new Uint8Array(1) },
    ];
    const plan = (retiredVersions: KmsKeySpec['retiredVersions']) =>
      planKey({
        object: obj({ retiredVersions }, { status: bound }),
        record: rec({ versions, primaryVersion: 2 }),
        now: NOW,
      });
    expect(plan({ destroy: [{ version: 1 }] })).toMatchObject({
      steps: [{ kind: 'scheduleVersionDestruction', version: 1, days: 30 }],
    });
    expect(plan({ destroy: [{ version: 1 }], destroyWindowDays: 7 })).toMatchObject({
      steps: [{ kind: 'scheduleVersionDestruction', version: 1, days: 7 }],
    });
  });

  it('parses durations and names the field of a bad one', () => {
    expect(desiredKey(obj({ retiredVersions: { disableDecryptAfter: '0s' } })).retired).toEqual({
      ok: true,
      policy: { disableDecryptAfterMs: 0 },
    });
    expect(desiredKey(obj({ retiredVersions: { disableDecryptAfter: '12h' } })).retired).toEqual({
      ok: true,
      policy: { disableDecryptAfterMs: 12 * 3_600_000 },
    });
    const bad = planKey({
      object: obj({ retiredVersions: { disableDecryptAfter: '7 days' } }, { status: bound }),
      record: rec(),
      now: NOW,
    });
    expect(bad).toEqual({
      kind: 'refuse',
      reason: 'InvalidSpec',
      message: 'spec.retiredVersions.disableDecryptAfter: "7 days" is not a duration like 7d, 12h, 30m or 0s',
    });
  });
});

describe('planKey: a KmsKey being deleted', () => {
  const deleting = (spec: KmsKeySpec = {}, o: Parameters<typeof obj>[1] = {}) =>
    obj(spec, { status: bound, ...o, deleting: true });
  const pending = rec({ state: 'PendingDeletion', deletionDate: NOW + 7 * DAY, pendingWindowDays: 7 });
  it.each<[string, KeyInput, string]>([
    [
      'no finalizer: nothing to do',
      { object: deleting({}, { finalizer: false }), record: rec(), now: NOW },
      '',
    ],
    [
      'Retain: let go, key untouched',
      { object: deleting({ deletionPolicy: 'Retain' }), record: rec(), now: NOW },
      'release',
    ],
    [
      'Delete: schedule deletion',
      { object: deleting({ deletionWindowDays: 7 }), record: rec(), now: NOW },
      'scheduleDeletion',
    ],
    ['window running: wait', { object: deleting(), record: pending, now: NOW }, ''],
    [
      'window over: destroy, then let go',
      { object: deleting(), record: pending, now: NOW + 7 * DAY },
      'destroy,release',
    ],
    ['key already gone: let go', { object: deleting(), record: undefined, now: NOW }, 'release'],
    [
      'cancel annotation while pending: cancel, then let go',
      {
        object: deleting({}, { annotations: { [CANCEL_DELETION_ANNOTATION]: 'true' } }),
        record: pending,
        now: NOW,
      },
      'cancelDeletion,release',
    ],
    [
      'cancel annotation before scheduling: let go',
      {
        object: deleting({}, { annotations: { [CANCEL_DELETION_ANNOTATION]: 'true' } }),
        record: rec(),
        now: NOW,
      },
      'release',
    ],
    [
      'test window: destroy after the override',
      {
        object: deleting(),
        record: pending,
        now: NOW - 7 * DAY + 7 * DAY + 3000,
        deletionWindowOverrideMs: 3000,
      },
      'destroy,release',
    ],
  ])('%s → %s', (_name, input, want) => {
    expect(kinds(input)).toBe(want);
  });

  it('waits until the end of the window (at most an hour at a time)', () => {
    expect(planKey({ object: deleting(), record: pending, now: NOW + 7 * DAY - 5000 })).toMatchObject({
      requeueAfterMs: 5000,
    });
    expect(planKey({ object: deleting(), record: pending, now: NOW })).toMatchObject({
      requeueAfterMs: 3_600_000,
    });
  });

  it('uses spec.deletionWindowDays', () => {
    expect(planKey({ object: deleting({ deletionWindowDays: 12 }), record: rec(), now: NOW })).toMatchObject({
      steps: [{ kind: 'scheduleDeletion', days: 12 }],
    });
  });
});
