/**
 * The cluster-managed Secrets key (alias/kubekms/secrets) mirrored as a read-only KmsKey `secrets` in kubekms's
 * namespace, so `kubectl get kmskeys -A` shows it. The mirror follows the engine, never the other way: spec edits
 * are reverted with a Warning Event saying why, and a deleted mirror is created again.
 */
import { isDeepStrictEqual } from 'node:util';
import { setCondition } from '../api/conditions.ts';
import { API_VERSION, CLUSTER_MANAGED_LABEL, KMS_KEY, type KmsKey, type KmsKeySpec } from '../api/kinds.ts';
import { metadataOf } from '../engine/metadata.ts';
import { SECRETS_KEY_ALIAS } from '../engine/ops-maintenance.ts';
import type { KeyRecord } from '../engine/records.ts';
import type { ReconcileResult } from '../kube/controller.ts';
import { isNotFound } from '../kube/errors.ts';
import { emit, type OperatorContext } from './context.ts';
import { keyStatusFields } from './key-status.ts';
import { writeStatus } from './status-patch.ts';

export const mirrorName = 'secrets';

/** The only spec the mirror may have: what the engine holds. */
export function mirrorSpec(r: KeyRecord): KmsKeySpec {
  return {
    description: r.description,
    keySpec: r.keySpec,
    keyUsage: r.keyUsage,
    enabled: r.state === 'Enabled',
    rotation: { enabled: r.rotation.enabled, periodDays: r.rotation.periodDays },
    deletionWindowDays: 30,
    deletionPolicy: 'Retain',
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
  const want = mirrorSpec(r);
  let o = ctx.keys.get(ctx.namespace, mirrorName);
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
        note: `${ctx.namespace}/${mirrorName} mirrors the cluster-managed key ${SECRETS_KEY_ALIAS}, which kubekms manages itself; it is read-only, so spec.${drift.fields.join(', spec.')} was reverted. Rotate it with 'kubekms key rotate ${SECRETS_KEY_ALIAS}'.`,
        audit: { keyId: r.keyId },
      });
    }
  }
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
    ...keyStatusFields(metadataOf(ctx.core, r), r),
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
