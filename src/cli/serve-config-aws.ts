/**
 * The AWS API section of serve's configuration: --aws-listen (off when empty), --aws-tls-cert/--aws-tls-key
 * (HTTPS; plain HTTP only on a loopback host), --aws-credentials, the --dev administrator, the request timeout,
 * cluster mode (--aws-management) and web identity (--aws-sts). Checked here, before anything starts; the files are read when the API starts.
 */
import { SECRETS_KEY_ALIAS } from '../engine/ops-maintenance.ts';
import { UsageError } from './flags.ts';
import { isLoopback, type Listen, parseListen } from './listen.ts';
import type { ServeFlags } from './serve-config.ts';

export interface AwsSection {
  readonly listen: Listen;
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  readonly credentialsFile?: string;
  /** --dev: the access key test/test is an administrator of every key. */
  readonly devCredential: boolean;
  readonly requestTimeoutMs: number;
  /** Management operations act through KmsKey/KmsAlias/KmsGrant objects (needs the operator). */
  readonly cluster?: { readonly kubeconfig: string; readonly namespace: string; readonly timeoutMs: number };
  /** Connections held at once (--aws-max-connections). */
  readonly maxConnections: number;
  /** Remembered signatures per access key (--aws-replay-budget). */
  readonly replayBudgetPerKey: number;
  /** --aws-max-keys, --aws-key-creations-per-hour. */
  readonly keyLimits: { readonly maxKeys: number; readonly createsPerPrincipalPerHour: number };
  /** Keys that serve the KMS v2 plugin only: the cluster-managed Secrets key and --secrets-key. */
  readonly pluginOnlyKeys: readonly string[];
  /** --aws-sts: AssumeRoleWithWebIdentity, its tokens reviewed through `kubeconfig`. */
  readonly sts?: {
    readonly audience: string;
    readonly minDurationSeconds: number;
    readonly kubeconfig: string;
  };
}

export function awsSection(f: ServeFlags): { aws?: AwsSection } {
  if (!f['aws-listen']) return {};
  const listen = parseListen(f['aws-listen'], 'aws-listen');
  const certFile = f['aws-tls-cert'] || undefined;
  const keyFile = f['aws-tls-key'] || undefined;
  if (Boolean(certFile) !== Boolean(keyFile))
    throw new UsageError('--aws-tls-cert and --aws-tls-key: give both or neither');
  if (!certFile && !isLoopback(listen.host)) {
    throw new UsageError(
      `--aws-listen: plain HTTP is allowed only on a loopback address (127.0.0.1, ::1, localhost), not ${listen.host}; give --aws-tls-cert and --aws-tls-key to serve HTTPS`,
    );
  }
  const credentialsFile = f['aws-credentials'] || undefined;
  if (!credentialsFile && !f.dev && !f['aws-sts'])
    throw new UsageError(
      '--aws-listen: no credentials; give --aws-credentials FILE or --aws-sts (there is no anonymous access)',
    );
  const requestTimeoutMs = f['aws-request-timeout'];
  if (requestTimeoutMs <= 0) throw new UsageError('--aws-request-timeout: must be more than 0');
  return {
    aws: {
      listen,
      ...(certFile && keyFile ? { tls: { certFile, keyFile } } : {}),
      ...(credentialsFile ? { credentialsFile } : {}),
      devCredential: f.dev,
      requestTimeoutMs,
      ...clusterMode(f, requestTimeoutMs),
      ...limits(f),
      pluginOnlyKeys: [...new Set([SECRETS_KEY_ALIAS, f['secrets-key']])],
      ...stsSection(f),
    },
  };
}

/** --aws-sts: the token audience and the shortest session (whole seconds, 1 s to 1 h). */
function stsSection(f: ServeFlags): Pick<AwsSection, 'sts'> {
  if (!f['aws-sts']) return {};
  const audience = f['aws-sts-audience'];
  if (!/^[\x21-\x7e]{1,256}$/.test(audience))
    throw new UsageError('--aws-sts-audience: must be 1-256 printable characters without spaces');
  const min = f['aws-sts-min-duration'];
  if (min % 1000 !== 0 || min < 1000 || min > 3_600_000)
    throw new UsageError(`--aws-sts-min-duration: must be whole seconds from 1s to 1h, got ${min} ms`);
  return { sts: { audience, minDurationSeconds: min / 1000, kubeconfig: f.kubeconfig } };
}

/** --aws-management: `cluster` (the default with --operator) or `engine`. */
function clusterMode(f: ServeFlags, requestTimeoutMs: number): Pick<AwsSection, 'cluster'> {
  const mode = f['aws-management'];
  if (mode === 'engine' || (mode === 'auto' && !f.operator)) return {};
  if (!f.operator)
    throw new UsageError(
      '--aws-management=cluster needs --operator: the operator reconciles the objects the AWS API writes',
    );
  const timeoutMs = f['aws-cluster-timeout'];
  if (timeoutMs <= 0) throw new UsageError('--aws-cluster-timeout: must be more than 0');
  if (timeoutMs >= requestTimeoutMs)
    throw new UsageError(
      `--aws-cluster-timeout (${timeoutMs} ms) must be shorter than --aws-request-timeout (${requestTimeoutMs} ms): a request that waits longer is cut off without an answer`,
    );
  return { cluster: { kubeconfig: f.kubeconfig, namespace: f.namespace, timeoutMs } };
}

/** The listener's connection cap, the replay budget and the key creation limits: each at least 1. */
function limits(f: ServeFlags): Pick<AwsSection, 'maxConnections' | 'replayBudgetPerKey' | 'keyLimits'> {
  const positive = (
    name: 'aws-max-connections' | 'aws-replay-budget' | 'aws-max-keys' | 'aws-key-creations-per-hour',
  ) => {
    const v = f[name];
    if (!Number.isInteger(v) || v < 1)
      throw new UsageError(`--${name}: must be a whole number of at least 1, got ${v}`);
    return v;
  };
  return {
    maxConnections: positive('aws-max-connections'),
    replayBudgetPerKey: positive('aws-replay-budget'),
    keyLimits: {
      maxKeys: positive('aws-max-keys'),
      createsPerPrincipalPerHour: positive('aws-key-creations-per-hour'),
    },
  };
}
