import { describe, expect, it } from 'vitest';
import { RateLimiter } from './reencrypt-rate.ts';

function fakeClock() {
  let now = 0;
  const slept: number[] = [];
  return {
    now: () => now,
    sleep: async (ms: number) => {
      slept.push(ms);
      now += ms;
    },
    advance: (ms: number) => {
      now += ms;
    },
    slept,
  };
}

describe('RateLimiter', () => {
  it('qps 0 never waits', async () => {
    const c = fakeClock();
    const l = new RateLimiter({ qps: 0, now: c.now, sleep: c.sleep });
    for (let i = 0; i < 1000; i++) await l.take();
    expect(c.slept).toEqual([]);
  });

  it('allows a burst of one second, then spaces calls 1/qps apart', async () => {
    const c = fakeClock();
    const l = new RateLimiter({ qps: 10, now: c.now, sleep: c.sleep });
    for (let i = 0; i < 10; i++) await l.take();
    expect(c.slept).toEqual([]);
    for (let i = 0; i < 5; i++) await l.take();
    expect(c.slept.map((x) => Math.round(x))).toEqual([100, 100, 100, 100, 100]);
  });

  it('averages qps over time: 100 objects at 20 qps take about 4.5 s after the burst', async () => {
    const c = fakeClock();
    const l = new RateLimiter({ qps: 20, now: c.now, sleep: c.sleep });
    for (let i = 0; i < 100; i++) await l.take();
    expect(c.now()).toBeGreaterThanOrEqual(3_999);
    expect(c.now()).toBeLessThanOrEqual(4_001);
  });

  it('refills while idle, up to the burst only', async () => {
    const c = fakeClock();
    const l = new RateLimiter({ qps: 5, burst: 2, now: c.now, sleep: c.sleep });
    await l.take();
    await l.take();
    c.advance(10_000);
    await l.take();
    await l.take();
    expect(c.slept).toEqual([]);
    await l.take();
    expect(c.slept.map((x) => Math.round(x))).toEqual([200]);
  });

  it('concurrent callers queue up instead of all passing', async () => {
    const c = fakeClock();
    const l = new RateLimiter({ qps: 2, burst: 1, now: c.now, sleep: async (ms) => void c.slept.push(ms) });
    await Promise.all([l.take(), l.take(), l.take()]);
    expect(c.slept.map((x) => Math.round(x))).toEqual([500, 1000]);
  });

  it('rejects a negative qps', () => {
    expect(() => new RateLimiter({ qps: -1 })).toThrow(/qps/);
  });
});
