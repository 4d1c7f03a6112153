/** What every reconciler of the operator works with: the engine, the API, the caches and the Event recorder. */
import type { Logger } from 'pino';
import { type Condition, findCondition } from '../api/conditions.ts';
import type { KmsAlias, KmsGrant, KmsKey } from '../api/kinds.ts';
import { API_VERSION } from '../api/kinds.ts';
import type { EngineCore } from '../engine/core.ts';
import type { KubeClient, ObjectReference } from '../kube/client.ts';
import type { EventInput, EventRecorder, EventType } from '../kube/events.ts';
import type { Informer } from '../kube/informer.ts';
import type { KubeObject, ResourceType } from '../kube/objects.ts';

export interface OperatorContext {
  readonly core: EngineCore;
  readonly client: KubeClient;
  readonly recorder: EventRecorder;
  readonly log: Logger;
  readonly keys: Informer<KmsKey>;
  readonly aliases: Informer<KmsAlias>;
  readonly grants: Informer<KmsGrant>;
  /** kubekms's own namespace: the mirror of the cluster-managed Secrets key lives here. */
  readonly namespace: string;
  /** Tests only: a deleted KmsKey's key is destroyed this long after its deletion was scheduled. */
  readonly deletionWindowOverrideMs?: number;
  /** uid → the spec.rotateNow token this process last rotated for (ahead of the cache). */
  readonly rotateNowHandled: Map<string, string>;
  /** uid → `status/reason` of the Ready condition this process last wrote (ahead of the cache). */
  readonly lastReady: Map<string, string>;
}

export function refOf(type: ResourceType, o: KubeObject): ObjectReference {
  return {
    apiVersion: API_VERSION,
    kind: type.kind,
    namespace: o.metadata.namespace ?? '',
    name: o.metadata.name,
    ...(o.metadata.uid ? { uid: o.metadata.uid } : {}),
    ...(o.metadata.resourceVersion ? { resourceVersion: o.metadata.resourceVersion } : {}),
  };
}

/** Records an Event about `o` (and its audit line). */
export function emit(
  ctx: OperatorContext,
  type: ResourceType,
  o: KubeObject,
  e: { type?: EventType; reason: string; action: string; note: string } & Pick<
    EventInput,
    'related' | 'audit'
  >,
): void {
  ctx.recorder.record({ ...e, type: e.type ?? 'Normal', regarding: refOf(type, o) });
}

/**
 * Whether Ready moved to a new status or reason: compared with what this process last wrote for the object
 * (the cache may still show an older status), else with the cached status. Records the new one.
 */
export function readyMoved(
  ctx: OperatorContext,
  o: KubeObject,
  before: readonly Condition[] | undefined,
  after: readonly Condition[],
): boolean {
  const uid = o.metadata.uid ?? `${o.metadata.namespace}/${o.metadata.name}`;
  const now = findCondition(after, 'Ready');
  const key = `${now?.status}/${now?.reason}`;
  const prev = ctx.lastReady.get(uid);
  ctx.lastReady.set(uid, key);
  if (prev !== undefined) return prev !== key;
  const was = findCondition(before, 'Ready');
  return `${was?.status}/${was?.reason}` !== key;
}
