/**
 * Starts the AWS API for `kubekms serve` from its typed configuration (the CLI parses and checks the flags and
 * reads the files): the listener, TLS, the access keys (plus, in --dev mode, the administrator pair test/test),
 * the audit destination and, in cluster mode, the operations that act through the custom resources.
 */
import { pino } from 'pino';
import type { EngineCore } from '../engine/core.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { type AuditLog, stdoutAuditLog, streamAuditLog } from './audit-log.ts';
import { type Credential, CredentialStore, DEV_CREDENTIAL } from './credentials.ts';
import type { KeyLimits } from './key-limits.ts';
import type { Handler } from './ops/types.ts';
import { type AwsServer, startAwsServer, type WebIdentityOptions } from './server.ts';

export interface AwsApiConfig {
  readonly listen: { readonly host: string; readonly port: number };
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  /** Access keys from the credentials file (may be empty with devCredential). */
  readonly credentials: readonly Credential[];
  /** --dev: add the administrator pair test/test. */
  readonly devCredential: boolean;
  readonly requestTimeoutMs: number;
  readonly maxConnections?: number;
  readonly replayBudgetPerKey?: number;
  readonly keyLimits?: KeyLimits;
  /** Keys that serve the KMS v2 plugin only (the Secrets key). */
  readonly pluginOnlyKeys?: readonly string[];
  /** --aws-sts: AssumeRoleWithWebIdentity and temporary credentials. */
  readonly webIdentity?: WebIdentityOptions;
  /** Cluster mode: the management operations that act through the custom resources in `namespace`. */
  readonly cluster?: { readonly operations: Readonly<Record<string, Handler>>; readonly namespace: string };
}

export interface AwsApiDeps {
  readonly core: EngineCore;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly region: string;
  /** The process log's destination when it is not stdout (tests): audit lines go there too. */
  readonly logDestination?: NodeJS.WritableStream;
}

/**
 * Audit lines go where the process log goes: the given destination, else the logger's own stream when it is not
 * stdout (a log file, say), else stdout in batches.
 */
function auditLogFor(log: Logger, destination: NodeJS.WritableStream | undefined): AuditLog {
  if (destination) return streamAuditLog(destination);
  const stream = (log as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as
    | (NodeJS.WritableStream & { fd?: number })
    | undefined;
  if (stream && typeof stream.write === 'function' && stream.fd !== 1) return streamAuditLog(stream);
  return stdoutAuditLog();
}

export async function startAwsApi(config: AwsApiConfig, deps: AwsApiDeps): Promise<AwsServer> {
  const credentials = [...config.credentials];
  if (config.devCredential && !credentials.some((c) => c.accessKeyId === DEV_CREDENTIAL.accessKeyId)) {
    credentials.push(DEV_CREDENTIAL);
    deps.log.warn(
      { accessKeyId: DEV_CREDENTIAL.accessKeyId, principal: DEV_CREDENTIAL.caller.name },
      'dev mode: the AWS API access key "test" with secret "test" is an administrator of every key; never use --dev in production',
    );
  }
  if (config.cluster)
    deps.log.info(
      { namespace: config.cluster.namespace },
      'AWS API management operations act through KmsKey/KmsAlias/KmsGrant',
    );
  const server = await startAwsServer({
    core: deps.core,
    credentials: new CredentialStore(credentials),
    listen: config.listen,
    ...(config.tls ? { tls: config.tls } : {}),
    log: deps.log,
    ...(deps.log.isLevelEnabled('info') ? { audit: auditLogFor(deps.log, deps.logDestination) } : {}),
    metrics: deps.metrics,
    region: deps.region,
    requestTimeoutMs: config.requestTimeoutMs,
    ...(config.maxConnections ? { maxConnections: config.maxConnections } : {}),
    ...(config.replayBudgetPerKey ? { replayBudgetPerKey: config.replayBudgetPerKey } : {}),
    ...(config.keyLimits ? { keyLimits: config.keyLimits } : {}),
    ...(config.pluginOnlyKeys ? { pluginOnlyKeys: config.pluginOnlyKeys } : {}),
    ...(config.cluster ? { operations: config.cluster.operations } : {}),
    ...(config.webIdentity ? { webIdentity: config.webIdentity } : {}),
  });
  deps.log.info(
    {
      endpoint: server.endpoint,
      credentials: credentials.length,
      region: deps.region,
      management: config.cluster ? `cluster (namespace ${config.cluster.namespace})` : 'engine',
      ...(config.webIdentity ? { stsAudience: config.webIdentity.audience } : {}),
    },
    'AWS KMS API serving (SigV4, service kms)',
  );
  return server;
}
