/**
 * Test support shared by the keystore tests and the kill tests (here and in src/cli): a temporary directory made
 * and removed around a file's tests or each test, the seeded generator the kill tests draw their instants from
 * (KUBEKMS_CRASH_SEED replays a run), and the sample store the backup and restore tests fill. Production code
 * never imports this file (test/unit/published-build.test.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import type { KeyStore, RootKey } from '../engine/ports.ts';
import type { KeyRecord, StoreState } from '../engine/records.ts';
import { alias, fullGrant, fullKey, minimalKey } from './testdata/sample-records.ts';

/**
 * A fresh directory under the system temp dir, named `prefix…`: made before all the tests of the calling file or
 * suite (`scope` 'all') or before each test ('each'), removed after. Returns a getter for its path; hooks the
 * caller registers later run after it is made and before it is removed.
 */
export function tempDir(prefix: string, scope: 'all' | 'each' = 'all'): () => string {
  let dir: string | undefined;
  const make = async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
  };
  const remove = async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  };
  if (scope === 'all') {
    beforeAll(make);
    afterAll(remove);
  } else {
    beforeEach(make);
    afterEach(remove);
  }
  return () => {
    if (dir === undefined) throw new Error(`tempDir ${prefix}: used outside a test`);
    return dir;
  };
}

/** mulberry32: a small seeded generator of numbers in [0, 1), so that a failing kill test can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of a kill test's run: KUBEKMS_CRASH_SEED when set (to replay a run), else one from the clock. */
export function crashSeed(): number {
  return Number(process.env.KUBEKMS_CRASH_SEED ?? Date.now() % 2 ** 31);
}

/**
 * Fills the store that `make` returns with the sample the backup and restore tests share — keys k1 (full), k2
 * (minimal) and `extra`, alias/kubekms/secrets → k2, grant g1 on k1, in one commit — and returns the state that a
 * second store from `make` opens.
 */
export async function fillSampleStore(
  make: () => KeyStore,
  rootKey: RootKey,
  extra: readonly KeyRecord[] = [],
): Promise<StoreState> {
  const store = make();
  await store.open();
  await store.commit({
    putKeys: [await fullKey(rootKey, 'k1'), await minimalKey(rootKey, 'k2'), ...extra],
    putAliases: [alias('alias/kubekms/secrets', 'k2')],
    putGrants: [fullGrant('g1', 'k1')],
  });
  await store.close();
  return openedState(make());
}

/** The state `store` opens with; the store is closed again, whether the open succeeded or threw. */
export async function openedState(store: KeyStore): Promise<StoreState> {
  try {
    return await store.open();
  } finally {
    await store.close();
  }
}
