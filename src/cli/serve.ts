/**
 * `kubekms serve`, the composition root: from a ServeConfig it opens the engine (root of trust, keystore, shared
 * state), then starts each part that is configured — the KMS v2 plugin, the AWS API, the operator, the health
 * listener — and the maintenance sweep, each a named step. A part that is off is not even loaded (features.ts).
 * Needs no Kubernetes API without --operator/--shared-state (invariant 1).
 */
import type { AwsServer } from '../aws/server.ts';
import type { EngineCore } from '../engine/core.ts';
import type { KmsV2Plugin } from '../kmsv2/plugin.ts';
import { type HealthServer, type ReadinessCheck, startHealthServer } from '../observability/health-server.ts';
import { registerKeyMetrics } from '../observability/key-metrics.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { createMetrics, type Metrics } from '../observability/metrics.ts';
import { reportRetiredUses } from '../observability/retired-uses.ts';
import { RotatingFile } from '../observability/rotating-file.ts';
import type { Operator } from '../operator/operator.ts';
import { startAdminServer } from './admin-server.ts';
import { features } from './features.ts';
import { startAws } from './serve-aws.ts';
import type { ServeConfig } from './serve-config.ts';
import { openEngine } from './serve-engine.ts';
import { startIdleMemoryReducer } from './serve-idle-memory.ts';
import { startMaintenance } from './serve-maintenance.ts';
import { startPlugin } from './serve-plugin.ts';
import type { RootRotation, RootStaging } from './serve-root-rotation.ts';
import { Stoppers } from './stoppers.ts';

export interface Running {
  readonly core: EngineCore;
  readonly log: Logger;
  readonly plugin?: KmsV2Plugin;
  readonly health?: HealthServer;
  readonly aws?: AwsServer;
  readonly operator?: Operator;
  stop(): Promise<void>;
}

/** The process log: the given destination (tests), else the --audit-log file, else stdout. */
function openLog(config: ServeConfig['log'], destination: NodeJS.WritableStream | undefined): Logger {
  const file = config.file;
  return createLogger(config.level, destination ?? (file ? new RotatingFile(file) : undefined));
}

export async function serve(config: ServeConfig, logDestination?: NodeJS.WritableStream): Promise<Running> {
  const log = openLog(config.log, logDestination);
  const started = new Stoppers(config.shutdownGraceMs);
  try {
    const { core, shared, rotateRoot, stageRoot } = await openEngine(config, log, started);
    const metrics = createMetrics();
    registerKeyMetrics(metrics.registry, () => core.allKeys().map((record) => ({ record })));
    reportRetiredUses(core, metrics.registry, log);
    const checks: Record<string, ReadinessCheck> = {};
    if (shared) checks.sharedState = () => shared.run.health();
    // Before the plugin: the plugin's start is what callers wait for, and the admin socket is local and quick.
    if (config.adminSocket)
      await startAdminStep(core, config.keystore.dataDir, log, started, { rotateRoot, stageRoot });
    const secretsKey = config.engine.secretsKey;
    const plugin = config.kmsv2
      ? await startPlugin(config.kmsv2, {
          core,
          secretsKey,
          log,
          metrics,
          checks,
          started,
          ...(shared ? { fetchVersion: shared.fetchKey } : {}),
        })
      : undefined;
    const aws = config.aws
      ? await startAwsStep(config, { core, log, metrics, started }, logDestination)
      : undefined;
    // The operator starts after the plugin serves and in the background: the plugin never waits for the
    // Kubernetes API (invariant 1).
    const operator = config.operator
      ? await startOperatorStep(config.operator, { core, log, metrics, checks, started })
      : undefined;
    const health = config.health
      ? await startHealthServer(config.health, metrics.registry, checks)
      : undefined;
    if (health) {
      started.push(() => health.close());
      log.info({ address: health.address }, 'health listener serving /livez /readyz /metrics');
    }
    started.push(startMaintenance(core, shared?.run, log, config.engine.maintenanceIntervalMs));
    started.push(startIdleMemoryReducer(log));
    return {
      core,
      log,
      ...(plugin ? { plugin } : {}),
      ...(health ? { health } : {}),
      ...(aws ? { aws } : {}),
      ...(operator ? { operator } : {}),
      async stop() {
        await started.stopAll();
        log.info('stopped');
      },
    };
  } catch (e) {
    await started.stopAll();
    throw e;
  }
}

/** The admin socket; a data directory that is not private only costs the socket (logged), never the plugin. */
async function startAdminStep(
  core: EngineCore,
  dataDir: string,
  log: Logger,
  started: Stoppers,
  root: { rotateRoot: RootRotation | undefined; stageRoot: RootStaging | undefined },
): Promise<void> {
  try {
    const admin = await startAdminServer(core, dataDir, log, root.rotateRoot, root.stageRoot);
    started.push(() => admin.close());
    log.info({ path: admin.path }, 'admin socket serving');
  } catch (e) {
    log.error({ err: e instanceof Error ? e.message : String(e) }, 'admin socket not served');
  }
}

interface StepDeps {
  readonly core: EngineCore;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly started: Stoppers;
}

async function startAwsStep(
  config: ServeConfig,
  deps: StepDeps,
  logDestination: NodeJS.WritableStream | undefined,
): Promise<AwsServer | undefined> {
  if (!config.aws) return undefined;
  const aws = await startAws(config.aws, {
    core: deps.core,
    log: deps.log,
    metrics: deps.metrics,
    region: config.engine.arn.region,
    ...(logDestination ? { logDestination } : {}),
  });
  deps.started.pushListener((graceMs) => aws.drain(graceMs));
  return aws;
}

async function startOperatorStep(
  section: NonNullable<ServeConfig['operator']>,
  deps: StepDeps & { readonly checks: Record<string, ReadinessCheck> },
): Promise<Operator> {
  const { startOperator } = await features.operator();
  const op = startOperator({ core: deps.core, log: deps.log, registry: deps.metrics.registry, ...section });
  deps.checks.operator = () => op.readiness();
  deps.started.push(() => op.stop());
  return op;
}
