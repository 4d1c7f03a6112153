/**
 * KmsKey subjects and KmsGrant grantees name ServiceAccounts and groups; a web identity session (the caller
 * AssumeRoleWithWebIdentity makes for a ServiceAccount) matches the names they become.
 */
import { describe, expect, it } from 'vitest';
import { serviceAccountCaller } from '../aws/sts/sessions.ts';
import { authorize, type KeyPolicy } from '../engine/policy.ts';
import type { GrantRecord } from '../engine/records.ts';
import { principalName } from './principals.ts';

const web = serviceAccountCaller('system:serviceaccount:shop:web');
const other = serviceAccountCaller('system:serviceaccount:shop:other');
const elsewhere = serviceAccountCaller('system:serviceaccount:apps:web');

function policyFor(name: string): KeyPolicy {
  return { statements: [{ effect: 'Allow', principals: [name], actions: ['kms:Encrypt'] }] };
}

function grantTo(name: string): GrantRecord {
  return {
    grantId: 'g',
    grantToken: 't',
    keyId: 'k',
    granteePrincipal: name,
    issuingPrincipal: 'admin',
    operations: ['Encrypt'],
    createdAt: 0,
  };
}

describe('principal names of KmsKey subjects and KmsGrant grantees', () => {
  it('a ServiceAccount (namespace defaulting to the object’s) and a group', () => {
    expect(principalName({ serviceAccount: { name: 'web' } }, 'shop')).toBe('system:serviceaccount:shop:web');
    expect(principalName({ serviceAccount: { name: 'web', namespace: 'apps' } }, 'shop')).toBe(
      'system:serviceaccount:apps:web',
    );
    expect(principalName({ group: 'system:serviceaccounts:shop' }, 'x')).toBe(
      'group:system:serviceaccounts:shop',
    );
  });

  it('a session of a ServiceAccount matches a policy or a grant naming it, or its namespace group', () => {
    const byName = principalName({ serviceAccount: { name: 'web' } }, 'shop');
    const byGroup = principalName({ group: 'system:serviceaccounts:shop' }, 'shop');
    const all = principalName({ group: 'system:serviceaccounts' }, 'shop');
    const decide = (caller: typeof web, policy: KeyPolicy, grants: GrantRecord[] = []) =>
      authorize(caller, 'kms:Encrypt', policy, grants, undefined);
    expect([decide(web, policyFor(byName)), decide(other, policyFor(byName))]).toEqual(['allow', 'deny']);
    expect([decide(other, policyFor(byGroup)), decide(elsewhere, policyFor(byGroup))]).toEqual([
      'allow',
      'deny',
    ]);
    expect(decide(elsewhere, policyFor(all))).toBe('allow');
    const none: KeyPolicy = { statements: [] };
    expect([decide(web, none, [grantTo(byName)]), decide(other, none, [grantTo(byName)])]).toEqual([
      'allow',
      'deny',
    ]);
    expect([decide(other, none, [grantTo(byGroup)]), decide(elsewhere, none, [grantTo(byGroup)])]).toEqual([
      'allow',
      'deny',
    ]);
    expect(web.admin).toBe(false);
  });
});
