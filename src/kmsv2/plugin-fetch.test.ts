import { describe, expect, it } from 'vitest';
import { KmsV2Plugin } from './plugin.ts';
import { staleInstance } from './testing/stale-instance.ts';

describe('KMS v2 Decrypt of a version this instance has not seen (HA)', () => {
  it('fetches it once through the hook, then decrypts; without a hook it fails as before', async () => {
    const { source, stale, keyId, catchUp } = await staleInstance();
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
        await catchUp(uuid);
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
