/** serve's flags as a ServeConfig: a section per part that is on, none for a part that is off, errors naming the flag. */
import { describe, expect, it } from 'vitest';
import { UsageError } from './flags.ts';
import { parseServeArgs } from './serve-config.ts';

const config = (argv: string[], env: Record<string, string> = {}) => parseServeArgs(argv, env, '/srv');
const usage = (argv: string[], env: Record<string, string> = {}): string => {
  try {
    config(argv, env);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  return 'no error';
};

const NEXT_HSM = [
  '--shared-state',
  '--next-pkcs11-module',
  'lib/m.so',
  '--next-pkcs11-token-label',
  't',
  '--next-pkcs11-key-label',
  'l',
];

describe('ServeConfig', () => {
  it('--next-pkcs11-* (with --shared-state): a pkcs11 root key held staged from start; env twins too', () => {
    const pkcs11 = { modulePath: '/srv/lib/m.so', slot: undefined, tokenLabel: 't', keyLabel: 'l' };
    expect(config(['--dev', ...NEXT_HSM, '--next-pkcs11-pin-file', 'pin']).nextRootKey).toEqual({
      provider: 'pkcs11',
      dev: false,
      pkcs11: { ...pkcs11, pinFile: '/srv/pin' },
    });
    const env = {
      KUBEKMS_SHARED_STATE: 'true',
      KUBEKMS_NEXT_PKCS11_MODULE: 'lib/m.so',
      KUBEKMS_NEXT_PKCS11_SLOT: '3',
      KUBEKMS_NEXT_PKCS11_KEY_LABEL: 'l',
    };
    expect(config(['--dev'], env).nextRootKey).toEqual({
      provider: 'pkcs11',
      dev: false,
      pkcs11: { ...pkcs11, slot: 3, tokenLabel: undefined, pinFile: undefined },
    });
    expect(config(['--dev', '--shared-state', '--next-root-key-file', 'k']).nextRootKey).toEqual({
      provider: 'file',
      rootKeyFile: '/srv/k',
      dev: false,
    });
    expect(config(['--dev', '--shared-state']).nextRootKey).toBeUndefined();
    expect(
      usage(['--dev', ...NEXT_HSM.slice(0, 3), '--next-pkcs11-key-label', 'l'], {
        KUBEKMS_NEXT_PKCS11_SLOT: '-1',
      }),
    ).toMatch(/^--next-pkcs11-slot: a slot id is ≥ 0, got -1$/);
  });

  it('plugin only by default: no AWS, operator or shared-state section', () => {
    const c = config(['--dev', '--data-dir', 'data', '--kms-socket', 'run/kms.sock']);
    expect(c.keystore).toEqual({ dataDir: '/srv/data', requireAuthenticated: false });
    expect(
      config(['--dev'], { KUBEKMS_REQUIRE_AUTHENTICATED_RECORDS: 'true' }).keystore.requireAuthenticated,
    ).toBe(true);
    expect(c.kmsv2).toEqual({
      socket: { path: '/srv/run/kms.sock', mode: 0o600 },
      apiVersion: 'v2',
    });
    expect(c.shutdownGraceMs).toBe(10_000);
    expect(c.health).toEqual({ host: '127.0.0.1', port: 9810, maxConnections: 64 });
    expect(c.rootKey).toEqual({ provider: 'file', rootKeyFile: undefined, dev: true });
    expect(c.engine).toEqual({
      arn: { partition: 'aws', region: 'us-east-1', account: '000000000000' },
      crypto: 'node',
      secretsKey: 'alias/kubekms/secrets',
      maintenanceIntervalMs: 60_000,
    });
    expect(c.log).toEqual({ level: 'info' });
    expect([c.aws, c.operator, c.sharedState]).toEqual([undefined, undefined, undefined]);
    expect(config(['--dev', '--kms-socket', '', '--health-listen', '']).kmsv2).toBeUndefined();
  });

  it('gives each enabled part its section', () => {
    const c = config(
      [
        '--dev',
        '--aws-listen',
        '127.0.0.1:0',
        '--operator',
        '--shared-state',
        '--kubeconfig',
        'kc',
        '--audit-log',
        'a.log',
      ],
      { NODE_NAME: 'Node-1' },
    );
    expect(c.aws).toEqual({
      listen: { host: '127.0.0.1', port: 0 },
      devCredential: true,
      requestTimeoutMs: 30_000,
      cluster: { kubeconfig: '/srv/kc', namespace: 'kubekms', timeoutMs: 20_000 },
      maxConnections: 512,
      replayBudgetPerKey: 200_000,
      keyLimits: { maxKeys: 10_000, createsPerPrincipalPerHour: 100 },
      pluginOnlyKeys: ['alias/kubekms/secrets'],
    });
    expect(c.operator).toMatchObject({ kubeconfig: '/srv/kc', namespace: 'kubekms', leaderElection: true });
    expect(c.operator?.reencrypt).toMatchObject({ resources: ['secrets'], delayMs: 600_000, qps: 50 });
    expect(c.sharedState).toEqual({
      kubeconfig: '/srv/kc',
      namespace: 'kubekms',
      instance: 'node-1',
      ackTimeoutMs: 60_000,
      initialWaitMs: 3_000,
    });
    expect(c.log.file).toEqual({ path: '/srv/a.log', maxBytes: 100 * 1024 * 1024, maxFiles: 5 });
  });

  it('--aws-sts: web identity with the audience and the shortest session; no credentials file needed', () => {
    const c = config(['--no-dev', '--root-key-file', 'k', '--aws-listen', '127.0.0.1:1', '--aws-sts']);
    expect(c.aws?.sts).toEqual({ audience: 'kubekms', minDurationSeconds: 900, kubeconfig: '' });
    expect(c.aws?.credentialsFile).toBeUndefined();
    const d = config(['--dev', '--aws-listen', '127.0.0.1:1', '--aws-sts', '--aws-sts-min-duration', '1s'], {
      KUBEKMS_AWS_STS_AUDIENCE: 'sts.example',
      KUBEKMS_KUBECONFIG: 'kc',
    });
    expect(d.aws?.sts).toEqual({ audience: 'sts.example', minDurationSeconds: 1, kubeconfig: '/srv/kc' });
    expect(config(['--dev', '--aws-listen', '127.0.0.1:1']).aws?.sts).toBeUndefined();
  });

  it('names the flag of every bad value', () => {
    const cases: [string[], RegExp][] = [
      [['--socket-mode', '0666'], /^--socket-mode: 0666 gives access to every user/],
      [['--health-listen', 'nope'], /^--health-listen: expected HOST:PORT/],
      [['--arn-account', '12'], /^--arn-account/],
      [['--data-dir', ''], /^--data-dir: must not be empty/],
      [['--maintenance-interval', '10ms'], /^--maintenance-interval: at least 1s/],
      [['--audit-log', 'x', '--audit-log-max-files', '0'], /^--audit-log-max-files: at least 1/],
      [['--aws-listen', '0.0.0.0:443'], /^--aws-listen: plain HTTP is allowed only on a loopback address/],
      [['--aws-listen', '127.0.0.1:1', '--no-dev'], /^--aws-listen: no credentials/],
      [
        ['--aws-listen', '127.0.0.1:1', '--aws-tls-cert', 'c'],
        /^--aws-tls-cert and --aws-tls-key: give both/,
      ],
      [
        ['--aws-listen', '127.0.0.1:1', '--aws-management', 'cluster'],
        /^--aws-management=cluster needs --operator/,
      ],
      [
        ['--aws-listen', '127.0.0.1:1', '--operator', '--aws-cluster-timeout', '40s'],
        /^--aws-cluster-timeout \(40000 ms\) must be shorter than --aws-request-timeout/,
      ],
      [
        ['--shared-state', '--instance-name', 'Bad Name'],
        /^--instance-name: "bad name" is not a valid object name/,
      ],
      [
        ['--operator', '--reencrypt-resources', 'Secrets'],
        /^--reencrypt-resources: "Secrets" is not a resource name/,
      ],
      [['--pkcs11-slot', '1'], /^--pkcs11-slot: only with --root-key-provider pkcs11/],
      [
        ['--aws-listen', '127.0.0.1:1', '--aws-sts', '--aws-sts-audience', 'a b'],
        /^--aws-sts-audience: must be/,
      ],
      [
        ['--aws-listen', '127.0.0.1:1', '--aws-sts', '--aws-sts-min-duration', '2h'],
        /^--aws-sts-min-duration: must be whole seconds from 1s to 1h/,
      ],
      [
        ['--aws-listen', '127.0.0.1:1', '--aws-sts', '--aws-sts-min-duration', '1500ms'],
        /^--aws-sts-min-duration: must be whole seconds/,
      ],
      [['extra'], /^serve takes no arguments, got "extra"/],
      [['--next-root-key-file', 'k'], /^--next-root-key-file: only with --shared-state/],
      [['--next-pkcs11-key-label', 'l'], /^--next-pkcs11-key-label: only with --shared-state/],
      [
        ['--shared-state', '--next-root-key-file', 'k', '--next-pkcs11-module', 'm.so'],
        /^--next-root-key-file and --next-pkcs11-module: give one next root key, not both$/,
      ],
      [
        ['--shared-state', '--next-pkcs11-module', 'm.so', '--next-pkcs11-token-label', 't'],
        /^--next-pkcs11-key-label: required for a next root key in an HSM/,
      ],
      [
        ['--shared-state', '--next-pkcs11-key-label', 'l', '--next-pkcs11-slot', '0'],
        /^--next-pkcs11-module: required for a next root key in an HSM/,
      ],
      [
        ['--shared-state', '--next-pkcs11-module', 'm.so', '--next-pkcs11-key-label', 'l'],
        /^--next-pkcs11-slot or --next-pkcs11-token-label: one is required for a next root key in an HSM$/,
      ],
      [
        [...NEXT_HSM, '--next-pkcs11-slot', '0'],
        /^--next-pkcs11-slot and --next-pkcs11-token-label: give one, not both$/,
      ],
      [['--shared-state', ...NEXT_HSM, '--next-pkcs11-pin', '1234'], /^unknown flag --next-pkcs11-pin$/],
    ];
    for (const [argv, message] of cases) expect(usage(['--dev', ...argv]), argv.join(' ')).toMatch(message);
  });
});
