/**
 * The cluster-managed Secrets key (alias/kubekms/secrets) mirrored as a KmsKey `secrets` in kubekms's namespace,
 * so `kubectl get kmskeys -A` shows it. The mirror follows the engine, never the other way, except for two fields
 * it honours: `spec.rotateNow` (each new token rotates the key once, online) and `spec.retiredVersions` (the
 * retired versions policy). Other spec edits are reverted with a Warning Event saying why, and a deleted mirror is
 * created again.
 */
import { isDeepStrictEqual } from 'node:util';
import { setCondition } from '../api/conditions.ts';
import { API_VERSION, CLUSTER_MANAGED_LABEL, KMS_KEY, type KmsKey, type KmsKeySpec } from '../api/kinds.ts';
import { retiredPolicyOf } from '../api/retired-policy.ts';
import { metadataOf } from '../engine/metadata.ts';
import { SECRETS_KEY_ALIAS } from '../engine/ops-maintenance.ts';
import { setRetiredVersionsPolicy } from '../engine/ops-retirement.ts';
import { rotateKey, stagedVersion } from '../engine/ops-rotation.ts';
import type { KeyRecord } from '../engine/records.ts';
import type { ReconcileResult } from '../kube/controller.ts';
import { isNotFound } from '../kube/errors.ts';
import { emit, type OperatorContext } from './context.ts';
import { keyStatusFields, retiredPolicyNote } from './key-status.ts';
import { destructionSteps, versionDestructionStep } from './retire-versions.ts';
import { writeStatus } from './status-patch.ts';

export const mirrorName = 'secrets';

/**
 * The only spec the mirror may have: what the engine holds, plus the user's rotateNow token and a valid
 * retiredVersions policy (the fields it honours).
 */
export function mirrorSpec(r: KeyRecord, user?: KmsKeySpec): KmsKeySpec {
  const token = user?.rotateNow;
  const retired = user?.retiredVersions;
  return {
    description: r.description,
    keySpec: r.keySpec,
    keyUsage: r.keyUsage,
    enabled: r.state === 'Enabled',
    rotation: { enabled: r.rotation.enabled, periodDays: r.rotation.periodDays },
    deletionWindowDays: 30,
    deletionPolicy: 'Retain',
    ...(token ? { rotateNow: token } : {}),
    ...(retired && retiredPolicyOf(retired).ok ? { retiredVersions: retired } : {}),
  };
}

/** The spec fields that differ from the mirror's (user edits), and the merge patch reverting them. */
export function mirrorDrift(
  spec: KmsKeySpec | undefined,
  want: KmsKeySpec,
): { fields: string[]; patch: Record<string, unknown> } {
  const have: Record<string, unknown> = { ...(spec ?? {}) };
  const wanted: Record<string, unknown> = { ...want };
  const fields: string[] = [];
  const patch: Record<string, unknown> = {};
  for (const k of new Set([...Object.keys(have), ...Object.keys(wanted)])) {
    if (isDeepStrictEqual(have[k], wanted[k])) continue;
    fields.push(k);
    patch[k] = wanted[k] ?? null;
  }
  return { fields: fields.sort(), patch };
}

export async function reconcileMirror(ctx: OperatorContext): Promise<ReconcileResult> {
  const target = ctx.core.aliasTarget(SECRETS_KEY_ALIAS);
  const r = target ? ctx.core.findKey(target) : undefined;
  if (!r) return {};
  let o = ctx.keys.get(ctx.namespace, mirrorName);
  const want = mirrorSpec(r, o?.spec);
  if (!o || o.metadata.deletionTimestamp) {
    if (o) return {}; // being deleted by someone: created again once it is gone
    o = await createMirror(ctx, want);
    emit(ctx, KMS_KEY, o, {
      reason: 'ClusterKeyMirrored',
      action: 'Create',
      note: `read-only mirror of the cluster-managed key ${SECRETS_KEY_ALIAS} (${r.keyId})`,
      audit: { keyId: r.keyId },
    });
  } else {
    const drift = mirrorDrift(o.spec, want);
    if (drift.fields.length > 0) {
      o = await ctx.client.patch<KmsKey>(
        KMS_KEY,
        ctx.namespace,
        mirrorName,
        { spec: drift.patch },
        { patchType: 'merge' },
      );
      emit(ctx, KMS_KEY, o, {
        type: 'Warning',
        reason: 'EditReverted',
        action: 'Revert',
        note: `${ctx.namespace}/${mirrorName} mirrors the cluster-managed key ${SECRETS_KEY_ALIAS}, which kubekms manages itself; only spec.rotateNow and a valid spec.retiredVersions can be set, so spec.${drift.fields.join(', spec.')} was reverted.`,
        audit: { keyId: r.keyId },
      });
    }
  }
  const rotateNow = await honourMirrorSpec(ctx, o, r);
  const now = ctx.core.findKey(r.keyId) ?? r;
  const gen = o.metadata.generation ?? 0;
  const ready =
    r.state === 'Enabled'
      ? {
          status: 'True' as const,
          reason: 'ClusterManaged',
          message: `cluster-managed key ${SECRETS_KEY_ALIAS}; version ${r.primaryVersion} encrypts Secrets`,
        }
      : {
          status: 'False' as const,
          reason: 'KeyDisabled',
          message: `cluster-managed key ${SECRETS_KEY_ALIAS} is ${r.state}`,
        };
  await writeStatus(ctx.client, KMS_KEY, o, {
    ...keyStatusFields(metadataOf(ctx.core, now), now),
    ...(rotateNow ? { rotateNow } : {}),
    conditions: setCondition(
      o.status?.conditions,
      { type: 'Ready', ...ready, observedGeneration: gen },
      new Date().toISOString(),
    ),
    observedGeneration: gen,
    // Written by the re-encryption controller: kept as is.
    ...(o.status?.reencryption ? { reencryption: o.status.reencryption } : {}),
  });
  return {};
}

/**
 * Applies the honoured fields: the retiredVersions policy and destroy list, and a new rotateNow token (one on-demand rotation per
 * token, as for any KmsKey). Returns the token handled, for status.rotateNow.
 */
async function honourMirrorSpec(ctx: OperatorContext, o: KmsKey, r: KeyRecord): Promise<string | undefined> {
  const policy = retiredPolicyOf(o.spec?.retiredVersions);
  if (policy.ok && (await setRetiredVersionsPolicy(ctx.core, r.keyId, policy.policy))) {
    emit(ctx, KMS_KEY, o, {
      reason: 'RetiredVersionsPolicyUpdated',
      action: 'Update',
      note: retiredPolicyNote(r.keyId, policy.policy),
      audit: { keyId: r.keyId },
    });
  }
  const ev = (reason: string, action: string, note: string) =>
    emit(ctx, KMS_KEY, o, { reason, action, note, audit: { keyId: r.keyId } });
  for (const step of destructionSteps(ctx.core.findKey(r.keyId) ?? r, o.spec?.retiredVersions))
    await versionDestructionStep(ctx.core, r.keyId, step, ev);
  const uid = o.metadata.uid ?? mirrorName;
  const handled = ctx.rotateNowHandled.get(uid) ?? o.status?.rotateNow;
  const token = o.spec?.rotateNow;
  if (!token || token === handled) return handled;
  const next = await rotateKey(ctx.core, r.keyId, 'ON_DEMAND');
  ctx.rotateNowHandled.set(uid, token);
  const staged = stagedVersion(next);
  emit(ctx, KMS_KEY, o, {
    reason: 'KeyRotated',
    action: 'Rotate',
    note:
      staged === undefined
        ? `cluster-managed key ${SECRETS_KEY_ALIAS} rotated online (spec.rotateNow=${token}): version ${next.primaryVersion} now encrypts`
        : `cluster-managed key ${SECRETS_KEY_ALIAS} rotated online (spec.rotateNow=${token}): version ${staged} staged; it encrypts once every kubekms instance holds it`,
    audit: { keyId: r.keyId },
  });
  return token;
}

async function createMirror(ctx: OperatorContext, spec: KmsKeySpec): Promise<KmsKey> {
  const body: KmsKey = {
    apiVersion: API_VERSION,
    kind: 'KmsKey',
    metadata: {
      name: mirrorName,
      namespace: ctx.namespace,
      labels: { [CLUSTER_MANAGED_LABEL]: 'true' },
      annotations: { 'kubekms.io/alias': SECRETS_KEY_ALIAS },
    },
    spec,
  };
  try {
    return await ctx.client.create(KMS_KEY, ctx.namespace, body);
  } catch (e) {
    if (!isNotFound(e)) throw e;
    await ctx.client.ensureNamespace(ctx.namespace);
    return ctx.client.create(KMS_KEY, ctx.namespace, body);
  }
}
