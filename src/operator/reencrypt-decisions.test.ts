import { describe, expect, it } from 'vitest';
import type { ReencryptionStatus } from '../api/kinds.ts';
import { passOutcome, planReencryption, type ReencryptionInput, remaining } from './reencrypt-decisions.ts';

const T0 = Date.parse('2026-11-29T12:00:00Z');
const MIN = 60_000;
const base: ReencryptionInput = {
  status: undefined,
  version: 2,
  versionCreatedAt: T0,
  now: T0 + 20 * MIN,
  delayMs: 10 * MIN,
  retryMs: 5 * MIN,
};
const st = (o: Partial<ReencryptionStatus>): ReencryptionStatus => ({
  phase: 'Running',
  keyVersion: 2,
  total: 10,
  done: 4,
  skipped: 0,
  failed: 0,
  ...o,
});

describe('planReencryption', () => {
  it.each<[string, Partial<ReencryptionInput>, string, Partial<ReencryptionStatus>?]>([
    ['never rotated, nothing recorded', { version: 1 }, 'idle'],
    [
      'rotated, no record, within the delay',
      { now: T0 + 5 * MIN },
      'wait',
      { phase: 'Pending', notBefore: new Date(T0 + 10 * MIN).toISOString() },
    ],
    ['rotated, no record, delay elapsed', {}, 'run', { phase: 'Running', done: 0, total: 0 }],
    ['completed for this version', { status: st({ phase: 'Completed' }) }, 'idle'],
    [
      'running for this version: resume',
      { status: st({ continue: 'c1' }) },
      'run',
      { done: 4, continue: 'c1' },
    ],
    [
      'running for an older version: new rotation waits',
      { status: st({ keyVersion: 1 }), now: T0 + MIN },
      'wait',
      { phase: 'Pending', keyVersion: 2, done: 0 },
    ],
    [
      'completed for an older version, delay elapsed',
      { status: st({ keyVersion: 1, phase: 'Completed' }) },
      'run',
      { keyVersion: 2, done: 0 },
    ],
    [
      'pending, still within the delay',
      { status: st({ phase: 'Pending', done: 0 }), now: T0 + 9 * MIN },
      'wait',
      { phase: 'Pending' },
    ],
    [
      'pending, delay elapsed',
      { status: st({ phase: 'Pending', done: 0 }) },
      'run',
      { phase: 'Running', done: 0 },
    ],
    [
      'failed, before the retry',
      { status: st({ phase: 'Failed', failed: 1, finishedAt: new Date(T0 + 18 * MIN).toISOString() }) },
      'wait',
      { phase: 'Failed' },
    ],
    [
      'failed, retry due: a fresh pass',
      { status: st({ phase: 'Failed', failed: 1, finishedAt: new Date(T0 + 10 * MIN).toISOString() }) },
      'run',
      { phase: 'Running', failed: 0, done: 0 },
    ],
    [
      'a version older than recorded (restored keystore) still converges',
      { version: 3, status: st({ keyVersion: 4, phase: 'Completed' }) },
      'run',
      { keyVersion: 3 },
    ],
  ])('%s → %s', (_name, over, kind, want) => {
    const p = planReencryption({ ...base, ...over });
    expect(p.kind).toBe(kind);
    if (want && p.kind !== 'idle') expect(p.status).toMatchObject(want);
  });

  it('resumes are marked resumed, fresh passes are not', () => {
    const r = planReencryption({ ...base, status: st({}) });
    const f = planReencryption(base);
    expect(r.kind === 'run' && r.resumed).toBe(true);
    expect(f.kind === 'run' && f.resumed).toBe(false);
  });

  it('every live API server switched: the pass starts before the delay, saying why', () => {
    const p = planReencryption({
      ...base,
      now: T0 + MIN,
      switchover: { kind: 'switched', apiservers: 2 },
    });
    expect(p).toMatchObject({
      kind: 'run',
      resumed: false,
      status: { phase: 'Running', keyVersion: 2, switchover: { apiservers: 2, switched: 2 } },
    });
    expect(p.kind === 'run' && p.because).toMatch(/every live API server \(2\)/);
    const pending = planReencryption({
      ...base,
      now: T0 + MIN,
      status: st({ phase: 'Pending', done: 0, switchover: { apiservers: 2, switched: 1 } }),
      switchover: { kind: 'switched', apiservers: 2 },
    });
    expect(pending.kind).toBe('run');
  });

  it('waiting or unseen: Pending until the delay records what was seen; then the delay is the reason', () => {
    const waiting = planReencryption({
      ...base,
      now: T0 + MIN,
      switchover: { kind: 'waiting', apiservers: 2, pending: ['sha256:b'] },
    });
    expect(waiting).toMatchObject({
      kind: 'wait',
      until: T0 + 10 * MIN,
      status: { phase: 'Pending', switchover: { apiservers: 2, switched: 1, pending: ['sha256:b'] } },
    });
    const unseen = planReencryption({
      ...base,
      switchover: { kind: 'unknown', reason: 'GET /metrics: 403' },
    });
    expect(unseen).toMatchObject({
      kind: 'run',
      status: { switchover: { apiservers: 0, switched: 0, unavailable: 'GET /metrics: 403' } },
    });
    expect(unseen.kind === 'run' && unseen.because).toMatch(/--reencrypt-delay elapsed; .*403/);
    // Without an observer nothing is recorded about the API servers.
    const plain = planReencryption({ ...base, now: T0 + MIN });
    expect(plain.kind === 'wait' && plain.status.switchover).toBeUndefined();
  });

  it('the wait ends at rotation + delay', () => {
    const p = planReencryption({ ...base, now: T0 + MIN });
    expect(p.kind === 'wait' && p.until).toBe(T0 + 10 * MIN);
  });
});

describe('passOutcome and remaining', () => {
  it.each<[Partial<ReencryptionStatus>, string, string, string]>([
    [{ done: 9, skipped: 1 }, 'Completed', 'True', 'Completed'],
    [{ done: 8, failed: 2 }, 'Failed', 'False', 'ObjectsFailed'],
    [{ done: 10, unknownResources: ['widgets.example.com'] }, 'Completed', 'False', 'UnknownResource'],
  ])('%j → %s %s %s', (o, phase, status, reason) => {
    const out = passOutcome(st(o));
    expect(out.phase).toBe(phase);
    expect(out.condition).toMatchObject({ status, reason });
  });

  it('remaining is never negative', () => {
    expect(remaining(st({ done: 4, skipped: 1, failed: 1 }))).toBe(4);
    expect(remaining(st({ total: 2, done: 4 }))).toBe(0);
  });
});
