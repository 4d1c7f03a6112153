/**
 * The KmsGrant controller's reconcile. The grant token is not exposed anywhere: kubekms grants take effect at
 * once, so tokens (AWS's eventual-consistency workaround) are never needed. Status carries the grant id only.
 */

import { setCondition } from '../api/conditions.ts';
import { FINALIZER, KMS_GRANT, type KmsGrant, type KmsGrantStatus } from '../api/kinds.ts';
import { type Refusal, refusalOf } from '../api/reasons.ts';
import { createGrant, revokeGrant } from '../engine/ops-grants.ts';
import { SYSTEM } from '../engine/policy.ts';
import { type ReconcileResult, TerminalError } from '../kube/controller.ts';
import { splitKey } from '../kube/objects.ts';
import { emit, type OperatorContext } from './context.ts';
import { planGrant } from './grant-decisions.ts';
import { principalName } from './principals.ts';
import { publishStatus } from './publish-status.ts';
import { addFinalizer, removeFinalizer } from './status-patch.ts';

const ctxSystem = { caller: SYSTEM };

export async function reconcileGrant(ctx: OperatorContext, key: string): Promise<ReconcileResult> {
  const { namespace, name } = splitKey(key);
  const o = ctx.grants.get(namespace, name);
  if (!o) return {};
  const core = ctx.core;
  const keyObject = ctx.keys.get(namespace, o.spec.keyRef.name);
  const keyId = keyObject?.status?.keyId;
  const grantId = o.status?.grantId;
  const plan = planGrant({
    object: o,
    keyObject,
    key: keyId ? core.findKey(keyId) : undefined,
    grant: grantId ? core.findGrant(grantId) : undefined,
  });
  const grantee = principalName(o.spec.grantee, namespace);
  if (plan.kind === 'release') {
    if (plan.revoke) {
      await revokeGrant(core, ctxSystem, plan.revoke.keyId, plan.revoke.grantId);
      emit(ctx, KMS_GRANT, o, {
        reason: 'GrantRevoked',
        action: 'Revoke',
        note: `grant ${plan.revoke.grantId} for ${grantee} on key ${plan.revoke.keyId} revoked`,
        audit: { keyId: plan.revoke.keyId, grantId: plan.revoke.grantId },
      });
    }
    if (o.metadata.finalizers?.includes(FINALIZER))
      await removeFinalizer(ctx.client, KMS_GRANT, o, FINALIZER);
    return {};
  }
  if (plan.addFinalizer) await addFinalizer(ctx.client, KMS_GRANT, o, FINALIZER);
  if (plan.kind === 'refuse') {
    await report(ctx, o, grantee, undefined, { reason: plan.reason, message: plan.message, terminal: true });
    return {};
  }
  if (plan.kind === 'none') {
    await report(ctx, o, grantee, { grantId: grantId!, keyId: plan.key.keyId }, undefined);
    return {};
  }
  let failure: Refusal | undefined;
  let made: { grantId: string; keyId: string } | undefined;
  try {
    const g = await createGrant(core, ctxSystem, {
      keyId: plan.key.keyId,
      granteePrincipal: grantee,
      operations: o.spec.operations,
      ...(o.spec.retiringPrincipal
        ? { retiringPrincipal: principalName(o.spec.retiringPrincipal, namespace) }
        : {}),
      ...(o.spec.constraints ? { constraints: o.spec.constraints } : {}),
      // Idempotent on retries: the engine returns the same grant for the same name and parameters.
      name: `kubekms-${o.metadata.uid ?? `${namespace}-${name}`}`,
    });
    made = { grantId: g.grantId, keyId: plan.key.keyId };
    emit(ctx, KMS_GRANT, o, {
      reason: 'GrantCreated',
      action: 'Create',
      note: `${plan.recreate ? 're-created (the previous grant no longer existed): ' : ''}grant ${g.grantId} lets ${grantee} ${o.spec.operations.join(', ')} with key ${plan.key.keyId}`,
      audit: { keyId: plan.key.keyId, grantId: g.grantId },
    });
  } catch (e) {
    failure = refusalOf(e);
  }
  await report(ctx, o, grantee, made, failure);
  if (failure?.terminal) throw new TerminalError(`${key}: ${failure.reason}: ${failure.message}`);
  if (failure) throw new Error(`${key}: ${failure.message}`);
  return {};
}

async function report(
  ctx: OperatorContext,
  o: KmsGrant,
  grantee: string,
  grant: { grantId: string; keyId: string } | undefined,
  failure: Refusal | undefined,
): Promise<void> {
  const gen = o.metadata.generation ?? 0;
  const ready = grant
    ? {
        type: 'Ready',
        status: 'True' as const,
        reason: 'Granted',
        message: `grant ${grant.grantId} on key ${grant.keyId}`,
        observedGeneration: gen,
      }
    : {
        type: 'Ready',
        status: 'False' as const,
        reason: failure?.reason ?? 'Unknown',
        message: failure?.message ?? '',
        observedGeneration: gen,
      };
  const conditions = setCondition(o.status?.conditions, ready, new Date().toISOString());
  // A refused grant keeps the id it had: the engine grant may still exist and must be revoked on deletion.
  const held =
    grant ?? (o.status?.grantId ? { grantId: o.status.grantId, keyId: o.status.keyId ?? '' } : undefined);
  const next: KmsGrantStatus = {
    ...(held ? { grantId: held.grantId, keyId: held.keyId } : {}),
    grantee,
    conditions,
    observedGeneration: gen,
  };
  await publishStatus(ctx, KMS_GRANT, o, next, failure);
}
