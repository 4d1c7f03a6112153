/**
 * The key policy model and the authorization decision. Deny by default: a caller may do something only when an
 * Allow statement of the key's policy or a grant covers it, and no Deny statement matches.
 *
 * Principals are Kubernetes-style names: `system:serviceaccount:NS:NAME`, a user name, or `group:NAME` to
 * match a caller's group. `*` matches every authenticated caller.
 */
import type { GrantRecord } from './records.ts';

export const KEY_ACTIONS = [
  // data operations
  'kms:Encrypt',
  'kms:Decrypt',
  'kms:ReEncryptFrom',
  'kms:ReEncryptTo',
  'kms:GenerateDataKey',
  'kms:GenerateDataKeyWithoutPlaintext',
  'kms:GenerateDataKeyPair',
  'kms:GenerateDataKeyPairWithoutPlaintext',
  'kms:Sign',
  'kms:Verify',
  'kms:GenerateMac',
  'kms:VerifyMac',
  'kms:GetPublicKey',
  'kms:DeriveSharedSecret',
  // management operations
  'kms:DescribeKey',
  'kms:EnableKey',
  'kms:DisableKey',
  'kms:ScheduleKeyDeletion',
  'kms:CancelKeyDeletion',
  'kms:EnableKeyRotation',
  'kms:DisableKeyRotation',
  'kms:GetKeyRotationStatus',
  'kms:RotateKeyOnDemand',
  'kms:ListKeyRotations',
  'kms:CreateAlias',
  'kms:UpdateAlias',
  'kms:DeleteAlias',
  'kms:CreateGrant',
  'kms:ListGrants',
  'kms:RetireGrant',
  'kms:RevokeGrant',
  'kms:GetKeyPolicy',
  'kms:PutKeyPolicy',
  'kms:ListKeyPolicies',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:ListResourceTags',
  'kms:UpdateKeyDescription',
] as const;
export type KeyAction = (typeof KEY_ACTIONS)[number];

export interface PolicyStatement {
  readonly sid?: string;
  readonly effect: 'Allow' | 'Deny';
  /** Principal names, `group:NAME`, or `*`. */
  readonly principals: readonly string[];
  /** Actions, `kms:*`, or a prefix wildcard such as `kms:Generate*`. */
  readonly actions: readonly string[];
}

export interface KeyPolicy {
  readonly statements: readonly PolicyStatement[];
}

/** Who is asking. `system` is kubekms itself (the KMS v2 plugin, the operator): trusted, local. */
export type Caller =
  | { readonly kind: 'system' }
  | {
      readonly kind: 'principal';
      readonly name: string;
      readonly groups: readonly string[];
      /** Installation administrators may manage and use every key. */
      readonly admin: boolean;
    };

export const SYSTEM: Caller = Object.freeze({ kind: 'system' });

/** The policy a new key gets when none is given: its creator may do everything with it. */
export function defaultPolicy(creator: Caller): KeyPolicy {
  if (creator.kind === 'system') return { statements: [] };
  return {
    statements: [{ sid: 'Creator', effect: 'Allow', principals: [creator.name], actions: ['kms:*'] }],
  };
}

function principalMatches(pattern: string, caller: Extract<Caller, { kind: 'principal' }>): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('group:')) return caller.groups.includes(pattern.slice(6));
  return pattern === caller.name;
}

function actionMatches(pattern: string, action: KeyAction): boolean {
  if (pattern === action) return true;
  if (pattern.endsWith('*')) return action.startsWith(pattern.slice(0, -1));
  return false;
}

/** Grant operations cover these actions (ReEncrypt needs From on the source and To on the destination). */
const ACTION_OF_GRANT_OPERATION: Readonly<Record<string, KeyAction>> = {
  Decrypt: 'kms:Decrypt',
  Encrypt: 'kms:Encrypt',
  GenerateDataKey: 'kms:GenerateDataKey',
  GenerateDataKeyWithoutPlaintext: 'kms:GenerateDataKeyWithoutPlaintext',
  ReEncryptFrom: 'kms:ReEncryptFrom',
  ReEncryptTo: 'kms:ReEncryptTo',
  Sign: 'kms:Sign',
  Verify: 'kms:Verify',
  GetPublicKey: 'kms:GetPublicKey',
  CreateGrant: 'kms:CreateGrant',
  RetireGrant: 'kms:RetireGrant',
  DescribeKey: 'kms:DescribeKey',
  GenerateDataKeyPair: 'kms:GenerateDataKeyPair',
  GenerateDataKeyPairWithoutPlaintext: 'kms:GenerateDataKeyPairWithoutPlaintext',
  GenerateMac: 'kms:GenerateMac',
  VerifyMac: 'kms:VerifyMac',
  DeriveSharedSecret: 'kms:DeriveSharedSecret',
};

export type Decision = 'allow' | 'deny';

/** The actions whose requests carry an encryption context; grant constraints apply to these only. */
const ACTIONS_WITH_CONTEXT: ReadonlySet<KeyAction> = new Set<KeyAction>([
  'kms:Encrypt',
  'kms:Decrypt',
  'kms:ReEncryptFrom',
  'kms:ReEncryptTo',
  'kms:GenerateDataKey',
  'kms:GenerateDataKeyWithoutPlaintext',
  'kms:GenerateDataKeyPair',
  'kms:GenerateDataKeyPairWithoutPlaintext',
]);

/** Installation administrators can always read and replace a key policy, so no policy can lock a key for good. */
const ADMIN_RECOVERY: ReadonlySet<KeyAction> = new Set<KeyAction>(['kms:GetKeyPolicy', 'kms:PutKeyPolicy']);

/**
 * Whether `caller` may perform `action` on a key with `policy`, given the grants that apply to the key and the
 * request's encryption context (for grant constraints).
 */
export function authorize(
  caller: Caller,
  action: KeyAction,
  policy: KeyPolicy,
  grants: readonly GrantRecord[],
  encryptionContext: Readonly<Record<string, string>> | undefined,
): Decision {
  if (caller.kind === 'system') return 'allow';
  if (caller.admin && ADMIN_RECOVERY.has(action)) return 'allow';
  let allowed = caller.admin;
  for (const s of policy.statements) {
    if (!s.principals.some((p) => principalMatches(p, caller))) continue;
    if (!s.actions.some((a) => actionMatches(a, action))) continue;
    if (s.effect === 'Deny') return 'deny';
    allowed = true;
  }
  if (allowed) return 'allow';
  for (const g of grants) {
    if (g.granteePrincipal !== caller.name && !principalMatches(g.granteePrincipal, caller)) continue;
    if (!g.operations.some((op) => ACTION_OF_GRANT_OPERATION[op] === action)) continue;
    // Encryption-context constraints bind only operations that take a context (AWS exempts the rest).
    if (!ACTIONS_WITH_CONTEXT.has(action) || grantConstraintsHold(g, encryptionContext)) return 'allow';
  }
  return 'deny';
}

/** EncryptionContextEquals: exactly these pairs. EncryptionContextSubset: at least these pairs. */
export function grantConstraintsHold(
  grant: GrantRecord,
  context: Readonly<Record<string, string>> | undefined,
): boolean {
  const c = grant.constraints;
  if (!c) return true;
  const ctx = context ?? {};
  if (c.encryptionContextEquals) {
    const want = Object.entries(c.encryptionContextEquals);
    if (want.length !== Object.keys(ctx).length) return false;
    if (!want.every(([k, v]) => ctx[k] === v)) return false;
  }
  if (c.encryptionContextSubset) {
    if (!Object.entries(c.encryptionContextSubset).every(([k, v]) => ctx[k] === v)) return false;
  }
  return true;
}
