import { describe, expect, it, vi } from 'vitest';
import type { WatchEventType } from './client.ts';
import { KubeApiError } from './errors.ts';
import { Informer, type InformerEvent, type ListWatch } from './informer.ts';
import type { KubeObject, ResourceType } from './objects.ts';

const TYPE: ResourceType = { group: 'kubekms.io', version: 'v1alpha1', plural: 'kmskeys', kind: 'KmsKey' };
const obj = (name: string, rv: string): KubeObject => ({
  metadata: { name, namespace: 'ns', resourceVersion: rv },
});

interface Watch {
  rv: string;
  emit: (t: WatchEventType, o: KubeObject) => void;
  done: (err?: unknown) => void;
}

/** A scripted API: `lists` answer list calls in order (an Error is thrown); watches are driven by the test. */
function fakeApi(lists: ({ items: KubeObject[]; resourceVersion: string } | Error)[]) {
  const watches: Watch[] = [];
  let listCalls = 0;
  const client: ListWatch<KubeObject> = {
    async list() {
      const r = lists[Math.min(listCalls++, lists.length - 1)]!;
      if (r instanceof Error) throw r;
      return r;
    },
    async watch(rv: string, emit: Watch['emit'], done: Watch['done']) {
      watches.push({ rv, emit, done });
      return { stop() {} };
    },
  };
  return { client, watches, listCalls: () => listCalls };
}

function record(i: Informer<KubeObject>) {
  const seen: string[] = [];
  i.on((e: InformerEvent, o) => seen.push(`${e}:${o.metadata.name}@${o.metadata.resourceVersion}`));
  return seen;
}

describe('Informer', () => {
  it('lists, then watches from the list resourceVersion; events update the cache', async () => {
    const api = fakeApi([{ items: [obj('a', '5')], resourceVersion: '10' }]);
    const i = new Informer<KubeObject>({ source: api.client, type: TYPE });
    const seen = record(i);
    i.start();
    await vi.waitFor(() => expect(api.watches).toHaveLength(1));
    expect(i.hasSynced()).toBe(true);
    expect(api.watches[0]!.rv).toBe('10');
    const w = api.watches[0]!;
    w.emit('ADDED', obj('b', '11'));
    w.emit('MODIFIED', obj('a', '12'));
    w.emit('MODIFIED', obj('a', '12')); // same resourceVersion: no update
    w.emit('BOOKMARK', obj('', '13'));
    w.emit('DELETED', obj('b', '14'));
    expect(seen).toEqual(['add:a@5', 'add:b@11', 'update:a@12', 'delete:b@14']);
    expect(i.list().map((o) => o.metadata.name)).toEqual(['a']);
    // A clean close (server timeout) re-watches at once from the last resourceVersion, bookmarks included.
    w.done();
    await vi.waitFor(() => expect(api.watches).toHaveLength(2));
    expect(api.watches[1]!.rv).toBe('14');
    expect(api.listCalls()).toBe(1);
    await i.stop();
  });

  it('410 Gone re-lists and reports objects that vanished meanwhile as deleted', async () => {
    const api = fakeApi([
      { items: [obj('a', '1'), obj('b', '2')], resourceVersion: '2' },
      { items: [obj('a', '7'), obj('c', '8')], resourceVersion: '9' },
    ]);
    const i = new Informer<KubeObject>({ source: api.client, type: TYPE });
    const seen = record(i);
    i.start();
    await vi.waitFor(() => expect(api.watches).toHaveLength(1));
    api.watches[0]!.emit('ERROR', {
      code: 410,
      reason: 'Expired',
      message: 'too old',
    } as unknown as KubeObject);
    await vi.waitFor(() => expect(api.watches).toHaveLength(2));
    expect(api.watches[1]!.rv).toBe('9');
    expect(seen).toEqual(['add:a@1', 'add:b@2', 'update:a@7', 'add:c@8', 'delete:b@2']);
    await i.stop();
  });

  it('keeps retrying after other errors, with backoff, and reports them in health()', async () => {
    vi.useFakeTimers();
    try {
      const api = fakeApi([
        new KubeApiError(503, 'ServiceUnavailable', 'starting'),
        { items: [], resourceVersion: '1' },
      ]);
      const i = new Informer<KubeObject>({ source: api.client, type: TYPE, unhealthyAfterMs: 1000 });
      i.start();
      await vi.advanceTimersByTimeAsync(0);
      expect(i.hasSynced()).toBe(false);
      expect(i.health()).toMatchObject({
        ok: false,
        detail: expect.stringMatching(/not synced \(503 ServiceUnavailable/),
      });
      await vi.advanceTimersByTimeAsync(1_000);
      expect(i.hasSynced()).toBe(true);
      expect(i.health().ok).toBe(true);
      // A watch failing with 500 is retried (not abandoned as client-node's ListWatch does).
      api.watches[0]!.done(new KubeApiError(500, 'InternalError', 'boom'));
      await vi.advanceTimersByTimeAsync(2_000);
      expect(api.watches.length).toBeGreaterThanOrEqual(2);
      for (let n = 0; n < 5; n++) {
        api.watches.at(-1)!.done(new KubeApiError(500, 'InternalError', 'boom'));
        await vi.advanceTimersByTimeAsync(40_000);
      }
      expect(i.health()).toMatchObject({
        ok: false,
        detail: expect.stringMatching(/watch failing since .*500 InternalError/),
      });
      const stopping = i.stop();
      await vi.advanceTimersByTimeAsync(0);
      await stopping;
    } finally {
      vi.useRealTimers();
    }
  });
});
