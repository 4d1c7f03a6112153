/**
 * KmsKey status from the engine's public view of a key (ids, state, versions, dates, algorithms: never key
 * material), and the Ready condition that summarizes it.
 */

import type { ConditionInput } from '../api/conditions.ts';
import type { KmsKey, KmsKeyStatus, RetiredVersionStatus } from '../api/kinds.ts';
import { CANCEL_DELETION_ANNOTATION } from '../api/kinds.ts';
import { retiredSpecOf } from '../api/retired-policy.ts';
import type { KeyMetadata } from '../engine/metadata.ts';
import type { KeyRecord, RetiredVersionsPolicy } from '../engine/records.ts';

const iso = (ms: number | undefined): string | undefined =>
  ms === undefined ? undefined : new Date(ms).toISOString();

/** Status fields derived from the key; conditions, observedGeneration and rotateNow are set by the caller. */
export function keyStatusFields(meta: KeyMetadata, r: KeyRecord): KmsKeyStatus {
  const primary = r.versions.find((v) => v.version === r.primaryVersion);
  const fields: Record<string, unknown> = {
    keyId: meta.keyId,
    arn: meta.arn,
    keyState: meta.keyState,
    keyManager: meta.keyManager,
    currentVersion: r.primaryVersion,
    currentKeyMaterialId: meta.currentKeyMaterialId,
    creationTime: iso(r.createdAt),
    lastRotationTime: primary?.rotationType ? iso(primary.createdAt) : undefined,
    nextRotationTime: r.rotation.enabled ? iso(r.rotation.nextRotationAt) : undefined,
    deletionDate: iso(r.deletionDate),
    encryptionAlgorithms: meta.encryptionAlgorithms,
    signingAlgorithms: meta.signingAlgorithms,
    macAlgorithms: meta.macAlgorithms,
    keyAgreementAlgorithms: meta.keyAgreementAlgorithms,
    retiredVersions: retiredStatus(r),
  };
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as KmsKeyStatus;
}

/** The retired versions with their dates, or undefined when there are none. */
function retiredStatus(r: KeyRecord): RetiredVersionStatus[] | undefined {
  const out = r.versions
    .filter((v) => v.retiredAt !== undefined)
    .map((v) => ({
      version: v.version,
      retiredTime: iso(v.retiredAt)!,
      ...(v.lastUsedAt !== undefined ? { lastUsedTime: iso(v.lastUsedAt)! } : {}),
      ...(v.destroyAt !== undefined ? { destructionDate: iso(v.destroyAt)! } : {}),
    }));
  return out.length > 0 ? out : undefined;
}

/** The Event note for a retired versions policy set on key `id`. */
export function retiredPolicyNote(id: string, p: RetiredVersionsPolicy | undefined): string {
  const spec = retiredSpecOf(p);
  return spec
    ? `retired versions of key ${id} refuse decrypt once unused for ${spec.disableDecryptAfter}`
    : `retired versions of key ${id} always decrypt (no disableDecryptAfter)`;
}

/** Ready: the key exists, matches the spec, and is usable. A disabled or pending key is not Ready. */
export function keyReadyCondition(o: KmsKey, r: KeyRecord | undefined): ConditionInput {
  const observedGeneration = o.metadata.generation ?? 0;
  const base = { type: 'Ready', observedGeneration };
  if (!r) return { ...base, status: 'False', reason: 'Provisioning', message: 'the key is being created' };
  switch (r.state) {
    case 'Enabled':
      return {
        ...base,
        status: 'True',
        reason: 'KeyEnabled',
        message: `key ${r.keyId} is enabled; version ${r.primaryVersion} encrypts`,
      };
    case 'Disabled':
      return {
        ...base,
        status: 'False',
        reason: 'KeyDisabled',
        message: `key ${r.keyId} is disabled (spec.enabled is false); it cannot be used until enabled`,
      };
    case 'PendingDeletion':
      return {
        ...base,
        status: 'False',
        reason: 'PendingDeletion',
        message: `key ${r.keyId} will be destroyed at ${iso(r.deletionDate)}; to cancel, annotate this object with ${CANCEL_DELETION_ANNOTATION}=true`,
      };
    case 'PendingImport':
      return {
        ...base,
        status: 'False',
        reason: 'PendingImport',
        message: `key ${r.keyId} awaits key material`,
      };
  }
}
