/**
 * The wait between the two phases of a rotation: a staged version is promoted only once every live instance's
 * heartbeat says it holds it (docs/adr/0009-shared-key-state.md). `acknowledgements` reads the heartbeats once, for
 * the maintenance sweep that promotes versions whose wait timed out.
 */

import {
  allLiveHold,
  INSTANCE_LABEL,
  INSTANCE_LABEL_VALUE,
  type InstanceHeartbeat,
  isLive,
  readHeartbeat,
} from '../api/heartbeat-format.ts';
import type { RotationGate } from '../engine/ports.ts';
import { sleep } from '../kube/backoff.ts';
import type { StateApi } from './state-api.ts';

export interface GateOptions {
  readonly api: StateApi;
  /** This instance: its own heartbeat must be live and hold the version too. */
  readonly instance: string;
  readonly timeoutMs: number;
  readonly pollMs?: number;
  readonly now?: () => number;
}

export async function readHeartbeats(api: StateApi): Promise<InstanceHeartbeat[]> {
  const leases = await api.listLeases(`${INSTANCE_LABEL}=${INSTANCE_LABEL_VALUE}`);
  return leases.map(readHeartbeat);
}

/**
 * Every live instance, this one included, holds `version` of `keyId`. `instance` '' is a one-shot command, not an
 * instance: then only the others count.
 */
export function acknowledged(
  heartbeats: readonly InstanceHeartbeat[],
  instance: string,
  keyId: string,
  version: number,
  now: number,
): boolean {
  if (instance === '') return allLiveHold(heartbeats, keyId, version, now);
  const self = heartbeats.find((h) => h.instance === instance);
  return (
    self !== undefined &&
    isLive(self, now) &&
    (self.held[keyId] ?? 0) >= version &&
    allLiveHold(heartbeats, keyId, version, now)
  );
}

export function heartbeatGate(o: GateOptions): RotationGate {
  const now = o.now ?? Date.now;
  return async (keyId, version) => {
    const deadline = now() + o.timeoutMs;
    for (;;) {
      try {
        if (acknowledged(await readHeartbeats(o.api), o.instance, keyId, version, now())) return true;
      } catch {
        // The API is unreachable for a moment: keep waiting until the deadline.
      }
      if (now() >= deadline) return false;
      await sleep(o.pollMs ?? 500);
    }
  };
}
