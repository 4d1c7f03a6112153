/**
 * Gives memory back when serve goes quiet (issue 21, ADR 0027). Start-up (loading ~300 modules) and any burst of
 * calls grow V8's young generation to several MiB, and only a memory-reducing collection returns it to the system.
 * V8's own memory reducer never runs in this process: it treats an embedder (cppgc) allocation rate of exactly
 * zero as a high rate (`node --trace-memory-reducer --trace-mutator-utilization` prints "high alloc" every 8 s).
 *
 * So serve does what the reducer would: every window it reads the event loop's utilization; once the process has
 * been quiet for `quietWindows` windows in a row after being busy (start-up counts), it runs one memory-reducing
 * collection. A process that stays quiet is not collected again; bursts closer together than the quiet stretch
 * never pay for it (the collection drops compiled code, so the next burst runs colder); and a large heap is never
 * collected this way, which bounds the pause (≈ 2 ms per MiB of heap on the reference machine, so ≤ ≈ 100 ms).
 */
import { type EventLoopUtilization, performance } from 'node:perf_hooks';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Logger } from '../observability/logger.ts';

export interface IdleMemoryOptions {
  /** How often the event loop's utilization is read, and the window it is measured over. */
  readonly windowMs: number;
  /** A window whose utilization is below this is quiet. */
  readonly quietUtilization: number;
  /** Quiet windows in a row, after a busy one, before the collection. */
  readonly quietWindows: number;
  /** No collection when the heap holds more than this (the pause grows with the heap). */
  readonly maxHeapBytes: number;
}

export const IDLE_MEMORY_DEFAULTS: IdleMemoryOptions = {
  windowMs: 5_000,
  quietUtilization: 0.02,
  quietWindows: 4,
  maxHeapBytes: 48 * 1024 * 1024,
};

/** Whether the process has been busy since the last collection, and how many quiet windows have run since. */
export interface IdleState {
  readonly busySinceCollect: boolean;
  readonly quietWindows: number;
}

export const START_UP: IdleState = { busySinceCollect: true, quietWindows: 0 };

/** The pure decision for one window: whether to collect now, and the state after it. */
export function decideIdleCollection(
  state: IdleState,
  window: { readonly utilization: number; readonly heapUsedBytes: number },
  o: IdleMemoryOptions,
): { readonly collect: boolean; readonly state: IdleState } {
  if (window.utilization >= o.quietUtilization)
    return { collect: false, state: { busySinceCollect: true, quietWindows: 0 } };
  const quietWindows = state.quietWindows + 1;
  if (!state.busySinceCollect || quietWindows < o.quietWindows)
    return { collect: false, state: { busySinceCollect: state.busySinceCollect, quietWindows } };
  // Quiet long enough after busy: collect once, unless the heap is too large for a short pause (then wait for
  // the next burst).
  return {
    collect: window.heapUsedBytes <= o.maxHeapBytes,
    state: { busySinceCollect: false, quietWindows },
  };
}

/** V8's `gc`, from a fresh context made for it: never a global of the program. */
function exposedGc(): NodeJS.GCFunction {
  setFlagsFromString('--expose-gc');
  try {
    return runInNewContext('gc') as NodeJS.GCFunction;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}

/**
 * A full, memory-reducing collection (V8's "last resort": it shrinks the young generation and releases pooled
 * pages). The context that holds `gc` is made at the first collection, not at start-up.
 */
export function memoryReducingCollection(): () => void {
  let gc: NodeJS.GCFunction | undefined;
  return () => {
    gc ??= exposedGc();
    gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  };
}

/** Starts the per-window check; returns its stop. */
export function startIdleMemoryReducer(
  log: Logger,
  o: IdleMemoryOptions = IDLE_MEMORY_DEFAULTS,
  collect: () => void = memoryReducingCollection(),
): () => Promise<void> {
  let state = START_UP;
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const { utilization } = performance.eventLoopUtilization(now, last);
    last = now;
    const heapUsedBytes = getHeapStatistics().used_heap_size;
    const d = decideIdleCollection(state, { utilization, heapUsedBytes }, o);
    state = d.state;
    if (!d.collect) return;
    const started = performance.now();
    collect();
    last = performance.eventLoopUtilization(); // the pause itself is not the process being busy
    log.debug(
      { pauseMs: Math.round(performance.now() - started), heapUsedBytes },
      'quiet after busy: memory-reducing collection',
    );
  }, o.windowMs);
  timer.unref();
  return async () => clearInterval(timer);
}
