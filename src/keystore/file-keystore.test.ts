import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RootKey } from '../engine/ports.ts';
import type { StoreState } from '../engine/records.ts';
import { FileRootKey } from '../rootkey/file-root-key.ts';
import { KeyStoreError } from './errors.ts';
import { FileKeyStore } from './file-keystore.ts';
import { type FaultStep, faultyFs } from './testdata/faulty-fs.ts';
import { alias, minimalKey } from './testdata/sample-records.ts';
import { openedState, tempDir } from './testing.ts';

const dir = tempDir('kubekms-keystore-', 'each');
let dataDir: string;
let file: string;
let rootKey: RootKey;
const open: FileKeyStore[] = [];

beforeEach(async () => {
  dataDir = join(dir(), 'data');
  file = join(dataDir, 'keystore.json');
  rootKey = await FileRootKey.create(join(dir(), 'root.key'));
});
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

function store(options: Partial<ConstructorParameters<typeof FileKeyStore>[0]> = {}): FileKeyStore {
  const s = new FileKeyStore({ dataDir, rootKey, ...options });
  open.push(s);
  return s;
}

const reopen = (): Promise<StoreState> => openedState(new FileKeyStore({ dataDir, rootKey }));

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
});
