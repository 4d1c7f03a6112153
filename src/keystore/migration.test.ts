/**
 * Migration of version 1 stores (records not authenticated) to version 2 on first open by a holder of the root
 * key: the state is kept, the rewrite is one atomic replace (a failure at any step leaves the old file as it was,
 * and the next open migrates it), and `unauthenticated: 'refuse'` turns migration off.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import type { RootKey } from '../engine/ports.ts';
import type { StoreState } from '../engine/records.ts';
import { FileRootKey } from '../rootkey/file-root-key.ts';
import { KeyStoreError } from './errors.ts';
import { FileKeyStore, type FileKeyStoreOptions } from './file-keystore.ts';
import { type FaultStep, faultyFs } from './testdata/faulty-fs.ts';
import { downgradeToV1 } from './testdata/legacy-document.ts';
import { alias, fullGrant, fullKey, minimalKey } from './testdata/sample-records.ts';
import { tempDir } from './testing.ts';

const dir = tempDir('kubekms-migrate-', 'each');
let dataDir: string;
let file: string;
let rootKey: RootKey;
beforeEach(async () => {
  dataDir = join(dir(), 'data');
  file = join(dataDir, 'keystore.json');
  rootKey = await FileRootKey.create(join(dir(), 'root.key'));
});

/** A version 1 store holding two keys, an alias and a grant, after three commits; returns its state. */
async function legacyStore(): Promise<StoreState> {
  const s = new FileKeyStore({ dataDir, rootKey });
  await s.open();
  await s.commit({ putKeys: [await fullKey(rootKey, 'k1')] });
  await s.commit({ putKeys: [await minimalKey(rootKey, 'k2')], putAliases: [alias('alias/a', 'k2')] });
  await s.commit({ putGrants: [fullGrant('g1', 'k1')] });
  await s.close();
  const state = await withStore({}, (t) => t.open());
  await downgradeToV1(file);
  return state;
}

async function withStore<T>(
  o: Partial<FileKeyStoreOptions>,
  fn: (s: FileKeyStore) => Promise<T>,
): Promise<T> {
  const s = new FileKeyStore({ dataDir, rootKey, ...o });
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

const formatVersion = async () =>
  (JSON.parse(await readFile(file, 'utf8')) as { formatVersion: number }).formatVersion;

describe('FileKeyStore migration of version 1 stores', () => {
  it('keeps the state and generation, authenticates every record, and says it migrated', async () => {
    const state = await legacyStore();
    expect(await formatVersion()).toBe(1);
    const [back, from, generation] = await withStore({}, async (s) => [
      await s.open(),
      s.migratedFrom,
      s.generation,
    ]);
    expect(back).toEqual(state);
    expect(from).toBe(1);
    expect(generation).toBe(3);
    expect(await formatVersion()).toBe(2);
    expect(await readdir(dataDir)).toEqual(['keystore.json']);
    expect(await withStore({}, async (s) => [await s.open(), s.migratedFrom])).toEqual([state, undefined]);
  });

  it('after migration, an edit made without the root key is refused', async () => {
    await legacyStore();
    await withStore({}, (s) => s.open());
    await writeFile(
      file,
      (await readFile(file, 'utf8')).replace('"state": "PendingDeletion"', '"state": "Enabled"'),
    );
    await expect(withStore({}, (s) => s.open())).rejects.toThrow(
      /keys\[0\] \(key "k1"\): changed without the root key/,
    );
  });

  it.each<FaultStep>(['open', 'write', 'sync', 'close', 'rename'])(
    'a failure at %s of the rewrite leaves the version 1 file byte-identical; the next open migrates',
    async (step) => {
      const state = await legacyStore();
      const before = await readFile(file);
      const fs = faultyFs();
      fs.failAt = step;
      await expect(withStore({ fs }, (s) => s.open())).rejects.toThrow(
        /cannot write .*keystore\.json.*unchanged/,
      );
      expect(Buffer.compare(await readFile(file), before)).toBe(0);
      expect(await readdir(dataDir)).toEqual(['keystore.json']);
      expect(await withStore({}, (s) => s.open())).toEqual(state);
      expect(await formatVersion()).toBe(2);
    },
  );

  it('a version 1 store sealed under another root key is refused, not migrated', async () => {
    await legacyStore();
    const before = await readFile(file);
    const other = await FileRootKey.create(join(dir(), 'other.key'));
    await expect(withStore({ rootKey: other }, (s) => s.open())).rejects.toThrow(
      /sealed under a different root key/,
    );
    expect(Buffer.compare(await readFile(file), before)).toBe(0);
  });

  it("unauthenticated: 'refuse' refuses a version 1 store and leaves it byte-identical", async () => {
    await legacyStore();
    const before = await readFile(file);
    const e = await withStore({ unauthenticated: 'refuse' }, (s) => s.open()).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(KeyStoreError);
    expect((e as Error).message).toBe(
      `keystore: ${file}: formatVersion 1: its records are not authenticated and migrating unauthenticated ` +
        'stores is turned off; refusing to open it',
    );
    expect(Buffer.compare(await readFile(file), before)).toBe(0);
  });

  it('trust on first use: an edit made to a version 1 store before its first open is kept (docs/adr/0013)', async () => {
    await legacyStore();
    await writeFile(
      file,
      (await readFile(file, 'utf8')).replace('"state": "PendingDeletion"', '"state": "Enabled"'),
    );
    const back = await withStore({}, (s) => s.open());
    expect(back.keys[0]!.state).toBe('Enabled');
  });
});
