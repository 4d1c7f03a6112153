import { describe, expect, it } from 'vitest';
import { clockSkewMs, clockSkewRow } from './clock-skew.ts';

const T = Date.parse('2026-11-29T18:00:00.000Z');
const date = (ms: number) => new Date(ms).toUTCString();

describe('clock skew', () => {
  it.each([
    ['the same second', date(T), T + 200, T + 400, 0],
    ['a Date truncated just before the request', date(T - 1), T, T + 50, 0],
    ['server 10 s ahead', date(T + 10_000), T, T + 100, 9_900],
    ['server 10 s behind', date(T - 10_000), T, T + 100, -9_000],
  ])('%s', (_what, header, sent, received, expected) => {
    expect(clockSkewMs(header, sent, received)).toBe(expected);
  });

  it.each([
    [date(T + 3_000), 'ok', /^API server clock 2\.9 s ahead of the local clock$/],
    [date(T), 'ok', /agree to within 1 s/],
    [date(T + 6_000), 'warn', /5\.9 s ahead .*\(> 5 s\)/],
    [date(T - 7_000), 'warn', /6\.0 s behind .*\(> 5 s\)/],
    [date(T + 61_200), 'FAIL', /60\.9 s ahead .*\(> 60 s: Lease expiry/],
    [date(T - 3_600_000), 'FAIL', /3599\.0 s behind/],
    [undefined, 'warn', /no Date header/],
    ['yesterday-ish', 'warn', /unreadable Date header "yesterday-ish"/],
  ])('Date %s → %s', (header, status, detail) => {
    const r = clockSkewRow(header, T, T + 100);
    expect(r.check).toBe('clock skew');
    expect(r.status).toBe(status);
    expect(r.detail).toMatch(detail);
  });
});
