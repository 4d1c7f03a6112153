import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RootKey } from '../engine/ports.ts';
import { type KeyRecord, keyMaterialAad, type StoreState } from '../engine/records.ts';
import { FileRootKey } from '../rootkey/file-root-key.ts';
import { KeyStoreError } from './errors.ts';
import { FileKeyStore } from './file-keystore.ts';
import { type FaultStep, faultyFs } from './testdata/faulty-fs.ts';
import {
  alias,
  fullGrant,
  fullKey,
  minimalGrant,
  minimalKey,
  signingKey,
} from './testdata/sample-records.ts';

let dir: string;
let dataDir: string;
let file: string;
let rootKey: RootKey;
const open: FileKeyStore[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubekms-keystore-'));
  dataDir = join(dir, 'data');
  file = join(dataDir, 'keystore.json');
  rootKey = await FileRootKey.create(join(dir, 'root.key'));
});
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
  await rm(dir, { recursive: true, force: true });
});

function store(options: Partial<ConstructorParameters<typeof FileKeyStore>[0]> = {}): FileKeyStore {
  const s = new FileKeyStore({ dataDir, rootKey, ...options });
  open.push(s);
  return s;
}

async function reopen(): Promise<StoreState> {
  const s = new FileKeyStore({ dataDir, rootKey });
  try {
    return await s.open();
  } finally {
    await s.close();
  }
}

async function openError(s: FileKeyStore): Promise<string> {
  const e = await s.open().then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(KeyStoreError);
  return (e as Error).message;
}

const ids = (s: StoreState) => s.keys.map((k) => k.keyId);

describe('FileKeyStore open', () => {
  it('creates an empty store on first use: dir 0700, file 0600, a root key check', async () => {
    const s = store();
    expect(s.description).toBe(`file:${file}`);
    expect(await s.open()).toEqual({ keys: [], aliases: [], grants: [] });
    expect(s.generation).toBe(0);
    expect((await stat(dataDir)).mode & 0o777).toBe(0o700);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const doc = JSON.parse(await readFile(file, 'utf8'));
    expect(Object.keys(doc)).toEqual([
      'format',
      'formatVersion',
      'rootKeyCheck',
      'recordAuthKey',
      'generation',
      'seal',
      'keys',
      'aliases',
      'grants',
    ]);
    expect(doc).toMatchObject({ format: 'kubekms-keystore', formatVersion: 2, generation: 0 });
    expect(Buffer.from(doc.rootKeyCheck, 'base64').length).toBe(1 + 12 + 32 + 16);
    expect(Buffer.from(doc.recordAuthKey, 'base64').length).toBe(1 + 12 + 32 + 16);
    expect(Buffer.from(doc.seal, 'base64').length).toBe(32);
  });

  it('refuses to open twice', async () => {
    const s = store();
    await s.open();
    expect(await openError(s)).toMatch(/is already open/);
  });
});

describe('FileKeyStore commit', () => {
  it('round-trips full records through the file', async () => {
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
    await s.commit({ putKeys: [b2], deleteKeys: ['a', 'nope'], deleteAliases: ['alias/x'], putAliases: [] });
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
    [
      'an alias to a missing key',
      { putAliases: ['ghost'] },
      /aliases\[1\]\.targetKeyId: key "ghost" does not exist/,
    ],
    ['a grant of a missing key', { putGrants: ['ghost'] }, /grants\[1\]\.keyId: key "ghost" does not exist/],
    [
      'deleting a key that aliases use',
      { deleteKeys: ['k'] },
      /aliases\[0\]\.targetKeyId: key "k" does not exist/,
    ],
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

describe('FileKeyStore atomicity under injected write failures', () => {
  it.each<FaultStep>(['open', 'write', 'sync', 'close', 'rename'])(
    'a failure at %s leaves the old file byte-identical, no temp file and the in-memory state unchanged',
    async (step) => {
      const fs = faultyFs();
      const s = store({ fs });
      await s.open();
      const k1 = await minimalKey(rootKey, 'k1');
      await s.commit({ putKeys: [k1] });
      const before = await readFile(file);
      fs.failAt = step;
      const err = await s.commit({ putKeys: [await minimalKey(rootKey, 'lost')] }).catch((e: unknown) => e);
      fs.failAt = undefined;
      expect(err).toBeInstanceOf(KeyStoreError);
      expect((err as Error).message).toMatch(
        /^keystore: cannot write .*keystore\.json \(E[A-Z]+\); the file on disk is unchanged$/,
      );
      expect(Buffer.compare(await readFile(file), before)).toBe(0);
      expect((await readdir(dataDir)).sort()).toEqual(['keystore.json', 'keystore.lock']);
      expect(s.generation).toBe(1);
      await s.commit({ putKeys: [await minimalKey(rootKey, 'k2')] });
      await s.close();
      const back = await reopen();
      expect(ids(back)).toEqual(['k1', 'k2']);
    },
  );

  it('a failed directory fsync rejects the commit and the in-memory state stays as before', async () => {
    const fs = faultyFs();
    const s = store({ fs });
    await s.open();
    await s.commit({ putKeys: [await minimalKey(rootKey, 'k1')] });
    fs.failAt = 'dirsync';
    await expect(s.commit({ putKeys: [await minimalKey(rootKey, 'maybe')] })).rejects.toThrow(
      /^keystore: fsync of .* failed after replacing keystore\.json \(EIO\); the commit failed, yet the change may or may not be on disk after a crash$/,
    );
    fs.failAt = undefined;
    expect(s.generation).toBe(1);
    await s.commit({ putKeys: [await minimalKey(rootKey, 'k2')] });
    await s.close();
    expect(ids(await reopen())).toEqual(['k1', 'k2']);
  });
});

describe('FileKeyStore refuses stores it cannot trust, and leaves them byte-identical', () => {
  async function seed(): Promise<string> {
    const s = new FileKeyStore({ dataDir, rootKey });
    await s.open();
    await s.commit({ putKeys: [await minimalKey(rootKey, 'k')], putAliases: [alias('alias/k', 'k')] });
    await s.close();
    return readFile(file, 'utf8');
  }
  const edit = (text: string, f: (doc: Record<string, unknown>) => void): string => {
    const doc = JSON.parse(text);
    f(doc);
    return JSON.stringify(doc);
  };
  const cases: [string, (text: string) => string | Uint8Array, RegExp][] = [
    [
      'truncated',
      (t) => t.slice(0, t.length >> 1),
      /keystore\.json: not valid JSON: ends after \d+ characters \(truncated\?\); refusing to open it$/,
    ],
    ['empty', () => '', /keystore\.json: not valid JSON: ends after 0 characters/],
    ['not JSON', () => 'hello', /keystore\.json: not valid JSON: corrupt; refusing to open it$/],
    [
      'a stray byte',
      (t) => t.replace(':', '#'),
      /keystore\.json: not valid JSON( at character \d+ of \d+)?: corrupt/,
    ],
    ['a JSON array', () => '[]', /keystore\.json: not a JSON object/],
    [
      'invalid UTF-8',
      (t) =>
        Buffer.concat([Buffer.from(t.slice(0, 20)), Buffer.from([0xff, 0xfe]), Buffer.from(t.slice(20))]),
      /not valid UTF-8/,
    ],
    ['foreign format', (t) => edit(t, (d) => (d.format = 'vault')), /format: not a kubekms keystore/],
    [
      'newer format version',
      (t) => edit(t, (d) => (d.formatVersion = 3)),
      /formatVersion: 3: written by a newer kubekms \(this one reads up to 2\)/,
    ],
    [
      'format version 0',
      (t) => edit(t, (d) => (d.formatVersion = 0)),
      /formatVersion: expected a positive integer/,
    ],
    [
      'bad base64',
      (t) =>
        edit(
          t,
          (d) =>
            ((
              (d.keys as Record<string, unknown>[])[0]!.versions as Record<string, unknown>[]
            )[0]!.wrappedMaterial = 'x!'),
        ),
      /keys\[0\]\.versions\[0\]\.wrappedMaterial: not base64/,
    ],
    ['unknown top-level field', (t) => edit(t, (d) => (d.extra = 1)), /extra: unknown field/],
    ['missing generation', (t) => edit(t, (d) => delete d.generation), /generation: missing/],
    [
      'dangling alias',
      (t) => edit(t, (d) => (d.keys = [])),
      /aliases\[0\]\.targetKeyId: key "k" does not exist/,
    ],
    [
      'duplicate keys',
      (t) => edit(t, (d) => (d.keys = [...(d.keys as unknown[]), ...(d.keys as unknown[])])),
      /keys\[1\]\.keyId: duplicate key id "k"/,
    ],
    [
      'bad root key check',
      (t) => edit(t, (d) => (d.rootKeyCheck = 'AAAA')),
      /sealed under a different root key/,
    ],
  ];
  it.each(cases)('%s', async (_name, corrupt, message) => {
    const good = await seed();
    const bad = corrupt(good);
    await writeFile(file, bad);
    const before = await readFile(file);
    const msg = await openError(store());
    expect(msg.startsWith(`keystore: ${file}`)).toBe(true);
    expect(msg).toMatch(message);
    expect(Buffer.compare(await readFile(file), before)).toBe(0);
    expect(await readdir(dataDir)).toEqual(['keystore.json']); // lock released, nothing written
  });

  it('a store sealed under another root key is refused, naming the configured key', async () => {
    await seed();
    const before = await readFile(file);
    const other = await FileRootKey.create(join(dir, 'other.key'));
    const msg = await openError(store({ rootKey: other }));
    expect(msg).toBe(
      `keystore: ${file} is sealed under a different root key than ${other.description}; ` +
        'start kubekms with the root key that created this store',
    );
    expect(Buffer.compare(await readFile(file), before)).toBe(0);
  });
});

describe('FileKeyStore lock', () => {
  const lockFile = () => join(dataDir, 'keystore.lock');
  // keystore-lock.test.ts checks the boot id and start time against /proc.
  const ourLock = () =>
    new RegExp(`^${process.pid}\n${hostname()}\nboot=[0-9a-f-]{36}\npidns=[0-9]+\nstart=[0-9]+\n$`);
  const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!;

  it('holds keystore.lock with our pid while open and removes it on close', async () => {
    const s = store();
    await s.open();
    expect(await readFile(lockFile(), 'utf8')).toMatch(ourLock());
    await s.close();
    expect(await readdir(dataDir)).toEqual(['keystore.json']);
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
      const s = store();
      await s.open();
      expect(await readFile(lockFile(), 'utf8')).toMatch(ourLock());
      await s.close();
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
    const s = store();
    await s.open();
    expect(await readFile(lockFile(), 'utf8')).toMatch(ourLock());
    await s.close();
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
    await writeFile(join(dataDir, `keystore.json.tmp-${dead}-0a1b2c`), '{"format": "kubekms-keys');
    await writeFile(join(dataDir, 'keystore.json.tmp-1-ffffff'), '');
    await writeFile(join(dataDir, `keystore.lock.${dead}.0a1b2c`), `${dead}\n`);
    await writeFile(join(dataDir, 'unrelated.txt'), 'keep me');
    expect(ids(await reopen())).toEqual(['k']);
    expect((await readdir(dataDir)).sort()).toEqual(['keystore.json', 'unrelated.txt']);
  });
});
