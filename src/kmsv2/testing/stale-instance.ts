/**
 * Two engine instances under one root key, as in HA: `source` has rotated its key to version 2, `stale` still
 * holds version 1 only (it was away); `catchUp` gives `stale` what the shared state would.
 */
import { nodeCrypto } from '../../crypto/node-provider.ts';
import { EngineCore } from '../../engine/core.ts';
import { createKey } from '../../engine/ops-keys.ts';
import { rotateKey } from '../../engine/ops-rotation.ts';
import { SYSTEM } from '../../engine/policy.ts';
import type { Clock } from '../../engine/ports.ts';
import { MemoryKeyStore, TestRootKey } from '../../engine/testing.ts';

export async function staleInstance(clock?: Clock) {
  const root = nodeCrypto.randomBytes(32);
  const open = (store: MemoryKeyStore) =>
    EngineCore.open({
      crypto: nodeCrypto,
      rootKey: new TestRootKey(nodeCrypto, root),
      store,
      ...(clock ? { clock } : {}),
    });
  const source = await open(new MemoryKeyStore());
  const { keyId } = await createKey(source, { caller: SYSTEM }, {});
  const staleStore = new MemoryKeyStore();
  staleStore.keys.set(keyId, source.findKey(keyId)!);
  const stale = await open(staleStore);
  await rotateKey(source, keyId, 'ON_DEMAND');
  return {
    source,
    stale,
    keyId,
    catchUp: (keyUuid: string) => stale.absorb({ putKeys: [source.findKey(keyUuid)!] }),
  };
}
