/**
 * Waiting for the operator: a cluster-mode request polls until its change shows in the engine, fails at once
 * when the object's Ready condition refuses its current generation, and answers DependencyTimeoutException past
 * the timeout (naming the last Ready condition seen).
 */
import type { KmsKey } from '../../api/kinds.ts';
import { WAITING_REASONS } from '../../api/reasons.ts';
import { KmsError } from '../../engine/errors.ts';
import type { KubeObject, ResourceType } from '../../kube/objects.ts';
import type { ClusterDeps } from './deps.ts';

/** Ready reasons that describe a key's state, not a failure to reconcile it. */
const STATE_REASONS = new Set(['KeyDisabled', 'PendingDeletion', 'PendingImport', ...WAITING_REASONS]);

/** The object whose Ready condition may refuse the change (at `generation` or later). */
export interface Watched {
  readonly type: ResourceType;
  readonly namespace: string;
  readonly name: string;
  readonly generation?: number;
}

type Ready = NonNullable<NonNullable<KmsKey['status']>['conditions']>[number];

/** The object's Ready condition; throws when it refuses the watched generation for a reason other than state. */
async function readyOf(d: ClusterDeps, ref: Watched): Promise<Ready | undefined> {
  const obj = await d.api.get<KubeObject & { status?: KmsKey['status'] }>(ref.type, ref.namespace, ref.name);
  const ready = obj?.status?.conditions?.find((c) => c.type === 'Ready');
  if (
    ready?.status === 'False' &&
    ref.generation !== undefined &&
    (ready.observedGeneration ?? 0) >= ref.generation &&
    !STATE_REASONS.has(ready.reason)
  ) {
    throw new KmsError(
      'KMSInternalException',
      `${ref.type.kind} ${ref.namespace}/${ref.name} was refused by the operator: ${ready.reason}: ${ready.message}`,
    );
  }
  return ready;
}

/** Polls `done` until it returns a value. */
export async function until<T>(
  d: ClusterDeps,
  what: string,
  ref: Watched | undefined,
  done: () => T | undefined | Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + d.timeoutMs;
  let last = '';
  for (;;) {
    const v = await done();
    if (v !== undefined) return v;
    const ready = ref ? await readyOf(d, ref) : undefined;
    if (ready) last = ` (Ready ${ready.status}: ${ready.reason}: ${ready.message})`;
    if (Date.now() >= deadline) {
      throw new KmsError(
        'DependencyTimeoutException',
        `${what}: not reconciled within ${d.timeoutMs / 1000}s${last}; is the operator running and leading?`,
      );
    }
    await new Promise((r) => setTimeout(r, d.pollMs));
  }
}
