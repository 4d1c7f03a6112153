import pino from 'pino';
import { describe, expect, it } from 'vitest';
import {
  IDENTITY_LEASE_NAMESPACE,
  KEY_ID_HASH_METRIC,
  KEY_ID_WRITES_ANNOTATION,
  sha256Label,
} from '../api/apiserver-writes.ts';
import { Heartbeat, type HeartbeatOptions } from '../ha/heartbeat.ts';
import { FakeStateApi } from '../ha/testing.ts';
import type { Lease } from '../kube/client.ts';
import { microTime } from '../kube/client.ts';
import type { KubeGet } from '../kube/raw-http.ts';
import { decideSwitchover } from './switch-decisions.ts';
import { apiserverSwitchObserver } from './switch-observer.ts';

const NEW = 'kubekms:0b3c5a9e-0000-4000-8000-000000000001:v2';
const OLD = 'kubekms:0b3c5a9e-0000-4000-8000-000000000001:v1';
const now = Date.now();

/** A node's kube-apiserver /metrics: one to_storage write under `keyId` by API server `id`. */
function metricsOf(id: string, keyId: string, status = 200): KubeGet {
  const body = `${KEY_ID_HASH_METRIC}{apiserver_id_hash="${sha256Label(id)}",key_id_hash="${sha256Label(keyId)}",provider_name="kubekms",transformation_type="to_storage"} ${now / 1000}\n`;
  return async (path) => ({
    status: path === '/metrics' ? status : 404,
    headers: {},
    body: status === 200 ? body : 'forbidden',
    sentAt: now,
    receivedAt: now,
  });
}

const identity = (name: string): Lease => ({
  metadata: {
    name,
    namespace: IDENTITY_LEASE_NAMESPACE,
    labels: { 'apiserver.kubernetes.io/identity': 'kube-apiserver' },
  },
  spec: { renewTime: microTime(now - 5_000), leaseDurationSeconds: 3600 },
});

/** The instance heartbeat Leases after one renewal by `instance` whose API server writes `apiserverWrites` reads. */
async function renewedHeartbeats(
  instance: string,
  apiserverWrites: HeartbeatOptions['apiserverWrites'],
): Promise<readonly Lease[]> {
  const state = new FakeStateApi('kubekms');
  const hb = new Heartbeat({
    api: state,
    instance,
    held: () => ({}),
    keyId: () => NEW,
    log: pino({ level: 'silent' }),
    apiserverWrites,
  });
  await hb.renew();
  return state.listLeases('kubekms.io/role=instance');
}

describe('the switch-over observer', () => {
  it('HA: a peer publishes its node API server writes in its heartbeat; the leader sees every API server', async () => {
    // Node B's kubekms: its heartbeat carries what B's API server wrote.
    const heartbeats = await renewedHeartbeats('node-b', async () => [
      { apiserver: sha256Label('apiserver-b'), keyIdHash: sha256Label(NEW), at: now },
    ]);
    expect(heartbeats[0]?.metadata.annotations?.[KEY_ID_WRITES_ANNOTATION]).toContain(
      sha256Label('apiserver-b'),
    );

    // Node A's kubekms leads: its own API server's /metrics, plus B's heartbeat.
    const leases = {
      listLeases: async (ns: string) =>
        ns === IDENTITY_LEASE_NAMESPACE ? [identity('apiserver-a'), identity('apiserver-b')] : heartbeats,
    };
    const alone = apiserverSwitchObserver({ get: metricsOf('apiserver-a', NEW), leases });
    expect(decideSwitchover(await alone.observe(), NEW, now - 60_000)).toMatchObject({
      kind: 'waiting',
      pending: [sha256Label('apiserver-b')],
    });
    const withPeers = apiserverSwitchObserver({
      get: metricsOf('apiserver-a', NEW),
      leases,
      heartbeatNamespace: 'kubekms',
    });
    expect(decideSwitchover(await withPeers.observe(), NEW, now - 60_000)).toEqual({
      kind: 'switched',
      apiservers: 2,
    });
    const stale = apiserverSwitchObserver({
      get: metricsOf('apiserver-a', OLD),
      leases,
      heartbeatNamespace: 'kubekms',
    });
    expect(decideSwitchover(await stale.observe(), NEW, now - 60_000)).toMatchObject({ kind: 'waiting' });
  });

  it('a heartbeat whose metrics read fails publishes none, and the renewal still happens', async () => {
    const [l] = await renewedHeartbeats('node-c', async () => {
      throw new Error('GET /metrics: 403');
    });
    expect(l?.metadata.annotations?.[KEY_ID_WRITES_ANNOTATION]).toBeUndefined();
  });

  it('no RBAC for /metrics: an answer naming what is missing, not an exception', async () => {
    const leases = { listLeases: async () => [identity('apiserver-a')] };
    const o = apiserverSwitchObserver({ get: metricsOf('apiserver-a', NEW, 403), leases });
    const seen = await o.observe();
    expect(seen).toEqual({
      error: expect.stringMatching(/GET \/metrics: 403 \(needs RBAC get on the nonResourceURL \/metrics\)/),
    });
    expect(decideSwitchover(seen, NEW, now)).toMatchObject({ kind: 'unknown' });
  });
});
