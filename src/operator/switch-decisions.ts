/**
 * Has every live API server switched to the new key_id? A pure function of the live API servers (identity
 * Leases), the key_id writes read from their /metrics (this node's, and under --shared-state every instance's
 * heartbeat), the new key_id and when it became primary. The re-encryption decisions start the pass on
 * `switched`; anything else leaves the fixed --reencrypt-delay as the fallback.
 */
import { type KeyIdWrite, sha256Label } from '../api/apiserver-writes.ts';
import type { SwitchoverStatus } from '../api/kinds.ts';

/** Clock difference tolerated between kubekms and an API server when comparing a write with the rotation. */
export const SKEW_MS = 60_000;

export type Switchover =
  /** Every live API server wrote under the new key_id since the rotation. */
  | { readonly kind: 'switched'; readonly apiservers: number }
  /** Some live API servers have not been seen writing under it yet. */
  | { readonly kind: 'waiting'; readonly apiservers: number; readonly pending: readonly string[] }
  /** Nothing to decide on (metrics or Leases unreadable, no identity Lease). */
  | { readonly kind: 'unknown'; readonly reason: string };

/** What one look gathered; `error` when the metrics or the Leases could not be read. */
export type SwitchObservation =
  | { readonly live: readonly string[]; readonly writes: readonly KeyIdWrite[] }
  | { readonly error: string };

export function decideSwitchover(o: SwitchObservation, keyId: string, since: number): Switchover {
  if ('error' in o) return { kind: 'unknown', reason: o.error };
  if (o.live.length === 0)
    return {
      kind: 'unknown',
      reason: 'no live API server identity Lease in kube-system (APIServerIdentity off?)',
    };
  const want = sha256Label(keyId);
  const switched = new Set(
    o.writes.filter((w) => w.keyIdHash === want && w.at >= since - SKEW_MS).map((w) => w.apiserver),
  );
  const pending = o.live.filter((a) => !switched.has(a));
  if (pending.length === 0) return { kind: 'switched', apiservers: o.live.length };
  return { kind: 'waiting', apiservers: o.live.length, pending };
}

/** The status record of a switch-over (`status.reencryption.switchover`). */
export function switchoverStatus(s: Switchover): SwitchoverStatus {
  switch (s.kind) {
    case 'switched':
      return { apiservers: s.apiservers, switched: s.apiservers };
    case 'waiting':
      return {
        apiservers: s.apiservers,
        switched: s.apiservers - s.pending.length,
        pending: s.pending.slice(0, 64),
      };
    case 'unknown':
      return { apiservers: 0, switched: 0, unavailable: s.reason.slice(0, 1024) };
  }
}

/** In words, for the `Reencrypted` condition. */
export function describeSwitchover(s: Switchover): string {
  switch (s.kind) {
    case 'switched':
      return `every live API server (${s.apiservers}) writes under the new key_id`;
    case 'waiting':
      return `${s.apiservers - s.pending.length} of ${s.apiservers} live API servers seen writing under the new key_id`;
    case 'unknown':
      return `the API servers' switch-over cannot be seen (${s.reason})`;
  }
}

/** A recorded switch-over saying every live API server switched (what retiring old versions needs). */
export function everyApiserverSwitched(s: SwitchoverStatus | undefined): boolean {
  return !!s && s.apiservers > 0 && s.switched === s.apiservers && !s.unavailable;
}
