/** Audit lines: one JSON object per line in the process log's shape, the time exactly Date#toISOString's. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { line } from './audit-log.ts';

afterEach(() => vi.useRealTimers());

describe('audit line', () => {
  it.each([
    Date.UTC(2026, 10, 29, 17, 0, 0, 0),
    Date.UTC(2026, 10, 29, 17, 0, 0, 7),
    Date.UTC(2026, 10, 29, 17, 0, 0, 42),
    Date.UTC(2026, 10, 29, 17, 0, 59, 999),
    Date.UTC(2026, 10, 29, 17, 1, 0, 1),
  ])('time %i is formatted as toISOString', (t) => {
    vi.useFakeTimers();
    vi.setSystemTime(t);
    const text = line({ requestId: 'r', result: 'ok' });
    expect(text.endsWith('}\n')).toBe(true);
    const o = JSON.parse(text) as Record<string, unknown>;
    expect(o.time).toBe(new Date(t).toISOString());
  });

  it('keeps the logger shape: level, time, service, the entry, msg; undefined members left out', () => {
    const o = JSON.parse(line({ operation: 'Encrypt', keyArn: undefined, status: 200 }));
    expect(Object.keys(o)).toEqual(['level', 'time', 'service', 'operation', 'status', 'msg']);
    expect(o).toMatchObject({ level: 'info', service: 'kubekms', msg: 'aws request' });
    expect(JSON.parse(line({})).msg).toBe('aws request');
  });
});
