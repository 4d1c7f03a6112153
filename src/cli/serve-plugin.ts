/**
 * serve's KMS v2 step: the plugin over the engine, its self-test at start, its readiness check, and its gRPC server
 * on the unix socket (the log names the socket's absolute path).
 */
import type { EngineCore } from '../engine/core.ts';
import { keyIdHash } from '../kmsv2/key-id.ts';
import { KmsV2Plugin, type StoreBehind } from '../kmsv2/plugin.ts';
import { startKmsV2Server } from '../kmsv2/server.ts';
import type { ReadinessCheck } from '../observability/health-server.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { ServeConfig } from './serve-config.ts';
import type { Stoppers } from './stoppers.ts';

export interface PluginDeps {
  readonly core: EngineCore;
  readonly secretsKey: string;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly checks: Record<string, ReadinessCheck>;
  readonly started: Stoppers;
  /** With --shared-state: fetch a key version this instance does not hold yet. */
  readonly fetchVersion?: (keyUuid: string) => Promise<void>;
}

export async function startPlugin(
  section: NonNullable<ServeConfig['kmsv2']>,
  deps: PluginDeps,
): Promise<KmsV2Plugin> {
  const { log, metrics } = deps;
  const plugin = new KmsV2Plugin({
    core: deps.core,
    secretsKey: deps.secretsKey,
    apiVersion: section.apiVersion,
    ...(deps.fetchVersion ? { fetchVersion: deps.fetchVersion } : {}),
    onStoreBehind: storeBehindReporter(log, metrics),
  });
  const first = plugin.selfTest();
  metrics.kmsv2Healthy.set(first.ok ? 1 : 0);
  if (!first.ok) log.error({ error: first.error }, 'kmsv2 self-test failed at start');
  deps.checks.kmsv2 = () => plugin.readiness();
  const server = await startKmsV2Server(plugin, section.socket, log, metrics);
  deps.started.pushListener((graceMs) => server.stop(graceMs));
  return plugin;
}

/**
 * Counts every Decrypt under a key version the keystore lacks and logs each key_id once (at most 64 distinct):
 * the keystore is older than the data in etcd (docs/adr/0022-rollback-detection.md).
 */
export function storeBehindReporter(log: Logger, metrics: Metrics): (w: StoreBehind) => void {
  const logged = new Set<string>();
  return (w) => {
    metrics.kmsv2StoreBehind.inc();
    if (logged.has(w.keyId) || logged.size >= 64) return;
    logged.add(w.keyId);
    log.error(
      { keyIdHash: keyIdHash(w.keyId), key: w.keyUuid, version: w.version, newestHeld: w.newestHeld },
      'kmsv2: rollback suspected: kube-apiserver asked to decrypt data under a key version this keystore does not ' +
        'hold; the keystore is older than the data in etcd (restored from an older backup, or an older copy put ' +
        'back?). Find the newest keystore or backup before rotating this key: a rotation now would issue this ' +
        'version number again for different key material',
    );
  };
}
