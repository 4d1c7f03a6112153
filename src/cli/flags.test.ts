import { describe, expect, it } from 'vitest';
import { envName, parseDuration, parseFlags, UsageError } from './flags.ts';
import { SERVE_FLAGS } from './serve-flags.ts';

describe('flags', () => {
  it('gives every serve flag an environment twin and help text', () => {
    for (const f of SERVE_FLAGS) {
      expect(envName(f.name)).toMatch(/^KUBEKMS_[A-Z0-9_]+$/);
      expect(f.help.length).toBeGreaterThan(5);
    }
    expect(envName('data-dir')).toBe('KUBEKMS_DATA_DIR');
  });

  it('takes defaults, then the environment, then the command line', () => {
    expect(parseFlags(SERVE_FLAGS, [], {}).values['data-dir']).toBe('/var/lib/kubekms');
    expect(parseFlags(SERVE_FLAGS, [], { KUBEKMS_DATA_DIR: '/env' }).values['data-dir']).toBe('/env');
    expect(
      parseFlags(SERVE_FLAGS, ['--data-dir=/cli'], { KUBEKMS_DATA_DIR: '/env' }).values['data-dir'],
    ).toBe('/cli');
    expect(parseFlags(SERVE_FLAGS, ['--dev'], {}).values.dev).toBe(true);
    expect(parseFlags(SERVE_FLAGS, ['--no-dev'], { KUBEKMS_DEV: 'true' }).values.dev).toBe(false);
    expect(parseFlags(SERVE_FLAGS, ['--maintenance-interval', '5m'], {}).values['maintenance-interval']).toBe(
      300_000,
    );
  });

  it('names the flag in every error', () => {
    const err = (argv: string[], env: Record<string, string> = {}) => {
      try {
        parseFlags(SERVE_FLAGS, argv, env);
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        return (e as Error).message;
      }
      return 'no error';
    };
    expect(err(['--bogus'])).toBe('unknown flag --bogus');
    expect(err(['--data-dir'])).toBe('--data-dir: needs a value');
    expect(err(['--socket-uid', 'root'])).toMatch(/^--socket-uid: expected an integer/);
    expect(err(['--kmsv2-api-version', 'v3'])).toMatch(/^--kmsv2-api-version: must be one of v2, v2beta1/);
    expect(err(['--maintenance-interval', 'soon'])).toMatch(/^--maintenance-interval: expected a duration/);
    expect(err([], { KUBEKMS_DEV: 'maybe' })).toMatch(/^KUBEKMS_DEV \(for --dev\): expected true or false/);
  });

  it('resolves path flags (and their environment twins) against the working directory, once', () => {
    const p = (argv: string[], env: Record<string, string> = {}) =>
      parseFlags(SERVE_FLAGS, argv, env, '/home/u/x').values;
    const v = p(['--data-dir', '.data', '--kms-socket', '.data/kms.sock', '--root-key-file=../root.key']);
    expect(v['data-dir']).toBe('/home/u/x/.data');
    expect(v['kms-socket']).toBe('/home/u/x/.data/kms.sock');
    expect(v['root-key-file']).toBe('/home/u/root.key');
    expect(p([], { KUBEKMS_AUDIT_LOG: 'log/audit.json' })['audit-log']).toBe('/home/u/x/log/audit.json');
    // Empty means "off" or "the default" and stays empty; absolute paths stay as given.
    expect(p(['--kms-socket', ''])['kms-socket']).toBe('');
    expect(p([]).kubeconfig).toBe('');
    expect(p(['--aws-credentials', '/etc/creds.json'])['aws-credentials']).toBe('/etc/creds.json');
    const paths = SERVE_FLAGS.filter((f) => f.type === 'path').map((f) => f.name);
    expect(paths).toEqual(
      expect.arrayContaining([
        'data-dir',
        'root-key-file',
        'kms-socket',
        'audit-log',
        'aws-tls-cert',
        'aws-tls-key',
        'aws-credentials',
        'pkcs11-module',
        'pkcs11-pin-file',
        'kubeconfig',
      ]),
    );
  });

  it('gives typed values: numbers, booleans and the closed choices', () => {
    const v = parseFlags(SERVE_FLAGS, ['--socket-uid', '7', '--kmsv2-api-version', 'v2beta1'], {}).values;
    const uid: number | undefined = v['socket-uid'];
    const version: 'v2' | 'v2beta1' = v['kmsv2-api-version'];
    const dev: boolean = v.dev;
    expect([uid, version, dev]).toEqual([7, 'v2beta1', false]);
  });

  it('parses durations', () => {
    expect(parseDuration('1500ms')).toBe(1500);
    expect(parseDuration('2')).toBe(2000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('-1s')).toBeUndefined();
  });
});
