/**
 * The last step of every reconcile: write the status, then — only when Ready moved to a failure worth telling —
 * record one Warning Event saying why (waiting reasons stay in the condition only).
 */

import type { Condition } from '../api/conditions.ts';
import type { Refusal } from '../api/reasons.ts';
import { WAITING_REASONS } from '../api/reasons.ts';
import type { KubeObject, ResourceType } from '../kube/objects.ts';
import { emit, type OperatorContext, readyMoved } from './context.ts';
import { writeStatus } from './status-patch.ts';

export async function publishStatus<S extends { readonly conditions?: readonly Condition[] }>(
  ctx: OperatorContext,
  type: ResourceType,
  o: KubeObject & { readonly status?: S },
  next: S,
  failure: Refusal | undefined,
): Promise<void> {
  await writeStatus(ctx.client, type, o, next);
  const moved = readyMoved(ctx, o, o.status?.conditions, next.conditions ?? []);
  if (failure && !WAITING_REASONS.has(failure.reason) && moved) {
    emit(ctx, type, o, {
      type: 'Warning',
      reason: failure.reason,
      action: 'Reconcile',
      note: failure.message,
    });
  }
}
