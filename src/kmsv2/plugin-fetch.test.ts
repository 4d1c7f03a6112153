import { describe, expect, it } from 'vitest';
import { nodeCrypto } from '../crypto/node-provider.ts';
import { EngineCore } from '../engine/core.ts';
import { createKey } from '../engine/ops-keys.ts';
import { rotateKey } from '../engine/ops-rotation.ts';
import { SYSTEM } from '../engine/policy.ts';
import { MemoryKeyStore, TestRootKey } from '../engine/testing.ts';
import { KmsV2Plugin } from './plugin.ts';

const root = nodeCrypto.randomBytes(32);
const open = (store: MemoryKeyStore) =>
  EngineCore.open({ crypto: nodeCrypto, rootKey: new TestRootKey(nodeCrypto, root), store });

describe('KMS v2 Decrypt of a version this instance has not seen (HA)', () => {
  it('fetches it once through the hook, then decrypts; without a hook it fails as before', async () => {
    const source = await open(new MemoryKeyStore());
    const { keyId } = await createKey(source, { caller: SYSTEM }, {});
    // The stale instance: a copy of the state before the rotation.
    const staleStore = new MemoryKeyStore();
    staleStore.keys.set(keyId, source.keys.get(keyId)!.record);
    const stale = await open(staleStore);
    await rotateKey(source, keyId, 'ON_DEMAND');
    const writer = new KmsV2Plugin({ core: source, secretsKey: keyId });
    const enc = writer.encrypt(new TextEncoder().encode('dek seed'));
    expect(enc.keyId).toBe(`kubekms:${keyId}:v2`);

    expect(new KmsV2Plugin({ core: stale, secretsKey: keyId }).fetchMissing(enc.keyId)).toBeUndefined();
    const fetched: string[] = [];
    const reader = new KmsV2Plugin({
      core: stale,
      secretsKey: keyId,
      fetchVersion: async (uuid, version) => {
        fetched.push(`${uuid}:v${version}`);
        await stale.absorb({ putKeys: [source.keys.get(uuid)!.record] });
      },
    });
    expect(() => reader.decrypt(enc.ciphertext, enc.keyId, {}, 'u1')).toThrow();
    const wait = reader.fetchMissing(enc.keyId);
    expect(wait).toBeInstanceOf(Promise);
    await wait;
    expect(new TextDecoder().decode(reader.decrypt(enc.ciphertext, enc.keyId, {}, 'u2'))).toBe('dek seed');
    expect(fetched).toEqual([`${keyId}:v2`]);
    // Held now: no fetch, the synchronous path.
    expect(reader.fetchMissing(enc.keyId)).toBeUndefined();
    // Not a key_id of ours: no fetch either.
    expect(reader.fetchMissing('something-else')).toBeUndefined();
  });
});
