import { describe, expect, it } from 'vitest';
import type { ReencryptionStatus } from '../api/kinds.ts';
import { KubeApiError } from '../kube/errors.ts';
import { freshPass } from './reencrypt-decisions.ts';
import { FakeApi, populate } from './reencrypt-fake-api.ts';
import { type ObjectResult, runPass } from './reencrypt-pass.ts';
import { RateLimiter } from './reencrypt-rate.ts';

const unlimited = () => new RateLimiter({ qps: 0 });

describe('runPass', () => {
  it('rewrites every object in pages and records a continue point after each page', async () => {
    const api = new FakeApi();
    populate(api, 5, 50);
    const pages: ReencryptionStatus[] = [];
    const r = await runPass(freshPass(2, 0), {
      api,
      resources: ['secrets'],
      limiter: unlimited(),
      pageSize: 40,
      onPage: async (s) => void pages.push(s),
    });
    expect(r.stopped).toBe(false);
    expect(api.staleCount()).toBe(0);
    expect(r.status).toMatchObject({ total: 250, done: 250, skipped: 0, failed: 0 });
    expect(pages).toHaveLength(7);
    expect(pages[0]).toMatchObject({ done: 40, resource: 'secrets', continue: 'ns00/s039' });
    expect(pages.at(-1)?.continue).toBeUndefined();
    expect(pages.at(-1)?.resource).toBeUndefined();
  });

  it('resumes from a recorded continue point without recounting the total', async () => {
    const api = new FakeApi();
    populate(api, 2, 50);
    const stopAfter = 2;
    let seen = 0;
    const abort = new AbortController();
    const first = await runPass(freshPass(2, 0), {
      api,
      resources: ['secrets'],
      limiter: unlimited(),
      pageSize: 30,
      signal: abort.signal,
      onPage: async () => {
        if (++seen === stopAfter) abort.abort();
      },
    });
    expect(first.stopped).toBe(true);
    expect(first.status).toMatchObject({ done: 60, total: 100, continue: 'ns01/s009' });
    const before = api.replaces;
    const second = await runPass(first.status, {
      api,
      resources: ['secrets'],
      limiter: unlimited(),
      pageSize: 30,
      onPage: async () => undefined,
    });
    expect(second.status).toMatchObject({ done: 100, total: 100, failed: 0 });
    expect(api.replaces - before).toBe(40);
    expect(api.staleCount()).toBe(0);
  });

  it('counts deleted objects as skipped, re-reads and retries on conflicts', async () => {
    const api = new FakeApi();
    populate(api, 1, 20);
    const results: ObjectResult[] = [];
    let bumped = false;
    api.beforeReplace = (ns, name) => {
      if (name === 's003') api.objects.delete(`${ns}/${name}`); // deleted meanwhile
      if (name === 's004' && !bumped) {
        bumped = true; // someone else updated it after our list
        const s = api.objects.get(`${ns}/${name}`);
        if (s) api.objects.set(`${ns}/${name}`, { rv: s.rv + 1, key: 1 });
      }
    };
    const r = await runPass(freshPass(2, 0), {
      api,
      resources: ['secrets'],
      limiter: unlimited(),
      onPage: async () => undefined,
      onObject: (x) => results.push(x),
    });
    expect(r.status).toMatchObject({ total: 20, done: 19, skipped: 1, failed: 0 });
    expect(results.filter((x) => x === 'conflict')).toHaveLength(1);
    expect(api.staleCount()).toBe(0);
  });

  it('a namespace that disappears mid-pass only skips its objects', async () => {
    const api = new FakeApi();
    populate(api, 3, 10);
    api.beforeReplace = () => {
      for (const k of [...api.objects.keys()]) if (k.startsWith('ns01/')) api.objects.delete(k);
    };
    const r = await runPass(freshPass(2, 0), {
      api,
      resources: ['secrets'],
      limiter: unlimited(),
      pageSize: 7,
      onPage: async () => undefined,
    });
    expect(r.status).toMatchObject({ total: 30, done: 20, skipped: 10, failed: 0 });
  });

  it('gives up on an object after persistent errors and reports it, and goes on', async () => {
    const api = new FakeApi();
    populate(api, 1, 5);
    const failures: string[] = [];
    api.beforeReplace = (_ns, name) => {
      if (name === 's001') throw new KubeApiError(422, 'Invalid', 'bad object');
      if (name === 's002') throw new KubeApiError(500, 'InternalError', 'etcd timeout');
    };
    const r = await runPass(freshPass(2, 0), {
      api,
      resources: ['secrets'],
      limiter: unlimited(),
      retryDelayMs: 1,
      onPage: async () => undefined,
      onFailure: (o) => failures.push(o.metadata.name),
    });
    expect(r.status).toMatchObject({ total: 5, done: 3, failed: 2 });
    expect(failures.sort()).toEqual(['s001', 's002']);
  });

  it('a transient error is retried', async () => {
    const api = new FakeApi();
    populate(api, 1, 3);
    let n = 0;
    api.beforeReplace = (_ns, name) => {
      if (name === 's001' && n++ < 2) throw new KubeApiError(429, 'TooManyRequests', 'slow down');
    };
    const r = await runPass(freshPass(2, 0), {
      api,
      resources: ['secrets'],
      limiter: unlimited(),
      retryDelayMs: 1,
      onPage: async () => undefined,
    });
    expect(r.status).toMatchObject({ done: 3, failed: 0 });
  });

  it('an expired continue token lists the resource again', async () => {
    const api = new FakeApi();
    populate(api, 1, 30);
    api.expireContinue = true;
    const r = await runPass(freshPass(2, 0), {
      api,
      resources: ['secrets'],
      limiter: unlimited(),
      pageSize: 10,
      onPage: async () => undefined,
    });
    expect(api.staleCount()).toBe(0);
    expect(r.status.total).toBe(30);
    expect(r.status.failed).toBe(0);
  });

  it('an unknown resource is reported and skipped; the others are done', async () => {
    const api = new FakeApi();
    populate(api, 1, 3);
    const unknown: string[] = [];
    const r = await runPass(freshPass(2, 0), {
      api,
      resources: ['widgets.example.com', 'secrets'],
      limiter: unlimited(),
      onPage: async () => undefined,
      onUnknownResource: (n) => unknown.push(n),
    });
    expect(unknown).toEqual(['widgets.example.com']);
    expect(r.status).toMatchObject({ done: 3, unknownResources: ['widgets.example.com'] });
  });

  it('stops between pages when told to (the key rotated again)', async () => {
    const api = new FakeApi();
    populate(api, 1, 30);
    let pages = 0;
    const r = await runPass(freshPass(2, 0), {
      api,
      resources: ['secrets'],
      limiter: unlimited(),
      pageSize: 10,
      shouldStop: () => pages >= 1,
      onPage: async () => void pages++,
    });
    expect(r.stopped).toBe(true);
    expect(r.status.done).toBe(10);
  });

  it('runs again idempotently: a second pass rewrites nothing stale', async () => {
    const api = new FakeApi();
    populate(api, 2, 10);
    const opts = { api, resources: ['secrets'], limiter: unlimited(), onPage: async () => undefined };
    await runPass(freshPass(2, 0), opts);
    const again = await runPass(freshPass(2, 0), opts);
    expect(again.status).toMatchObject({ total: 20, done: 20, failed: 0 });
    expect(api.staleCount()).toBe(0);
  });
});
