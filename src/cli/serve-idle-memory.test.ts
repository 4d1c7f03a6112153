import { getHeapSpaceStatistics } from 'node:v8';
import { describe, expect, it, vi } from 'vitest';
import { createLogger } from '../observability/logger.ts';
import {
  decideIdleCollection,
  IDLE_MEMORY_DEFAULTS,
  memoryReducingCollection,
  startIdleMemoryReducer,
} from './serve-idle-memory.ts';

const MiB = 1024 * 1024;
const o = IDLE_MEMORY_DEFAULTS;
const quiet = { utilization: 0.001, heapUsedBytes: 20 * MiB };
const busy = { utilization: 0.5, heapUsedBytes: 20 * MiB };

describe('decideIdleCollection', () => {
  it('collects once on the first quiet window after a busy one', () => {
    expect(decideIdleCollection(true, quiet, o)).toEqual({ collect: true, busySinceCollect: false });
    expect(decideIdleCollection(false, quiet, o)).toEqual({ collect: false, busySinceCollect: false });
  });

  it('never collects in a busy window, and remembers it', () => {
    expect(decideIdleCollection(false, busy, o)).toEqual({ collect: false, busySinceCollect: true });
    expect(decideIdleCollection(true, busy, o)).toEqual({ collect: false, busySinceCollect: true });
  });

  it('treats the threshold as busy', () => {
    const at = { ...quiet, utilization: o.quietUtilization };
    expect(decideIdleCollection(true, at, o).collect).toBe(false);
  });

  it('skips a heap too large for a short pause, and waits for the next burst', () => {
    const large = { ...quiet, heapUsedBytes: o.maxHeapBytes + 1 };
    expect(decideIdleCollection(true, large, o)).toEqual({ collect: false, busySinceCollect: false });
    expect(decideIdleCollection(true, { ...large, heapUsedBytes: o.maxHeapBytes }, o).collect).toBe(true);
  });
});

const youngGenerationBytes = (): number =>
  getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_size;

describe('memoryReducingCollection', () => {
  it('gives back the young generation a burst grew, without exposing gc to the program', () => {
    const collect = memoryReducingCollection();
    // Objects that survive scavenges make V8 grow the young generation, as module loading does at start-up.
    const kept: object[] = [];
    for (let i = 0; i < 400_000 && youngGenerationBytes() <= 4 * MiB; i++) kept.push({ i, s: `v${i}` });
    expect(youngGenerationBytes()).toBeGreaterThan(4 * MiB);
    kept.length = 0;
    collect();
    expect(youngGenerationBytes()).toBeLessThanOrEqual(2 * MiB);
    expect((globalThis as { gc?: unknown }).gc).toBeUndefined();
  });
});

/** Keeps the event loop busy for `ms`. */
const spin = (ms: number): void => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

describe('startIdleMemoryReducer', () => {
  it('collects when the process goes quiet after start-up and after each burst, not while quiet', async () => {
    const collect = vi.fn();
    const windowMs = 100;
    const stop = startIdleMemoryReducer(
      createLogger('error'),
      { windowMs, quietUtilization: 0.2, maxHeapBytes: Number.MAX_SAFE_INTEGER },
      collect,
    );
    try {
      await expect.poll(() => collect.mock.calls.length, { timeout: 5_000, interval: 20 }).toBe(1);
      await new Promise((r) => setTimeout(r, windowMs * 5));
      expect(collect).toHaveBeenCalledTimes(1);
      for (let i = 0; i < 4; i++) {
        spin(windowMs * 0.8);
        await new Promise((r) => setTimeout(r, 1));
      }
      await expect.poll(() => collect.mock.calls.length, { timeout: 5_000, interval: 20 }).toBe(2);
    } finally {
      await stop();
    }
  });
});
