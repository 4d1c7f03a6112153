/**
 * Starts the AWS API from `kubekms serve` flags: --aws-listen HOST:PORT (off when empty), --aws-tls-cert and
 * --aws-tls-key (HTTPS; plain HTTP only on a loopback HOST), --aws-credentials FILE, and in --dev mode the
 * administrator pair test/test. Refuses to start a listener nobody could authenticate to.
 */
import { readFile } from 'node:fs/promises';
import { pino } from 'pino';
import { UsageError } from '../cli/flags.ts';
import type { EngineCore } from '../engine/core.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { type AuditLog, stdoutAuditLog, streamAuditLog } from './audit-log.ts';
import { clusterApiFromKubeconfig } from './cluster/kube.ts';
import { clusterOperations } from './cluster/operations.ts';
import {
  type Credential,
  CredentialStore,
  CredentialsError,
  DEV_CREDENTIAL,
  loadCredentialsFile,
} from './credentials.ts';
import type { Handler } from './ops/types.ts';
import { type AwsServer, startAwsServer } from './server.ts';

type Flags = Readonly<Record<string, string | boolean | number | undefined>>;

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

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export function parseAwsListen(value: string): { host: string; port: number } {
  const i = value.lastIndexOf(':');
  const port = Number(value.slice(i + 1));
  const host = value.slice(0, i).replace(/^\[|\]$/g, '');
  if (i <= 0 || !host || !/^\d+$/.test(value.slice(i + 1)) || port > 65535) {
    throw new UsageError(`--aws-listen: expected HOST:PORT, got ${JSON.stringify(value)}`);
  }
  return { host, port };
}

export async function startAwsApi(
  flags: Flags,
  deps: {
    core: EngineCore;
    log: Logger;
    metrics: Metrics;
    region: string;
    /** The process log's destination when it is not stdout (tests): audit lines go there too. */
    logDestination?: NodeJS.WritableStream;
  },
): Promise<AwsServer | undefined> {
  const listenText = String(flags['aws-listen'] ?? '');
  if (!listenText) return undefined;
  const listen = parseAwsListen(listenText);
  const certFile = flags['aws-tls-cert'] as string | undefined;
  const keyFile = flags['aws-tls-key'] as string | undefined;
  if (Boolean(certFile) !== Boolean(keyFile)) {
    throw new UsageError('--aws-tls-cert and --aws-tls-key: give both or neither');
  }
  if (!certFile && !isLoopback(listen.host)) {
    throw new UsageError(
      `--aws-listen: plain HTTP is allowed only on a loopback address (127.0.0.1, ::1, localhost), not ${listen.host}; give --aws-tls-cert and --aws-tls-key to serve HTTPS`,
    );
  }
  let tls: { cert: Buffer; key: Buffer } | undefined;
  if (certFile && keyFile) {
    try {
      tls = { cert: await readFile(certFile), key: await readFile(keyFile) };
    } catch (e) {
      throw new UsageError(`--aws-tls-cert/--aws-tls-key: ${(e as Error).message}`);
    }
  }
  const credentials: Credential[] = [];
  const file = flags['aws-credentials'] as string | undefined;
  if (file) {
    try {
      credentials.push(...(await loadCredentialsFile(file)));
    } catch (e) {
      if (e instanceof CredentialsError) throw new UsageError(`--aws-credentials: ${e.message}`);
      throw e;
    }
  }
  if (flags.dev === true && !credentials.some((c) => c.accessKeyId === DEV_CREDENTIAL.accessKeyId)) {
    credentials.push(DEV_CREDENTIAL);
    deps.log.warn(
      { accessKeyId: DEV_CREDENTIAL.accessKeyId, principal: DEV_CREDENTIAL.caller.name },
      'dev mode: the AWS API access key "test" with secret "test" is an administrator of every key; never use --dev in production',
    );
  }
  if (credentials.length === 0) {
    throw new UsageError(
      '--aws-listen: no credentials; give --aws-credentials FILE (there is no anonymous access)',
    );
  }
  const operations = clusterMode(flags, deps.log);
  let timeout = Number(flags['aws-request-timeout'] ?? 30_000);
  if (!Number.isFinite(timeout) || timeout <= 0) timeout = 30_000;
  let server: AwsServer;
  try {
    server = await startAwsServer({
      core: deps.core,
      credentials: new CredentialStore(credentials),
      listen,
      ...(tls ? { tls } : {}),
      log: deps.log,
      ...(deps.log.isLevelEnabled('info') ? { audit: auditLogFor(deps.log, deps.logDestination) } : {}),
      metrics: deps.metrics,
      region: deps.region,
      requestTimeoutMs: timeout,
      ...(operations ? { operations } : {}),
    });
  } catch (e) {
    if (e instanceof Error && /key|cert|PEM|asn1/i.test(e.message) && tls) {
      throw new UsageError(`--aws-tls-cert/--aws-tls-key: ${e.message}`);
    }
    throw e;
  }
  deps.log.info(
    {
      endpoint: server.endpoint,
      credentials: credentials.length,
      region: deps.region,
      management: operations ? `cluster (namespace ${String(flags.namespace)})` : 'engine',
    },
    'AWS KMS API serving (SigV4, service kms)',
  );
  return server;
}

/**
 * --aws-management: `cluster` (the default with --operator) makes management operations act through the custom
 * resources in --namespace; `engine` acts on the engine directly. Returns the cluster-mode table, or undefined.
 */
function clusterMode(flags: Flags, log: Logger): Readonly<Record<string, Handler>> | undefined {
  const mode = String(flags['aws-management'] ?? 'auto');
  const operator = flags.operator === true;
  if (mode === 'engine' || (mode === 'auto' && !operator)) return undefined;
  if (!operator) {
    throw new UsageError(
      '--aws-management=cluster needs --operator: the operator reconciles the objects the AWS API writes',
    );
  }
  let timeoutMs = Number(flags['aws-cluster-timeout'] ?? 20_000);
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) timeoutMs = 20_000;
  const requestTimeout = Number(flags['aws-request-timeout'] ?? 30_000);
  if (Number.isFinite(requestTimeout) && requestTimeout > 0 && timeoutMs >= requestTimeout) {
    throw new UsageError(
      `--aws-cluster-timeout (${timeoutMs} ms) must be shorter than --aws-request-timeout (${requestTimeout} ms): a request that waits longer is cut off without an answer`,
    );
  }
  const namespace = String(flags.namespace ?? 'kubekms');
  const api = clusterApiFromKubeconfig(String(flags.kubeconfig ?? ''));
  log.info({ namespace, timeoutMs }, 'AWS API management operations act through KmsKey/KmsAlias/KmsGrant');
  return clusterOperations({ api, namespace, timeoutMs });
}
