/**
 * Backup and restore of a local keystore with each root-of-trust provider: a consistent copy taken while the
 * store is open, checked in full, restored only into an empty data dir; escrow backups re-wrapped under a
 * passphrase key and restored under another provider's root key (off-site recovery without the HSM).
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RootKey } from '../engine/ports.ts';
import { keyMaterialAad, type StoreState } from '../engine/records.ts';
import { newScryptParams } from '../rootkey/passphrase-key.ts';
import { ProviderFixtures, type ProviderName, ROOT_KEY_PROVIDERS } from '../rootkey/testing/providers.ts';
import { createBackup, openBackup, readBackup } from './backup.ts';
import { restoreBackup } from './restore.ts';
import { SqliteKeyStore } from './sqlite-keystore.ts';
import { alias, fullGrant, fullKey, minimalKey, signingKey } from './testdata/sample-records.ts';

const PASSPHRASE = 'correct horse battery staple';
const CHEAP = { N: 2 ** 14, r: 8, p: 1 }; // the default (2^17) costs 128 MiB and ~0.5 s per derivation

let fixtures: ProviderFixtures;
let dir: string;
let source: string;
let target: string;
beforeAll(async () => {
  fixtures = await ProviderFixtures.create();
});
afterAll(async () => {
  await fixtures?.cleanup();
});
beforeEach(async () => {
  dir = await mkdtemp('/tmp/kubekms-backup-');
  source = join(dir, 'source');
  target = join(dir, 'target');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A populated store, left open like a running serve holds it. */
async function openStore(rootKey: RootKey): Promise<{ store: SqliteKeyStore; state: StoreState }> {
  const store = new SqliteKeyStore({ dataDir: source, rootKey });
  await store.open();
  await store.commit({
    putKeys: [await fullKey(rootKey, 'k1'), await minimalKey(rootKey, 'k2'), await signingKey(rootKey, 'k3')],
    putAliases: [alias('alias/kubekms/secrets', 'k2')],
    putGrants: [fullGrant('g1', 'k1')],
  });
  const state = await reopen(source, rootKey, store);
  return { store, state };
}

/** The state a fresh open of `dataDir` reads (closing `holding` first, and opening it again after). */
async function reopen(dataDir: string, rootKey: RootKey, holding?: SqliteKeyStore): Promise<StoreState> {
  await holding?.close();
  const s = new SqliteKeyStore({ dataDir, rootKey });
  try {
    return await s.open();
  } finally {
    await s.close();
    await holding?.open();
  }
}

const other = (name: ProviderName): ProviderName => (name === 'file' ? 'pkcs11' : 'file');

describe.each(ROOT_KEY_PROVIDERS)('backup and restore with the %s root key', (name) => {
  it('backs up a store that is open, verifies it, and restores it into an empty data dir', async () => {
    const rootKey = await fixtures.open(name);
    const { store, state } = await openStore(rootKey);
    const { text, summary } = await createBackup({ dataDir: source, rootKey, now: 1_800_000_000_000 });
    await store.close();
    expect(summary).toEqual({
      keys: 3,
      versions: 5,
      aliases: 1,
      grants: 1,
      generation: 1,
      createdAt: 1_800_000_000_000,
      sealedBy: 'root-key',
    });
    const file = join(dir, 'backup.json');
    await writeFile(file, text);
    const checked = await openBackup(readBackup(await readFile(file), file), file, { rootKey });
    expect(checked.summary).toEqual(summary);
    const restored = await restoreBackup({
      backup: await readFile(file),
      backupFile: file,
      dataDir: target,
      rootKey,
    });
    expect(restored).toEqual(summary);
    expect(await reopen(target, await fixtures.open(name))).toEqual(state);
  });

  it(`an escrow backup restores under the ${other(name)} root key, with the same key material`, async () => {
    const rootKey = await fixtures.open(name);
    const { store, state } = await openStore(rootKey);
    const escrow = { passphrase: PASSPHRASE, kdf: newScryptParams(CHEAP) };
    const { text, summary } = await createBackup({ dataDir: source, rootKey, escrow });
    await store.close();
    expect(summary.sealedBy).toBe('passphrase');
    const offsite = await fixtures.open(other(name));
    const bytes = new TextEncoder().encode(text);
    await restoreBackup({
      backup: bytes,
      backupFile: 'b',
      dataDir: target,
      rootKey: offsite,
      passphrase: PASSPHRASE,
    });
    const back = await reopen(target, offsite);
    expect(back.aliases).toEqual(state.aliases);
    expect(back.grants).toEqual(state.grants);
    for (const [i, k] of back.keys.entries()) {
      const was = state.keys[i]!;
      expect({ ...k, versions: [] }).toEqual({ ...was, versions: [] });
      for (const [j, v] of k.versions.entries()) {
        const aad = keyMaterialAad(k.keyId, v.version);
        const now = await offsite.unwrap(v.wrappedMaterial, aad);
        const before = await rootKey.unwrap(was.versions[j]!.wrappedMaterial, aad);
        expect(now.equals(before)).toBe(true);
      }
    }
  });
});

describe('backups refused', () => {
  let rootKey: RootKey;
  let text: string;
  beforeEach(async () => {
    rootKey = await fixtures.open('file');
    const { store } = await openStore(rootKey);
    text = (await createBackup({ dataDir: source, rootKey })).text;
    await store.close();
  });
  const restore = (backup: string, o: { rootKey?: RootKey; passphrase?: string } = {}) =>
    restoreBackup({
      backup: new TextEncoder().encode(backup),
      backupFile: 'b.json',
      dataDir: target,
      rootKey,
      ...o,
    });

  it('a policy edited in the backup is refused naming the key, and nothing is written', async () => {
    const edited = text.replace('"group:system:masters"', '"*"');
    expect(edited).not.toBe(text);
    await expect(restore(edited)).rejects.toThrow(
      /b\.json: keystore: keys\[0\] \(key "k1"\): changed without the root key/,
    );
    await expect(readdir(target)).rejects.toThrow(/ENOENT/);
  });

  it('a data dir that is not empty is refused and left as it was', async () => {
    await mkdir(target);
    await writeFile(join(target, 'keystore.json'), 'precious');
    await expect(restore(text)).rejects.toThrow(
      /data dir .* is not empty \(it holds keystore\.json\); restore only into an empty data dir/,
    );
    expect(await readFile(join(target, 'keystore.json'), 'utf8')).toBe('precious');
  });

  it('a root-key backup restored under another root key, a wrong passphrase, a truncated file', async () => {
    await expect(restore(text, { rootKey: await fixtures.open('pkcs11') })).rejects.toThrow(
      /sealed under a different root key/,
    );
    const escrow = { passphrase: PASSPHRASE, kdf: newScryptParams(CHEAP) };
    const sealed = (await createBackup({ dataDir: source, rootKey, escrow })).text;
    await expect(restore(sealed, { passphrase: 'not the passphrase at all' })).rejects.toThrow(
      /b\.json: wrong escrow passphrase \(or the backup was altered\)/,
    );
    await expect(restore(sealed)).rejects.toThrow(
      /sealed by an escrow passphrase: give --escrow-passphrase-file/,
    );
    await expect(restore(text.slice(0, 200))).rejects.toThrow(
      /b\.json: not a JSON document \(truncated or corrupt\)/,
    );
    await expect(readdir(target)).rejects.toThrow(/ENOENT/);
  });

  it('refuses scrypt parameters that ask for unbounded memory', async () => {
    const sealed = (
      await createBackup({
        dataDir: source,
        rootKey,
        escrow: { passphrase: PASSPHRASE, kdf: newScryptParams(CHEAP) },
      })
    ).text;
    const greedy = sealed.replace(`"N": ${2 ** 14}`, `"N": ${2 ** 30}`);
    await expect(restore(greedy, { passphrase: PASSPHRASE })).rejects.toThrow(
      /scrypt parameters: N must be a power of two in/,
    );
  });
});
