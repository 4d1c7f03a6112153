/**
 * Key lifecycle: CreateKey, DescribeKey, ListKeys, Enable/DisableKey, Schedule/CancelKeyDeletion,
 * UpdateKeyDescription, and the cluster-managed keys kubekms creates for itself.
 */
import type { EngineCore, LoadedKey, RequestContext } from './core.ts';
import { KmsError, validation } from './errors.ts';
import { DAY_MS, withState } from './keyset.ts';
import { createVersion } from './material.ts';
import { type KeyMetadata, metadataOf } from './metadata.ts';
import { type Page, paginate } from './pagination.ts';
import { defaultPolicy, type KeyPolicy } from './policy.ts';
import { checkPolicy } from './policy-check.ts';
import type { KeyRecord } from './records.ts';
import { KEY_SPECS, KEY_USAGES, type KeySpec, type KeyUsage, LIMITS, USAGES_BY_SPEC } from './specs.ts';
import { checkTags } from './tags.ts';
import { optionalEnum, optionalInt, optionalString } from './validate.ts';

export interface CreateKeyInput {
  readonly keySpec?: unknown;
  readonly keyUsage?: unknown;
  readonly description?: unknown;
  readonly policy?: KeyPolicy;
  readonly tags?: unknown;
  /** Rotation for symmetric/HMAC keys at creation (kubekms extension used by the operator). */
  readonly rotationPeriodDays?: unknown;
  readonly enableRotation?: boolean;
}

/** Who manages a key: cluster-managed keys are created by kubekms (system) only. */
export type CreateKeyManager = 'CUSTOMER' | 'CLUSTER';

export async function createKey(
  core: EngineCore,
  ctx: RequestContext,
  input: CreateKeyInput,
  keyManager: CreateKeyManager = 'CUSTOMER',
): Promise<KeyMetadata> {
  const keySpec: KeySpec = optionalEnum(input.keySpec, 'KeySpec', KEY_SPECS) ?? 'SYMMETRIC_DEFAULT';
  const usageIn = optionalEnum(input.keyUsage, 'KeyUsage', KEY_USAGES);
  if (usageIn === undefined && keySpec !== 'SYMMETRIC_DEFAULT' && !keySpec.startsWith('HMAC_')) {
    throw validation('KeyUsage', `is required for key spec ${keySpec}`);
  }
  const keyUsage: KeyUsage = usageIn ?? USAGES_BY_SPEC[keySpec][0]!;
  if (!USAGES_BY_SPEC[keySpec].includes(keyUsage)) {
    throw validation(
      'KeyUsage',
      `${keyUsage} is not valid for key spec ${keySpec} (valid: ${USAGES_BY_SPEC[keySpec].join(', ')})`,
    );
  }
  const description = optionalString(input.description, 'Description', 0, LIMITS.descriptionMax) ?? '';
  const tags = checkTags(input.tags ?? [], 'Tags');
  const policy = input.policy ? checkPolicy(input.policy) : defaultPolicy(ctx.caller);
  if (keyManager === 'CLUSTER' && ctx.caller.kind !== 'system') {
    throw new KmsError('AccessDeniedException', 'only kubekms itself creates cluster-managed keys');
  }
  const rotatable = keySpec === 'SYMMETRIC_DEFAULT' || keySpec.startsWith('HMAC_');
  const periodDays =
    optionalInt(
      input.rotationPeriodDays,
      'RotationPeriodInDays',
      LIMITS.rotationPeriodMinDays,
      LIMITS.rotationPeriodMaxDays,
    ) ?? LIMITS.rotationPeriodDefaultDays;
  const rotationOn = keyManager === 'CLUSTER' || (input.enableRotation === true && rotatable);
  if (input.enableRotation === true && !rotatable) {
    throw new KmsError(
      'UnsupportedOperationException',
      `automatic rotation is not supported for ${keySpec} keys`,
    );
  }

  return core.mutate(async () => {
    const keyId = core.newUuid();
    const now = core.clock.now();
    const v1 = await createVersion(core, keyId, keySpec, 1);
    const record: KeyRecord = {
      keyId,
      createdAt: now,
      description,
      keySpec,
      keyUsage,
      keyManager,
      state: 'Enabled',
      rotation: rotationOn
        ? {
            enabled: true,
            periodDays: keyManager === 'CLUSTER' ? 365 : periodDays,
            nextRotationAt: now + (keyManager === 'CLUSTER' ? 365 : periodDays) * DAY_MS,
          }
        : { enabled: false, periodDays },
      versions: [v1.record],
      primaryVersion: 1,
      policy,
      tags,
      revision: 1,
    };
    return {
      change: { putKeys: [record] },
      result: metadataOf(core, record),
      material: new Map([[keyId, new Map([[1, v1.material]])]]),
    };
  });
}

export function describeKey(core: EngineCore, ctx: RequestContext, keyRef: unknown): KeyMetadata {
  const key = core.resolve(keyRef);
  core.authorize(ctx, key.record, 'kms:DescribeKey');
  return metadataOf(core, key.record);
}

export interface KeyListEntry {
  readonly keyId: string;
  readonly keyArn: string;
}

/**
 * ListKeys. AWS authorizes ListKeys per account, not per key; here any authenticated caller may list key ids
 * and ARNs (they are not secret), which is what AWS's default key policy gives every principal of the account.
 */
export function listKeys(
  core: EngineCore,
  _ctx: RequestContext,
  limit: unknown,
  marker: unknown,
): Page<KeyListEntry> {
  const l = optionalInt(limit, 'Limit', 1, 1000) ?? 100;
  const m = optionalString(marker, 'Marker', 1, 1024);
  const page = paginate(
    core.allKeys().map((r) => r.keyId),
    (id) => id,
    l,
    m,
  );
  return { ...page, items: page.items.map((id) => ({ keyId: id, keyArn: core.arnOf(id) })) };
}

/** Users may not change what kubekms manages for itself (like AWS managed keys). */
export function refuseIfClusterManaged(
  core: EngineCore,
  ctx: RequestContext,
  key: KeyRecord,
  what: string,
): void {
  if (key.keyManager === 'CLUSTER' && ctx.caller.kind !== 'system') {
    throw new KmsError(
      'UnsupportedOperationException',
      `${core.arnOf(key.keyId)} is a cluster-managed key: ${what} is not allowed`,
    );
  }
}

function mutateKey(
  core: EngineCore,
  ctx: RequestContext,
  keyRef: unknown,
  action: Parameters<EngineCore['authorize']>[2],
  what: string,
  change: (key: LoadedKey) => KeyRecord | undefined,
): Promise<KeyRecord> {
  return core.mutate(async () => {
    const key = core.resolve(keyRef);
    core.authorize(ctx, key.record, action);
    refuseIfClusterManaged(core, ctx, key.record, what);
    const next = change(key);
    return { change: next ? { putKeys: [next] } : {}, result: next ?? key.record };
  });
}

export async function enableKey(core: EngineCore, ctx: RequestContext, keyRef: unknown): Promise<void> {
  await mutateKey(core, ctx, keyRef, 'kms:EnableKey', 'EnableKey', ({ record: r }) => {
    if (r.state === 'Enabled') return undefined;
    if (r.state !== 'Disabled')
      throw new KmsError('KMSInvalidStateException', `${core.arnOf(r.keyId)} is ${stateWords(r)}.`);
    return withState(r, 'Enabled');
  });
}

export async function disableKey(core: EngineCore, ctx: RequestContext, keyRef: unknown): Promise<void> {
  await mutateKey(core, ctx, keyRef, 'kms:DisableKey', 'DisableKey', ({ record: r }) => {
    if (r.state === 'Disabled') return undefined;
    if (r.state !== 'Enabled')
      throw new KmsError('KMSInvalidStateException', `${core.arnOf(r.keyId)} is ${stateWords(r)}.`);
    return withState(r, 'Disabled');
  });
}

export interface ScheduledDeletion {
  readonly keyId: string;
  readonly deletionDate: number;
  readonly pendingWindowInDays: number;
}

/** ScheduleKeyDeletion: 7–30 days, default 30. `minWindowDays` lowers the minimum for tests only. */
export async function scheduleKeyDeletion(
  core: EngineCore,
  ctx: RequestContext,
  keyRef: unknown,
  pendingWindowInDays: unknown,
  minWindowDays: number = LIMITS.pendingWindowMinDays,
): Promise<ScheduledDeletion> {
  const days =
    optionalInt(pendingWindowInDays, 'PendingWindowInDays', minWindowDays, LIMITS.pendingWindowMaxDays) ??
    LIMITS.pendingWindowDefaultDays;
  const r = await mutateKey(
    core,
    ctx,
    keyRef,
    'kms:ScheduleKeyDeletion',
    'ScheduleKeyDeletion',
    ({ record }) => {
      if (record.state === 'PendingDeletion') {
        throw new KmsError('KMSInvalidStateException', `${core.arnOf(record.keyId)} is pending deletion.`);
      }
      return withState(record, 'PendingDeletion', {
        date: core.clock.now() + days * DAY_MS,
        windowDays: days,
      });
    },
  );
  return { keyId: r.keyId, deletionDate: r.deletionDate!, pendingWindowInDays: days };
}

/** CancelKeyDeletion always leaves the key Disabled, as in AWS KMS. */
export async function cancelKeyDeletion(
  core: EngineCore,
  ctx: RequestContext,
  keyRef: unknown,
): Promise<string> {
  const r = await mutateKey(core, ctx, keyRef, 'kms:CancelKeyDeletion', 'CancelKeyDeletion', ({ record }) => {
    if (record.state !== 'PendingDeletion') {
      throw new KmsError('KMSInvalidStateException', `${core.arnOf(record.keyId)} is not pending deletion.`);
    }
    return withState(record, 'Disabled');
  });
  return r.keyId;
}

export async function updateKeyDescription(
  core: EngineCore,
  ctx: RequestContext,
  keyRef: unknown,
  description: unknown,
): Promise<void> {
  const d = optionalString(description, 'Description', 0, LIMITS.descriptionMax);
  if (d === undefined) throw validation('Description', 'is required');
  await mutateKey(core, ctx, keyRef, 'kms:UpdateKeyDescription', 'UpdateKeyDescription', ({ record }) =>
    record.description === d ? undefined : { ...record, description: d, revision: record.revision + 1 },
  );
}

function stateWords(r: KeyRecord): string {
  switch (r.state) {
    case 'PendingDeletion':
      return 'pending deletion';
    case 'PendingImport':
      return 'pending import';
    case 'Disabled':
      return 'disabled';
    case 'Enabled':
      return 'enabled';
  }
}

export { mutateKey };
