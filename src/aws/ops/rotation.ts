/** Enable/DisableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand, ListKeyRotations. */
import { keyMaterialId } from '../../engine/metadata.ts';
import {
  disableKeyRotation,
  enableKeyRotation,
  getKeyRotationStatus,
  listKeyRotations,
  rotateKeyOnDemand,
} from '../../engine/ops-rotation.ts';
import { paginate } from '../../engine/pagination.ts';
import type { KeyRecord } from '../../engine/records.ts';
import { optionalEnum, optionalInt } from '../../engine/validate.ts';
import { type Body, type Handler, type OpContext, seconds } from './types.ts';

const arnOf = (c: OpContext) => c.core.arnOf(c.core.resolve(c.input.KeyId).record.keyId);

export const EnableKeyRotation: Handler = async (c) => {
  await enableKeyRotation(c.core, c.ctx, c.input.KeyId, c.input.RotationPeriodInDays);
  return { keyArn: arnOf(c) };
};

export const DisableKeyRotation: Handler = async (c) => {
  await disableKeyRotation(c.core, c.ctx, c.input.KeyId);
  return { keyArn: arnOf(c) };
};

export const GetKeyRotationStatus: Handler = (c) => {
  const s = getKeyRotationStatus(c.core, c.ctx, c.input.KeyId);
  return {
    keyArn: s.keyId,
    body: {
      KeyRotationEnabled: s.keyRotationEnabled,
      KeyId: s.keyId,
      RotationPeriodInDays: s.rotationPeriodInDays,
      NextRotationDate: seconds(s.nextRotationDate),
    },
  };
};

export const RotateKeyOnDemand: Handler = async (c) => {
  const arn = await rotateKeyOnDemand(c.core, c.ctx, c.input.KeyId);
  return { keyArn: arn, body: { KeyId: arn } };
};

function materialState(r: KeyRecord, version: number): string {
  if (version === r.primaryVersion) return 'CURRENT';
  return version > r.primaryVersion ? 'PENDING_ROTATION' : 'NON_CURRENT';
}

/**
 * ROTATIONS_ONLY (the default) lists the versions rotation created; ALL_KEY_MATERIAL also lists the key's
 * first material (which has no rotation date or type).
 */
export const ListKeyRotations: Handler = (c) => {
  const { core, ctx, input } = c;
  const include =
    optionalEnum(input.IncludeKeyMaterial, 'IncludeKeyMaterial', [
      'ALL_KEY_MATERIAL',
      'ROTATIONS_ONLY',
    ] as const) ?? 'ROTATIONS_ONLY';
  const page = listKeyRotations(core, ctx, input.KeyId, input.Limit, input.Marker);
  const r = core.resolve(input.KeyId).record;
  const arn = core.arnOf(r.keyId);
  const entry = (version: number, createdAt: number, rotationType: string | undefined): Body => ({
    KeyId: arn,
    KeyMaterialId: keyMaterialId(core, r.keyId, version),
    KeyMaterialState: materialState(r, version),
    RotationDate: rotationType === undefined ? undefined : seconds(createdAt),
    RotationType: rotationType,
  });
  if (include === 'ROTATIONS_ONLY') {
    return {
      keyArn: arn,
      body: {
        Rotations: page.items.map((e) => entry(e.version, e.rotationDate, e.rotationType)),
        NextMarker: page.nextMarker,
        Truncated: page.truncated,
      },
    };
  }
  const limit = optionalInt(input.Limit, 'Limit', 1, 1000) ?? 100;
  const all = paginate(
    r.versions,
    (v) => String(v.version).padStart(10, '0'),
    limit,
    input.Marker as string | undefined,
  );
  return {
    keyArn: arn,
    body: {
      Rotations: all.items.map((v) => entry(v.version, v.createdAt, v.rotationType)),
      NextMarker: all.nextMarker,
      Truncated: all.truncated,
    },
  };
};
