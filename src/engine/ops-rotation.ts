/**
 * Rotation: Enable/DisableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand, ListKeyRotations, and the
 * two phases (stage, promote) that HA deployments run separately (invariant 3).
 */
import type { EngineCore, RequestContext } from './core.ts';
import { requireEnabled } from './core.ts';
import { KmsError } from './errors.ts';
import {
  DAY_MS,
  nextVersionNumber,
  onDemandRotationCount,
  promoteVersion,
  stageVersion,
  withRotation,
} from './keyset.ts';
import { createVersion } from './material.ts';
import { keyMaterialId } from './metadata.ts';
import { mutateKey } from './ops-keys.ts';
import { type Page, paginate } from './pagination.ts';
import type { KeyRecord, RotationType } from './records.ts';
import { LIMITS } from './specs.ts';
import { optionalInt, optionalString } from './validate.ts';

const rotatable = (r: KeyRecord): boolean =>
  r.keySpec === 'SYMMETRIC_DEFAULT' || r.keySpec.startsWith('HMAC_');

function requireRotatable(core: EngineCore, r: KeyRecord): void {
  if (!rotatable(r)) {
    throw new KmsError(
      'UnsupportedOperationException',
      `${core.arnOf(r.keyId)}: rotation is not supported for ${r.keySpec} keys`,
    );
  }
}

/** Refuses a rotation that would issue a version number that data already names (a rolled-back keystore). */
function requireNotBehindData(core: EngineCore, r: KeyRecord, version: number): void {
  const seen = core.dataVersions.highest(r.keyId);
  if (seen < version) return;
  throw new KmsError(
    'KMSInvalidStateException',
    `${core.arnOf(r.keyId)}: data encrypted under version ${seen} of this key was seen, but this keystore's newest ` +
      `version is ${version - 1}: the keystore is older than the data (restored from an older backup?). A rotation ` +
      `would issue version ${version} again for new key material; restore the newest backup first`,
  );
}

export async function enableKeyRotation(
  core: EngineCore,
  ctx: RequestContext,
  keyRef: unknown,
  rotationPeriodInDays: unknown,
): Promise<void> {
  const days =
    optionalInt(
      rotationPeriodInDays,
      'RotationPeriodInDays',
      LIMITS.rotationPeriodMinDays,
      LIMITS.rotationPeriodMaxDays,
    ) ?? LIMITS.rotationPeriodDefaultDays;
  await mutateKey(core, ctx, keyRef, 'kms:EnableKeyRotation', 'EnableKeyRotation', ({ record }) => {
    requireEnabled(record, core.arnOf(record.keyId));
    requireRotatable(core, record);
    if (record.rotation.enabled && record.rotation.periodDays === days) return undefined;
    return withRotation(record, true, days, core.clock.now());
  });
}

export async function disableKeyRotation(
  core: EngineCore,
  ctx: RequestContext,
  keyRef: unknown,
): Promise<void> {
  await mutateKey(core, ctx, keyRef, 'kms:DisableKeyRotation', 'DisableKeyRotation', ({ record }) => {
    requireEnabled(record, core.arnOf(record.keyId));
    requireRotatable(core, record);
    if (!record.rotation.enabled) return undefined;
    return withRotation(record, false, record.rotation.periodDays, core.clock.now());
  });
}

export interface RotationStatus {
  readonly keyId: string;
  readonly keyRotationEnabled: boolean;
  readonly rotationPeriodInDays?: number;
  readonly nextRotationDate?: number;
}

export function getKeyRotationStatus(core: EngineCore, ctx: RequestContext, keyRef: unknown): RotationStatus {
  const { record: r } = core.resolve(keyRef);
  core.authorize(ctx, r, 'kms:GetKeyRotationStatus');
  if (r.state === 'PendingDeletion')
    throw new KmsError('KMSInvalidStateException', `${core.arnOf(r.keyId)} is pending deletion.`);
  requireRotatable(core, r);
  return {
    keyId: core.arnOf(r.keyId),
    keyRotationEnabled: r.rotation.enabled,
    ...(r.rotation.enabled
      ? { rotationPeriodInDays: r.rotation.periodDays, nextRotationDate: r.rotation.nextRotationAt }
      : {}),
  };
}

/**
 * Rotates a key. On a single instance both phases go in one commit, since memory is the only reader. With a
 * rotation gate (HA), the new version is staged, the gate waits until every live instance holds it, and only then
 * is it promoted; a gate that gives up leaves it staged for a later promotion (`promoteAcknowledged`). A key that
 * already has a staged version is not staged again: that version is the one being rotated to.
 */
export async function rotateKey(
  core: EngineCore,
  keyRef: unknown,
  rotationType: RotationType,
  ctx?: RequestContext,
): Promise<KeyRecord> {
  const gate = core.rotationGate;
  const staged = await core.mutate(async () => {
    const key = core.resolve(keyRef);
    const r = key.record;
    if (ctx) {
      core.authorize(ctx, r, 'kms:RotateKeyOnDemand');
      if (r.keyManager === 'CLUSTER' && ctx.caller.kind !== 'system') {
        throw new KmsError(
          'UnsupportedOperationException',
          `${core.arnOf(r.keyId)} is a cluster-managed key: RotateKeyOnDemand is not allowed`,
        );
      }
    }
    requireEnabled(r, core.arnOf(r.keyId));
    requireRotatable(core, r);
    const pending = stagedVersion(r);
    if (gate && pending !== undefined) return { change: {}, result: { record: r, version: pending } };
    if (
      rotationType === 'ON_DEMAND' &&
      ctx?.caller.kind !== 'system' &&
      onDemandRotationCount(r) >= LIMITS.onDemandRotationsMax
    ) {
      throw new KmsError(
        'LimitExceededException',
        `${core.arnOf(r.keyId)} has reached ${LIMITS.onDemandRotationsMax} on-demand rotations`,
      );
    }
    const version = nextVersionNumber(r);
    requireNotBehindData(core, r, version);
    const v = await createVersion(core, r.keyId, r.keySpec, version, rotationType);
    const withVersion = stageVersion(r, v.record);
    const next = gate ? withVersion : promoteVersion(withVersion, version, core.clock.now());
    return {
      change: { putKeys: [next] },
      result: { record: next, version },
      material: new Map([[r.keyId, new Map([[version, v.material]])]]),
    };
  });
  if (!gate) return staged.record;
  if (!(await gate(staged.record.keyId, staged.version))) return staged.record;
  return promoteRotation(core, staged.record.keyId, staged.version);
}

/** The highest version above the primary one, if a rotation is staged and not promoted yet. */
export function stagedVersion(r: KeyRecord): number | undefined {
  const top = r.versions[r.versions.length - 1];
  return top !== undefined && top.version > r.primaryVersion ? top.version : undefined;
}

/**
 * Promotes every staged version for which `acknowledged` says all live instances hold it (the HA maintenance
 * sweep). Returns the key ids promoted. Another instance may promote the same version first; the store refuses
 * the second write and the next sweep sees nothing left to do.
 */
export async function promoteAcknowledged(
  core: EngineCore,
  acknowledged: (keyId: string, version: number) => boolean,
): Promise<string[]> {
  const promoted: string[] = [];
  for (const record of core.allKeys()) {
    const v = stagedVersion(record);
    if (v === undefined || record.state !== 'Enabled' || !acknowledged(record.keyId, v)) continue;
    await promoteRotation(core, record.keyId, v);
    promoted.push(record.keyId);
  }
  return promoted;
}

export async function rotateKeyOnDemand(
  core: EngineCore,
  ctx: RequestContext,
  keyRef: unknown,
): Promise<string> {
  const r = await rotateKey(core, keyRef, 'ON_DEMAND', ctx);
  return core.arnOf(r.keyId);
}

export interface RotationEntry {
  readonly keyId: string;
  readonly keyMaterialId: string;
  readonly version: number;
  readonly rotationDate: number;
  readonly rotationType: RotationType;
  readonly current: boolean;
}

/** ListKeyRotations: the versions created by rotation (not the first one), oldest first. */
export function listKeyRotations(
  core: EngineCore,
  ctx: RequestContext,
  keyRef: unknown,
  limit: unknown,
  marker: unknown,
): Page<RotationEntry> {
  const { record: r } = core.resolve(keyRef);
  core.authorize(ctx, r, 'kms:ListKeyRotations');
  requireRotatable(core, r);
  const l = optionalInt(limit, 'Limit', 1, 1000) ?? 100;
  const m = optionalString(marker, 'Marker', 1, 1024);
  const entries = r.versions
    .filter((v) => v.rotationType !== undefined)
    .map((v) => ({
      keyId: core.arnOf(r.keyId),
      keyMaterialId: keyMaterialId(core, r.keyId, v.version),
      version: v.version,
      rotationDate: v.createdAt,
      rotationType: v.rotationType!,
      current: v.version === r.primaryVersion,
    }));
  // Markers are zero-padded version numbers so that string order is version order.
  return paginate(entries, (e) => String(e.version).padStart(10, '0'), l, m);
}

/** Phase one alone (HA): add a version that decrypts but is not used for new data yet. */
export async function stageRotation(
  core: EngineCore,
  keyRef: unknown,
  rotationType: RotationType,
): Promise<KeyRecord> {
  return core.mutate(async () => {
    const { record: r } = core.resolve(keyRef);
    requireRotatable(core, r);
    const version = nextVersionNumber(r);
    requireNotBehindData(core, r, version);
    const v = await createVersion(core, r.keyId, r.keySpec, version, rotationType);
    const next = stageVersion(r, v.record);
    return {
      change: { putKeys: [next] },
      result: next,
      material: new Map([[r.keyId, new Map([[version, v.material]])]]),
    };
  });
}

/** Phase two alone (HA): promote a staged version once every instance holds it. */
export async function promoteRotation(
  core: EngineCore,
  keyRef: unknown,
  version: number,
): Promise<KeyRecord> {
  return core.mutate(async () => {
    const { record: r } = core.resolve(keyRef);
    if (r.primaryVersion === version) return { change: {}, result: r };
    const next = promoteVersion(r, version, core.clock.now());
    return { change: { putKeys: [next] }, result: next };
  });
}

export const isRotationDue = (r: KeyRecord, now: number): boolean =>
  r.state === 'Enabled' &&
  r.rotation.enabled &&
  r.rotation.nextRotationAt !== undefined &&
  r.rotation.nextRotationAt <= now;

export { DAY_MS };
