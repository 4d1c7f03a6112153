/**
 * What the re-encryption controller does next, as a pure function of the recorded progress (KmsKey
 * `status.reencryption`), the Secrets key's current primary version and when it became primary, and the clock.
 * Tested with tables; the controller only gathers these inputs and executes the answer.
 */
import type { ReencryptionStatus, SwitchoverStatus } from '../api/kinds.ts';
import { describeSwitchover, type Switchover, switchoverStatus } from './switch-decisions.ts';

export interface ReencryptionInput {
  readonly status: ReencryptionStatus | undefined;
  /** The Secrets key's primary version now, and when it was created (became primary). */
  readonly version: number;
  readonly versionCreatedAt: number;
  readonly now: number;
  /** How long after a rotation the API servers are assumed to write under the new key_id. */
  readonly delayMs: number;
  /** How long after a pass with failures the next pass starts. */
  readonly retryMs: number;
  /** What the API servers' metrics say about the new key_id; absent when kubekms does not look. */
  readonly switchover?: Switchover;
}

export type ReencryptionPlan =
  /** Nothing to do (up to date, or nothing was ever rotated). */
  | { readonly kind: 'idle' }
  /** Record `status` (when it differs) and look again at `until`. */
  | { readonly kind: 'wait'; readonly until: number; readonly status: ReencryptionStatus }
  /** Run (or resume) the pass from `status`; `because` says why a fresh pass starts now. */
  | {
      readonly kind: 'run';
      readonly status: ReencryptionStatus;
      readonly resumed: boolean;
      readonly because?: string;
    };

const iso = (ms: number): string => new Date(ms).toISOString();

export function freshPass(version: number, now: number, switchover?: SwitchoverStatus): ReencryptionStatus {
  return {
    phase: 'Running',
    keyVersion: version,
    total: 0,
    done: 0,
    skipped: 0,
    failed: 0,
    startedAt: iso(now),
    ...(switchover ? { switchover } : {}),
  };
}

/**
 * A new primary version (or one recorded Pending): start as soon as every live API server writes under it, else
 * wait for the fixed delay after the rotation, recording what the API servers were seen doing.
 */
function startOrWait(i: ReencryptionInput, pending: ReencryptionStatus | undefined): ReencryptionPlan {
  const sw = i.switchover;
  const seen = sw ? switchoverStatus(sw) : undefined;
  if (sw?.kind === 'switched')
    return {
      kind: 'run',
      status: freshPass(i.version, i.now, seen),
      resumed: false,
      because: describeSwitchover(sw),
    };
  const notBefore = i.versionCreatedAt + i.delayMs;
  if (i.now < notBefore) {
    const { switchover: _, ...prev } = pending ?? {
      phase: 'Pending',
      keyVersion: i.version,
      total: 0,
      done: 0,
      skipped: 0,
      failed: 0,
    };
    return {
      kind: 'wait',
      until: notBefore,
      status: { ...prev, notBefore: iso(notBefore), ...(seen ? { switchover: seen } : {}) },
    };
  }
  const because = `--reencrypt-delay elapsed${sw ? `; ${describeSwitchover(sw)}` : ''}`;
  return { kind: 'run', status: freshPass(i.version, i.now, seen), resumed: false, because };
}

export function planReencryption(i: ReencryptionInput): ReencryptionPlan {
  const s = i.status;
  // Version 1 was never rotated: every object was written under it (or before encryption, which is not ours to
  // migrate unasked). With no record at all there is nothing to catch up on.
  if (!s && i.version <= 1) return { kind: 'idle' };
  if (!s || s.keyVersion !== i.version) return startOrWait(i, undefined);
  switch (s.phase) {
    case 'Completed':
      return { kind: 'idle' };
    case 'Running':
      return { kind: 'run', status: s, resumed: true };
    case 'Pending':
      return startOrWait(i, s);
    case 'Failed': {
      const finished = s.finishedAt ? Date.parse(s.finishedAt) : i.now;
      const retryAt = (Number.isNaN(finished) ? i.now : finished) + i.retryMs;
      if (i.now < retryAt) return { kind: 'wait', until: retryAt, status: s };
      return { kind: 'run', status: freshPass(i.version, i.now, s.switchover), resumed: false };
    }
  }
}

/** The phase a finished pass ends in, and its `Reencrypted` condition. */
export function passOutcome(s: ReencryptionStatus): {
  phase: 'Completed' | 'Failed';
  condition: { status: 'True' | 'False'; reason: string; message: string };
} {
  const counts = `${s.done} rewritten, ${s.skipped} gone meanwhile, ${s.failed} failed of ${s.total}`;
  if (s.failed > 0)
    return {
      phase: 'Failed',
      condition: {
        status: 'False',
        reason: 'ObjectsFailed',
        message: `re-encryption to version ${s.keyVersion} finished with failures (${counts}); retrying later`,
      },
    };
  const unknown = s.unknownResources ?? [];
  if (unknown.length > 0)
    return {
      phase: 'Completed',
      condition: {
        status: 'False',
        reason: 'UnknownResource',
        message: `re-encrypted to version ${s.keyVersion} (${counts}); not served by the API server, skipped: ${unknown.join(', ')}`,
      },
    };
  return {
    phase: 'Completed',
    condition: {
      status: 'True',
      reason: 'Completed',
      message: `every object re-encrypted to version ${s.keyVersion} (${counts})`,
    },
  };
}

/** Objects not yet handled in the pass (never negative). */
export const remaining = (s: ReencryptionStatus): number =>
  Math.max(0, s.total - s.done - s.skipped - s.failed);
