/**
 * spec.retiredVersions of a KmsKey to the engine's RetiredVersionsPolicy. `disableDecryptAfter` is a duration
 * (`7d`, `12h`, `30m`, `0s`): decrypt under a retired version is refused once it has gone unused that long. The CRD
 * checks the same pattern; this names the field for objects written before the CRD had it.
 */
import type { RetiredVersionsPolicy } from '../engine/records.ts';

export const RETIRED_AFTER_PATTERN = '^[0-9]{1,5}(s|m|h|d)$';
const UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export interface RetiredVersionsSpec {
  readonly disableDecryptAfter?: string;
  /** Retired versions to destroy after destroyWindowDays; a version removed from the list before then is kept. */
  readonly destroy?: readonly { readonly version: number }[];
  readonly destroyWindowDays?: number;
}

export const DESTROY_WINDOW_DEFAULT_DAYS = 30;

/**
 * What spec.retiredVersions.destroy asks of the key's versions now: retired versions listed and not yet scheduled
 * are scheduled (a listed version that is not retired yet waits until it is), and scheduled versions no longer
 * listed are cancelled.
 */
export function destructionDiff(
  versions: readonly { readonly version: number; readonly retiredAt?: number; readonly destroyAt?: number }[],
  spec: RetiredVersionsSpec | undefined,
): { schedule: number[]; cancel: number[] } {
  const listed = new Set((spec?.destroy ?? []).map((d) => d.version));
  return {
    schedule: versions
      .filter((v) => listed.has(v.version) && v.retiredAt !== undefined && v.destroyAt === undefined)
      .map((v) => v.version),
    cancel: versions.filter((v) => v.destroyAt !== undefined && !listed.has(v.version)).map((v) => v.version),
  };
}

export type RetiredPolicyResult =
  | { readonly ok: true; readonly policy: RetiredVersionsPolicy | undefined }
  | { readonly ok: false; readonly message: string };

export function retiredPolicyOf(spec: RetiredVersionsSpec | undefined): RetiredPolicyResult {
  const raw = spec?.disableDecryptAfter;
  if (raw === undefined) return { ok: true, policy: undefined };
  const m = typeof raw === 'string' ? new RegExp(RETIRED_AFTER_PATTERN).exec(raw) : null;
  if (!m) {
    return {
      ok: false,
      message: `spec.retiredVersions.disableDecryptAfter: ${JSON.stringify(raw)} is not a duration like 7d, 12h, 30m or 0s`,
    };
  }
  return { ok: true, policy: { disableDecryptAfterMs: Number.parseInt(raw, 10) * UNIT_MS[m[1]!]! } };
}

/** The spec form of an engine policy (the mirror of the cluster-managed key shows what the engine holds). */
export function retiredSpecOf(p: RetiredVersionsPolicy | undefined): RetiredVersionsSpec | undefined {
  const ms = p?.disableDecryptAfterMs;
  if (ms === undefined) return undefined;
  for (const unit of ['d', 'h', 'm'] as const) {
    if (ms % UNIT_MS[unit]! === 0) return { disableDecryptAfter: `${ms / UNIT_MS[unit]!}${unit}` };
  }
  return { disableDecryptAfter: `${Math.floor(ms / 1000)}s` };
}
