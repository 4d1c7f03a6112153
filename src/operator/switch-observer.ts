/**
 * Gathers what the switch-over decision needs: the live API servers (identity Leases in kube-system) and the
 * key_id writes of this node's API server (its /metrics, through the kubeconfig), plus, under --shared-state,
 * what every other kubekms read from its own node's API server (their heartbeat Leases). A failure to read is an
 * answer too ({error}): the fixed delay then decides, and the `Reencrypted` condition says why.
 */
import {
  heartbeatWrites,
  IDENTITY_LEASE_NAMESPACE,
  IDENTITY_LEASE_SELECTOR,
  liveApiservers,
  readOwnWrites,
} from '../api/apiserver-writes.ts';
import { INSTANCE_LABEL, INSTANCE_LABEL_VALUE } from '../api/heartbeat-format.ts';
import type { Leases } from '../kube/client.ts';
import { describeError } from '../kube/errors.ts';
import type { KubeGet } from '../kube/raw-http.ts';
import type { SwitchObservation } from './switch-decisions.ts';

export interface SwitchObserver {
  observe(): Promise<SwitchObservation>;
}

export interface ObserverOptions {
  readonly get: KubeGet;
  readonly leases: Pick<Leases, 'listLeases'>;
  /** Under --shared-state: the namespace of the heartbeat Leases where the other instances publish theirs. */
  readonly heartbeatNamespace?: string;
  readonly now?: () => number;
}

export function apiserverSwitchObserver(o: ObserverOptions): SwitchObserver {
  return {
    async observe(): Promise<SwitchObservation> {
      try {
        const [own, leases, peers] = await Promise.all([
          readOwnWrites(o.get),
          o.leases.listLeases(IDENTITY_LEASE_NAMESPACE, IDENTITY_LEASE_SELECTOR),
          o.heartbeatNamespace
            ? o.leases.listLeases(o.heartbeatNamespace, `${INSTANCE_LABEL}=${INSTANCE_LABEL_VALUE}`)
            : Promise.resolve([]),
        ]);
        const writes = [...own, ...heartbeatWrites(peers)];
        return { live: liveApiservers(leases, (o.now ?? Date.now)()), writes };
      } catch (e) {
        return { error: describeError(e) };
      }
    },
  };
}
