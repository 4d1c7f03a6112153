import { describe, expect, it } from 'vitest';
import { EventRecorder } from './events.ts';
import { FakeEvents } from './testing.ts';

const regarding = {
  apiVersion: 'kubekms.io/v1alpha1',
  kind: 'KmsKey',
  namespace: 'apps',
  name: 'k',
  uid: 'u1',
};

function setup() {
  const api = new FakeEvents();
  let t = Date.UTC(2026, 0, 1);
  const r = new EventRecorder({
    client: api,
    reportingController: 'kubekms.io/operator',
    reportingInstance: 'node-1',
    now: () => t,
  });
  return { api, r, advance: (ms: number) => (t += ms) };
}

describe('EventRecorder', () => {
  it('writes an events.k8s.io/v1 Event with MicroTime and the reporting fields', async () => {
    const { api, r } = setup();
    r.record({ regarding, type: 'Normal', reason: 'KeyCreated', action: 'Create', note: 'created key 1234' });
    await r.flush();
    expect(api.created).toHaveLength(1);
    const e = api.created[0]!;
    expect(e).toMatchObject({
      reason: 'KeyCreated',
      action: 'Create',
      type: 'Normal',
      reportingController: 'kubekms.io/operator',
      reportingInstance: 'node-1',
      regarding,
      metadata: { namespace: 'apps' },
    });
    expect(e.eventTime).toBe('2026-01-01T00:00:00.000000Z');
    expect(e.metadata.name).toMatch(/^k\.[0-9a-f]+$/);
  });

  it('aggregates repeats into a series instead of new Events', async () => {
    const { api, r, advance } = setup();
    for (let i = 0; i < 3; i++) {
      r.record({ regarding, type: 'Warning', reason: 'InvalidSpec', action: 'Reconcile', note: 'same' });
      advance(1000);
      await r.flush();
    }
    expect(api.created).toHaveLength(1);
    expect(api.patched.map((p) => p.series?.count)).toEqual([2, 3]);
    expect(api.patched[1]!.series?.lastObservedTime).toBe('2026-01-01T00:00:02.000000Z');
    r.record({ regarding, type: 'Warning', reason: 'InvalidSpec', action: 'Reconcile', note: 'different' });
    await r.flush();
    expect(api.created).toHaveLength(2);
  });

  it('limits one object to a burst of 25, then one per 5 minutes', async () => {
    const { api, r, advance } = setup();
    for (let i = 0; i < 30; i++)
      r.record({ regarding, type: 'Normal', reason: 'KeyRotated', action: 'Rotate', note: `v${i}` });
    await r.flush();
    expect(api.created).toHaveLength(25);
    advance(5 * 60_000);
    r.record({ regarding, type: 'Normal', reason: 'KeyRotated', action: 'Rotate', note: 'later' });
    await r.flush();
    expect(api.created).toHaveLength(26);
  });

  it('never throws when the API fails', async () => {
    const r = new EventRecorder({
      client: {
        createEvent: () => Promise.reject(new Error('down')),
        patchEventSeries: () => Promise.reject(new Error('down')),
      },
      reportingController: 'c',
      reportingInstance: 'i',
    });
    expect(() => r.record({ regarding, type: 'Normal', reason: 'X', action: 'Y', note: '' })).not.toThrow();
    await r.flush();
  });
});
