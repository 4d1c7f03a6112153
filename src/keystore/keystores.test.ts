/**
 * The guarantees every local keystore keeps (testdata/stores.ts: the file keystore and the database keystore):
 * atomic multi-record commits that change nothing when refused, strict checks of what a commit would write,
 * serialized commits, the refusal of another root key, and the data dir lock. Format-specific tests are in
 * file-keystore.test.ts and sqlite-keystore.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RootKey } from '../engine/ports.ts';
import { type KeyRecord, keyMaterialAad, type StoreState } from '../engine/records.ts';
import { FileRootKey } from '../rootkey/file-root-key.ts';
import { KeyStoreError } from './errors.ts';
import {
  alias,
  fullGrant,
  fullKey,
  minimalGrant,
  minimalKey,
  signingKey,
} from './testdata/sample-records.ts';
import { type LocalStore, STORES, type StoreKind } from './testdata/stores.ts';
import { openedState, tempDir } from './testing.ts';

const ids = (s: StoreState) => s.keys.map((k) => k.keyId);

describe.each(STORES)('the $name keystore', (kind: StoreKind) => {
  const dir = tempDir('kubekms-keystore-', 'each');
  let dataDir: string;
  let file: string;
  let rootKey: RootKey;
  const open: LocalStore[] = [];

  beforeEach(async () => {
    dataDir = join(dir(), 'data');
    file = join(dataDir, kind.file);
    rootKey = await FileRootKey.create(join(dir(), 'root.key'));
  });
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
  });

  function store(options: { rootKey?: RootKey } = {}): LocalStore {
    const s = kind.make({ dataDir, rootKey, ...options });
    open.push(s);
    return s;
  }

  const reopen = (): Promise<StoreState> => openedState(kind.make({ dataDir, rootKey }));

  async function openError(s: LocalStore): Promise<string> {
    const e = await s.open().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(KeyStoreError);
    return (e as Error).message;
  }

  describe('open', () => {
    it('refuses to open twice', async () => {
      const s = store();
      await s.open();
      expect(await openError(s)).toMatch(/is already open/);
    });

    it('a store sealed under another root key is refused, naming the configured key', async () => {
      const s = store();
      await s.open();
      await s.commit({ putKeys: [await minimalKey(rootKey, 'k')], putAliases: [alias('alias/k', 'k')] });
      await s.close();
      const before = await readFile(file);
      const other = await FileRootKey.create(join(dir(), 'other.key'));
      const msg = await openError(store({ rootKey: other }));
      expect(msg).toBe(
        `keystore: ${file} is sealed under a different root key than ${other.description}; ` +
          'start kubekms with the root key that created this store',
      );
      expect(Buffer.compare(await readFile(file), before)).toBe(0);
    });
  });

  describe('commit', () => {
    it('round-trips full records through the store', async () => {
      const s = store();
      await s.open();
      const keys = [
        await fullKey(rootKey, 'k-full'),
        await minimalKey(rootKey, 'k-min'),
        await signingKey(rootKey, 'k-sig'),
      ];
      const aliases = [alias('alias/kubekms/secrets', 'k-min'), alias('alias/app', 'k-full')];
      const grants = [fullGrant('g1', 'k-full'), minimalGrant('g2', 'k-sig')];
      await s.commit({ putKeys: keys, putAliases: aliases, putGrants: grants });
      expect(s.generation).toBe(1);
      await s.close();
      const back = await reopen();
      expect(back).toEqual({ keys, aliases, grants });
      for (const k of back.keys) {
        for (const v of k.versions) {
          const material = await rootKey.unwrap(v.wrappedMaterial, keyMaterialAad(k.keyId, v.version));
          expect(material.length).toBe(32);
        }
      }
    });

    it('puts replace in place, deletes remove, absent deletes are no-ops, generation counts commits', async () => {
      const s = store();
      await s.open();
      const [a, b, c] = [
        await minimalKey(rootKey, 'a'),
        await minimalKey(rootKey, 'b'),
        await minimalKey(rootKey, 'c'),
      ];
      await s.commit({
        putKeys: [a, b, c],
        putAliases: [alias('alias/x', 'a')],
        putGrants: [minimalGrant('g', 'b')],
      });
      const b2: KeyRecord = { ...b, description: 'changed', revision: 1 };
      await s.commit({
        putKeys: [b2],
        deleteKeys: ['a', 'nope'],
        deleteAliases: ['alias/x'],
        putAliases: [],
      });
      await s.commit({ putAliases: [alias('alias/x', 'c')], deleteGrants: ['g', 'nope'] });
      expect(s.generation).toBe(3);
      const back = await (async () => {
        await s.close();
        return reopen();
      })();
      expect(ids(back)).toEqual(['b', 'c']);
      expect(back.keys[0]).toEqual(b2);
      expect(back.aliases).toEqual([alias('alias/x', 'c')]);
      expect(back.grants).toEqual([]);
    });

    it('serializes concurrent commits', async () => {
      const s = store();
      await s.open();
      const keys = await Promise.all(Array.from({ length: 40 }, (_, i) => minimalKey(rootKey, `k${i}`)));
      await Promise.all(keys.map((k) => s.commit({ putKeys: [k] })));
      expect(s.generation).toBe(40);
      await s.close();
      expect(ids(await reopen())).toEqual(keys.map((k) => k.keyId));
    });

    it.each([
      ['a key put twice', { putKeys: ['x', 'x'] }, /key "x" named twice/],
      ['a key put and deleted', { putKeys: ['x'], deleteKeys: ['x'] }, /key "x" named twice/],
      ['an alias to a missing key', { putAliases: ['ghost'] }, /targetKeyId: key "ghost" does not exist/],
      ['a grant of a missing key', { putGrants: ['ghost'] }, /keyId: key "ghost" does not exist/],
      ['deleting a key that aliases use', { deleteKeys: ['k'] }, /targetKeyId: key "k" does not exist/],
    ])('refuses %s and changes nothing', async (_name, spec, message) => {
      const s = store();
      await s.open();
      const k = await minimalKey(rootKey, 'k');
      await s.commit({
        putKeys: [k],
        putAliases: [alias('alias/k', 'k')],
        putGrants: [minimalGrant('g', 'k')],
      });
      const before = await readFile(file);
      const x = await minimalKey(rootKey, 'x');
      const change = {
        ...('putKeys' in spec ? { putKeys: spec.putKeys.map(() => x) } : {}),
        ...('deleteKeys' in spec ? { deleteKeys: spec.deleteKeys } : {}),
        ...('putAliases' in spec ? { putAliases: spec.putAliases.map((t) => alias('alias/ghost', t)) } : {}),
        ...('putGrants' in spec ? { putGrants: spec.putGrants.map((t) => minimalGrant('g-ghost', t)) } : {}),
      };
      const err = await s.commit(change).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KeyStoreError);
      expect((err as Error).message).toMatch(/^keystore: change refused: /);
      expect((err as Error).message).toMatch(message);
      expect(Buffer.compare(await readFile(file), before)).toBe(0);
      expect(s.generation).toBe(1);
      await s.commit({ putKeys: [{ ...k, revision: 1 }] }); // the store still works
      expect(s.generation).toBe(2);
    });

    it('refuses a record that would not read back, naming its field, and changes nothing', async () => {
      const s = store();
      await s.open();
      const k = await minimalKey(rootKey, 'k');
      await s.commit({ putKeys: [k] });
      const before = await readFile(file);
      const bad: KeyRecord[] = [
        { ...k, versions: [] },
        { ...k, createdAt: Number.NaN },
        { ...k, primaryVersion: 2 },
        { ...k, keyId: 'k2', versions: [{ ...k.versions[0]!, wrappedMaterial: new Uint8Array(0) }] },
      ];
      const expected = [
        'putKeys[1].versions: empty: a key has at least one version',
        'putKeys[1].createdAt: not an integer: NaN',
        'putKeys[1].primaryVersion: 2 is not one of the versions',
        'putKeys[1].versions[0].wrappedMaterial: empty',
      ];
      for (const [i, record] of bad.entries()) {
        const other = await minimalKey(rootKey, `other-${i}`);
        await expect(s.commit({ putKeys: [other, record] })).rejects.toThrow(
          `keystore: change refused: ${expected[i]}`,
        );
      }
      expect(Buffer.compare(await readFile(file), before)).toBe(0);
      expect(s.generation).toBe(1);
    });

    it('rejects commits before open and after close', async () => {
      const s = store();
      await expect(s.commit({})).rejects.toThrow(/^keystore: commit on a store that is not open/);
      await s.open();
      await s.close();
      await expect(s.commit({})).rejects.toThrow(/not open/);
    });
  });

  describe('lock', () => {
    const lockFile = () => join(dataDir, 'keystore.lock');
    // keystore-lock.test.ts checks the boot id and start time against /proc.
    const ourLock = () =>
      new RegExp(`^${process.pid}\n${hostname()}\nboot=[0-9a-f-]{36}\npidns=[0-9]+\nstart=[0-9]+\n$`);
    const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!;
    /** Opens a store, expects keystore.lock to name this process while it is open, and closes it. */
    const opensHoldingOurLock = async () => {
      const s = store();
      await s.open();
      expect(await readFile(lockFile(), 'utf8')).toMatch(ourLock());
      await s.close();
    };

    it('holds keystore.lock with our pid while open and removes it on close', async () => {
      await opensHoldingOurLock();
      expect(await readdir(dataDir)).toEqual([kind.file]);
    });

    it('refuses a second open of the same data dir in this process until the first closes', async () => {
      const a = store();
      await a.open();
      expect(await openError(store())).toMatch(/this process already has .* open/);
      await a.close();
      await expect(store().open()).resolves.toBeDefined();
    });

    it('refuses a data dir locked by a live process', async () => {
      await mkdir(dataDir, { recursive: true });
      await writeFile(lockFile(), `${process.ppid}\n`);
      const msg = await openError(store());
      expect(msg).toBe(
        `keystore: another kubekms (pid ${process.ppid}) uses this data dir ${dataDir}; ` +
          `if no kubekms runs there, remove ${lockFile()}`,
      );
      expect(await readFile(lockFile(), 'utf8')).toBe(`${process.ppid}\n`);
    });

    it('takes over a lock of a dead process, and one naming our own pid from an earlier life', async () => {
      await mkdir(dataDir, { recursive: true });
      for (const pid of [deadPid(), process.pid]) {
        await writeFile(lockFile(), `${pid}\n`);
        await opensHoldingOurLock();
      }
    });

    it('refuses a lock taken in another pod while it is touched, whatever its pid; takes it over 30 s after', async () => {
      await mkdir(dataDir, { recursive: true });
      // Another pod's first process is pid 1 too: its pid says nothing here, so our own pid must not fool us.
      for (const pid of [1, process.pid]) {
        await writeFile(lockFile(), `${pid}\nkubekms-operator-7d9f-abcde\n`);
        expect(await openError(store())).toBe(
          `keystore: another kubekms (pid ${pid} on kubekms-operator-7d9f-abcde) uses this data dir ${dataDir}; ` +
            `if no kubekms runs there, remove ${lockFile()}`,
        );
      }
      const old = new Date(Date.now() - 31_000);
      await utimes(lockFile(), old, old);
      await opensHoldingOurLock();
    });

    it('refuses a lock file that names no process', async () => {
      await mkdir(dataDir, { recursive: true });
      await writeFile(lockFile(), 'garbage');
      expect(await openError(store())).toMatch(
        /keystore\.lock does not name a process; if no kubekms uses .* remove/,
      );
    });

    it('ignores and removes temp files left by a killed writer', async () => {
      const s = store();
      await s.open();
      await s.commit({ putKeys: [await minimalKey(rootKey, 'k')] });
      await s.close();
      const dead = deadPid();
      for (const name of kind.leftovers(dead))
        await writeFile(join(dataDir, name), '{"format": "kubekms-keys');
      await writeFile(join(dataDir, `keystore.lock.${dead}.0a1b2c`), `${dead}\n`);
      await writeFile(join(dataDir, 'unrelated.txt'), 'keep me');
      expect(ids(await reopen())).toEqual(['k']);
      expect((await readdir(dataDir)).sort()).toEqual([kind.file, 'unrelated.txt']);
    });
  });
});
