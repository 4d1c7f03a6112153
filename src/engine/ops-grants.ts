/** Grants: CreateGrant (idempotent by name), ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant. */
import { toBase64Url, toHex } from './bytes.ts';
import type { EngineCore, RequestContext } from './core.ts';
import { KmsError, validation } from './errors.ts';
import { type Page, paginate } from './pagination.ts';
import { authorize, grantConstraintsHold } from './policy.ts';
import {
  GRANT_OPERATIONS,
  type GrantConstraints,
  type GrantOperation,
  type GrantRecord,
  type KeyRecord,
} from './records.ts';
import { isRsaSpec } from './specs.ts';
import { optionalInt, optionalString, requireString } from './validate.ts';

const PRINCIPAL_RE = /^[\w+=,.@:/-]+$/;
const NAME_RE = /^[a-zA-Z0-9:/_-]+$/;
const COMMON_OPS: readonly GrantOperation[] = ['CreateGrant', 'RetireGrant', 'DescribeKey'];

/** The operations that make sense for a key's spec and usage (AWS refuses the rest). */
export function grantOperationsFor(r: KeyRecord): readonly GrantOperation[] {
  switch (r.keyUsage) {
    case 'ENCRYPT_DECRYPT':
      return isRsaSpec(r.keySpec)
        ? [...COMMON_OPS, 'Encrypt', 'Decrypt', 'ReEncryptFrom', 'ReEncryptTo', 'GetPublicKey']
        : [
            ...COMMON_OPS,
            'Encrypt',
            'Decrypt',
            'ReEncryptFrom',
            'ReEncryptTo',
            'GenerateDataKey',
            'GenerateDataKeyWithoutPlaintext',
            'GenerateDataKeyPair',
            'GenerateDataKeyPairWithoutPlaintext',
          ];
    case 'SIGN_VERIFY':
      return [...COMMON_OPS, 'Sign', 'Verify', 'GetPublicKey'];
    case 'GENERATE_VERIFY_MAC':
      return [...COMMON_OPS, 'GenerateMac', 'VerifyMac'];
    case 'KEY_AGREEMENT':
      return [...COMMON_OPS, 'DeriveSharedSecret', 'GetPublicKey'];
  }
}

function checkContextMap(value: unknown, field: string): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value))
    throw validation(field, 'must be a map of string to string');
  const entries = Object.entries(value);
  if (entries.length > 8) throw validation(field, 'may hold at most 8 pairs');
  for (const [k, v] of entries) {
    if (typeof v !== 'string' || v.length > 384)
      throw validation(`${field}.${k}`, 'must be a string of at most 384 characters');
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

export interface CreateGrantInput {
  readonly keyId: unknown;
  readonly granteePrincipal: unknown;
  readonly operations: unknown;
  readonly retiringPrincipal?: unknown;
  readonly constraints?: {
    readonly encryptionContextEquals?: unknown;
    readonly encryptionContextSubset?: unknown;
  };
  readonly name?: unknown;
}

export async function createGrant(
  core: EngineCore,
  ctx: RequestContext,
  input: CreateGrantInput,
): Promise<{ grantId: string; grantToken: string }> {
  const grantee = requireString(input.granteePrincipal, 'GranteePrincipal', 1, 256, PRINCIPAL_RE);
  const retiring = optionalString(input.retiringPrincipal, 'RetiringPrincipal', 1, 256, PRINCIPAL_RE);
  const name = optionalString(input.name, 'Name', 1, 256, NAME_RE);
  if (!Array.isArray(input.operations) || input.operations.length === 0)
    throw validation('Operations', 'must be a non-empty list');
  const ops = [...new Set(input.operations)].map((o, i) => {
    if (typeof o !== 'string' || !(GRANT_OPERATIONS as readonly string[]).includes(o)) {
      throw validation(`Operations[${i}]`, `must be one of ${GRANT_OPERATIONS.join(', ')}`);
    }
    return o as GrantOperation;
  });
  const equals = checkContextMap(
    input.constraints?.encryptionContextEquals,
    'Constraints.EncryptionContextEquals',
  );
  const subset = checkContextMap(
    input.constraints?.encryptionContextSubset,
    'Constraints.EncryptionContextSubset',
  );
  const constraints: GrantConstraints | undefined =
    equals || subset
      ? {
          ...(equals ? { encryptionContextEquals: equals } : {}),
          ...(subset ? { encryptionContextSubset: subset } : {}),
        }
      : undefined;

  return core.mutate(async () => {
    const { record: key } = core.resolve(input.keyId);
    authorizeCreateGrant(core, ctx, key, ops, constraints);
    if (key.state === 'Disabled')
      throw new KmsError('DisabledException', `${core.arnOf(key.keyId)} is disabled.`);
    if (key.state !== 'Enabled')
      throw new KmsError('KMSInvalidStateException', `${core.arnOf(key.keyId)} is not enabled.`);
    const allowed = grantOperationsFor(key);
    for (const op of ops) {
      if (!allowed.includes(op))
        throw validation('Operations', `${op} is not valid for a ${key.keySpec} ${key.keyUsage} key`);
    }
    const issuing = ctx.caller.kind === 'system' ? 'system:kubekms' : ctx.caller.name;
    if (name !== undefined) {
      const same = core
        .grantsOf(key.keyId)
        .find(
          (g) =>
            g.name === name &&
            g.granteePrincipal === grantee &&
            g.retiringPrincipal === retiring &&
            g.operations.length === ops.length &&
            ops.every((o) => g.operations.includes(o)) &&
            canonicalConstraints(g.constraints) === canonicalConstraints(constraints),
        );
      if (same) return { change: {}, result: { grantId: same.grantId, grantToken: same.grantToken } };
    }
    const grant: GrantRecord = {
      grantId: toHex(core.crypto.randomBytes(32)),
      grantToken: toBase64Url(core.crypto.randomBytes(48)),
      keyId: key.keyId,
      ...(name !== undefined ? { name } : {}),
      granteePrincipal: grantee,
      ...(retiring !== undefined ? { retiringPrincipal: retiring } : {}),
      issuingPrincipal: issuing,
      operations: ops,
      ...(constraints ? { constraints } : {}),
      createdAt: core.clock.now(),
    };
    return {
      change: { putGrants: [grant] },
      result: { grantId: grant.grantId, grantToken: grant.grantToken },
    };
  });
}

/** Constraints as a string that does not depend on the order in which pairs were given. */
function canonicalConstraints(c: GrantConstraints | undefined): string {
  const sorted = (m: Readonly<Record<string, string>> | undefined) =>
    m === undefined ? null : Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([sorted(c?.encryptionContextEquals), sorted(c?.encryptionContextSubset)]);
}

/** Every context `child` admits is also admitted by `parent` (AWS: a child grant is at least as strict). */
function atLeastAsStrict(child: GrantConstraints | undefined, parent: GrantRecord): boolean {
  if (!parent.constraints) return true;
  if (child?.encryptionContextEquals) return grantConstraintsHold(parent, child.encryptionContextEquals);
  if (parent.constraints.encryptionContextEquals) return false;
  const need = parent.constraints.encryptionContextSubset ?? {};
  const have = child?.encryptionContextSubset ?? {};
  return Object.entries(need).every(([k, v]) => Object.hasOwn(have, k) && have[k] === v);
}

/**
 * CreateGrant. A caller the key policy allows may grant anything that fits the key. A caller allowed only
 * through grants may hand on only what one of its own CreateGrant grants holds: a subset of that grant's
 * operations, with constraints at least as strict (AWS KMS), so a grant can never widen itself.
 */
function authorizeCreateGrant(
  core: EngineCore,
  ctx: RequestContext,
  key: KeyRecord,
  ops: readonly GrantOperation[],
  constraints: GrantConstraints | undefined,
): void {
  let denied: KmsError | undefined;
  try {
    core.authorize(ctx, key, 'kms:CreateGrant'); // also rejects unknown grant tokens
  } catch (e) {
    if (!(e instanceof KmsError) || e.code !== 'AccessDeniedException') throw e;
    denied = e;
  }
  const caller = ctx.caller;
  if (
    caller.kind === 'system' ||
    authorize(caller, 'kms:CreateGrant', key.policy, [], undefined) === 'allow'
  ) {
    if (denied) throw denied;
    return;
  }
  // The parent's constraints are checked against the child's here, not against a request context.
  const parents = core
    .grantsOf(key.keyId)
    .filter((g) => g.operations.includes('CreateGrant') && ops.every((o) => g.operations.includes(o)))
    .filter((g) => atLeastAsStrict(constraints, g))
    .map(({ constraints: _c, ...g }) => g);
  if (authorize(caller, 'kms:CreateGrant', key.policy, parents, undefined) === 'allow') return;
  throw (
    denied ??
    new KmsError(
      'AccessDeniedException',
      `User: ${caller.name} may grant only operations and constraints its own grant holds on ${core.arnOf(key.keyId)}`,
    )
  );
}

export type GrantListEntry = Omit<GrantRecord, 'grantToken'>;

const listed = ({ grantToken: _t, ...rest }: GrantRecord): GrantListEntry => rest;

export function listGrants(
  core: EngineCore,
  ctx: RequestContext,
  input: { keyId: unknown; limit?: unknown; marker?: unknown; grantId?: unknown; granteePrincipal?: unknown },
): Page<GrantListEntry> {
  const { record: key } = core.resolve(input.keyId);
  core.authorize(ctx, key, 'kms:ListGrants');
  const l = optionalInt(input.limit, 'Limit', 1, 100) ?? 50;
  const m = optionalString(input.marker, 'Marker', 1, 1024);
  const id = optionalString(input.grantId, 'GrantId', 1, 128);
  const grantee = optionalString(input.granteePrincipal, 'GranteePrincipal', 1, 256);
  const all = core
    .grantsOf(key.keyId)
    .filter(
      (g) =>
        (id === undefined || g.grantId === id) && (grantee === undefined || g.granteePrincipal === grantee),
    );
  const page = paginate(all, (g) => g.grantId, l, m);
  return { ...page, items: page.items.map(listed) };
}

export function listRetirableGrants(
  core: EngineCore,
  ctx: RequestContext,
  input: { retiringPrincipal: unknown; limit?: unknown; marker?: unknown },
): Page<GrantListEntry> {
  const principal = requireString(input.retiringPrincipal, 'RetiringPrincipal', 1, 256, PRINCIPAL_RE);
  if (ctx.caller.kind === 'principal' && !ctx.caller.admin && ctx.caller.name !== principal) {
    throw new KmsError(
      'AccessDeniedException',
      `User: ${ctx.caller.name} may list only the grants it can retire`,
    );
  }
  const l = optionalInt(input.limit, 'Limit', 1, 100) ?? 50;
  const m = optionalString(input.marker, 'Marker', 1, 1024);
  const all = core.allGrants().filter((g) => g.retiringPrincipal === principal);
  const page = paginate(all, (g) => g.grantId, l, m);
  return { ...page, items: page.items.map(listed) };
}

/** RetireGrant, by token or by key + grant id: the retiring principal, or a grantee whose grant allows RetireGrant. */
export async function retireGrant(
  core: EngineCore,
  ctx: RequestContext,
  input: { grantToken?: unknown; keyId?: unknown; grantId?: unknown },
): Promise<void> {
  await core.mutate(async () => {
    let grant: GrantRecord | undefined;
    if (input.grantToken !== undefined && input.grantToken !== null) {
      const token = requireString(input.grantToken, 'GrantToken', 1, 8192);
      grant = core.findGrantByToken(token);
      if (!grant)
        throw new KmsError('InvalidGrantTokenException', 'GrantToken: not a valid grant token', 'GrantToken');
    } else {
      const { record: key } = core.resolve(input.keyId);
      const id = requireString(input.grantId, 'GrantId', 1, 128);
      grant = core.findGrant(id);
      if (!grant || grant.keyId !== key.keyId)
        throw new KmsError('InvalidGrantIdException', 'GrantId: no such grant on this key', 'GrantId');
    }
    const c = ctx.caller;
    const may =
      c.kind === 'system' ||
      c.admin ||
      grant.retiringPrincipal === c.name ||
      (grant.granteePrincipal === c.name && grant.operations.includes('RetireGrant'));
    if (!may)
      throw new KmsError(
        'AccessDeniedException',
        `User: ${c.kind === 'principal' ? c.name : ''} may not retire this grant`,
      );
    return { change: { deleteGrants: [grant.grantId] }, result: undefined };
  });
}

export async function revokeGrant(
  core: EngineCore,
  ctx: RequestContext,
  keyRef: unknown,
  grantId: unknown,
): Promise<void> {
  await core.mutate(async () => {
    const { record: key } = core.resolve(keyRef);
    core.authorize(ctx, key, 'kms:RevokeGrant');
    const id = requireString(grantId, 'GrantId', 1, 128);
    const grant = core.findGrant(id);
    if (!grant || grant.keyId !== key.keyId)
      throw new KmsError('InvalidGrantIdException', 'GrantId: no such grant on this key', 'GrantId');
    return { change: { deleteGrants: [id] }, result: undefined };
  });
}
