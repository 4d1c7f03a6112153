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

  it('parses durations', () => {
    expect(parseDuration('1500ms')).toBe(1500);
    expect(parseDuration('2')).toBe(2000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('-1s')).toBeUndefined();
  });
});
