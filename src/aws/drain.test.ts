/**
 * Issue 16.5, HTTP side: drain(graceMs) stops taking new calls at once — also on connections that are already
 * open and busy — lets in-flight calls finish, and cuts off what is left at the grace.
 */
import { Agent, request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { OPERATIONS } from './operations.ts';
import type { Handler } from './ops/types.ts';
import { type Harness, signedHeaders, startHarness } from './testing/harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** ListKeys that takes `ms` (an in-flight call that outlives the start of the drain). */
const slowListKeys = (ms: number): Readonly<Record<string, Handler>> => ({
  ...OPERATIONS,
  ListKeys: async (c) => {
    await sleep(ms);
    return OPERATIONS.ListKeys!(c);
  },
});

interface Outcome {
  readonly sentAt: number;
  readonly status: number | string;
  readonly connection?: string;
}

function call(endpoint: string, agent: Agent, target: string): Promise<Outcome> {
  const url = new URL(endpoint);
  const body = '{}';
  const sentAt = performance.now();
  return new Promise((resolve) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: 'POST',
        path: '/',
        agent,
        headers: signedHeaders(endpoint, 'admin', target, body),
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve({
            sentAt,
            status: res.statusCode ?? 0,
            ...(res.headers.connection ? { connection: res.headers.connection } : {}),
          }),
        );
      },
    );
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ sentAt, status: e.code ?? 'error' }));
    req.end(body);
  });
}

describe('AWS API drain', () => {
  it('under load: no call sent after the drain starts is served; in-flight calls finish; done well within grace', async () => {
    h = await startHarness({ operations: slowListKeys(150) });
    const endpoint = h.server.endpoint;
    let stop = false;
    const outcomes: Outcome[] = [];
    // 8 keep-alive clients, each sending its next call as soon as the last one is answered.
    const workers = Array.from({ length: 8 }, async (_, i) => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      while (!stop)
        outcomes.push(
          await call(endpoint, agent, i % 2 ? 'TrentService.ListKeys' : 'TrentService.ListAliases'),
        );
      agent.destroy();
    });
    await sleep(400);
    const inFlight = call(endpoint, new Agent({ keepAlive: true }), 'TrentService.ListKeys');
    await sleep(20);
    const drainStart = performance.now();
    await h.server.drain(5_000);
    const drained = performance.now() - drainStart;
    await sleep(100);
    stop = true;
    await Promise.all(workers);
    const served = outcomes.filter((o) => o.status === 200);
    expect(served.length).toBeGreaterThan(8);
    // Calls sent after the drain started (allowing 5 ms for one already on the wire) were never served.
    expect(outcomes.filter((o) => o.status === 200 && o.sentAt > drainStart + 5)).toEqual([]);
    expect(outcomes.filter((o) => typeof o.status === 'number' && o.status !== 200)).toEqual([]);
    // The call in flight when the drain began finished, and told its client to close the connection.
    expect(await inFlight).toMatchObject({ status: 200, connection: 'close' });
    expect(drained).toBeLessThan(2_500); // the in-flight call takes 150 ms; the grace is 5 s
    expect((await call(endpoint, new Agent(), 'TrentService.ListKeys')).status).toBe('ECONNREFUSED');
  });

  it('cuts off a call still running at the grace', async () => {
    h = await startHarness({ operations: slowListKeys(5_000) });
    const pending = call(h.server.endpoint, new Agent(), 'TrentService.ListKeys');
    await sleep(100);
    const started = performance.now();
    await h.server.drain(300);
    expect(performance.now() - started).toBeLessThan(3_000); // the call would take 5 s
    expect((await pending).status).toBe('ECONNRESET');
  });
});
