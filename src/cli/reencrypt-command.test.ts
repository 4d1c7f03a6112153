import { describe, expect, it } from 'vitest';
import type { ReencryptionStatus } from '../api/kinds.ts';
import { UsageError } from './flags.ts';
import { describeReencryption, progressBar } from './reencrypt-command.ts';
import { reencryptOptions } from './serve-config.ts';

const s = (o: Partial<ReencryptionStatus>): ReencryptionStatus => ({
  phase: 'Running',
  keyVersion: 2,
  total: 200,
  done: 90,
  skipped: 5,
  failed: 5,
  startedAt: '2026-11-29T16:00:00.000Z',
  ...o,
});

describe('reencryptOptions', () => {
  it('parses the resource list, delay and qps', () => {
    expect(
      reencryptOptions(
        {
          'reencrypt-resources': ' secrets, widgets.example.com ',
          'reencrypt-delay': 1000,
          'reencrypt-qps': 0,
        },
        'alias/kubekms/secrets',
      ),
    ).toEqual({
      reencrypt: {
        secretsKey: 'alias/kubekms/secrets',
        resources: ['secrets', 'widgets.example.com'],
        delayMs: 1000,
        qps: 0,
      },
    });
  });
  it('an empty list turns re-encryption off', () => {
    expect(
      reencryptOptions({ 'reencrypt-resources': '', 'reencrypt-delay': 1000, 'reencrypt-qps': 50 }, 'k'),
    ).toEqual({});
  });
  it.each([
    [
      { 'reencrypt-resources': 'Secrets', 'reencrypt-delay': 1000, 'reencrypt-qps': 0 },
      /not a resource name/,
    ],
    [{ 'reencrypt-resources': 'secrets', 'reencrypt-delay': 1000, 'reencrypt-qps': -1 }, /≥ 0/],
  ])('refuses %j', (flags, msg) => {
    expect(() => reencryptOptions(flags, 'k')).toThrow(UsageError);
    expect(() => reencryptOptions(flags, 'k')).toThrow(msg);
  });
});

describe('progress output', () => {
  it.each<[ReencryptionStatus | undefined, RegExp]>([
    [undefined, /no re-encryption recorded/],
    [
      s({ phase: 'Pending', notBefore: '2026-11-29T16:10:00.000Z' }),
      /key version 2: Pending, starts at 2026-11-29T16:10/,
    ],
    [s({}), /key version 2: Running 100\/200 \(50%\): 90 rewritten, 5 gone, 5 failed; started/],
    [
      s({
        phase: 'Pending',
        notBefore: '2026-11-29T16:10:00.000Z',
        switchover: { apiservers: 2, switched: 1 },
      }),
      /Pending, starts at 2026-11-29T16:10:00.000Z or once every API server writes under the new key_id \(1 of 2 seen\)/,
    ],
    [
      s({ phase: 'Pending', switchover: { apiservers: 0, switched: 0, unavailable: 'GET /metrics: 403' } }),
      /switch-over not visible: GET \/metrics: 403/,
    ],
    [s({ method: 'StorageVersionMigration' }), /Running \(StorageVersionMigration\) 100\/200/],
    [
      s({ phase: 'Completed', done: 195, failed: 0, finishedAt: '2026-11-29T16:01:00.000Z' }),
      /Completed 200\/200 \(100%\).*→ 2026-11-29T16:01/,
    ],
    [
      s({ phase: 'Completed', unknownResources: ['widgets.example.com'] }),
      /unknown resources: widgets.example.com/,
    ],
  ])('%j', (st, want) => {
    expect(describeReencryption(st)).toMatch(want);
  });

  it('draws a bar proportional to the objects handled', () => {
    expect(progressBar(s({}), 10)).toBe('[#####.....]  50%');
    expect(progressBar(s({ total: 0, done: 0, skipped: 0, failed: 0 }), 4)).toBe('[....]   0%');
    expect(progressBar(s({ phase: 'Completed' }), 4)).toBe('[####] 100%');
  });
});
