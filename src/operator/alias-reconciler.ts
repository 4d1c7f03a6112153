/** The KmsAlias controller's reconcile: gather, planAlias, one engine call, status and Events. */

import { setCondition } from '../api/conditions.ts';
import { FINALIZER, KMS_ALIAS, type KmsAlias, type KmsAliasStatus } from '../api/kinds.ts';
import { type Refusal, refusalOf } from '../api/reasons.ts';
import { aliasArn } from '../engine/identifiers.ts';
import { createAlias, deleteAlias, updateAlias } from '../engine/ops-aliases.ts';
import { SYSTEM } from '../engine/policy.ts';
import { type ReconcileResult, TerminalError } from '../kube/controller.ts';
import { splitKey } from '../kube/objects.ts';
import { planAlias, resolveAliasTarget } from './alias-decisions.ts';
import { emit, type OperatorContext } from './context.ts';
import { publishStatus } from './publish-status.ts';
import { addFinalizer, removeFinalizer } from './status-patch.ts';

const ctxSystem = { caller: SYSTEM };

export async function reconcileAlias(ctx: OperatorContext, key: string): Promise<ReconcileResult> {
  const { namespace, name } = splitKey(key);
  const o = ctx.aliases.get(namespace, name);
  if (!o) return {};
  const core = ctx.core;
  const engineAlias = core.findAlias(o.spec.aliasName);
  const plan = planAlias({
    object: o,
    claimants: ctx.aliases.list().filter((a) => a.spec.aliasName === o.spec.aliasName),
    target: resolveAliasTarget(
      o,
      (n) => ctx.keys.get(namespace, n),
      (id) => core.findKey(id),
    ),
    engineAlias,
    currentTarget: engineAlias ? core.findKey(engineAlias.targetKeyId) : undefined,
  });
  if (plan.kind === 'release') {
    if (plan.deleteEngineAlias) {
      try {
        await deleteAlias(core, ctxSystem, o.spec.aliasName);
      } catch (e) {
        const f = refusalOf(e);
        if (f.reason !== 'KeyNotFound') throw e;
      }
      emit(ctx, KMS_ALIAS, o, {
        reason: 'AliasDeleted',
        action: 'Delete',
        note: `${o.spec.aliasName} deleted`,
      });
    }
    if (o.metadata.finalizers?.includes(FINALIZER))
      await removeFinalizer(ctx.client, KMS_ALIAS, o, FINALIZER);
    return {};
  }
  if (plan.addFinalizer) await addFinalizer(ctx.client, KMS_ALIAS, o, FINALIZER);
  if (plan.kind === 'refuse') {
    await report(ctx, o, undefined, { reason: plan.reason, message: plan.message, terminal: true });
    // Not an error: the change that resolves it (the key, the other alias) re-enqueues this object.
    return {};
  }
  let failure: Refusal | undefined;
  try {
    if (plan.action === 'create') {
      await createAlias(core, ctxSystem, o.spec.aliasName, plan.keyId);
      emit(ctx, KMS_ALIAS, o, {
        reason: 'AliasCreated',
        action: 'Create',
        note: `${o.spec.aliasName} → key ${plan.keyId}`,
        audit: { keyId: plan.keyId },
      });
    } else if (plan.action === 'update') {
      await updateAlias(core, ctxSystem, o.spec.aliasName, plan.keyId);
      emit(ctx, KMS_ALIAS, o, {
        reason: 'AliasRetargeted',
        action: 'Update',
        note: `${o.spec.aliasName} → key ${plan.keyId}`,
        audit: { keyId: plan.keyId },
      });
    }
  } catch (e) {
    failure = refusalOf(e);
  }
  await report(ctx, o, failure ? undefined : plan.keyId, failure);
  if (failure?.terminal) throw new TerminalError(`${key}: ${failure.reason}: ${failure.message}`);
  if (failure) throw new Error(`${key}: ${failure.message}`);
  return {};
}

async function report(
  ctx: OperatorContext,
  o: KmsAlias,
  keyId: string | undefined,
  failure: Refusal | undefined,
): Promise<void> {
  const gen = o.metadata.generation ?? 0;
  const ready = failure
    ? {
        type: 'Ready',
        status: 'False' as const,
        reason: failure.reason,
        message: failure.message,
        observedGeneration: gen,
      }
    : {
        type: 'Ready',
        status: 'True' as const,
        reason: 'Bound',
        message: `${o.spec.aliasName} → key ${keyId}`,
        observedGeneration: gen,
      };
  const conditions = setCondition(o.status?.conditions, ready, new Date().toISOString());
  // A refused alias keeps reporting the key it last bound, which the engine alias still points at.
  const target = keyId ?? o.status?.targetKeyId;
  const next: KmsAliasStatus = {
    aliasArn: aliasArn(ctx.core.arn, o.spec.aliasName),
    ...(target && (keyId || ready.reason !== 'Conflict') ? { targetKeyId: target } : {}),
    conditions,
    observedGeneration: gen,
  };
  await publishStatus(ctx, KMS_ALIAS, o, next, failure);
}
