import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RootKey } from '../engine/ports.ts';
import { FileRootKey } from '../rootkey/file-root-key.ts';
import { KeyStoreError } from './errors.ts';
import { inspectKeystore } from './inspect.ts';
import { alias, minimalGrant, minimalKey } from './testdata/sample-records.ts';
import { FILE_STORE, type LocalStore, STORES, type StoreKind } from './testdata/stores.ts';

const KEY_A = '11111111-1111-4111-8111-111111111111';
const KEY_B = '22222222-2222-4222-8222-222222222222';

let dir: string;
let dataDir: string;
let rootKey: RootKey;
let store: LocalStore | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubekms-doctor-inspect-'));
  dataDir = join(dir, 'data');
  rootKey = await FileRootKey.create(join(dir, 'root.key'));
});
afterEach(async () => {
  await store?.close();
  store = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function populated(kind: StoreKind = FILE_STORE): Promise<LocalStore> {
  store = kind.make({ dataDir, rootKey });
  await store.open();
  const a = await minimalKey(rootKey, KEY_A);
  await store.commit({
    putKeys: [{ ...a, primaryVersion: 1 }, await minimalKey(rootKey, KEY_B)],
    putAliases: [alias('alias/kubekms/secrets', KEY_A), alias('alias/other', KEY_B)],
    putGrants: [minimalGrant('g1', KEY_B)],
  });
  return store;
}

async function failure(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(KeyStoreError);
  return (e as Error).message;
}

describe.each(STORES)('inspectKeystore of the $name keystore', (kind) => {
  it('reads a store that serve holds open (no lock taken) and counts its records', async () => {
    await populated(kind);
    const r = await inspectKeystore({ dataDir, rootKey });
    expect(r).toMatchObject({
      file: join(dataDir, kind.file),
      generation: 1,
      keys: 2,
      aliases: 2,
      grants: 1,
      secretsKey: { keyId: KEY_A, primaryVersion: 1, versions: 1, newestVersion: 1 },
      lockedByPid: process.pid,
    });
    // The store still works: the inspection took nothing from it.
    await store!.commit({ deleteGrants: ['g1'] });
    expect((await inspectKeystore({ dataDir, rootKey })).grants).toBe(0);
  });

  it.each([
    ['a key id', KEY_B, KEY_B],
    ['an alias', 'alias/other', KEY_B],
    ['a key ARN', `arn:aws:kms:us-east-1:000000000000:key/${KEY_B}`, KEY_B],
    ['an alias ARN', 'arn:aws:kms:us-east-1:000000000000:alias/kubekms/secrets', KEY_A],
  ])('finds the Secrets key by %s', async (_what, ref, keyId) => {
    await populated(kind);
    expect((await inspectKeystore({ dataDir, rootKey, secretsKey: ref })).secretsKey?.keyId).toBe(keyId);
  });

  it('has no Secrets key and no lock holder when there is none', async () => {
    await populated(kind);
    await store!.close();
    store = undefined;
    const r = await inspectKeystore({ dataDir, rootKey, secretsKey: 'alias/missing' });
    expect(r.secretsKey).toBeUndefined();
    expect(r.lockedByPid).toBeUndefined();
  });

  it('names the path of a missing keystore', async () => {
    expect(await failure(inspectKeystore({ dataDir, rootKey }))).toMatch(
      new RegExp(`no keystore at ${join(dataDir, 'keystore.db')} \\(or keystore\\.json\\).*--data-dir`),
    );
  });

  it('refuses a store sealed by another root key, naming both', async () => {
    await populated(kind);
    const other = await FileRootKey.create(join(dir, 'other.key'));
    const m = await failure(inspectKeystore({ dataDir, rootKey: other }));
    expect(m).toMatch(/is sealed under a different root key than file:.*other\.key/);
  });
});

describe('inspectKeystore of a keystore.json', () => {
  it.each([
    ['a truncated document', (t: string) => t.slice(0, 40), /not valid JSON/],
    ['an unknown field', (t: string) => t.replace('"generation"', '"extra": 1, "generation"'), /extra/],
    [
      'an alias to a missing key',
      (t: string) =>
        t.replace(`"targetKeyId": "${KEY_B}"`, '"targetKeyId": "33333333-3333-4333-8333-333333333333"'),
      /aliases\[\d\]\.targetKeyId: key "33333333-3333-4333-8333-333333333333" does not exist/,
    ],
    [
      'a newer format',
      (t: string) => t.replace('"formatVersion": 2', '"formatVersion": 9'),
      /formatVersion: 9: written by a newer kubekms/,
    ],
  ])('refuses %s, naming the file and the field', async (_what, edit, message) => {
    await populated();
    await store!.close();
    store = undefined;
    const file = join(dataDir, 'keystore.json');
    await writeFile(file, edit(await readFile(file, 'utf8')));
    const m = await failure(inspectKeystore({ dataDir, rootKey }));
    expect(m).toContain(file);
    expect(m).toMatch(message);
  });

  it('refuses bytes that are not UTF-8', async () => {
    await populated();
    await writeFile(join(dataDir, 'keystore.json'), Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
    expect(await failure(inspectKeystore({ dataDir, rootKey }))).toMatch(/not valid UTF-8/);
  });
});
