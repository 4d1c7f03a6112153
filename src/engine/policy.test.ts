import { describe, expect, it } from 'vitest';
import {
  authorize,
  type Caller,
  defaultPolicy,
  grantConstraintsHold,
  KEY_ACTIONS,
  type KeyAction,
  type KeyPolicy,
  type PolicyStatement,
  SYSTEM,
} from './policy.ts';
import type { GrantConstraints, GrantOperation, GrantRecord } from './records.ts';

const who = (name: string, opts: { groups?: string[]; admin?: boolean } = {}): Caller => ({
  kind: 'principal',
  name,
  groups: opts.groups ?? [],
  admin: opts.admin ?? false,
});
const allow = (principals: string[], actions: string[]): PolicyStatement => ({
  effect: 'Allow',
  principals,
  actions,
});
const deny = (principals: string[], actions: string[]): PolicyStatement => ({
  effect: 'Deny',
  principals,
  actions,
});
const policy = (...statements: PolicyStatement[]): KeyPolicy => ({ statements });
const grantOf = (
  granteePrincipal: string,
  operations: GrantOperation[],
  constraints?: GrantConstraints,
): GrantRecord => ({
  grantId: 'g'.repeat(64),
  grantToken: 'token',
  keyId: '3f0c2a64-5b1e-4d7a-8c9f-0e1d2c3b4a59',
  granteePrincipal,
  issuingPrincipal: 'owner',
  operations,
  ...(constraints ? { constraints } : {}),
  createdAt: 0,
});

interface Row {
  readonly name: string;
  readonly caller: Caller;
  readonly action: KeyAction;
  readonly policy: KeyPolicy;
  readonly grants?: readonly GrantRecord[];
  readonly context?: Record<string, string>;
  readonly want: 'allow' | 'deny';
}

const alice = who('alice');
const sa = who('system:serviceaccount:payments:api', { groups: ['system:serviceaccounts', 'payments'] });
const admin = who('root', { admin: true });

const rows: Row[] = [
  // principals
  {
    name: 'deny by default: empty policy',
    caller: alice,
    action: 'kms:Encrypt',
    policy: policy(),
    want: 'deny',
  },
  {
    name: 'exact principal name',
    caller: alice,
    action: 'kms:Encrypt',
    policy: policy(allow(['alice'], ['kms:Encrypt'])),
    want: 'allow',
  },
  {
    name: 'another principal name',
    caller: alice,
    action: 'kms:Encrypt',
    policy: policy(allow(['bob'], ['kms:Encrypt'])),
    want: 'deny',
  },
  {
    name: 'name is case sensitive',
    caller: alice,
    action: 'kms:Encrypt',
    policy: policy(allow(['Alice'], ['kms:Encrypt'])),
    want: 'deny',
  },
  {
    name: 'one of several principals',
    caller: alice,
    action: 'kms:Encrypt',
    policy: policy(allow(['bob', 'alice'], ['kms:Encrypt'])),
    want: 'allow',
  },
  {
    name: 'service account name',
    caller: sa,
    action: 'kms:Decrypt',
    policy: policy(allow(['system:serviceaccount:payments:api'], ['kms:Decrypt'])),
    want: 'allow',
  },
  {
    name: 'service account of another namespace',
    caller: sa,
    action: 'kms:Decrypt',
    policy: policy(allow(['system:serviceaccount:other:api'], ['kms:Decrypt'])),
    want: 'deny',
  },
  {
    name: 'group: matches a member',
    caller: sa,
    action: 'kms:Decrypt',
    policy: policy(allow(['group:payments'], ['kms:Decrypt'])),
    want: 'allow',
  },
  {
    name: 'group: does not match a non-member',
    caller: alice,
    action: 'kms:Decrypt',
    policy: policy(allow(['group:payments'], ['kms:Decrypt'])),
    want: 'deny',
  },
  {
    name: 'group: is not a name prefix match',
    caller: sa,
    action: 'kms:Decrypt',
    policy: policy(allow(['group:pay'], ['kms:Decrypt'])),
    want: 'deny',
  },
  {
    name: 'group:NAME never matches a user called "group:NAME"',
    caller: who('group:payments'),
    action: 'kms:Decrypt',
    policy: policy(allow(['group:payments'], ['kms:Decrypt'])),
    want: 'deny',
  },
  {
    name: 'a bare group name does not match members',
    caller: sa,
    action: 'kms:Decrypt',
    policy: policy(allow(['payments'], ['kms:Decrypt'])),
    want: 'deny',
  },
  {
    name: '* matches any principal',
    caller: alice,
    action: 'kms:DescribeKey',
    policy: policy(allow(['*'], ['kms:DescribeKey'])),
    want: 'allow',
  },
  {
    name: 'a * inside a name is literal',
    caller: alice,
    action: 'kms:DescribeKey',
    policy: policy(allow(['ali*'], ['kms:DescribeKey'])),
    want: 'deny',
  },
  // actions
  {
    name: 'other action',
    caller: alice,
    action: 'kms:Decrypt',
    policy: policy(allow(['alice'], ['kms:Encrypt'])),
    want: 'deny',
  },
  {
    name: 'kms:* covers data actions',
    caller: alice,
    action: 'kms:Decrypt',
    policy: policy(allow(['alice'], ['kms:*'])),
    want: 'allow',
  },
  {
    name: 'kms:* covers management actions',
    caller: alice,
    action: 'kms:PutKeyPolicy',
    policy: policy(allow(['alice'], ['kms:*'])),
    want: 'allow',
  },
  {
    name: 'kms:Generate* covers GenerateDataKey',
    caller: alice,
    action: 'kms:GenerateDataKey',
    policy: policy(allow(['alice'], ['kms:Generate*'])),
    want: 'allow',
  },
  {
    name: 'kms:Generate* covers GenerateMac',
    caller: alice,
    action: 'kms:GenerateMac',
    policy: policy(allow(['alice'], ['kms:Generate*'])),
    want: 'allow',
  },
  {
    name: 'kms:Generate* covers GenerateDataKeyPairWithoutPlaintext',
    caller: alice,
    action: 'kms:GenerateDataKeyPairWithoutPlaintext',
    policy: policy(allow(['alice'], ['kms:Generate*'])),
    want: 'allow',
  },
  {
    name: 'kms:Generate* does not cover Encrypt',
    caller: alice,
    action: 'kms:Encrypt',
    policy: policy(allow(['alice'], ['kms:Generate*'])),
    want: 'deny',
  },
  {
    name: 'kms:Generate* does not cover GetPublicKey',
    caller: alice,
    action: 'kms:GetPublicKey',
    policy: policy(allow(['alice'], ['kms:Generate*'])),
    want: 'deny',
  },
  {
    name: 'kms:Encrypt does not cover ReEncryptTo',
    caller: alice,
    action: 'kms:ReEncryptTo',
    policy: policy(allow(['alice'], ['kms:Encrypt'])),
    want: 'deny',
  },
  {
    name: 'kms:ReEncrypt* covers ReEncryptFrom',
    caller: alice,
    action: 'kms:ReEncryptFrom',
    policy: policy(allow(['alice'], ['kms:ReEncrypt*'])),
    want: 'allow',
  },
  {
    name: 'actions are case sensitive',
    caller: alice,
    action: 'kms:Encrypt',
    policy: policy(allow(['alice'], ['kms:encrypt'])),
    want: 'deny',
  },
  // Deny
  {
    name: 'Deny after Allow wins',
    caller: alice,
    action: 'kms:Decrypt',
    policy: policy(allow(['alice'], ['kms:*']), deny(['alice'], ['kms:Decrypt'])),
    want: 'deny',
  },
  {
    name: 'Deny before Allow wins',
    caller: alice,
    action: 'kms:Decrypt',
    policy: policy(deny(['alice'], ['kms:Decrypt']), allow(['alice'], ['kms:*'])),
    want: 'deny',
  },
  {
    name: 'Deny of another action leaves the Allow',
    caller: alice,
    action: 'kms:Encrypt',
    policy: policy(allow(['alice'], ['kms:*']), deny(['alice'], ['kms:Decrypt'])),
    want: 'allow',
  },
  {
    name: 'Deny of another principal leaves the Allow',
    caller: alice,
    action: 'kms:Decrypt',
    policy: policy(allow(['*'], ['kms:Decrypt']), deny(['bob'], ['kms:Decrypt'])),
    want: 'allow',
  },
  {
    name: 'Deny through a group',
    caller: sa,
    action: 'kms:Decrypt',
    policy: policy(allow(['*'], ['kms:*']), deny(['group:payments'], ['kms:Decrypt'])),
    want: 'deny',
  },
  {
    name: 'Deny with a wildcard action',
    caller: alice,
    action: 'kms:GenerateMac',
    policy: policy(allow(['alice'], ['kms:*']), deny(['*'], ['kms:Generate*'])),
    want: 'deny',
  },
  {
    name: 'a Deny alone is still deny',
    caller: alice,
    action: 'kms:Decrypt',
    policy: policy(deny(['bob'], ['kms:Decrypt'])),
    want: 'deny',
  },
  // admin
  {
    name: 'admin: allowed with an empty policy',
    caller: admin,
    action: 'kms:ScheduleKeyDeletion',
    policy: policy(),
    want: 'allow',
  },
  {
    name: 'admin: allowed despite an Allow for others only',
    caller: admin,
    action: 'kms:Decrypt',
    policy: policy(allow(['alice'], ['kms:Decrypt'])),
    want: 'allow',
  },
  {
    name: 'admin: an explicit Deny naming the admin still denies',
    caller: admin,
    action: 'kms:Decrypt',
    policy: policy(deny(['root'], ['kms:Decrypt'])),
    want: 'deny',
  },
  {
    name: 'admin: a Deny for * denies the admin too',
    caller: admin,
    action: 'kms:Encrypt',
    policy: policy(deny(['*'], ['kms:*'])),
    want: 'deny',
  },
  {
    name: 'admin: can always repair the policy, whatever it denies',
    caller: admin,
    action: 'kms:PutKeyPolicy',
    policy: policy(deny(['*'], ['kms:*'])),
    want: 'allow',
  },
  {
    name: 'non-admin: no policy repair against a Deny',
    caller: who('alice'),
    action: 'kms:PutKeyPolicy',
    policy: policy(allow(['alice'], ['kms:*']), deny(['*'], ['kms:PutKeyPolicy'])),
    want: 'deny',
  },
  // system
  {
    name: 'system: allowed with an empty policy',
    caller: SYSTEM,
    action: 'kms:Decrypt',
    policy: policy(),
    want: 'allow',
  },
  {
    name: 'system: allowed despite Deny *',
    caller: SYSTEM,
    action: 'kms:Decrypt',
    policy: policy(deny(['*'], ['kms:*'])),
    want: 'allow',
  },
  // grants
  {
    name: 'grant to the caller for the action',
    caller: alice,
    action: 'kms:Encrypt',
    policy: policy(),
    grants: [grantOf('alice', ['Encrypt'])],
    want: 'allow',
  },
  {
    name: 'grant to another principal',
    caller: alice,
    action: 'kms:Encrypt',
    policy: policy(),
    grants: [grantOf('bob', ['Encrypt'])],
    want: 'deny',
  },
  {
    name: 'grant for another operation',
    caller: alice,
    action: 'kms:Decrypt',
    policy: policy(),
    grants: [grantOf('alice', ['Encrypt'])],
    want: 'deny',
  },
  {
    name: 'grant GenerateDataKey does not cover WithoutPlaintext',
    caller: alice,
    action: 'kms:GenerateDataKeyWithoutPlaintext',
    policy: policy(),
    grants: [grantOf('alice', ['GenerateDataKey'])],
    want: 'deny',
  },
  {
    name: 'grant ReEncryptFrom does not cover ReEncryptTo',
    caller: alice,
    action: 'kms:ReEncryptTo',
    policy: policy(),
    grants: [grantOf('alice', ['ReEncryptFrom'])],
    want: 'deny',
  },
  {
    name: 'grant to group:NAME covers members',
    caller: sa,
    action: 'kms:Decrypt',
    policy: policy(),
    grants: [grantOf('group:payments', ['Decrypt'])],
    want: 'allow',
  },
  {
    name: 'grants never give management actions',
    caller: alice,
    action: 'kms:RevokeGrant',
    policy: policy(),
    grants: [grantOf('alice', ['CreateGrant', 'RetireGrant', 'DescribeKey'])],
    want: 'deny',
  },
  {
    name: 'an explicit Deny beats a grant',
    caller: alice,
    action: 'kms:Encrypt',
    policy: policy(deny(['alice'], ['kms:Encrypt'])),
    grants: [grantOf('alice', ['Encrypt'])],
    want: 'deny',
  },
  {
    name: 'one of several grants suffices',
    caller: alice,
    action: 'kms:Decrypt',
    policy: policy(),
    grants: [grantOf('alice', ['Encrypt']), grantOf('alice', ['Decrypt'])],
    want: 'allow',
  },
  {
    name: 'grant constraint holds',
    caller: alice,
    action: 'kms:Decrypt',
    policy: policy(),
    grants: [grantOf('alice', ['Decrypt'], { encryptionContextSubset: { t: 'a' } })],
    context: { t: 'a', u: 'b' },
    want: 'allow',
  },
  {
    name: 'grant constraint fails',
    caller: alice,
    action: 'kms:Decrypt',
    policy: policy(),
    grants: [grantOf('alice', ['Decrypt'], { encryptionContextEquals: { t: 'a' } })],
    context: { t: 'a', u: 'b' },
    want: 'deny',
  },
  {
    name: 'a failing constrained grant does not hide a fitting one',
    caller: alice,
    action: 'kms:Decrypt',
    policy: policy(),
    grants: [
      grantOf('alice', ['Decrypt'], { encryptionContextEquals: { t: 'b' } }),
      grantOf('alice', ['Decrypt'], { encryptionContextEquals: { t: 'a' } }),
    ],
    context: { t: 'a' },
    want: 'allow',
  },
];

describe('authorize()', () => {
  it.each(rows)('$name → $want', (r) => {
    expect(authorize(r.caller, r.action, r.policy, r.grants ?? [], r.context)).toBe(r.want);
  });

  it('kms:* covers every action and the default policy gives the creator every action, nobody else any', () => {
    const creator = who('creator');
    for (const action of KEY_ACTIONS) {
      expect(
        `${action} ${authorize(alice, action, policy(allow(['alice'], ['kms:*'])), [], undefined)}`,
      ).toBe(`${action} allow`);
      expect(`${action} ${authorize(creator, action, defaultPolicy(creator), [], undefined)}`).toBe(
        `${action} allow`,
      );
      expect(`${action} ${authorize(alice, action, defaultPolicy(creator), [], undefined)}`).toBe(
        `${action} deny`,
      );
    }
    expect(defaultPolicy(SYSTEM)).toEqual({ statements: [] });
  });

  it('kms:Generate* covers exactly the actions starting with kms:Generate', () => {
    const covered = KEY_ACTIONS.filter(
      (a) => authorize(alice, a, policy(allow(['alice'], ['kms:Generate*'])), [], undefined) === 'allow',
    );
    expect(covered).toEqual([
      'kms:GenerateDataKey',
      'kms:GenerateDataKeyWithoutPlaintext',
      'kms:GenerateDataKeyPair',
      'kms:GenerateDataKeyPairWithoutPlaintext',
      'kms:GenerateMac',
    ]);
  });

  it('each grant operation covers exactly its own action', () => {
    const ops: GrantOperation[] = [
      'Decrypt',
      'Encrypt',
      'Sign',
      'Verify',
      'GenerateMac',
      'VerifyMac',
      'DeriveSharedSecret',
      'GetPublicKey',
    ];
    for (const op of ops) {
      const covered = KEY_ACTIONS.filter(
        (a) => authorize(alice, a, policy(), [grantOf('alice', [op])], undefined) === 'allow',
      );
      expect(covered).toEqual([`kms:${op}`]);
    }
  });
});

describe('grantConstraintsHold()', () => {
  const rows: Array<[string, GrantConstraints | undefined, Record<string, string> | undefined, boolean]> = [
    ['no constraints, no context', undefined, undefined, true],
    ['no constraints, any context', undefined, { a: '1' }, true],
    ['Equals: same pairs', { encryptionContextEquals: { a: '1', b: '2' } }, { b: '2', a: '1' }, true],
    ['Equals: an extra pair', { encryptionContextEquals: { a: '1' } }, { a: '1', b: '2' }, false],
    ['Equals: a missing pair', { encryptionContextEquals: { a: '1', b: '2' } }, { a: '1' }, false],
    ['Equals: another value', { encryptionContextEquals: { a: '1' } }, { a: '2' }, false],
    ['Equals: keys are case sensitive', { encryptionContextEquals: { a: '1' } }, { A: '1' }, false],
    ['Equals: values are case sensitive', { encryptionContextEquals: { a: 'x' } }, { a: 'X' }, false],
    ['Equals: no context', { encryptionContextEquals: { a: '1' } }, undefined, false],
    ['Equals {}: no context', { encryptionContextEquals: {} }, undefined, true],
    ['Equals {}: any pair', { encryptionContextEquals: {} }, { a: '1' }, false],
    ['Equals: same count, other key', { encryptionContextEquals: { a: '1' } }, { b: '1' }, false],
    ['Equals: empty value', { encryptionContextEquals: { a: '' } }, { a: '' }, true],
    ['Subset: exactly', { encryptionContextSubset: { a: '1' } }, { a: '1' }, true],
    ['Subset: extra pairs', { encryptionContextSubset: { a: '1' } }, { a: '1', b: '2' }, true],
    ['Subset: missing pair', { encryptionContextSubset: { a: '1', b: '2' } }, { a: '1', c: '3' }, false],
    ['Subset: another value', { encryptionContextSubset: { a: '1' } }, { a: '2' }, false],
    ['Subset: no context', { encryptionContextSubset: { a: '1' } }, undefined, false],
    ['Subset {}: no context', { encryptionContextSubset: {} }, undefined, true],
    [
      'Subset: inherited property names are not pairs',
      { encryptionContextSubset: { constructor: 'x' } },
      {},
      false,
    ],
    ['Subset: toString is not a pair', { encryptionContextSubset: { toString: 'x' } }, { a: '1' }, false],
    [
      'Equals and Subset: both hold',
      { encryptionContextEquals: { a: '1', b: '2' }, encryptionContextSubset: { a: '1' } },
      { a: '1', b: '2' },
      true,
    ],
    [
      'Equals and Subset: Subset fails',
      { encryptionContextEquals: { a: '1' }, encryptionContextSubset: { b: '2' } },
      { a: '1' },
      false,
    ],
  ];
  it.each(rows)('%s', (_name, constraints, context, want) => {
    expect(grantConstraintsHold(grantOf('alice', ['Decrypt'], constraints), context)).toBe(want);
  });
});
