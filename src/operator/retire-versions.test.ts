// Which pass outcomes retire old versions, and the rate limit of RetiredVersionUsed Events.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { KmsKey, ReencryptionStatus } from '../api/kinds.ts';
import type { EventInput } from '../kube/events.ts';
import type { OperatorContext } from './context.ts';
import { RetiredUseEvents, verifiedCompletion } from './retire-versions.ts';

const done: ReencryptionStatus = {
  phase: 'Completed',
  keyVersion: 3,
  total: 10,
  done: 9,
  skipped: 1,
  failed: 0,
  switchover: { apiservers: 2, switched: 2 },
};

describe('verifiedCompletion', () => {
  it.each([
    ['completed, 0 failures', done, 3, 3],
    ['completed for an older version', done, 4, undefined],
    ['failures', { ...done, phase: 'Failed', failed: 1 } as ReencryptionStatus, 3, undefined],
    ['running', { ...done, phase: 'Running' } as ReencryptionStatus, 3, undefined],
    ['a resource skipped as unknown', { ...done, unknownResources: ['widgets.x'] }, 3, undefined],
    ['no pass recorded', undefined, 3, undefined],
    [
      'started on the delay, one API server not seen switching',
      { ...done, switchover: { apiservers: 2, switched: 1 } },
      3,
      undefined,
    ],
    [
      'started on the delay, metrics unreadable',
      { ...done, switchover: { apiservers: 0, switched: 0, unavailable: '403' } },
      3,
      undefined,
    ],
    ['no switch-over recorded (kubekms did not look)', { ...done, switchover: undefined }, 3, undefined],
  ])('%s', (_what, s, version, want) => {
    expect(verifiedCompletion(s, version)).toBe(want);
  });
});

describe('RetiredUseEvents', () => {
  it('one Warning per version per period, then one saying how many uses it left out', () => {
    const events: EventInput[] = [];
    const o: KmsKey = {
      apiVersion: 'kubekms.io/v1alpha1',
      kind: 'KmsKey',
      metadata: { name: 'secrets', namespace: 'kubekms', uid: 'u' },
      status: { keyId: 'k1' },
    };
    const ctx = {
      recorder: { record: (e: EventInput) => void events.push(e) },
      log: pino({ level: 'silent' }),
      keys: { list: () => [o] },
    } as unknown as OperatorContext;
    let now = 0;
    const r = new RetiredUseEvents(ctx, 600_000, () => now);
    const use = { keyId: 'k1', version: 1, keyManager: 'CLUSTER' as const, at: 0 };
    for (let i = 0; i < 5; i++) r.onUse(use);
    r.onUse({ ...use, version: 2 });
    now = 600_000;
    r.onUse({ ...use, refused: 'DecryptDisabled' });
    r.onUse({ ...use, keyId: 'unknown' }); // no KmsKey reports it: nothing
    expect(events.map((e) => [e.type, e.reason, e.note])).toEqual([
      [
        'Warning',
        'RetiredVersionUsed',
        'a decrypt under retired version 1 of key k1 was allowed: some data under it was not re-encrypted',
      ],
      [
        'Warning',
        'RetiredVersionUsed',
        'a decrypt under retired version 2 of key k1 was allowed: some data under it was not re-encrypted',
      ],
      [
        'Warning',
        'RetiredVersionUsed',
        'a decrypt under retired version 1 of key k1 was refused (DecryptDisabled) (and 4 more since the last Event)',
      ],
    ]);
  });
});
