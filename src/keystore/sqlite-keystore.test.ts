/**
 * What only the database keystore does (keystores.test.ts holds both stores to the common guarantees, tamper.test.ts
 * to record authentication): its files and modes, row-level attacks on keystore.db (a row rolled back to an older
 * copy, an id column changed, rows chosen by Gaussian elimination so that their auths XOR to zero), databases that
 * are corrupt, foreign or newer, and the migration of keystore.json. Every refusal leaves keystore.db byte-identical.
 */
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import type { RootKey } from '../engine/ports.ts';
import type { StoreState } from '../engine/records.ts';
import { FileRootKey } from '../rootkey/file-root-key.ts';
import { KeyStoreError } from './errors.ts';
import { FileKeyStore } from './file-keystore.ts';
import { writeDatabase } from './sqlite-db.ts';
import { SqliteKeyStore } from './sqlite-keystore.ts';
import { downgradeToV1 } from './testdata/legacy-document.ts';
import { alias, fullGrant, fullKey, minimalKey } from './testdata/sample-records.ts';
import { loadDoc, saveDoc } from './testdata/store-docs.ts';
import { tempDir } from './testing.ts';

const dir = tempDir('kubekms-sqlite-', 'each');
let dataDir: string;
let db: string;
let rootKey: RootKey;
beforeEach(async () => {
  dataDir = join(dir(), 'data');
  db = join(dataDir, 'keystore.db');
  rootKey = await FileRootKey.create(join(dir(), 'root.key'));
});

async function withStore<T>(
  fn: (s: SqliteKeyStore) => Promise<T>,
  o: { unauthenticated?: 'refuse' } = {},
): Promise<T> {
  const s = new SqliteKeyStore({ dataDir, rootKey, ...o });
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}
const reopen = (): Promise<StoreState> => withStore((s) => s.open());

async function openError(o: { unauthenticated?: 'refuse' } = {}): Promise<string> {
  const e = await withStore((s) => s.open(), o).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(KeyStoreError);
  return (e as Error).message;
}

/** Applies `edit` to keystore.db, then expects open() to refuse it with `message` and to leave it byte-identical. */
async function refusedAfter(edit: () => Promise<void> | void, message: RegExp): Promise<string> {
  await edit();
  const before = await readFile(db);
  const msg = await openError();
  expect(msg).toMatch(message);
  expect(msg.startsWith(`keystore: ${db}`)).toBe(true);
  expect(Buffer.compare(await readFile(db), before)).toBe(0);
  expect(await readdir(dataDir)).toEqual(['keystore.db']);
  return msg;
}

const sql = (text: string, ...params: (string | number | Uint8Array)[]) =>
  writeDatabase(db, [{ sql: text, params }]);

describe('SqliteKeyStore files', () => {
  it('creates keystore.db (0600) in a 0700 data dir, its side files 0600 while open, only keystore.db after close', async () => {
    await withStore(async (s) => {
      expect(s.description).toBe(`sqlite:${db}`);
      expect(await s.open()).toEqual({ keys: [], aliases: [], grants: [] });
      expect(s.generation).toBe(0);
      await s.commit({ putKeys: [await minimalKey(rootKey, 'k')] });
      expect((await stat(dataDir)).mode & 0o777).toBe(0o700);
      for (const f of ['keystore.db', 'keystore.db-wal', 'keystore.db-shm'])
        expect((await stat(join(dataDir, f))).mode & 0o777, f).toBe(0o600);
    });
    expect(await readdir(dataDir)).toEqual(['keystore.db']);
    const doc = await loadDoc(dataDir, 'keystore.db');
    expect(doc).toMatchObject({ format: 'kubekms-keystore-db', formatVersion: 1, generation: 1 });
    expect(Object.keys(doc).sort()).toEqual([
      'aliases',
      'format',
      'formatVersion',
      'generation',
      'grants',
      'keys',
      'recordAuthKey',
      'rootKeyCheck',
      'seal',
    ]);
  });
});

describe('SqliteKeyStore atomicity', () => {
  it('a commit that fails inside its transaction writes nothing, changes nothing in memory, and the next one works', async () => {
    await withStore(async (s) => {
      await s.open();
      await s.commit({ putKeys: [await minimalKey(rootKey, 'k1')], putAliases: [alias('alias/a', 'k1')] });
      // Another connection adds a trigger that aborts the insert of key "boom" half-way through a transaction.
      sql(
        "CREATE TRIGGER boom BEFORE INSERT ON records WHEN NEW.id = 'boom' BEGIN SELECT RAISE(ABORT, 'injected'); END",
      );
      const change = {
        putKeys: [await minimalKey(rootKey, 'k2'), await minimalKey(rootKey, 'boom')],
        deleteAliases: ['alias/a'],
      };
      await expect(s.commit(change)).rejects.toThrow(
        new RegExp(`^keystore: cannot write ${db} \\(injected\\); the store is unchanged$`),
      );
      expect(s.generation).toBe(1);
      await s.commit({ putKeys: [await minimalKey(rootKey, 'k3')] });
      expect(s.generation).toBe(2);
    });
    expect(await openError()).toMatch(/: schema\.trigger boom: unknown; refusing to open it$/);
    sql('DROP TRIGGER boom');
    const back = await reopen();
    expect(back.keys.map((k) => k.keyId)).toEqual(['k1', 'k3']);
    expect(back.aliases.map((a) => a.aliasName)).toEqual(['alias/a']);
  });
});

describe('SqliteKeyStore refuses rows changed without the root key', () => {
  async function seeded(): Promise<void> {
    await withStore(async (s) => {
      await s.open();
      await s.commit({ putKeys: [await fullKey(rootKey, 'k1')], putAliases: [alias('alias/a', 'k1')] });
    });
  }

  it('a key row rolled back to an older copy (an older, validly authenticated record and its auth)', async () => {
    await seeded();
    const old = await loadDoc(dataDir, 'keystore.db');
    await withStore(async (s) => {
      const [k] = (await s.open()).keys;
      await s.commit({ putKeys: [{ ...k!, state: 'Disabled', revision: k!.revision + 1 }] });
    });
    const now = await loadDoc(dataDir, 'keystore.db');
    await refusedAfter(
      () => saveDoc(dataDir, 'keystore.db', { ...now, keys: old.keys }),
      /: seal: changed without the root key \(the set of records or the generation differs/,
    );
  });

  it('an id column that disagrees with its record', async () => {
    await seeded();
    await refusedAfter(
      () => sql("UPDATE records SET id = 'k2' WHERE kind = 'Key'"),
      /: key "k2": id: the row says "k2", the record "k1"; refusing to open it$/,
    );
  });

  it('rows whose auths XOR to zero, dropped together (a seal over the XOR of the visible auths would keep them)', async () => {
    const keys = await Promise.all(Array.from({ length: 300 }, (_, i) => minimalKey(rootKey, `k${i}`)));
    await withStore(async (s) => {
      await s.open();
      await s.commit({ putKeys: keys });
    });
    const doc = await loadDoc(dataDir, 'keystore.db');
    const auths = doc.keys.map((k) => BigInt(`0x${Buffer.from(String(k.auth), 'base64').toString('hex')}`));
    const subset = zeroXorSubset(auths);
    expect(subset.length).toBeGreaterThan(1);
    expect(subset.reduce((x, i) => x ^ auths[i]!, 0n)).toBe(0n);
    const drop = new Set(subset);
    await refusedAfter(
      () => saveDoc(dataDir, 'keystore.db', { ...doc, keys: doc.keys.filter((_, i) => !drop.has(i)) }),
      /: seal: changed without the root key/,
    );
  });
});

/** Indices of a non-empty subset of `vectors` whose XOR is zero (Gaussian elimination over GF(2)). */
function zeroXorSubset(vectors: readonly bigint[]): number[] {
  const basis = new Map<number, { v: bigint; mask: bigint }>(); // leading bit → reduced vector, rows combined
  for (const [i, vector] of vectors.entries()) {
    let v = vector;
    let mask = 1n << BigInt(i);
    while (v !== 0n) {
      const lead = v.toString(2).length - 1;
      const b = basis.get(lead);
      if (b === undefined) break;
      v ^= b.v;
      mask ^= b.mask;
    }
    if (v === 0n) return [...mask.toString(2)].reverse().flatMap((bit, j) => (bit === '1' ? [j] : []));
    basis.set(v.toString(2).length - 1, { v, mask });
  }
  throw new Error('no dependent subset (fewer vectors than bits?)');
}

describe('SqliteKeyStore refuses databases it cannot read, naming why', () => {
  async function created(): Promise<void> {
    await withStore(async (s) => {
      await s.open();
      await s.commit({ putKeys: [await minimalKey(rootKey, 'k')] });
    });
  }
  it.each<[string, () => Promise<void> | void, RegExp]>([
    [
      'not a database',
      () => writeFile(db, 'hello, this is not SQLite '.repeat(200)),
      /: file is not a database: corrupt or not a keystore/,
    ],
    [
      'truncated',
      async () => writeFile(db, (await readFile(db)).subarray(0, 1000)),
      /corrupt or not a keystore|refusing to open it/,
    ],
    [
      'a foreign format',
      () => sql("UPDATE meta SET value = 'vault' WHERE name = 'format'"),
      /meta\.format: not a kubekms keystore/,
    ],
    [
      'a newer format version',
      () => sql("UPDATE meta SET value = 2 WHERE name = 'formatVersion'"),
      /meta\.formatVersion: 2: written by a newer kubekms \(this one reads up to 1\)/,
    ],
    ['an unknown meta row', () => sql("INSERT INTO meta VALUES ('extra', 1)"), /meta\.extra: unknown field/],
    [
      'a view planted beside the tables',
      () => sql('CREATE VIEW v AS SELECT * FROM records'),
      /schema\.view v: unknown/,
    ],
    [
      'a missing generation',
      () => sql("DELETE FROM meta WHERE name = 'generation'"),
      /meta\.generation: missing/,
    ],
    [
      'an unknown kind',
      () => sql("UPDATE records SET kind = 'Secret'"),
      /records row 1\.kind: unknown kind Secret/,
    ],
    [
      'a short auth',
      () => sql('UPDATE records SET auth = ?', new Uint8Array(3)),
      /key "k": auth: expected 32 bytes/,
    ],
  ])('%s', async (_what, edit, message) => {
    await created();
    await edit();
    const before = await readFile(db);
    const msg = await openError();
    expect(msg).toMatch(message);
    expect(msg).toMatch(/refusing to open it$/);
    expect(Buffer.compare(await readFile(db), before)).toBe(0);
  });
});

describe('SqliteKeyStore migrates keystore.json', () => {
  async function jsonStore(): Promise<StoreState> {
    const s = new FileKeyStore({ dataDir, rootKey });
    await s.open();
    await s.commit({ putKeys: [await fullKey(rootKey, 'k1')] });
    await s.commit({ putKeys: [await minimalKey(rootKey, 'k2')], putAliases: [alias('alias/a', 'k2')] });
    await s.commit({ putGrants: [fullGrant('g1', 'k1')] });
    await s.close();
    const f = new FileKeyStore({ dataDir, rootKey });
    try {
      return await f.open();
    } finally {
      await f.close();
    }
  }

  it('a version 2 keystore.json: same state and generation, keystore.json removed', async () => {
    const state = await jsonStore();
    await withStore(async (s) => {
      expect(await s.open()).toEqual(state);
      expect(s.generation).toBe(3);
      expect(s.migratedJson).toBe(true);
      expect(s.migratedFrom).toBeUndefined();
      await s.commit({ deleteGrants: ['g1'] });
    });
    expect(await readdir(dataDir)).toEqual(['keystore.db']);
    expect((await reopen()).grants).toEqual([]);
  });

  it('a version 1 keystore.json is authenticated as found, or refused and left alone', async () => {
    const state = await jsonStore();
    const v1 = await downgradeToV1(join(dataDir, 'keystore.json'));
    expect(await openError({ unauthenticated: 'refuse' })).toMatch(
      /keystore\.json: formatVersion 1: its records are not authenticated and migrating unauthenticated stores is turned off/,
    );
    expect(await readdir(dataDir)).toEqual(['keystore.json']);
    expect(await readFile(join(dataDir, 'keystore.json'), 'utf8')).toBe(v1);
    await withStore(async (s) => {
      expect(await s.open()).toEqual(state);
      expect(s.migratedFrom).toBe(1);
    });
    expect(await readdir(dataDir)).toEqual(['keystore.db']);
  });

  it('a tampered keystore.json is refused, and nothing is written', async () => {
    await jsonStore();
    const file = join(dataDir, 'keystore.json');
    await writeFile(
      file,
      (await readFile(file, 'utf8')).replace('"state": "Enabled"', '"state": "Disabled"'),
    );
    const before = await readFile(file);
    expect(await openError()).toMatch(
      /keystore\.json: keys\[\d\] \(key "k\d"\): changed without the root key/,
    );
    expect(Buffer.compare(await readFile(file), before)).toBe(0);
    expect(await readdir(dataDir)).toEqual(['keystore.json']);
  });

  it('after a kill between the rename and the removal of keystore.json, the database wins', async () => {
    const state = await jsonStore();
    const json = await readFile(join(dataDir, 'keystore.json'));
    await withStore((s) => s.open()); // migrates
    await withStore(async (s) => {
      await s.open();
      await s.commit({ deleteGrants: ['g1'] });
    });
    await writeFile(join(dataDir, 'keystore.json'), json); // as a kill before the unlink leaves it
    expect(await reopen()).toEqual({ ...state, grants: [] });
    expect(await readdir(dataDir)).toEqual(['keystore.db']);
  });

  it('removes a half-written keystore.db.tmp and its WAL, and migrates again', async () => {
    const state = await jsonStore();
    await mkdir(dataDir, { recursive: true });
    await writeFile(join(dataDir, 'keystore.db.tmp'), 'half');
    await writeFile(join(dataDir, 'keystore.db.tmp-wal'), 'frames');
    expect(await reopen()).toEqual(state);
    expect(await readdir(dataDir)).toEqual(['keystore.db']);
  });
});
