/**
 * The KmsKey controller's reconcile: gather (object from the cache, key from the engine), decide (planKey), act
 * (one engine call and one Event per step), report (status with Ready and observedGeneration). Level-triggered:
 * it never asks which change woke it.
 */

import { setCondition } from '../api/conditions.ts';
import { FINALIZER, KMS_KEY, type KmsKey, type KmsKeyStatus, OWNER_TAG } from '../api/kinds.ts';
import { type Refusal, refusalOf } from '../api/reasons.ts';
import type { EngineCore } from '../engine/core.ts';
import { metadataOf } from '../engine/metadata.ts';
import {
  cancelKeyDeletion,
  createKey,
  disableKey,
  enableKey,
  scheduleKeyDeletion,
  updateKeyDescription,
} from '../engine/ops-keys.ts';
import { destroyKey } from '../engine/ops-maintenance.ts';
import { setRetiredVersionsPolicy } from '../engine/ops-retirement.ts';
import { disableKeyRotation, enableKeyRotation, rotateKey, stagedVersion } from '../engine/ops-rotation.ts';
import { putKeyPolicy, tagResource, untagResource } from '../engine/ops-tags.ts';
import { SYSTEM } from '../engine/policy.ts';
import type { KeyRecord } from '../engine/records.ts';
import { type ReconcileResult, TerminalError } from '../kube/controller.ts';
import { KubeApiError } from '../kube/errors.ts';
import { splitKey } from '../kube/objects.ts';
import { mirrorName, reconcileMirror } from './cluster-key-mirror.ts';
import { emit, type OperatorContext } from './context.ts';
import { type DesiredKey, desiredKey, type KeyStep, ownerOf, planKey } from './key-decisions.ts';
import { keyReadyCondition, keyStatusFields, retiredPolicyNote } from './key-status.ts';
import { publishStatus } from './publish-status.ts';
import { versionDestructionStep } from './retire-versions.ts';
import { addFinalizer, removeFinalizer } from './status-patch.ts';

const ctxSystem = { caller: SYSTEM };
const iso = (ms: number | undefined) => (ms === undefined ? '' : new Date(ms).toISOString());

/** The engine key of a KmsKey: by status.keyId, else by the owner tag (a create whose status write was lost). */
export function findKeyRecord(core: EngineCore, o: KmsKey): KeyRecord | undefined {
  const id = o.status?.keyId;
  if (id) return core.findKey(id);
  const owner = ownerOf(o);
  let found: KeyRecord | undefined;
  for (const record of core.allKeys()) {
    if (record.tags[OWNER_TAG] !== owner || record.keyManager !== 'CUSTOMER') continue;
    if (
      !found ||
      (found.state === 'PendingDeletion' && record.state !== 'PendingDeletion') ||
      record.createdAt > found.createdAt
    )
      found = record;
  }
  return found;
}

export async function reconcileKey(ctx: OperatorContext, key: string): Promise<ReconcileResult> {
  const { namespace, name } = splitKey(key);
  if (namespace === ctx.namespace && name === mirrorName) return reconcileMirror(ctx);
  const o = ctx.keys.get(namespace, name);
  if (!o) return {};
  let record = findKeyRecord(ctx.core, o);
  const uid = o.metadata.uid ?? key;
  const handledRotateNow = ctx.rotateNowHandled.get(uid);
  const plan = planKey({
    object: o,
    record,
    now: ctx.core.clock.now(),
    ...(handledRotateNow !== undefined ? { handledRotateNow } : {}),
    ...(ctx.deletionWindowOverrideMs !== undefined
      ? { deletionWindowOverrideMs: ctx.deletionWindowOverrideMs }
      : {}),
  });
  if (plan.kind === 'refuse') {
    await report(ctx, o, record, o.status?.rotateNow, {
      reason: plan.reason,
      message: plan.message,
      terminal: true,
    });
    throw new TerminalError(`${key}: ${plan.reason}: ${plan.message}`);
  }

  const d = desiredKey(o);
  const obj = o;
  let rotateNow = handledRotateNow ?? o.status?.rotateNow;
  // A record found by its owner tag with no keyId in status is adopted — unless this process created it and its
  // status write has not reached the informer yet (that used to emit KeyAdopted right after KeyCreated).
  if (record && !o.status?.keyId && !o.metadata.deletionTimestamp && !ctx.rotateNowHandled.has(uid)) {
    rotateNow = d.rotateNow || undefined;
    emit(ctx, KMS_KEY, o, {
      reason: 'KeyAdopted',
      action: 'Adopt',
      note: `found key ${record.keyId} tagged ${OWNER_TAG}=${ownerOf(o)} in the engine: this KmsKey manages it now`,
      audit: { keyId: record.keyId },
    });
  }
  let rotatedHere = false;
  let failure: Refusal | undefined;
  for (const step of plan.steps) {
    try {
      if (step.kind === 'addFinalizer') {
        await addFinalizer(ctx.client, KMS_KEY, obj, FINALIZER);
        continue;
      }
      if (step.kind === 'release') {
        await removeFinalizer(ctx.client, KMS_KEY, obj, FINALIZER);
        releasedEvent(ctx, obj, step.why);
        return {};
      }
      record = await runStep(ctx, obj, d, step, record);
      if (step.kind === 'create') {
        rotateNow = d.rotateNow || undefined;
        ctx.rotateNowHandled.set(uid, d.rotateNow);
      }
      if (step.kind === 'rotate') {
        rotateNow = step.token;
        rotatedHere = true;
        ctx.rotateNowHandled.set(uid, step.token);
      }
    } catch (e) {
      if (e instanceof KubeApiError) throw e;
      failure = refusalOf(e);
      ctx.log.warn(
        { key, step: step.kind, reason: failure.reason, err: failure.message },
        'KmsKey step refused',
      );
      break;
    }
    // Steps take their record from the engine, so later steps see earlier ones.
    if (record) record = ctx.core.findKey(record.keyId) ?? record;
  }

  const prev = o.status?.currentVersion;
  if (record && prev !== undefined && record.primaryVersion > prev && !rotatedHere) {
    emit(ctx, KMS_KEY, obj, {
      reason: 'KeyRotated',
      action: 'Rotate',
      note: `rotated automatically (every ${record.rotation.periodDays} days): version ${record.primaryVersion} now encrypts`,
      audit: { keyId: record.keyId, version: record.primaryVersion },
    });
  }
  await report(ctx, o, record, rotateNow, failure);
  if (failure?.terminal) throw new TerminalError(`${key}: ${failure.reason}: ${failure.message}`);
  if (failure) throw new Error(`${key}: ${failure.message}`);
  return plan.requeueAfterMs !== undefined ? { requeueAfterMs: plan.requeueAfterMs } : {};
}

type Step = Exclude<KeyStep, { kind: 'addFinalizer' | 'release' }>;
type SettingsStep = Extract<
  Step,
  {
    kind:
      | 'enable'
      | 'disable'
      | 'setDescription'
      | 'putPolicy'
      | 'tag'
      | 'untag'
      | 'setRetiredPolicy'
      | 'scheduleVersionDestruction'
      | 'cancelVersionDestruction';
  }
>;
type LifecycleStep = Exclude<Step, SettingsStep | { kind: 'create' }>;
type RecordEvent = (reason: string, action: string, note: string, keyId?: string) => void;

/** Every settings kind, checked by the compiler against SettingsStep. */
const SETTINGS: Readonly<Record<SettingsStep['kind'], true>> = {
  enable: true,
  disable: true,
  setDescription: true,
  putPolicy: true,
  tag: true,
  untag: true,
  setRetiredPolicy: true,
  scheduleVersionDestruction: true,
  cancelVersionDestruction: true,
};
const isSettings = (s: Step): s is SettingsStep => s.kind in SETTINGS;

/** Performs one step in the engine and records its Event; returns the key's record afterwards. */
async function runStep(
  ctx: OperatorContext,
  o: KmsKey,
  d: DesiredKey,
  step: Step,
  r: KeyRecord | undefined,
): Promise<KeyRecord | undefined> {
  const ev: RecordEvent = (reason, action, note, keyId = r?.keyId ?? '') =>
    emit(ctx, KMS_KEY, o, { reason, action, note, audit: { keyId } });
  if (step.kind === 'create') return createStep(ctx, d, ev);
  if (!r) return r;
  if (isSettings(step)) await settingsStep(ctx, r.keyId, step, ev);
  else await lifecycleStep(ctx, r, step, ev);
  return step.kind === 'destroy' ? undefined : ctx.core.findKey(r.keyId);
}

async function createStep(
  ctx: OperatorContext,
  d: DesiredKey,
  ev: RecordEvent,
): Promise<KeyRecord | undefined> {
  const core = ctx.core;
  const meta = await createKey(core, ctxSystem, {
    keySpec: d.keySpec,
    keyUsage: d.keyUsage,
    description: d.description,
    policy: d.policy,
    tags: Object.entries(d.tags).map(([tagKey, tagValue]) => ({ tagKey, tagValue })),
    enableRotation: d.rotation.enabled,
    rotationPeriodDays: d.rotation.periodDays,
  });
  ev('KeyCreated', 'Create', `created ${d.keySpec} ${d.keyUsage} key ${meta.keyId}`, meta.keyId);
  return core.findKey(meta.keyId);
}

/** enable, disable, description, policy, tags, the retired versions policy and version destruction. */
async function settingsStep(
  ctx: OperatorContext,
  id: string,
  step: SettingsStep,
  ev: RecordEvent,
): Promise<void> {
  const core = ctx.core;
  switch (step.kind) {
    case 'enable':
      await enableKey(core, ctxSystem, id);
      ev('KeyEnabled', 'Enable', `key ${id} enabled`);
      break;
    case 'disable':
      await disableKey(core, ctxSystem, id);
      ev('KeyDisabled', 'Disable', `key ${id} disabled (spec.enabled is false)`);
      break;
    case 'setDescription':
      await updateKeyDescription(core, ctxSystem, id, step.description);
      ev('DescriptionUpdated', 'Update', `description of key ${id} updated`);
      break;
    case 'putPolicy':
      await putKeyPolicy(core, ctxSystem, id, step.policy, true);
      ev('PolicyUpdated', 'Update', `key policy of ${id} set: ${step.policy.statements.length} statement(s)`);
      break;
    case 'tag':
      await tagResource(
        core,
        ctxSystem,
        id,
        Object.entries(step.tags).map(([tagKey, tagValue]) => ({ tagKey, tagValue })),
      );
      ev('TagsUpdated', 'Update', `tags set on key ${id}: ${Object.keys(step.tags).join(', ')}`);
      break;
    case 'untag':
      await untagResource(core, ctxSystem, id, step.keys);
      ev('TagsUpdated', 'Update', `tags removed from key ${id}: ${step.keys.join(', ')}`);
      break;
    case 'setRetiredPolicy':
      await setRetiredVersionsPolicy(core, id, step.policy);
      ev('RetiredVersionsPolicyUpdated', 'Update', retiredPolicyNote(id, step.policy));
      break;
    case 'scheduleVersionDestruction':
    case 'cancelVersionDestruction':
      await versionDestructionStep(ctx.core, id, step, ev);
      break;
  }
}

/** Rotation (automatic and on demand), deletion scheduled or cancelled, and destruction. */
async function lifecycleStep(
  ctx: OperatorContext,
  r: KeyRecord,
  step: LifecycleStep,
  ev: RecordEvent,
): Promise<void> {
  const core = ctx.core;
  const id = r.keyId;
  switch (step.kind) {
    case 'enableRotation': {
      await enableKeyRotation(core, ctxSystem, id, step.periodDays);
      const next = core.findKey(id)?.rotation.nextRotationAt;
      ev(
        'RotationEnabled',
        'Update',
        `automatic rotation every ${step.periodDays} days; next at ${iso(next)}`,
      );
      break;
    }
    case 'disableRotation':
      await disableKeyRotation(core, ctxSystem, id);
      ev('RotationDisabled', 'Update', `automatic rotation of key ${id} disabled`);
      break;
    case 'rotate': {
      const next = await rotateKey(core, id, 'ON_DEMAND');
      const staged = stagedVersion(next);
      ev(
        'KeyRotated',
        'Rotate',
        staged === undefined
          ? `rotated on demand (spec.rotateNow=${step.token}): version ${next.primaryVersion} now encrypts`
          : `rotated on demand (spec.rotateNow=${step.token}): version ${staged} staged; it encrypts once every kubekms instance holds it (version ${next.primaryVersion} until then)`,
      );
      break;
    }
    case 'cancelDeletion':
      await cancelKeyDeletion(core, ctxSystem, id);
      ev(
        'DeletionCancelled',
        'CancelDeletion',
        step.why === 'annotation'
          ? `scheduled deletion of key ${id} cancelled: the key is Disabled`
          : `key ${id} was pending deletion while its KmsKey exists: deletion cancelled, the key is Disabled`,
      );
      break;
    case 'scheduleDeletion': {
      const s = await scheduleKeyDeletion(core, ctxSystem, id, step.days);
      const test = ctx.deletionWindowOverrideMs;
      ev(
        'DeletionScheduled',
        'ScheduleDeletion',
        test === undefined
          ? `key ${id} will be destroyed at ${iso(s.deletionDate)} (window ${step.days} days)`
          : `key ${id} will be destroyed in ${test} ms (test deletion window; engine date ${iso(s.deletionDate)})`,
      );
      break;
    }
    case 'destroy':
      await destroyKey(core, r);
      ev('KeyDestroyed', 'Destroy', `key ${id}: deletion window ended, key material destroyed`);
      break;
  }
}

function releasedEvent(
  ctx: OperatorContext,
  o: KmsKey,
  why: 'retained' | 'cancelled' | 'destroyed' | 'absent',
): void {
  const keyId = o.status?.keyId ?? '';
  if (why === 'retained') {
    emit(ctx, KMS_KEY, o, {
      reason: 'KeyRetained',
      action: 'Delete',
      note: `deletionPolicy is Retain: key ${keyId} stays in the engine; re-create KmsKey ${ownerOf(o)} to manage it again`,
      audit: { keyId },
    });
  } else if (why === 'cancelled') {
    emit(ctx, KMS_KEY, o, {
      reason: 'DeletionCancelled',
      action: 'CancelDeletion',
      note: `deletion cancelled by annotation: key ${keyId} stays in the engine; re-create KmsKey ${ownerOf(o)} to manage it again`,
      audit: { keyId },
    });
  } else if (why === 'destroyed' && o.status?.keyState === 'PendingDeletion') {
    emit(ctx, KMS_KEY, o, {
      reason: 'KeyDestroyed',
      action: 'Destroy',
      note: `key ${keyId}: deletion window ended, key material destroyed`,
      audit: { keyId },
    });
  }
}

/** Writes status and, when Ready turned False for a reason other than the spec's own, a Warning Event. */
async function report(
  ctx: OperatorContext,
  o: KmsKey,
  r: KeyRecord | undefined,
  rotateNow: string | undefined,
  failure: Refusal | undefined,
): Promise<void> {
  const ready = failure
    ? {
        type: 'Ready',
        status: 'False' as const,
        reason: failure.reason,
        message: failure.message,
        observedGeneration: o.metadata.generation ?? 0,
      }
    : keyReadyCondition(o, r);
  const conditions = setCondition(o.status?.conditions, ready, new Date().toISOString());
  const next: KmsKeyStatus = {
    ...(r ? keyStatusFields(metadataOf(ctx.core, r), r) : o.status?.keyId ? { keyId: o.status.keyId } : {}),
    ...(rotateNow ? { rotateNow } : {}),
    conditions,
    observedGeneration: o.metadata.generation ?? 0,
    // Written by the re-encryption controller: kept as is.
    ...(o.status?.reencryption ? { reencryption: o.status.reencryption } : {}),
  };
  await publishStatus(ctx, KMS_KEY, o, next, failure);
}
