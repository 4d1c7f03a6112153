import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Controller, TerminalError } from './controller.ts';
import { controllerMetrics } from './controller-metrics.ts';
import { ExponentialRateLimiter, WorkQueue } from './queue.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('WorkQueue', () => {
  it('collapses repeated adds of a queued key into one', async () => {
    const q = new WorkQueue({ name: 't' });
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.length).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
  });

  it('never hands a key to two workers: an add while processing is queued again on done', async () => {
    const q = new WorkQueue({ name: 't' });
    q.add('a');
    const k = await q.get();
    q.add('a');
    expect(q.length).toBe(0);
    let second: string | undefined;
    void q.get().then((x) => {
      second = x;
    });
    await Promise.resolve();
    expect(second).toBeUndefined();
    q.done(k!);
    await Promise.resolve();
    expect(second).toBe('a');
  });

  it('addAfter keeps the earlier of two times', () => {
    vi.useFakeTimers();
    const q = new WorkQueue({ name: 't', now: () => Date.now() });
    q.addAfter('a', 10_000);
    q.addAfter('a', 1_000);
    q.addAfter('a', 5_000);
    vi.advanceTimersByTime(999);
    expect(q.length).toBe(0);
    vi.advanceTimersByTime(1);
    expect(q.length).toBe(1);
    vi.advanceTimersByTime(20_000);
    expect(q.length).toBe(1);
  });

  it('backs off per key exponentially up to the cap, and forget() resets', () => {
    const r = new ExponentialRateLimiter({ baseMs: 100, maxMs: 1_000 });
    expect([r.when('a'), r.when('a'), r.when('a'), r.when('a'), r.when('a')]).toEqual([
      100, 200, 400, 800, 1000,
    ]);
    expect(r.when('b')).toBe(100);
    r.forget('a');
    expect(r.when('a')).toBe(100);
  });

  it('shutDown releases waiting getters with undefined and drops timers', async () => {
    vi.useFakeTimers();
    const q = new WorkQueue({ name: 't' });
    const pending = q.get();
    q.addAfter('x', 1000);
    q.shutDown();
    expect(await pending).toBeUndefined();
    vi.advanceTimersByTime(2000);
    expect(q.length).toBe(0);
  });
});

describe('Controller result handling (controller-runtime table)', () => {
  async function run(results: ((n: number) => unknown)[]) {
    const registry = new Registry();
    const metrics = controllerMetrics(registry);
    let calls = 0;
    const c = new Controller({
      name: 'c',
      workers: 1,
      baseMs: 5,
      metrics,
      listKeys: () => ['ns/a'],
      reconcile: async () => {
        const f = results[calls] ?? (() => ({}));
        calls++;
        const r = f(calls);
        if (r instanceof Error) throw r;
        return r as object;
      },
    });
    c.start();
    await vi.waitFor(() => expect(calls).toBe(results.length), { timeout: 2000 });
    await new Promise((r) => setTimeout(r, 50));
    await c.stop();
    const text = await registry.metrics();
    const count = (result: string) =>
      Number(
        new RegExp(`controller_runtime_reconcile_total\\{controller="c",result="${result}"\\} (\\d+)`).exec(
          text,
        )?.[1],
      );
    return { calls, count, text };
  }

  it('retries an error with backoff, then counts success', async () => {
    const r = await run([() => new Error('boom'), () => new Error('boom'), () => ({})]);
    expect(r.calls).toBe(3);
    expect(r.count('error')).toBe(2);
    expect(r.count('success')).toBe(1);
    expect(r.text).toMatch(/controller_runtime_reconcile_errors_total\{controller="c"\} 2/);
  });

  it('does not retry a terminal error', async () => {
    const r = await run([() => new TerminalError('bad spec')]);
    expect(r.calls).toBe(1);
    expect(r.text).toMatch(/controller_runtime_terminal_reconcile_errors_total\{controller="c"\} 1/);
  });

  it('requeues after the asked delay, and on requeue', async () => {
    const r = await run([() => ({ requeueAfterMs: 20 }), () => ({ requeue: true }), () => ({})]);
    expect(r.calls).toBe(3);
    expect(r.count('requeue_after')).toBe(1);
    expect(r.count('requeue')).toBe(1);
    expect(r.text).toMatch(/workqueue_depth\{name="c",controller="c"\} 0/);
    expect(r.text).toMatch(/controller_runtime_reconcile_time_seconds_bucket/);
  });
});
