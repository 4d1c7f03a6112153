/** Stoppers: listeners drain first and together, never past the grace; the rest stops afterwards, last first. */
import { describe, expect, it } from 'vitest';
import { Stoppers } from './stoppers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Stoppers', () => {
  it('drains every listener at once with the grace, then stops the rest in reverse order', async () => {
    const events: string[] = [];
    const s = new Stoppers(1_000);
    s.push(async () => {
      events.push('store closed');
    });
    for (const name of ['kmsv2', 'aws']) {
      s.pushListener(async (graceMs) => {
        events.push(`${name} drain started (grace ${graceMs})`);
        await sleep(50);
        events.push(`${name} drained`);
      });
    }
    s.push(async () => {
      events.push('health closed');
    });
    await s.stopAll();
    expect(events).toEqual([
      'kmsv2 drain started (grace 1000)',
      'aws drain started (grace 1000)',
      'kmsv2 drained',
      'aws drained',
      'health closed',
      'store closed',
    ]);
  });

  it('stops the rest once the grace has passed, even if a listener never finishes draining', async () => {
    const events: string[] = [];
    const s = new Stoppers(100);
    s.push(async () => {
      events.push('store closed');
    });
    s.pushListener(() => new Promise<void>(() => undefined));
    s.pushListener(async () => {
      throw new Error('a failing drain does not keep the others from running');
    });
    const started = performance.now();
    await s.stopAll();
    expect(performance.now() - started).toBeGreaterThanOrEqual(95);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(events).toEqual(['store closed']);
  });
});
