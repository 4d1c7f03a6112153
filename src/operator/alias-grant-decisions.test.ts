import { describe, expect, it } from 'vitest';
import { aliasHolder } from '../api/alias-claims.ts';
import { FINALIZER, type KmsAlias, type KmsGrant, type KmsKey, OWNER_TAG } from '../api/kinds.ts';
import type { AliasRecord, GrantRecord, KeyRecord } from '../engine/records.ts';
import { type AliasInput, planAlias, resolveAliasTarget } from './alias-decisions.ts';
import { mirrorDrift, mirrorSpec } from './cluster-key-mirror.ts';
import { type GrantInput, planGrant } from './grant-decisions.ts';

const key = (id: string, over: Partial<KeyRecord> = {}): KeyRecord => ({
  keyId: id,
  createdAt: 0,
  description: '',
  keySpec: 'SYMMETRIC_DEFAULT',
  keyUsage: 'ENCRYPT_DECRYPT',
  keyManager: 'CUSTOMER',
  state: 'Enabled',
  rotation: { enabled: false, periodDays: 365 },
  versions: [{ version: 1, createdAt: 0, wrappedMaterial: new Uint8Array(1) }],
  primaryVersion: 1,
  policy: { statements: [] },
  tags: { [OWNER_TAG]: 'apps/k' },
  revision: 1,
  ...over,
});

function alias(
  name: string,
  created: string,
  over: Partial<KmsAlias['spec']> = {},
  status?: KmsAlias['status'],
  deleting = false,
): KmsAlias {
  return {
    metadata: {
      name,
      namespace: 'apps',
      uid: `uid-${name}`,
      creationTimestamp: created,
      finalizers: [FINALIZER],
      ...(deleting ? { deletionTimestamp: created } : {}),
    },
    spec: { aliasName: 'alias/a', targetKeyRef: { name: 'k' }, ...over },
    ...(status ? { status } : {}),
  };
}

const engineAlias = (target: string): AliasRecord => ({
  aliasName: 'alias/a',
  targetKeyId: target,
  createdAt: 0,
  updatedAt: 0,
});
const ok = (r: KeyRecord) => ({ ok: true as const, record: r });

describe('planAlias', () => {
  const a = alias('a', '2026-01-01T00:00:00Z');
  const later = alias('b', '2026-01-02T00:00:00Z');
  it.each<[string, AliasInput, string]>([
    [
      'new alias: create',
      { object: a, claimants: [a], target: ok(key('k1')), engineAlias: undefined, currentTarget: undefined },
      'bind:create',
    ],
    [
      'engine already points there: adopt',
      {
        object: a,
        claimants: [a],
        target: ok(key('k1')),
        engineAlias: engineAlias('k1'),
        currentTarget: key('k1'),
      },
      'bind:none',
    ],
    [
      're-pointed by spec: update',
      {
        object: alias('a', '2026-01-01T00:00:00Z', {}, { targetKeyId: 'k0' }),
        claimants: [a],
        target: ok(key('k1')),
        engineAlias: engineAlias('k0'),
        currentTarget: key('k0'),
      },
      'bind:update',
    ],
    [
      'a later object with the same name: Conflict',
      {
        object: later,
        claimants: [later, a],
        target: ok(key('k1')),
        engineAlias: undefined,
        currentTarget: undefined,
      },
      'refuse:Conflict',
    ],
    [
      'an engine alias this object did not create: Conflict',
      {
        object: a,
        claimants: [a],
        target: ok(key('k1')),
        engineAlias: engineAlias('other'),
        currentTarget: key('other'),
      },
      'refuse:Conflict',
    ],
    [
      'moving to a key of another spec: IncompatibleTarget',
      {
        object: alias('a', '2026-01-01T00:00:00Z', {}, { targetKeyId: 'k0' }),
        claimants: [a],
        target: ok(key('k1', { keySpec: 'RSA_2048' })),
        engineAlias: engineAlias('k0'),
        currentTarget: key('k0'),
      },
      'refuse:IncompatibleTarget',
    ],
    [
      'target missing',
      {
        object: a,
        claimants: [a],
        target: { ok: false, reason: 'TargetKeyNotFound', message: '' },
        engineAlias: undefined,
        currentTarget: undefined,
      },
      'refuse:TargetKeyNotFound',
    ],
    [
      'deleted holder: delete the engine alias it bound',
      {
        object: alias('a', '2026-01-01T00:00:00Z', {}, { targetKeyId: 'k1' }, true),
        claimants: [a],
        target: ok(key('k1')),
        engineAlias: engineAlias('k1'),
        currentTarget: key('k1'),
      },
      'release:true',
    ],
    [
      'deleted loser of a Conflict: leave the engine alias alone',
      {
        object: alias('b', '2026-01-02T00:00:00Z', {}, undefined, true),
        claimants: [a, later],
        target: ok(key('k1')),
        engineAlias: engineAlias('k1'),
        currentTarget: key('k1'),
      },
      'release:false',
    ],
  ])('%s → %s', (_n, input, want) => {
    const p = planAlias(input);
    const got =
      p.kind === 'refuse'
        ? `refuse:${p.reason}`
        : p.kind === 'bind'
          ? `bind:${p.action}`
          : `release:${p.deleteEngineAlias}`;
    expect(got).toBe(want);
  });

  it('the earliest created claimant holds a name (ties by namespace/name)', () => {
    const x = alias('x', '2026-01-01T00:00:00Z');
    const y = alias('y', '2026-01-01T00:00:00Z');
    expect(aliasHolder([y, later, x])?.metadata.name).toBe('x');
  });

  it.each<[string, Partial<KmsAlias['spec']>, KmsKey | undefined, KeyRecord | undefined, string]>([
    ['KmsKey missing', {}, undefined, undefined, 'TargetKeyNotFound'],
    [
      'KmsKey without a key yet',
      {},
      { metadata: { name: 'k', namespace: 'apps' } },
      undefined,
      'TargetKeyNotReady',
    ],
    [
      'by id: key of another namespace',
      { targetKeyRef: undefined, targetKeyId: 'k9' } as Partial<KmsAlias['spec']>,
      undefined,
      key('k9', { tags: { [OWNER_TAG]: 'other/k' } }),
      'CrossNamespaceTarget',
    ],
    [
      'by id: key of no KmsKey',
      { targetKeyRef: undefined, targetKeyId: 'k9' } as Partial<KmsAlias['spec']>,
      undefined,
      key('k9', { tags: {} }),
      'TargetKeyNotManaged',
    ],
    [
      'pending deletion',
      {},
      { metadata: { name: 'k', namespace: 'apps' }, status: { keyId: 'k1' } },
      key('k1', { state: 'PendingDeletion', deletionDate: 1 }),
      'TargetKeyPendingDeletion',
    ],
  ])('resolveAliasTarget: %s → %s', (_n, spec, k, r, reason) => {
    const o = alias('a', '2026-01-01T00:00:00Z', spec);
    const t = resolveAliasTarget(
      o,
      () => k,
      () => r,
    );
    expect(t.ok ? 'ok' : t.reason).toBe(reason);
  });
});

describe('planGrant', () => {
  const g = (ops: string[], status?: KmsGrant['status'], deleting = false): KmsGrant => ({
    metadata: {
      name: 'g',
      namespace: 'apps',
      uid: 'ug',
      finalizers: [FINALIZER],
      ...(deleting ? { deletionTimestamp: 'x' } : {}),
    },
    spec: { keyRef: { name: 'k' }, grantee: { serviceAccount: { name: 'web' } }, operations: ops },
    ...(status ? { status } : {}),
  });
  const kobj: KmsKey = { metadata: { name: 'k', namespace: 'apps' }, status: { keyId: 'k1' } };
  const grant: GrantRecord = {
    grantId: 'g1',
    grantToken: 't',
    keyId: 'k1',
    granteePrincipal: 'system:serviceaccount:apps:web',
    issuingPrincipal: 'system:kubekms',
    operations: ['Decrypt'],
    createdAt: 0,
  };
  it.each<[string, GrantInput, string]>([
    [
      'new grant: create',
      { object: g(['Decrypt']), keyObject: kobj, key: key('k1'), grant: undefined },
      'create',
    ],
    [
      'exists: nothing',
      { object: g(['Decrypt'], { grantId: 'g1' }), keyObject: kobj, key: key('k1'), grant },
      'none',
    ],
    [
      'vanished from the engine: create again',
      { object: g(['Decrypt'], { grantId: 'g1' }), keyObject: kobj, key: key('k1'), grant: undefined },
      'create',
    ],
    [
      'Sign on an encryption key: IncompatibleOperations',
      { object: g(['Decrypt', 'Sign']), keyObject: kobj, key: key('k1'), grant: undefined },
      'refuse:IncompatibleOperations',
    ],
    [
      'GenerateMac on an HMAC key is fine',
      {
        object: g(['GenerateMac']),
        keyObject: kobj,
        key: key('k1', { keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' }),
        grant: undefined,
      },
      'create',
    ],
    [
      'KmsKey missing',
      { object: g(['Decrypt']), keyObject: undefined, key: undefined, grant: undefined },
      'refuse:KeyNotFound',
    ],
    [
      'KmsKey not ready',
      {
        object: g(['Decrypt']),
        keyObject: { metadata: { name: 'k', namespace: 'apps' } },
        key: undefined,
        grant: undefined,
      },
      'refuse:KeyNotReady',
    ],
    [
      'deleted: revoke',
      { object: g(['Decrypt'], { grantId: 'g1' }, true), keyObject: kobj, key: key('k1'), grant },
      'release:g1',
    ],
    [
      'deleted, grant gone with its key: just let go',
      {
        object: g(['Decrypt'], { grantId: 'g1' }, true),
        keyObject: undefined,
        key: undefined,
        grant: undefined,
      },
      'release:-',
    ],
  ])('%s → %s', (_n, input, want) => {
    const p = planGrant(input);
    const got =
      p.kind === 'refuse'
        ? `refuse:${p.reason}`
        : p.kind === 'release'
          ? `release:${p.revoke?.grantId ?? '-'}`
          : p.kind;
    expect(got).toBe(want);
  });
});

describe('Secrets key mirror', () => {
  const r = key('s', {
    keyManager: 'CLUSTER',
    rotation: { enabled: true, periodDays: 365, nextRotationAt: 1 },
    tags: {},
  });
  it('has no drift right after creation (the API server defaults nothing else)', () => {
    expect(mirrorDrift(mirrorSpec(r), mirrorSpec(r)).fields).toEqual([]);
  });
  it('reverts user edits field by field, removing added fields', () => {
    const edited = { ...mirrorSpec(r), enabled: false, tags: { a: 'b' }, rotateNow: 'x' };
    expect(mirrorDrift(edited, mirrorSpec(r, edited))).toEqual({
      fields: ['enabled', 'tags'],
      patch: { enabled: true, tags: null },
    });
  });
  it('honours rotateNow and a valid retiredVersions, and reverts an invalid one', () => {
    const good = { ...mirrorSpec(r), rotateNow: 't1', retiredVersions: { disableDecryptAfter: '7d' } };
    expect(mirrorDrift(good, mirrorSpec(r, good)).fields).toEqual([]);
    const bad = { ...mirrorSpec(r), retiredVersions: { disableDecryptAfter: 'soon' } };
    expect(mirrorDrift(bad, mirrorSpec(r, bad))).toEqual({
      fields: ['retiredVersions'],
      patch: { retiredVersions: null },
    });
  });
});
