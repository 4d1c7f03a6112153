/**
 * Key creation limits of the AWS API (issue 16.4): a total key quota for the installation (every key the engine
 * holds counts, pending deletion included, as AWS counts them) and, per non-admin principal, a number of
 * CreateKey calls per hour, so that no tenant can exhaust the quota, the keystore or memory for the others.
 * Both answer LimitExceededException, as AWS does for its key quota. Creations in flight hold a reservation, so
 * concurrent calls cannot overshoot either limit.
 */
import { KmsError } from '../engine/errors.ts';
import type { Handler } from './ops/types.ts';

export interface KeyLimits {
  /** Keys the installation may hold; CreateKey past it is refused. */
  readonly maxKeys: number;
  /** CreateKey calls per non-admin principal per rolling hour. */
  readonly createsPerPrincipalPerHour: number;
}

export const DEFAULT_KEY_LIMITS: KeyLimits = { maxKeys: 10_000, createsPerPrincipalPerHour: 100 };

const HOUR_MS = 3_600_000;

/** Creation times per principal within the last hour (successful or in flight). */
class CreationLog {
  readonly #times = new Map<string, number[]>();

  recent(principal: string, now: number): number[] {
    const kept = (this.#times.get(principal) ?? []).filter((t) => t > now - HOUR_MS);
    if (kept.length) this.#times.set(principal, kept);
    else this.#times.delete(principal);
    return kept;
  }

  add(principal: string, at: number): void {
    const list = this.#times.get(principal);
    if (list) list.push(at);
    else this.#times.set(principal, [at]);
  }

  remove(principal: string, at: number): void {
    const list = this.#times.get(principal);
    const i = list?.indexOf(at) ?? -1;
    if (list && i >= 0) list.splice(i, 1);
  }
}

/** `createKey` with both limits applied before it runs. */
export function withKeyLimits(createKey: Handler, limits: KeyLimits, now: () => number = Date.now): Handler {
  const log = new CreationLog();
  let inFlight = 0;
  return async (c) => {
    const held = c.core.counts().keys + inFlight;
    if (held >= limits.maxKeys) {
      throw new KmsError(
        'LimitExceededException',
        `CreateKey: this installation holds its maximum of ${limits.maxKeys} keys (--aws-max-keys); schedule unused keys for deletion`,
      );
    }
    const caller = c.ctx.caller;
    const principal = caller.kind === 'principal' ? caller.name : 'system';
    const at = now();
    const limited = caller.kind === 'principal' && !caller.admin;
    if (limited && log.recent(principal, at).length >= limits.createsPerPrincipalPerHour) {
      throw new KmsError(
        'LimitExceededException',
        `CreateKey: ${principal} created ${limits.createsPerPrincipalPerHour} keys in the last hour (--aws-key-creations-per-hour); retry later`,
      );
    }
    if (limited) log.add(principal, at);
    inFlight++;
    try {
      return await createKey(c);
    } catch (e) {
      if (limited) log.remove(principal, at);
      throw e;
    } finally {
      inFlight--;
    }
  };
}

/** `operations` with CreateKey under `limits`. */
export function withKeyLimitsOn(
  operations: Readonly<Record<string, Handler>>,
  limits: KeyLimits,
  now?: () => number,
): Readonly<Record<string, Handler>> {
  const createKey = Object.hasOwn(operations, 'CreateKey') ? operations.CreateKey : undefined;
  return createKey ? { ...operations, CreateKey: withKeyLimits(createKey, limits, now) } : operations;
}
