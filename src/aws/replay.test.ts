/**
 * Issue 16.1, replay-cache lockout: one access key flooding the API with requests signed 4 minutes ahead (within
 * the skew) fills only its own replay budget. It is throttled; every other key keeps working with no refusal.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, signedHeaders, startHarness, type Who } from './testing/harness.ts';

let h: Harness;
const BUDGET = 40;

beforeAll(async () => {
  h = await startHarness({ replayBudgetPerKey: BUDGET });
});
afterAll(async () => {
  expect(h.violations).toEqual([]);
  await h.close();
});

/** One raw request signed by `who` with its clock at `now`; resolves to [status, __type]. */
function call(who: Who, target: string, now: number): Promise<[number, string]> {
  const url = new URL(h.server.endpoint);
  const body = '{}';
  const headers = signedHeaders(h.server.endpoint, who, target, body, now);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method: 'POST', path: '/', headers }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => {
        text += d.toString();
      });
      res.on('end', () => {
        const type = res.statusCode === 200 ? 'OK' : (JSON.parse(text) as { __type: string }).__type;
        resolve([res.statusCode ?? 0, type]);
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('replay budget per access key', () => {
  it('a future-dated flood from one key throttles that key alone; another key sees 0 refusals', async () => {
    const ahead = () => Date.now() + 4 * 60_000;
    const flood: [number, string][] = [];
    const other: [number, string][] = [];
    for (let round = 0; round < 3; round++) {
      // The flood: 2× the budget, half of it to an operation that does not exist (signatures count all the same).
      const a = Array.from({ length: BUDGET }, (_, i) =>
        call('alice', i % 2 ? 'TrentService.ListKeys' : 'TrentService.NoSuchOperation', ahead()),
      );
      const b = Array.from({ length: 10 }, () => call('bob', 'TrentService.ListKeys', Date.now()));
      flood.push(...(await Promise.all(a)));
      other.push(...(await Promise.all(b)));
    }
    expect(other.filter(([s]) => s !== 200)).toEqual([]);
    const throttled = flood.filter(([, t]) => t === 'ThrottlingException').length;
    expect(throttled).toBe(flood.length - BUDGET);
    expect(flood.filter(([, t]) => t === 'InvalidSignatureException')).toEqual([]);
    // The admin, too, is untouched, with a correct clock or one 4 minutes ahead.
    expect(await call('admin', 'TrentService.ListKeys', Date.now())).toEqual([200, 'OK']);
    expect(await call('admin', 'TrentService.ListKeys', ahead())).toEqual([200, 'OK']);
    expect(await call('alice', 'TrentService.ListKeys', Date.now())).toEqual([400, 'ThrottlingException']);
  });
});
