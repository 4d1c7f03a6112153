/**
 * The AWS-KMS-compatible HTTP listener: AWS JSON 1.1 over `POST /`, dispatched on `X-Amz-Target:
 * TrentService.<Operation>`, authenticated with SigV4. This file wires the request pipeline
 * (handle-request.ts: authenticate → route → decode → invoke → respond) to a listener (listener.ts). Every
 * response carries `x-amzn-RequestId`; errors are `{"__type","message"}` with the status from errors.ts. One
 * audit line per request (never plaintext, keys, secrets or signatures) and the request metrics.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { EngineCore } from '../engine/core.ts';
import { SECRETS_KEY_ALIAS } from '../engine/ops-maintenance.ts';
import type { TokenReviewer } from '../kube/token-review.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { AuditLog } from './audit-log.ts';
import { createAuthenticator } from './authenticate.ts';
import type { CredentialStore } from './credentials.ts';
import { requestHandler } from './handle-request.ts';
import { DEFAULT_KEY_LIMITS, type KeyLimits, withKeyLimitsOn } from './key-limits.ts';
import { drainListener, startListener } from './listener.ts';
import { OPERATIONS } from './operations.ts';
import type { Handler } from './ops/types.ts';
import { withPluginOnlyKeys } from './plugin-only-keys.ts';
import { MAX_BODY_BYTES } from './read-body.ts';
import { RequestRecorder } from './request-record.ts';
import { requestIds } from './respond.ts';
import { assumeRoleWithWebIdentity } from './sts/assume-role.ts';
import { type StsDeps, stsRequestHandler } from './sts/handle-sts.ts';
import { Sessions } from './sts/sessions.ts';

export { MAX_BODY_BYTES };

export interface AwsServerOptions {
  readonly core: EngineCore;
  readonly credentials: CredentialStore;
  readonly listen: { readonly host: string; readonly port: number };
  /** PEM certificate chain and key: HTTPS. Without them the server speaks plain HTTP (the CLI allows that only on loopback). */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  readonly log: Logger;
  /** Where audit lines go; default: through `log` at info level. */
  readonly audit?: AuditLog;
  readonly metrics: Metrics;
  /** The region every SigV4 credential scope must name: the installation's ARN region. */
  readonly region: string;
  readonly maxBodyBytes?: number;
  readonly requestTimeoutMs?: number;
  /** Connections the listener holds at once (default 512); more are closed as they arrive. */
  readonly maxConnections?: number;
  readonly replayBudgetPerKey?: number;
  /** The operation table; default: standalone (OPERATIONS). Cluster mode passes clusterOperations(…). */
  readonly operations?: Readonly<Record<string, Handler>>;
  /**
   * Keys that serve the KMS v2 plugin only (aliases, ids or ARNs): no data operation or CreateGrant on them.
   * Default: the cluster-managed Secrets key; serve adds its --secrets-key.
   */
  readonly pluginOnlyKeys?: readonly string[];
  /** The total key quota and the per-principal CreateKey rate (default DEFAULT_KEY_LIMITS). */
  readonly keyLimits?: KeyLimits;
  readonly now?: () => number;
  /** Test hook: sees every response body sent. */
  readonly onResponse?: (r: { operation: string; status: number; body: string }) => void;
  /** --aws-sts: AssumeRoleWithWebIdentity on this listener, and the temporary credentials it issues. */
  readonly webIdentity?: WebIdentityOptions;
}

export interface WebIdentityOptions {
  /** The audience a ServiceAccount token must be for. */
  readonly audience: string;
  /** The shortest session DurationSeconds may ask for (the longest is one hour). */
  readonly minDurationSeconds: number;
  readonly review: TokenReviewer;
}

export interface AwsServer {
  readonly server: Server;
  /** `http(s)://host:port` */
  readonly endpoint: string;
  /**
   * Shutdown: stops taking new calls at once (the listener closes, idle connections are closed, every answer
   * from now on says `Connection: close`), lets in-flight calls finish, and cuts off what is left after
   * `graceMs`. Resolves once every connection has ended and the audit log is flushed.
   */
  drain(graceMs: number): Promise<void>;
  /** drain() with no time limit. */
  close(): Promise<void>;
}

export const DEFAULT_MAX_CONNECTIONS = 512;

export async function startAwsServer(o: AwsServerOptions): Promise<AwsServer> {
  let draining = false;
  const sessions = o.webIdentity ? new Sessions(o.core.rootKey, o.now) : undefined;
  const common = {
    maxBodyBytes: o.maxBodyBytes ?? MAX_BODY_BYTES,
    log: o.log,
    recorder: new RequestRecorder({ log: o.log, metrics: o.metrics, ...(o.audit ? { audit: o.audit } : {}) }),
    nextRequestId: requestIds(),
    draining: () => draining,
  };
  const handle = requestHandler({
    core: o.core,
    authenticate: createAuthenticator({
      credentials: o.credentials,
      region: o.region,
      ...(o.replayBudgetPerKey ? { replayBudgetPerKey: o.replayBudgetPerKey } : {}),
      ...(sessions ? { sessions } : {}),
      ...(o.now ? { now: o.now } : {}),
    }),
    operations: operationTable(o),
    ...common,
    ...(o.onResponse ? { onResponse: o.onResponse } : {}),
    ...(o.webIdentity && sessions ? { sts: stsHandler(o, o.webIdentity, sessions, common) } : {}),
  });
  const { server, endpoint } = await startListener(
    {
      listen: o.listen,
      ...(o.tls ? { tls: o.tls } : {}),
      requestTimeoutMs: o.requestTimeoutMs ?? 30_000,
      maxConnections: o.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    },
    handle,
  );
  const drain = async (graceMs: number) => {
    draining = true;
    await drainListener(server, graceMs);
    await o.audit?.close();
  };
  return { server, endpoint, drain, close: () => drain(Number.POSITIVE_INFINITY) };
}

/** AssumeRoleWithWebIdentity, answered on the same listener (sts/handle-sts.ts). */
function stsHandler(
  o: AwsServerOptions,
  w: WebIdentityOptions,
  sessions: Sessions,
  common: Omit<StsDeps, 'assume'>,
): (req: IncomingMessage, res: ServerResponse) => void {
  const assume = assumeRoleWithWebIdentity({
    audience: w.audience,
    minDurationSeconds: w.minDurationSeconds,
    arn: o.core.arn,
    review: w.review,
    sessions,
    now: o.now ?? Date.now,
  });
  return stsRequestHandler({ ...common, assume });
}

/** The operation table with the adapter's own refusals: plugin-only keys, key creation limits. */
function operationTable(o: AwsServerOptions): Readonly<Record<string, Handler>> {
  const guarded = withPluginOnlyKeys(o.operations ?? OPERATIONS, o.pluginOnlyKeys ?? [SECRETS_KEY_ALIAS]);
  return withKeyLimitsOn(guarded, o.keyLimits ?? DEFAULT_KEY_LIMITS, o.now);
}
