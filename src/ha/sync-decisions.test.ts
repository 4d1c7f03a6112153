import { describe, expect, it } from 'vitest';
import type { AliasRecord, GrantRecord, KeyRecord } from '../engine/records.ts';
import { type LocalView, planEvents, planInitial } from './sync-decisions.ts';

const key = (id: string, o: Partial<KeyRecord> = {}): KeyRecord => ({
  keyId: id,
  createdAt: 1,
  description: '',
  keySpec: 'SYMMETRIC_DEFAULT',
  keyUsage: 'ENCRYPT_DECRYPT',
  keyManager: 'CUSTOMER',
  state: 'Enabled',
  rotation: { enabled: false, periodDays: 365 },
  versions: [{ version: 1, createdAt: 1, wrappedMaterial: new Uint8Array(60) }],
  primaryVersion: 1,
  policy: { statements: [] },
  tags: {},
  revision: 1,
  ...o,
});
const alias = (name: string, target: string, updatedAt = 1): AliasRecord => ({
  aliasName: name,
  targetKeyId: target,
  createdAt: 1,
  updatedAt,
});
const grant = (id: string): GrantRecord => ({
  grantId: id,
  grantToken: 't',
  keyId: 'k1',
  granteePrincipal: 'p',
  issuingPrincipal: 'i',
  operations: ['Decrypt'],
  createdAt: 1,
});
const view = (
  keys: KeyRecord[] = [],
  aliases: AliasRecord[] = [],
  grants: GrantRecord[] = [],
): LocalView => ({
  findKey: (id) => keys.find((r) => r.keyId === id),
  findAlias: (name) => aliases.find((a) => a.aliasName === name),
  findGrant: (id) => grants.find((g) => g.grantId === id),
  allKeys: () => keys,
  allAliases: () => aliases,
  allGrants: () => grants,
});

describe('planEvents', () => {
  it.each([
    ['a new key is taken', view(), key('k1'), { putKeys: [key('k1')] }],
    [
      'a higher revision is taken',
      view([key('k1')]),
      key('k1', { revision: 2 }),
      { putKeys: [key('k1', { revision: 2 })] },
    ],
    [
      'the same revision (our own write coming back) is not',
      view([key('k1', { revision: 2 })]),
      key('k1', { revision: 2 }),
      {},
    ],
    ['an older revision is not', view([key('k1', { revision: 3 })]), key('k1', { revision: 2 }), {}],
  ])('%s', (_why, local, record, absorb) => {
    expect(planEvents(local, [{ type: 'put', record: { kind: 'Key', record } }]).absorb).toEqual(absorb);
  });

  it('a deleted key is dropped only when it was pending deletion; otherwise it is published again', () => {
    const pending = key('k1', { state: 'PendingDeletion', deletionDate: 5 });
    expect(
      planEvents(view([pending]), [{ type: 'delete', record: { kind: 'Key', record: pending } }]).absorb,
    ).toEqual({
      deleteKeys: ['k1'],
    });
    const live = key('k2');
    const p = planEvents(view([live]), [{ type: 'delete', record: { kind: 'Key', record: live } }]);
    expect(p.absorb).toEqual({});
    expect(p.republish).toEqual([{ kind: 'Key', record: live }]);
    expect(p.notes[0]).toMatch(/k2: deleted from the API while Enabled/);
  });

  it('aliases and grants follow the API', () => {
    const local = view([key('k1'), key('k2')], [alias('alias/a', 'k1')], [grant('g1')]);
    const p = planEvents(local, [
      { type: 'put', record: { kind: 'Alias', record: alias('alias/a', 'k2', 2) } },
      { type: 'put', record: { kind: 'Alias', record: alias('alias/a2', 'k1') } },
      { type: 'delete', record: { kind: 'Grant', record: grant('g1') } },
      { type: 'put', record: { kind: 'Grant', record: grant('g2') } },
    ]);
    expect(p.absorb).toEqual({
      putAliases: [alias('alias/a', 'k2', 2), alias('alias/a2', 'k1')],
      putGrants: [grant('g2')],
      deleteGrants: ['g1'],
    });
  });
});

describe('planInitial', () => {
  it('an empty API gets everything local (the first instance of a cluster)', () => {
    const p = planInitial(view([key('k1')], [alias('alias/a', 'k1')], [grant('g1')]), [], 10);
    expect(p.absorb).toEqual({});
    expect(p.republish.map((d) => d.kind)).toEqual(['Key', 'Alias', 'Grant']);
    expect(p.notes).toEqual([]);
  });

  it('a non-empty API wins for aliases and grants, never loses a key, and drops keys destroyed meanwhile', () => {
    const destroyed = key('old', { state: 'PendingDeletion', deletionDate: 5 });
    const stillPending = key('soon', { state: 'PendingDeletion', deletionDate: 50 });
    const p = planInitial(
      view([key('k1'), key('lost'), destroyed, stillPending], [alias('alias/gone', 'k1')], [grant('g1')]),
      [{ kind: 'Key', record: key('k1', { revision: 2 }) }],
      10,
    );
    expect(p.absorb).toEqual({
      putKeys: [key('k1', { revision: 2 })],
      deleteKeys: ['old'],
      deleteAliases: ['alias/gone'],
      deleteGrants: ['g1'],
    });
    expect(p.republish.map((d) => (d.kind === 'Key' ? d.record.keyId : ''))).toEqual(['lost', 'soon']);
    expect(p.notes).toHaveLength(2);
  });
});

describe('an API older than the cache (ADR 0022)', () => {
  it('is reported by the first list only: a watch event can be older than an own write still in flight', () => {
    const local = view([key('k1', { revision: 3 })]);
    const older = { kind: 'Key', record: key('k1', { revision: 2 }) } as const;
    expect(planInitial(local, [older], 0).behind).toEqual([{ keyId: 'k1', api: 2, local: 3 }]);
    expect(planEvents(local, [{ type: 'put', record: older }]).behind).toEqual([]);
    expect(planInitial(local, [{ kind: 'Key', record: key('k1', { revision: 3 }) }], 0).behind).toEqual([]);
  });
});
