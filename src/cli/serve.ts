/**
 * `kubekms serve`: opens the root of trust and the local keystore, loads the engine, makes sure the
 * cluster-managed Secrets key exists, and serves the KMS v2 plugin and the health listener. Needs no
 * Kubernetes API (invariant 1).
 */

import { hostname } from 'node:os';
import type { LevelWithSilent } from 'pino';
import type { AwsServer } from '../aws/server.ts';
import { startAwsApi } from '../aws/start.ts';
import { type CryptoProviderName, selectCryptoProvider } from '../crypto/provider.ts';
import { EngineCore } from '../engine/core.ts';
import { validateArnConfig } from '../engine/identifiers.ts';
import { ensureClusterKey, runMaintenance, SECRETS_KEY_ALIAS } from '../engine/ops-maintenance.ts';
import { ensureSharedClusterKey } from '../ha/bootstrap.ts';
import { type RunningSharedState, SharedState } from '../ha/shared-state.ts';
import { keyObjectName } from '../ha/state-records.ts';
import { FileKeyStore } from '../keystore/file-keystore.ts';
import { formatKeyId } from '../kmsv2/key-id.ts';
import { KmsV2Plugin, type PluginApiVersion } from '../kmsv2/plugin.ts';
import { type KmsV2Server, startKmsV2Server } from '../kmsv2/server.ts';
import { type HealthServer, type ReadinessCheck, startHealthServer } from '../observability/health-server.ts';
import { registerKeyMetrics } from '../observability/key-metrics.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { createMetrics } from '../observability/metrics.ts';
import { type Operator, startOperator } from '../operator/operator.ts';
import { openRootKey } from '../rootkey/root-key-config.ts';
import { type FlagValues, UsageError } from './flags.ts';
import { reencryptOptions } from './reencrypt-command.ts';
import { rootKeyOptionsFromFlags } from './rootkey-command.ts';

export interface Running {
  readonly core: EngineCore;
  readonly log: Logger;
  readonly plugin?: KmsV2Plugin;
  readonly health?: HealthServer;
  readonly aws?: AwsServer;
  readonly operator?: Operator;
  stop(): Promise<void>;
}

function parseListen(value: string): { host: string; port: number } {
  const i = value.lastIndexOf(':');
  const port = Number(value.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`--health-listen: expected HOST:PORT, got ${JSON.stringify(value)}`);
  }
  return { host: value.slice(0, i).replace(/^\[|\]$/g, ''), port };
}

function parseMode(value: string): number {
  if (!/^0?[0-7]{3}$/.test(value))
    throw new UsageError(`--socket-mode: expected an octal mode such as 0600, got ${JSON.stringify(value)}`);
  const mode = Number.parseInt(value, 8);
  if (mode & 0o007) throw new UsageError(`--socket-mode: ${value} gives access to every user; at most 0660`);
  return mode;
}

export async function serve(flags: FlagValues, logDestination?: NodeJS.WritableStream): Promise<Running> {
  const log = createLogger(flags['log-level'] as LevelWithSilent, logDestination);
  const dataDir = String(flags['data-dir']);
  const socketMode = parseMode(String(flags['socket-mode']));
  const healthListen = String(flags['health-listen'] ?? '');
  const listen = healthListen ? parseListen(healthListen) : undefined;
  let arn: ReturnType<typeof validateArnConfig>;
  try {
    arn = validateArnConfig({
      partition: String(flags['arn-partition']),
      region: String(flags['arn-region']),
      account: String(flags['arn-account']),
    });
  } catch (e) {
    throw new UsageError(`--arn-${(e as Error).message}`);
  }

  const rootKey = await openRootKey({
    ...rootKeyOptionsFromFlags(flags),
    dataDir,
    log,
  });
  const cache = new FileKeyStore({ dataDir, rootKey });
  // HA: the Kubernetes API holds the shared key state and the local keystore is its cache (docs/ha.md).
  const shared =
    flags['shared-state'] === true
      ? new SharedState({
          cache,
          namespace: String(flags.namespace),
          kubeconfig: String(flags.kubeconfig ?? ''),
        })
      : undefined;
  const store = shared ? shared.store : cache;
  const crypto = selectCryptoProvider(flags['crypto-provider'] as CryptoProviderName);
  // Everything started so far, stopped in reverse order on shutdown or when a later step fails.
  const started: (() => Promise<void>)[] = [() => store.close()];
  const stopAll = async () => {
    for (const f of started.splice(0).reverse()) await f().catch(() => undefined);
  };
  try {
    const core = await EngineCore.open({ crypto, rootKey, store, arn });
    log.info({ keystore: store.description, keys: core.keys.size, crypto: crypto.name }, 'keystore opened');

    const secretsKey = String(flags['secrets-key']);
    let sharedRun: RunningSharedState | undefined;
    if (shared) {
      const instance = instanceName(flags);
      sharedRun = await shared.run({
        core,
        log,
        instance,
        keyId: () => currentKeyId(core, secretsKey),
        ackTimeoutMs: Number(flags['rotation-ack-timeout']),
        initialWaitMs: Number(flags['state-sync-wait']),
      });
      const run = sharedRun;
      started.push(() => run.stop());
      log.info({ instance, store: store.description }, 'shared key state running');
    }
    if (secretsKey === SECRETS_KEY_ALIAS) {
      const description = 'kubekms: wraps kube-apiserver DEK seeds (cluster-managed)';
      const id = sharedRun
        ? await ensureSharedClusterKey(core, sharedRun.sync, SECRETS_KEY_ALIAS, description)
        : await ensureClusterKey(core, SECRETS_KEY_ALIAS, description);
      log.info({ alias: SECRETS_KEY_ALIAS, keyId: id }, 'cluster-managed Secrets key ready');
    } else {
      core.resolve(secretsKey, 'secrets-key');
    }

    const metrics = createMetrics();
    registerKeyMetrics(metrics.registry, () => core.keys.values());
    const checks: Record<string, ReadinessCheck> = {};
    if (sharedRun) {
      const run = sharedRun;
      checks.sharedState = () => run.health();
    }
    let plugin: KmsV2Plugin | undefined;
    const socketPath = String(flags['kms-socket'] ?? '');
    if (socketPath) {
      const p = new KmsV2Plugin({
        core,
        secretsKey,
        apiVersion: flags['kmsv2-api-version'] as PluginApiVersion,
        ...(sharedRun ? { fetchVersion: fetchFrom(sharedRun) } : {}),
      });
      plugin = p;
      const first = p.selfTest();
      metrics.kmsv2Healthy.set(first.ok ? 1 : 0);
      if (!first.ok) log.error({ error: first.error }, 'kmsv2 self-test failed at start');
      checks.kmsv2 = () => p.readiness();
      const kms: KmsV2Server = await startKmsV2Server(
        p,
        {
          path: socketPath,
          mode: socketMode,
          ...(flags['socket-uid'] !== undefined ? { uid: Number(flags['socket-uid']) } : {}),
          ...(flags['socket-gid'] !== undefined ? { gid: Number(flags['socket-gid']) } : {}),
        },
        log,
        metrics,
      );
      started.push(() => kms.stop(Number(flags['shutdown-grace'])));
    }
    const aws = await startAwsApi(flags, {
      core,
      log,
      metrics,
      region: arn.region,
      ...(logDestination ? { logDestination } : {}),
    });
    if (aws) started.push(() => aws.close());
    // The operator starts after the plugin serves and in the background: the plugin never waits for the
    // Kubernetes API (invariant 1).
    let operator: Operator | undefined;
    if (flags.operator === true) {
      const op = startOperator({
        core,
        log,
        registry: metrics.registry,
        kubeconfig: String(flags.kubeconfig ?? ''),
        namespace: String(flags.namespace),
        leaderElection: flags['leader-elect'] !== false,
        ...(flags['test-deletion-window'] !== undefined
          ? { deletionWindowOverrideMs: Number(flags['test-deletion-window']) }
          : {}),
        ...reencryptOptions(flags, secretsKey),
      });
      operator = op;
      checks.operator = () => op.readiness();
      started.push(() => op.stop());
    }
    const health = listen ? await startHealthServer(listen, metrics.registry, checks) : undefined;
    if (health) {
      started.push(() => health.close());
      log.info({ address: health.address }, 'health listener serving /livez /readyz /metrics');
    }

    const maintenance = setInterval(() => {
      sharedRun?.promoteAcknowledged().then(
        (ids) => {
          for (const id of ids) log.info({ keyId: id, event: 'KeyRotated' }, 'staged version promoted');
        },
        (e: unknown) =>
          log.warn({ err: e instanceof Error ? e.message : String(e) }, 'promotion sweep failed'),
      );
      runMaintenance(core).then(
        (r) => {
          for (const id of r.rotated)
            log.info({ keyId: id, event: 'KeyRotated' }, 'key rotated automatically');
          for (const id of r.destroyed)
            log.info({ keyId: id, event: 'KeyDeleted' }, 'key destroyed after its deletion window');
        },
        (e: unknown) => log.error({ err: e instanceof Error ? e.message : String(e) }, 'maintenance failed'),
      );
    }, Number(flags['maintenance-interval']));
    maintenance.unref();
    started.push(async () => clearInterval(maintenance));

    return {
      core,
      log,
      ...(plugin ? { plugin } : {}),
      ...(health ? { health } : {}),
      ...(aws ? { aws } : {}),
      ...(operator ? { operator } : {}),
      async stop() {
        await stopAll();
        log.info('stopped');
      },
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

/** `--instance-name`, else $NODE_NAME (set from the downward API), else the host name. */
function instanceName(flags: FlagValues): string {
  const name = String(flags['instance-name'] || process.env.NODE_NAME || hostname()).toLowerCase();
  if (!/^[a-z0-9]([-a-z0-9.]{0,200}[a-z0-9])?$/.test(name)) {
    throw new UsageError(
      `--instance-name: ${JSON.stringify(name)} is not a valid object name (lower case, digits, '-', '.')`,
    );
  }
  return name;
}

/** The key_id the plugin reports for `secretsKey`, or '' while it does not resolve. */
function currentKeyId(core: EngineCore, secretsKey: string): string {
  try {
    const k = core.resolve(secretsKey).record;
    return formatKeyId(k.keyId, k.primaryVersion);
  } catch {
    return '';
  }
}

/** One fetch at a time per key: a burst of Decrypts for a new version costs one GET. */
function fetchFrom(run: RunningSharedState): (keyUuid: string) => Promise<void> {
  const inFlight = new Map<string, Promise<void>>();
  return (keyUuid) => {
    let p = inFlight.get(keyUuid);
    if (!p) {
      p = run.sync.refresh([keyObjectName(keyUuid)]).finally(() => inFlight.delete(keyUuid));
      inFlight.set(keyUuid, p);
    }
    return p;
  };
}
