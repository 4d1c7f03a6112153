/**
 * metav1.Condition handling: one entry per type, `lastTransitionTime` moves only when `status` flips, and
 * `observedGeneration` says which spec the condition describes.
 */

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  readonly type: string;
  readonly status: ConditionStatus;
  readonly reason: string;
  readonly message: string;
  readonly lastTransitionTime: string;
  readonly observedGeneration?: number;
}

export type ConditionInput = Omit<Condition, 'lastTransitionTime'>;

export function findCondition(list: readonly Condition[] | undefined, type: string): Condition | undefined {
  return list?.find((c) => c.type === type);
}

/** The list with `next` set: its transition time is kept when the status did not change. */
export function setCondition(
  list: readonly Condition[] | undefined,
  next: ConditionInput,
  now: string,
): Condition[] {
  const prev = findCondition(list, next.type);
  const lastTransitionTime = prev && prev.status === next.status ? prev.lastTransitionTime : now;
  const c: Condition = {
    type: next.type,
    status: next.status,
    reason: next.reason,
    message: truncate(next.message, 32_768),
    lastTransitionTime,
    ...(next.observedGeneration !== undefined ? { observedGeneration: next.observedGeneration } : {}),
  };
  const out = (list ?? []).filter((x) => x.type !== next.type);
  out.push(c);
  return out.sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
}

/** True when the condition of `type` moved to a new status or reason (the moments worth an Event). */
export function conditionChanged(
  before: readonly Condition[] | undefined,
  after: readonly Condition[] | undefined,
  type: string,
): boolean {
  const a = findCondition(before, type);
  const b = findCondition(after, type);
  return a?.status !== b?.status || a?.reason !== b?.reason;
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
