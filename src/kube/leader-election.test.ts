import { describe, expect, it } from 'vitest';
import type { Lease } from './client.ts';
import { type LeaderElectionOptions, LeaderElector } from './leader-election.ts';
import { FakeLeases } from './testing.ts';

function setup() {
  const api = new FakeLeases();
  let t = Date.UTC(2026, 0, 1);
  const clock = { now: () => t, advance: (ms: number) => (t += ms) };
  const log: string[] = [];
  const make = (identity: string, client: LeaderElectionOptions['client'] = api) =>
    new LeaderElector({
      client,
      namespace: 'kubekms',
      name: 'kubekms-operator',
      identity,
      now: clock.now,
      onStartedLeading: () => log.push(`${identity} started`),
      onStoppedLeading: async () => {
        log.push(`${identity} stopped`);
      },
    });
  return { api, clock, log, make };
}

describe('LeaderElector (15 s / 10 s / 2 s, fake clock)', () => {
  it('the first candidate creates the Lease and leads; the second stays standby', async () => {
    const { api, make, log } = setup();
    const a = make('a');
    const b = make('b');
    await a.tick();
    await b.tick();
    expect(a.isLeader).toBe(true);
    expect(b.isLeader).toBe(false);
    expect(b.observedHolder).toBe('a');
    const l = api.leases.get('kubekms/kubekms-operator')!;
    expect(l.spec).toMatchObject({ holderIdentity: 'a', leaseDurationSeconds: 15, leaseTransitions: 0 });
    expect(l.spec.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(log).toEqual(['a started']);
  });

  it('a standby takes over only after a lease duration without renewal, as seen on its own clock', async () => {
    const { clock, make, log, api } = setup();
    const a = make('a');
    const b = make('b');
    await a.tick();
    await b.tick();
    // a keeps renewing every 2 s: b never takes over.
    for (let i = 0; i < 20; i++) {
      clock.advance(2_000);
      await a.tick();
      await b.tick();
    }
    expect(b.isLeader).toBe(false);
    // a dies. b observed the last renewal at its last tick; 14 s later it still waits.
    clock.advance(14_000);
    await b.tick();
    expect(b.isLeader).toBe(false);
    clock.advance(1_000);
    await b.tick();
    expect(b.isLeader).toBe(true);
    expect(api.leases.get('kubekms/kubekms-operator')!.spec.leaseTransitions).toBe(1);
    expect(log).toEqual(['a started', 'b started']);
  });

  it('a leader that cannot renew steps down after the renew deadline, before anyone may take over', async () => {
    const { api, clock, make, log } = setup();
    const a = make('a');
    await a.tick();
    api.down = true;
    clock.advance(8_000);
    await a.tick();
    expect(a.isLeader).toBe(true);
    clock.advance(2_001);
    await a.tick();
    expect(a.isLeader).toBe(false);
    expect(log).toEqual(['a started', 'a stopped']);
  });

  it('a leader whose lease was taken steps down on its next tick', async () => {
    const { clock, make, log } = setup();
    const a = make('a');
    const b = make('b');
    await a.tick();
    await b.tick();
    clock.advance(16_000);
    await b.tick(); // a has not renewed for 16 s: b takes over
    expect(b.isLeader).toBe(true);
    await a.tick();
    expect(a.isLeader).toBe(false);
    expect(log).toEqual(['a started', 'b started', 'a stopped']);
  });

  it('only one of two candidates racing for an expired lease wins (resourceVersion conflict)', async () => {
    const { clock, make, api } = setup();
    const a = make('a');
    await a.tick();
    const b = make('b');
    const c = make('c');
    await b.tick();
    await c.tick();
    clock.advance(16_000);
    await Promise.all([b.tick(), c.tick()]);
    expect([b.isLeader, c.isLeader].filter(Boolean)).toHaveLength(1);
    expect(api.leases.get('kubekms/kubekms-operator')!.spec.holderIdentity).toBe(b.isLeader ? 'b' : 'c');
  });

  it('stop() releases the lease so a standby takes over at its next tick', async () => {
    const { make } = setup();
    const a = make('a');
    const b = make('b');
    await a.tick();
    await b.tick();
    await a.stop();
    expect(a.isLeader).toBe(false);
    await b.tick();
    expect(b.isLeader).toBe(true);
  });

  it('stop() releases the lease even when a renewal in flight moved its resourceVersion', async () => {
    const { api, make } = setup();
    let hold: (() => void) | undefined;
    // The renewal reaches the API server (the lease's resourceVersion moves) but its answer is late.
    const slowAnswers = {
      getLease: (ns: string, n: string) => api.getLease(ns, n),
      createLease: (l: Lease) => api.createLease(l),
      async replaceLease(l: Lease) {
        const written = await api.replaceLease(l);
        if (hold === undefined) await new Promise<void>((r) => (hold = r));
        return written;
      },
    };
    const a = make('a', slowAnswers);
    const b = make('b');
    await a.tick(); // creates the lease (no replace)
    await b.tick();
    const renewing = a.tick(); // renew in flight: the server has it, a does not know yet
    await new Promise((r) => setImmediate(r));
    await a.stop();
    hold?.();
    await renewing;
    expect(api.leases.get('kubekms/kubekms-operator')!.spec.holderIdentity).toBeUndefined();
    await b.tick();
    expect(b.isLeader).toBe(true);
  });

  it('a controller shutdown slower than the step-down grace does not keep the lease', async () => {
    const api = new FakeLeases();
    let finish: (() => void) | undefined;
    const a = new LeaderElector({
      client: api,
      namespace: 'kubekms',
      name: 'kubekms-operator',
      identity: 'a',
      stepDownGraceMs: 20,
      onStartedLeading: () => undefined,
      onStoppedLeading: () => new Promise<void>((r) => (finish = r)),
    });
    await a.tick();
    const stopping = a.stop();
    await new Promise((r) => setTimeout(r, 100));
    // Released within the grace although the controllers are still winding down; stop() waits for them.
    expect(api.leases.get('kubekms/kubekms-operator')!.spec.holderIdentity).toBeUndefined();
    let stopped = false;
    void stopping.then(() => (stopped = true));
    await new Promise((r) => setImmediate(r));
    expect(stopped).toBe(false);
    finish?.();
    await stopping;
    expect(stopped).toBe(true);
  });
});
