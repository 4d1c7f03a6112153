import { getHeapSpaceStatistics } from 'node:v8';
import { describe, expect, it, vi } from 'vitest';
import { createLogger } from '../observability/logger.ts';
import {
  decideIdleCollection,
  IDLE_MEMORY_DEFAULTS,
  type IdleState,
  memoryReducingCollection,
  START_UP,
  startIdleMemoryReducer,
} from './serve-idle-memory.ts';

const MiB = 1024 * 1024;
const o = { ...IDLE_MEMORY_DEFAULTS, quietWindows: 3 };
const quiet = { utilization: 0.001, heapUsedBytes: 20 * MiB };
const busy = { utilization: 0.5, heapUsedBytes: 20 * MiB };

/** Runs the decision over `windows` from `state`; returns the indexes of the windows that collect, and the end. */
function run(state: IdleState, windows: readonly (typeof quiet)[]): { collects: number[]; end: IdleState } {
  const collects: number[] = [];
  for (const [i, w] of windows.entries()) {
    const d = decideIdleCollection(state, w, o);
    if (d.collect) collects.push(i);
    state = d.state;
  }
  return { collects, end: state };
}

describe('decideIdleCollection', () => {
  it('collects once start-up has been followed by quietWindows quiet windows, then never while quiet', () => {
    expect(run(START_UP, [quiet, quiet, quiet, quiet, quiet, quiet]).collects).toEqual([2]);
  });

  it('collects after each burst once the quiet stretch is long enough', () => {
    const w = [busy, quiet, quiet, quiet, busy, quiet, quiet, quiet, quiet];
    expect(run({ busySinceCollect: false, quietWindows: 9 }, w).collects).toEqual([3, 7]);
  });

  it('never collects for bursts closer together than the quiet stretch', () => {
    const w = [busy, quiet, quiet, busy, quiet, busy, quiet, quiet, busy];
    const { collects, end } = run(START_UP, w);
    expect(collects).toEqual([]);
    expect(end).toEqual({ busySinceCollect: true, quietWindows: 0 });
  });

  it('treats the threshold as busy', () => {
    const at = { ...quiet, utilization: o.quietUtilization };
    expect(run(START_UP, [quiet, quiet, at, quiet, quiet]).collects).toEqual([]);
  });

  it('skips a heap too large for a short pause, and waits for the next burst', () => {
    const large = { ...quiet, heapUsedBytes: o.maxHeapBytes + 1 };
    expect(run(START_UP, [large, large, large, large, large]).collects).toEqual([]);
    expect(run(START_UP, [large, large, { ...quiet, heapUsedBytes: o.maxHeapBytes }]).collects).toEqual([2]);
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
      { windowMs, quietUtilization: 0.2, quietWindows: 2, maxHeapBytes: Number.MAX_SAFE_INTEGER },
      collect,
    );
    try {
      await expect.poll(() => collect.mock.calls.length, { timeout: 5_000, interval: 20 }).toBe(1);
      await new Promise((r) => setTimeout(r, windowMs * 5));
      expect(collect).toHaveBeenCalledTimes(1);
      // A burst, then a quiet stretch shorter than two windows: no collection.
      spin(windowMs * 0.8);
      await new Promise((r) => setTimeout(r, windowMs * 0.5));
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
