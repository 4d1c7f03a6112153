/**
 * The heartbeat Lease follows a change at once: a poke that arrives while a renewal is in flight (which may have
 * read the state before the change) is not lost but renews again right after, instead of a period later.
 */
import { describe, expect, it } from 'vitest';
import type { Lease } from '../kube/client.ts';
import { createLogger } from '../observability/logger.ts';
import { Heartbeat } from './heartbeat.ts';
import { FakeStateApi } from './testing.ts';

/** A FakeStateApi whose first Lease write (its body already built) waits until released. */
class SlowFirstWrite extends FakeStateApi {
  release: () => void = () => undefined;
  #first = true;
  override async createLease(lease: Lease): Promise<Lease> {
    if (this.#first) {
      this.#first = false;
      await new Promise<void>((r) => {
        this.release = r;
      });
    }
    return super.createLease(lease);
  }
}

describe('heartbeat', () => {
  it('a poke during a renewal renews again at once with the new state, not a period later', async () => {
    const api = new SlowFirstWrite();
    let keyId = '';
    const hb = new Heartbeat({
      api,
      instance: 'a',
      held: () => ({}),
      keyId: () => keyId,
      log: createLogger('silent'),
      periodMs: 60_000,
    });
    hb.start();
    await new Promise((r) => setTimeout(r, 20)); // the first renewal is in flight, its body built
    keyId = 'kubekms:k:v1';
    hb.poke();
    api.release();
    const deadline = Date.now() + 5_000;
    const annotation = () =>
      api.leases.get('kubekms-instance-a')?.metadata.annotations?.['kubekms.io/key-id'];
    while (annotation() !== keyId && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(annotation()).toBe(keyId);
    await hb.stop();
  });
});
