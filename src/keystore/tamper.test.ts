/**
 * Records changed without the root key (issue 17): with either root-of-trust provider and in either local keystore
 * (keystore.json, keystore.db), an edit of a key's policy, state or any other metadata, of an alias target or of a
 * grant is refused on open, naming the record, and the store is left byte-identical. A record dropped, the
 * generation or the seal changed are refused by the seal. Before record authentication every edit was accepted.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RootKey } from '../engine/ports.ts';
import { ProviderFixtures, ROOT_KEY_PROVIDERS } from '../rootkey/testing/providers.ts';
import { KeyStoreError } from './errors.ts';
import { alias, fullGrant, fullKey, minimalKey } from './testdata/sample-records.ts';
import { type Doc, type Json, loadDoc, saveDoc } from './testdata/store-docs.ts';
import { STORES, type StoreKind } from './testdata/stores.ts';

let fixtures: ProviderFixtures;
let dataDir: string;
beforeAll(async () => {
  fixtures = await ProviderFixtures.create();
});
afterAll(async () => {
  await fixtures?.cleanup();
});
beforeEach(async () => {
  dataDir = await mkdtemp('/tmp/kubekms-tamper-');
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

async function seed(kind: StoreKind, rootKey: RootKey): Promise<void> {
  const s = kind.make({ dataDir, rootKey });
  await s.open();
  const disabled = { ...(await minimalKey(rootKey, 'k-disabled')), state: 'Disabled' as const };
  await s.commit({
    putKeys: [await fullKey(rootKey, 'k-full'), disabled],
    putAliases: [alias('alias/app', 'k-full')],
    putGrants: [fullGrant('g1', 'k-full')],
  });
  await s.close();
}

async function openError(kind: StoreKind, rootKey: RootKey): Promise<string> {
  const s = kind.make({ dataDir, rootKey });
  const e = await s.open().then(
    () => undefined,
    (err: unknown) => err,
  );
  await s.close();
  expect(e).toBeInstanceOf(KeyStoreError);
  return (e as Error).message;
}

const ADMIN_FOR_ALL = { effect: 'Allow', principals: ['*'], actions: ['kms:*'] };
/** A record, by list, index and label, or 'seal'; `file`: only keystore.json refuses it (row order means nothing in keystore.db). */
type Where = readonly [string, number, string] | 'seal';
const changed = (kind: StoreKind, where: Where) => {
  const name = where === 'seal' ? 'seal' : kind.recordName(...where);
  return new RegExp(`: ${name.replace(/[[\]()]/g, '\\$&')}: changed without the root key \\(`);
};

const cases: [string, (d: Doc) => void, Where | RegExp, 'file'?][] = [
  [
    'a policy statement added (the escalation of issue 17)',
    (d) => (d.keys[0]!.policy as { statements: unknown[] }).statements.push(ADMIN_FOR_ALL),
    ['keys', 0, 'key "k-full"'],
  ],
  [
    'a state edit (Disabled → Enabled)',
    (d) => (d.keys[1]!.state = 'Enabled'),
    ['keys', 1, 'key "k-disabled"'],
  ],
  [
    'a deletion date moved',
    (d) => (d.keys[0]!.deletionDate = 4_000_000_000_000),
    ['keys', 0, 'key "k-full"'],
  ],
  [
    'a rotation schedule',
    (d) => ((d.keys[0]!.rotation as Json).enabled = false),
    ['keys', 0, 'key "k-full"'],
  ],
  ['a tag', (d) => ((d.keys[0]!.tags as Json).team = 'attacker'), ['keys', 0, 'key "k-full"']],
  ['the primary version', (d) => (d.keys[0]!.primaryVersion = 4), ['keys', 0, 'key "k-full"']],
  ['a version dropped', (d) => (d.keys[0]!.versions as unknown[]).splice(2, 1), ['keys', 0, 'key "k-full"']],
  ['an alias target', (d) => (d.aliases[0]!.targetKeyId = 'k-disabled'), ['aliases', 0, 'alias "alias/app"']],
  ['a grantee', (d) => (d.grants[0]!.granteePrincipal = 'system:anonymous'), ['grants', 0, 'grant "g1"']],
  [
    'a grant operation added',
    (d) => (d.grants[0]!.operations as string[]).push('CreateGrant'),
    ['grants', 0, 'grant "g1"'],
  ],
  [
    'an auth copied from another record',
    (d) => (d.keys[1]!.auth = d.keys[0]!.auth),
    ['keys', 1, 'key "k-disabled"'],
  ],
  ['a grant removed', (d) => d.grants.splice(0, 1), 'seal'],
  ['records reordered', (d) => d.keys.reverse(), 'seal', 'file'],
  ['the generation', (d) => (d.generation = 7), 'seal'],
  ['the seal', (d) => (d.seal = d.keys[0]!.auth), 'seal'],
  [
    'the record key swapped for another root-key blob',
    (d) => (d.recordAuthKey = d.rootKeyCheck),
    /: recordAuthKey: changed without the root key \(not wrapped by this root key\)/,
  ],
];

const combos = ROOT_KEY_PROVIDERS.flatMap((provider) => STORES.map((kind) => ({ provider, kind })));

describe.each(combos)(
  'a $kind.name keystore sealed by the $provider root key refuses records changed without it',
  ({ provider, kind }) => {
    const file = () => join(dataDir, kind.file);
    it.each(cases.filter((c) => c[3] === undefined || c[3] === kind.name))(
      '%s',
      async (_what, tamper, where) => {
        const rootKey = await fixtures.open(provider);
        await seed(kind, rootKey);
        const doc = await loadDoc(dataDir, kind.file);
        tamper(doc);
        await saveDoc(dataDir, kind.file, doc);
        const before = await readFile(file());
        const msg = await openError(kind, rootKey);
        expect(msg).toMatch(new RegExp(`^keystore: ${file()}: `));
        expect(msg).toMatch(where instanceof RegExp ? where : changed(kind, where));
        expect(msg).toMatch(/; refusing to open it$/);
        expect(Buffer.compare(await readFile(file()), before)).toBe(0);
        expect(await readdir(dataDir)).toEqual([kind.file]);
      },
    );

    it('opens the untampered store, read and written back as it is', async () => {
      const rootKey = await fixtures.open(provider);
      await seed(kind, rootKey);
      await saveDoc(dataDir, kind.file, await loadDoc(dataDir, kind.file));
      const s = kind.make({ dataDir, rootKey });
      const state = await s.open();
      await s.close();
      expect(state.keys.map((k) => k.keyId)).toEqual(['k-full', 'k-disabled']);
      expect(state.grants.map((g) => g.grantId)).toEqual(['g1']);
    });
  },
);
