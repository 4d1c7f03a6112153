/**
 * A key is a keyset (as in Tink): versions with explicit numbers, exactly one primary. The pure transitions
 * below are the only way records change, and checkKeyRecord states every invariant in one place; it runs on
 * load and before every commit.
 */
import { KmsError } from './errors.ts';
import type { KeyRecord, KeyState, KeyVersionRecord, RotationType } from './records.ts';
import { isAsymmetricSpec, KEY_SPECS, USAGES_BY_SPEC } from './specs.ts';

const DAY_MS = 86_400_000;

/** Throws KMSInternalException naming the broken invariant. Never returns a partially valid record. */
export function checkKeyRecord(r: KeyRecord): void {
  const fail = (what: string): never => {
    throw new KmsError('KMSInternalException', `key ${r.keyId}: invariant broken: ${what}`);
  };
  if (!(KEY_SPECS as readonly string[]).includes(r.keySpec)) fail(`unknown key spec ${r.keySpec}`);
  if (!USAGES_BY_SPEC[r.keySpec].includes(r.keyUsage)) fail(`usage ${r.keyUsage} invalid for ${r.keySpec}`);
  if (r.versions.length === 0) fail('no versions');
  let prev = 0;
  for (const v of r.versions) {
    if (!Number.isInteger(v.version) || v.version <= prev) fail('versions not strictly increasing from 1');
    prev = v.version;
    if (v.wrappedMaterial.length === 0) fail(`version ${v.version} has no material`);
    if (isAsymmetricSpec(r.keySpec) !== (v.publicKey !== undefined))
      fail(`version ${v.version} public key mismatch`);
    if (v.retiredAt === undefined && (v.destroyAt !== undefined || v.lastUsedAt !== undefined))
      fail(`version ${v.version} has retirement fields but is not retired`);
    if (v.retiredAt !== undefined && v.version >= r.primaryVersion)
      fail(`version ${v.version} is retired but not below the primary version`);
  }
  if (!r.versions.some((v) => v.version === r.primaryVersion)) fail('primary version is not a version');
  if ((r.state === 'PendingDeletion') !== (r.deletionDate !== undefined))
    fail('deletionDate iff PendingDeletion');
  if (r.rotation.enabled && r.rotation.nextRotationAt === undefined)
    fail('rotation enabled without a due date');
  if (isAsymmetricSpec(r.keySpec) && r.versions.length !== 1)
    fail('asymmetric keys have exactly one version');
}

export function withState(
  r: KeyRecord,
  state: KeyState,
  deletion?: { date: number; windowDays: number },
): KeyRecord {
  const { deletionDate: _d, pendingWindowDays: _w, ...rest } = r;
  return {
    ...rest,
    state,
    ...(deletion ? { deletionDate: deletion.date, pendingWindowDays: deletion.windowDays } : {}),
    revision: r.revision + 1,
  };
}

export function withRotation(r: KeyRecord, enabled: boolean, periodDays: number, now: number): KeyRecord {
  return {
    ...r,
    rotation: enabled
      ? { enabled, periodDays, nextRotationAt: now + periodDays * DAY_MS }
      : { enabled, periodDays },
    revision: r.revision + 1,
  };
}

export function nextVersionNumber(r: KeyRecord): number {
  return r.versions[r.versions.length - 1]!.version + 1;
}

/**
 * Phase one of a rotation: the new version is added, decryptable, but not primary. Readers everywhere learn it
 * before any writer uses it (invariant 3).
 */
export function stageVersion(r: KeyRecord, v: KeyVersionRecord): KeyRecord {
  return { ...r, versions: [...r.versions, v], revision: r.revision + 1 };
}

/** Phase two: the staged version becomes primary. Automatic rotation restarts its period. */
export function promoteVersion(r: KeyRecord, version: number, now: number): KeyRecord {
  if (!r.versions.some((v) => v.version === version)) {
    throw new KmsError('KMSInternalException', `key ${r.keyId}: cannot promote missing version ${version}`);
  }
  const rotation = r.rotation.enabled
    ? { ...r.rotation, nextRotationAt: now + r.rotation.periodDays * DAY_MS }
    : r.rotation;
  return { ...r, primaryVersion: version, rotation, revision: r.revision + 1 };
}

export function onDemandRotationCount(r: KeyRecord): number {
  return r.versions.filter((v) => v.rotationType === 'ON_DEMAND').length;
}

export function newVersionRecord(
  version: number,
  createdAt: number,
  wrappedMaterial: Uint8Array,
  publicKey: Uint8Array | undefined,
  rotationType: RotationType | undefined,
): KeyVersionRecord {
  return {
    version,
    createdAt,
    wrappedMaterial,
    ...(publicKey ? { publicKey } : {}),
    ...(rotationType ? { rotationType } : {}),
  };
}

export { DAY_MS };
