/**
 * `kubekms serve`'s configuration: its flags parsed once into a typed section per part of the process (logging,
 * root key, keystore, engine, KMS v2 plugin, health listener, AWS API, operator, shared state). A part that is off
 * has no section. Every bad value is a usage error that names its flag.
 */
import { hostname } from 'node:os';
import type { LevelWithSilent } from 'pino';
import type { CryptoProviderName } from '../crypto/provider.ts';
import { type ArnConfig, validateArnConfig } from '../engine/identifiers.ts';
import type { PluginApiVersion } from '../kmsv2/plugin.ts';
import type { SocketOptions } from '../kmsv2/socket.ts';
import type { ReencryptOptions } from '../operator/reencrypt-controller.ts';
import { noPositionals } from './commands.ts';
import { type FlagValuesOf, parseFlags, UsageError } from './flags.ts';
import { type Listen, parseListen } from './listen.ts';
import { type RootKeySection, rootKeyOptionsFromFlags } from './root-key-flags.ts';
import { type AwsSection, awsSection } from './serve-config-aws.ts';
import { SERVE_FLAGS } from './serve-flags.ts';
import { nextRootKeySection } from './serve-next-root.ts';

export type ServeFlags = FlagValuesOf<typeof SERVE_FLAGS>;
type Env = Readonly<Record<string, string | undefined>>;

export interface ServeConfig {
  readonly log: {
    readonly level: LevelWithSilent;
    /** --audit-log: the process log goes to this size-rotated file instead of stdout. */
    readonly file?: { readonly path: string; readonly maxBytes: number; readonly maxFiles: number };
  };
  readonly rootKey: RootKeySection;
  /**
   * --next-root-key-file or --next-pkcs11-* (with --shared-state): a root key held staged from start for an HA
   * root-key rotation (serve-next-root.ts).
   */
  readonly nextRootKey?: RootKeySection;
  readonly keystore: { readonly dataDir: string; readonly requireAuthenticated: boolean };
  /** --admin-socket: serve <dataDir>/admin.sock (admin-server.ts). */
  readonly adminSocket: boolean;
  /** --shutdown-grace: on SIGTERM, how long the listeners' in-flight calls may run before they are cancelled. */
  readonly shutdownGraceMs: number;
  readonly engine: {
    readonly arn: ArnConfig;
    readonly crypto: CryptoProviderName;
    readonly secretsKey: string;
    readonly maintenanceIntervalMs: number;
  };
  readonly kmsv2?: {
    readonly socket: SocketOptions;
    readonly apiVersion: PluginApiVersion;
  };
  readonly health?: Listen & { readonly maxConnections: number };
  readonly aws?: AwsSection;
  readonly operator?: {
    readonly kubeconfig: string;
    readonly namespace: string;
    readonly leaderElection: boolean;
    readonly deletionWindowOverrideMs?: number;
    readonly reencrypt?: ReencryptOptions;
  };
  readonly sharedState?: {
    readonly kubeconfig: string;
    readonly namespace: string;
    readonly instance: string;
    readonly ackTimeoutMs: number;
    readonly initialWaitMs: number;
  };
}

/** serve's command line (and environment) as a ServeConfig; relative paths mean paths under `cwd`. */
export function parseServeArgs(argv: readonly string[], env: Env = {}, cwd = process.cwd()): ServeConfig {
  const { values, positionals } = parseFlags(SERVE_FLAGS, argv, env, cwd);
  noPositionals('serve', positionals);
  return serveConfig(values, env);
}

export function serveConfig(f: ServeFlags, env: Env): ServeConfig {
  const secretsKey = f['secrets-key'];
  const operator = f.operator;
  return {
    log: { level: f['log-level'], ...auditLogFile(f) },
    rootKey: rootKeyOptionsFromFlags(f),
    ...nextRootKeySection(f),
    keystore: {
      dataDir: nonEmpty(f['data-dir'], 'data-dir'),
      requireAuthenticated: f['require-authenticated-records'],
    },
    adminSocket: f['admin-socket'],
    shutdownGraceMs: f['shutdown-grace'],
    engine: {
      arn: arnConfig(f),
      crypto: f['crypto-provider'],
      secretsKey,
      maintenanceIntervalMs: atLeast(f['maintenance-interval'], 1000, 'maintenance-interval', '1s'),
    },
    ...(f['kms-socket']
      ? {
          kmsv2: {
            socket: {
              path: f['kms-socket'],
              mode: parseMode(f['socket-mode']),
              ...(f['socket-uid'] !== undefined ? { uid: f['socket-uid'] } : {}),
              ...(f['socket-gid'] !== undefined ? { gid: f['socket-gid'] } : {}),
            },
            apiVersion: f['kmsv2-api-version'],
          },
        }
      : {}),
    ...(f['health-listen']
      ? {
          health: {
            ...parseListen(f['health-listen'], 'health-listen'),
            maxConnections: atLeast(f['health-max-connections'], 1, 'health-max-connections', '1'),
          },
        }
      : {}),
    ...awsSection(f),
    ...(operator
      ? {
          operator: {
            kubeconfig: f.kubeconfig,
            namespace: f.namespace,
            leaderElection: f['leader-elect'],
            ...(f['test-deletion-window'] !== undefined
              ? { deletionWindowOverrideMs: f['test-deletion-window'] }
              : {}),
            ...reencryptOptions(f, secretsKey),
            ...(f['shared-state'] ? { sharedState: true } : {}),
          },
        }
      : {}),
    ...(f['shared-state']
      ? {
          sharedState: {
            kubeconfig: f.kubeconfig,
            namespace: f.namespace,
            instance: instanceName(f['instance-name'], env),
            ackTimeoutMs: f['rotation-ack-timeout'],
            initialWaitMs: f['state-sync-wait'],
          },
        }
      : {}),
  };
}

function nonEmpty(value: string, flag: string): string {
  if (value === '') throw new UsageError(`--${flag}: must not be empty`);
  return value;
}

function atLeast(ms: number, min: number, flag: string, minText: string): number {
  if (ms < min) throw new UsageError(`--${flag}: at least ${minText}, got ${ms} ms`);
  return ms;
}

function arnConfig(f: ServeFlags): ArnConfig {
  try {
    return validateArnConfig({
      partition: f['arn-partition'],
      region: f['arn-region'],
      account: f['arn-account'],
    });
  } catch (e) {
    throw new UsageError(`--arn-${(e as Error).message}`);
  }
}

function parseMode(value: string): number {
  if (!/^0?[0-7]{3}$/.test(value))
    throw new UsageError(`--socket-mode: expected an octal mode such as 0600, got ${JSON.stringify(value)}`);
  const mode = Number.parseInt(value, 8);
  if (mode & 0o007) throw new UsageError(`--socket-mode: ${value} gives access to every user; at most 0660`);
  return mode;
}

function auditLogFile(f: ServeFlags): Pick<ServeConfig['log'], 'file'> {
  const path = f['audit-log'];
  if (!path) return {};
  const maxMiB = f['audit-log-max-size'];
  const maxFiles = f['audit-log-max-files'];
  if (!(maxMiB >= 1)) throw new UsageError('--audit-log-max-size: at least 1 (MiB)');
  if (!(maxFiles >= 1)) throw new UsageError('--audit-log-max-files: at least 1');
  return { file: { path, maxBytes: maxMiB * 1024 * 1024, maxFiles } };
}

/** `reencrypt` of the operator, from --reencrypt-resources/-delay/-qps; none when the resource list is empty. */
export function reencryptOptions(
  f: Pick<ServeFlags, 'reencrypt-resources' | 'reencrypt-delay' | 'reencrypt-qps'>,
  secretsKey: string,
): { reencrypt?: ReencryptOptions } {
  const resources = f['reencrypt-resources']
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const r of resources)
    if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(r))
      throw new UsageError(
        `--reencrypt-resources: ${JSON.stringify(r)} is not a resource name (plural[.group])`,
      );
  const qps = f['reencrypt-qps'];
  if (qps < 0) throw new UsageError(`--reencrypt-qps: must be ≥ 0 (0 = unlimited), got ${qps}`);
  if (resources.length === 0) return {};
  return { reencrypt: { secretsKey, resources, delayMs: f['reencrypt-delay'], qps } };
}

/** `--instance-name`, else $NODE_NAME (set from the downward API), else the host name. */
function instanceName(flag: string, env: Env): string {
  const name = (flag || env.NODE_NAME || hostname()).toLowerCase();
  if (!/^[a-z0-9]([-a-z0-9.]{0,200}[a-z0-9])?$/.test(name)) {
    throw new UsageError(
      `--instance-name: ${JSON.stringify(name)} is not a valid object name (lower case, digits, '-', '.')`,
    );
  }
  return name;
}
