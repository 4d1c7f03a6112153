/**
 * Retirement in the operator (issue 18 part 3): after a verified completion of the re-encryption pass (every live
 * API server switched, then phase Completed for the current version, 0 failures, no resource skipped), the
 * versions below it are retired in the
 * engine (Event `VersionsRetired`). Every decrypt under a retired version then becomes a Warning Event
 * `RetiredVersionUsed` on the key's KmsKey, at most one per version per `eventEveryMs`, counting the uses between.
 * Also the steps of spec.retiredVersions.destroy, shared by the KmsKey controller and the Secrets key's mirror.
 */
import type { KmsKey, ReencryptionStatus } from '../api/kinds.ts';
import { KMS_KEY } from '../api/kinds.ts';
import {
  DESTROY_WINDOW_DEFAULT_DAYS,
  destructionDiff,
  type RetiredVersionsSpec,
} from '../api/retired-policy.ts';
import type { EngineCore } from '../engine/core.ts';
import {
  cancelVersionDestruction,
  retireVersionsBelow,
  scheduleVersionDestruction,
} from '../engine/ops-retirement.ts';
import type { KeyRecord } from '../engine/records.ts';
import type { RetiredUse } from '../engine/retired-uses.ts';
import { emit, type OperatorContext } from './context.ts';
import { everyApiserverSwitched } from './switch-decisions.ts';

type VersionDestructionStep =
  | { readonly kind: 'scheduleVersionDestruction'; readonly version: number; readonly days: number }
  | { readonly kind: 'cancelVersionDestruction'; readonly version: number };

/** spec.retiredVersions.destroy: schedules or cancels the destruction of one retired version, with its Event. */
export async function versionDestructionStep(
  core: EngineCore,
  id: string,
  step: VersionDestructionStep,
  ev: (reason: string, action: string, note: string) => void,
): Promise<void> {
  if (step.kind === 'cancelVersionDestruction') {
    await cancelVersionDestruction(core, id, step.version);
    ev(
      'VersionDestructionCancelled',
      'CancelDestruction',
      `destruction of version ${step.version} of key ${id} cancelled: it is retired again`,
    );
    return;
  }
  const at = await scheduleVersionDestruction(core, id, step.version, step.days);
  ev(
    'VersionDestructionScheduled',
    'ScheduleDestruction',
    `version ${step.version} of key ${id} will be destroyed at ${new Date(at).toISOString()} (window ${step.days} days); it refuses to decrypt until then. Remove it from spec.retiredVersions.destroy to cancel`,
  );
}

/** Every destruction step spec.retiredVersions asks of `r` now (cancellations first). */
export function destructionSteps(
  r: KeyRecord,
  spec: RetiredVersionsSpec | undefined,
): VersionDestructionStep[] {
  const diff = destructionDiff(r.versions, spec);
  const days = spec?.destroyWindowDays ?? DESTROY_WINDOW_DEFAULT_DAYS;
  return [
    ...diff.cancel.map((version) => ({ kind: 'cancelVersionDestruction' as const, version })),
    ...diff.schedule.map((version) => ({ kind: 'scheduleVersionDestruction' as const, version, days })),
  ];
}

/**
 * The version below which everything may be retired, when `s` is a verified completion for `version`: every live
 * API server was seen writing under the new key_id before the pass began (so nothing written after the pass is
 * under an older one), and the pass then finished with 0 failures and no resource skipped.
 */
export function verifiedCompletion(s: ReencryptionStatus | undefined, version: number): number | undefined {
  if (s?.phase !== 'Completed' || s.keyVersion !== version) return undefined;
  if (s.failed > 0 || (s.unknownResources?.length ?? 0) > 0) return undefined;
  if (!everyApiserverSwitched(s.switchover)) return undefined;
  return version;
}

/** Retires the versions a verified completion left unused; idempotent (nothing happens when none is left). */
export async function retireAfterCompletion(
  ctx: OperatorContext,
  o: KmsKey,
  keyId: string,
  version: number,
): Promise<number[]> {
  const below = verifiedCompletion(o.status?.reencryption, version);
  if (below === undefined) return [];
  const retired = await retireVersionsBelow(ctx.core, keyId, below);
  if (retired.length > 0) {
    emit(ctx, KMS_KEY, o, {
      reason: 'VersionsRetired',
      action: 'Retire',
      note: `re-encryption to version ${version} completed with 0 failures: version${retired.length > 1 ? 's' : ''} ${retired.join(', ')} retired (still decrypt; every use is reported)`,
      audit: { keyId, retired: retired.join(',') },
    });
  }
  return retired;
}

/** Turns retired-version uses into rate-limited Warning Events on the KmsKey that reports the key. */
export class RetiredUseEvents {
  readonly #ctx: OperatorContext;
  readonly #everyMs: number;
  readonly #now: () => number;
  readonly #last = new Map<string, { at: number; suppressed: number }>();

  constructor(ctx: OperatorContext, eventEveryMs = 10 * 60_000, now: () => number = Date.now) {
    this.#ctx = ctx;
    this.#everyMs = eventEveryMs;
    this.#now = now;
  }

  onUse(u: RetiredUse): void {
    const slot = `${u.keyId}/${u.version}`;
    const now = this.#now();
    const last = this.#last.get(slot);
    if (last && now - last.at < this.#everyMs) {
      last.suppressed++;
      return;
    }
    this.#last.set(slot, { at: now, suppressed: 0 });
    const o = this.#ctx.keys.list().find((k) => k.status?.keyId === u.keyId && !k.metadata.deletionTimestamp);
    if (!o) return;
    const more = last && last.suppressed > 0 ? ` (and ${last.suppressed} more since the last Event)` : '';
    const what = u.refused
      ? `was refused (${u.refused})`
      : 'was allowed: some data under it was not re-encrypted';
    emit(this.#ctx, KMS_KEY, o, {
      type: 'Warning',
      reason: 'RetiredVersionUsed',
      action: 'Decrypt',
      note: `a decrypt under retired version ${u.version} of key ${u.keyId} ${what}${more}`,
      audit: { keyId: u.keyId, version: u.version, result: u.refused ?? 'allowed' },
    });
  }
}
