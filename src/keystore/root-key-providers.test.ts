/**
 * The keystore with each root-of-trust provider (file, pkcs11 in SoftHSM2): the same round trip through the file,
 * and a store sealed under one provider's key is refused with the other's, with a clear error, byte-identical.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RootKey } from '../engine/ports.ts';
import { keyMaterialAad } from '../engine/records.ts';
import { ProviderFixtures, type ProviderName, ROOT_KEY_PROVIDERS } from '../rootkey/testing/providers.ts';
import { KeyStoreError } from './errors.ts';
import { FileKeyStore } from './file-keystore.ts';
import { alias, fullGrant, fullKey, minimalKey, signingKey } from './testdata/sample-records.ts';

let fixtures: ProviderFixtures;
let dataDir: string;
beforeAll(async () => {
  fixtures = await ProviderFixtures.create();
});
afterAll(async () => {
  await fixtures?.cleanup();
});
beforeEach(async () => {
  dataDir = await mkdtemp('/tmp/kubekms-hsm-keystore-');
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

async function withStore<T>(rootKey: RootKey, fn: (s: FileKeyStore) => Promise<T>): Promise<T> {
  const s = new FileKeyStore({ dataDir, rootKey });
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

const other = (name: ProviderName): ProviderName => (name === 'file' ? 'pkcs11' : 'file');

describe.each(ROOT_KEY_PROVIDERS)('FileKeyStore sealed by the %s root key', (name) => {
  it('round-trips full records, and key material unwraps after a restart of the root key', async () => {
    const rootKey = await fixtures.open(name);
    const keys = [
      await fullKey(rootKey, 'k-full'),
      await minimalKey(rootKey, 'k-min'),
      await signingKey(rootKey, 'k-sig'),
    ];
    const aliases = [alias('alias/kubekms/secrets', 'k-min')];
    const grants = [fullGrant('g1', 'k-full')];
    await withStore(rootKey, async (s) => {
      await s.open();
      await s.commit({ putKeys: keys, putAliases: aliases, putGrants: grants });
    });
    const restarted = await fixtures.open(name);
    const back = await withStore(restarted, (s) => s.open());
    expect(back).toEqual({ keys, aliases, grants });
    for (const k of back.keys)
      for (const v of k.versions) {
        const material = await restarted.unwrap(v.wrappedMaterial, keyMaterialAad(k.keyId, v.version));
        expect(material.length).toBeGreaterThan(0);
        expect(v.wrappedMaterial[0]).toBe(name === 'file' ? 0x01 : 0x02);
      }
  });

  it(`is refused, unchanged, when opened with the ${other(name)} root key`, async () => {
    const rootKey = await fixtures.open(name);
    await withStore(rootKey, async (s) => {
      await s.open();
      await s.commit({ putKeys: [await minimalKey(rootKey, 'k1')] });
    });
    const file = join(dataDir, 'keystore.json');
    const before = await readFile(file);
    const wrong = await fixtures.open(other(name));
    const err = await withStore(wrong, (s) => s.open()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeyStoreError);
    expect((err as Error).message).toBe(
      `keystore: ${file} is sealed under a different root key than ${wrong.description}; ` +
        'start kubekms with the root key that created this store',
    );
    expect(Buffer.compare(await readFile(file), before)).toBe(0);
    // The right key still opens it.
    const back = await withStore(await fixtures.open(name), (s) => s.open());
    expect(back.keys.map((k) => k.keyId)).toEqual(['k1']);
  });
});
