/** The flags of `kubekms serve`, each with an environment-variable twin. */
import type { FlagSpec } from './flags.ts';

export const SERVE_FLAGS: readonly FlagSpec[] = [
  {
    name: 'data-dir',
    type: 'string',
    default: '/var/lib/kubekms',
    help: 'Directory of the local keystore (created mode 0700).',
  },
  {
    name: 'root-key-file',
    type: 'string',
    help: 'Root key: a file of 32 random bytes (raw, hex or base64), mode 0600. Wraps every key at rest.',
  },
  {
    name: 'dev',
    type: 'boolean',
    default: false,
    help: 'Development mode: create a root key inside --data-dir if none is given. Never in production.',
  },
  {
    name: 'kms-socket',
    type: 'string',
    default: '/var/run/kubekms/kms.sock',
    help: 'Unix socket of the Kubernetes KMS v2 plugin API. Empty to disable the plugin.',
  },
  { name: 'socket-mode', type: 'string', default: '0600', help: 'Permissions of the plugin socket (octal).' },
  { name: 'socket-uid', type: 'int', help: 'Owner uid of the plugin socket (default: the process user).' },
  { name: 'socket-gid', type: 'int', help: 'Group gid of the plugin socket (default: the process group).' },
  {
    name: 'secrets-key',
    type: 'string',
    default: 'alias/kubekms/secrets',
    help: 'Key that wraps kube-apiserver DEK seeds: the cluster-managed default (created on first start) or a customer key id, ARN or alias.',
  },
  {
    name: 'kmsv2-api-version',
    type: { oneOf: ['v2', 'v2beta1'] },
    default: 'v2',
    help: 'Version string Status reports (v2beta1 only for Kubernetes 1.27/1.28).',
  },
  {
    name: 'health-listen',
    type: 'string',
    default: '127.0.0.1:9810',
    help: 'HOST:PORT of the /livez, /readyz and /metrics listener. Empty to disable.',
  },
  {
    name: 'log-level',
    type: { oneOf: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] },
    default: 'info',
    help: 'Log level.',
  },
  {
    name: 'arn-partition',
    type: 'string',
    default: 'aws',
    help: 'Partition in key ARNs. Fixed per installation.',
  },
  {
    name: 'arn-region',
    type: 'string',
    default: 'us-east-1',
    help: 'Region in key ARNs. Fixed per installation.',
  },
  {
    name: 'arn-account',
    type: 'string',
    default: '000000000000',
    help: '12-digit account in key ARNs. Fixed per installation.',
  },
  {
    name: 'crypto-provider',
    type: { oneOf: ['node', 'noble'] },
    default: 'node',
    help: 'Primitive implementation: node:crypto (OpenSSL) or pure-JS noble.',
  },
  {
    name: 'maintenance-interval',
    type: 'duration',
    default: 60_000,
    defaultText: ' (default 60s)',
    help: 'How often due rotations and deletions run.',
  },
  {
    name: 'shutdown-grace',
    type: 'duration',
    default: 10_000,
    defaultText: ' (default 10s)',
    help: 'How long SIGTERM waits for in-flight calls.',
  },
  {
    name: 'aws-listen',
    type: 'string',
    default: '',
    help: 'HOST:PORT of the AWS-KMS-compatible API (JSON 1.1, SigV4). Empty (the default) to disable. Plain HTTP only on loopback.',
  },
  { name: 'aws-tls-cert', type: 'string', help: 'PEM certificate chain for the AWS API (HTTPS).' },
  { name: 'aws-tls-key', type: 'string', help: 'PEM private key for the AWS API (HTTPS).' },
  {
    name: 'aws-credentials',
    type: 'string',
    help: 'JSON file of AWS API access keys: {"credentials":[{"accessKeyId","secretAccessKey","principal","admin"}]}, mode 0600.',
  },
  {
    name: 'aws-request-timeout',
    type: 'duration',
    default: 30_000,
    defaultText: ' (default 30s)',
    help: 'How long one AWS API request may take to arrive and be answered.',
  },
];
