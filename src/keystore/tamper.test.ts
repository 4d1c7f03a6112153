/**
 * Records changed without the root key (issue 17): with either root-of-trust provider, an edit of a key's policy,
 * state or any other metadata, of an alias target or of a grant in keystore.json is refused on open, naming the
 * record, and the file is left byte-identical. Before record authentication every one of these edits was accepted.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RootKey } from '../engine/ports.ts';
import { ProviderFixtures, ROOT_KEY_PROVIDERS } from '../rootkey/testing/providers.ts';
import { KeyStoreError } from './errors.ts';
import { FileKeyStore } from './file-keystore.ts';
import { alias, fullGrant, fullKey, minimalKey } from './testdata/sample-records.ts';

type Json = Record<string, unknown>;
type Doc = { keys: Json[]; aliases: Json[]; grants: Json[] } & Json;

let fixtures: ProviderFixtures;
let dataDir: string;
let file: string;
beforeAll(async () => {
  fixtures = await ProviderFixtures.create();
});
afterAll(async () => {
  await fixtures?.cleanup();
});
beforeEach(async () => {
  dataDir = await mkdtemp('/tmp/kubekms-tamper-');
  file = join(dataDir, 'keystore.json');
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

async function seed(rootKey: RootKey): Promise<void> {
  const s = new FileKeyStore({ dataDir, rootKey });
  await s.open();
  const disabled = { ...(await minimalKey(rootKey, 'k-disabled')), state: 'Disabled' as const };
  await s.commit({
    putKeys: [await fullKey(rootKey, 'k-full'), disabled],
    putAliases: [alias('alias/app', 'k-full')],
    putGrants: [fullGrant('g1', 'k-full')],
  });
  await s.close();
}

async function openError(rootKey: RootKey): Promise<string> {
  const s = new FileKeyStore({ dataDir, rootKey });
  const e = await s.open().then(
    () => undefined,
    (err: unknown) => err,
  );
  await s.close();
  expect(e).toBeInstanceOf(KeyStoreError);
  return (e as Error).message;
}

const ADMIN_FOR_ALL = { effect: 'Allow', principals: ['*'], actions: ['kms:*'] };
const changed = (where: string) =>
  new RegExp(`: ${where.replace(/[[\]()]/g, '\\$&')}: changed without the root key \\(`);

const cases: [string, (d: Doc) => void, RegExp][] = [
  [
    'a policy statement added (the escalation of issue 17)',
    (d) => (d.keys[0]!.policy as { statements: unknown[] }).statements.push(ADMIN_FOR_ALL),
    changed('keys[0] (key "k-full")'),
  ],
  [
    'a state edit (Disabled → Enabled)',
    (d) => (d.keys[1]!.state = 'Enabled'),
    changed('keys[1] (key "k-disabled")'),
  ],
  [
    'a deletion date moved',
    (d) => (d.keys[0]!.deletionDate = 4_000_000_000_000),
    changed('keys[0] (key "k-full")'),
  ],
  [
    'a rotation schedule',
    (d) => ((d.keys[0]!.rotation as Json).enabled = false),
    changed('keys[0] (key "k-full")'),
  ],
  ['a tag', (d) => ((d.keys[0]!.tags as Json).team = 'attacker'), changed('keys[0] (key "k-full")')],
  ['the primary version', (d) => (d.keys[0]!.primaryVersion = 4), changed('keys[0] (key "k-full")')],
  [
    'a version dropped',
    (d) => (d.keys[0]!.versions as unknown[]).splice(2, 1),
    changed('keys[0] (key "k-full")'),
  ],
  [
    'an alias target',
    (d) => (d.aliases[0]!.targetKeyId = 'k-disabled'),
    changed('aliases[0] (alias "alias/app")'),
  ],
  [
    'a grantee',
    (d) => (d.grants[0]!.granteePrincipal = 'system:anonymous'),
    changed('grants[0] (grant "g1")'),
  ],
  [
    'a grant operation added',
    (d) => (d.grants[0]!.operations as string[]).push('CreateGrant'),
    changed('grants[0] (grant "g1")'),
  ],
  [
    'an auth copied from another record',
    (d) => (d.keys[1]!.auth = d.keys[0]!.auth),
    changed('keys[1] (key "k-disabled")'),
  ],
  ['a grant removed', (d) => d.grants.splice(0, 1), changed('seal')],
  ['records reordered', (d) => d.keys.reverse(), changed('seal')],
  ['the generation', (d) => (d.generation = 7), changed('seal')],
  ['the seal', (d) => (d.seal = d.keys[0]!.auth), changed('seal')],
  [
    'the record key swapped for another root-key blob',
    (d) => (d.recordAuthKey = d.rootKeyCheck),
    /: recordAuthKey: changed without the root key \(not wrapped by this root key\)/,
  ],
];

describe.each(ROOT_KEY_PROVIDERS)(
  'a keystore sealed by the %s root key refuses records changed without it',
  (name) => {
    it.each(cases)('%s', async (_what, tamper, message) => {
      const rootKey = await fixtures.open(name);
      await seed(rootKey);
      const doc = JSON.parse(await readFile(file, 'utf8')) as Doc;
      tamper(doc);
      await writeFile(file, JSON.stringify(doc, null, 2));
      const before = await readFile(file);
      const msg = await openError(rootKey);
      expect(msg).toMatch(new RegExp(`^keystore: ${file}: `));
      expect(msg).toMatch(message);
      expect(msg).toMatch(/; refusing to open it$/);
      expect(Buffer.compare(await readFile(file), before)).toBe(0);
      expect(await readdir(dataDir)).toEqual(['keystore.json']);
    });

    it('opens the untampered store, and a mere re-indentation of the file', async () => {
      const rootKey = await fixtures.open(name);
      await seed(rootKey);
      await writeFile(file, JSON.stringify(JSON.parse(await readFile(file, 'utf8'))));
      const s = new FileKeyStore({ dataDir, rootKey });
      const state = await s.open();
      await s.close();
      expect(state.keys.map((k) => k.keyId)).toEqual(['k-full', 'k-disabled']);
      expect(state.grants.map((g) => g.grantId)).toEqual(['g1']);
    });
  },
);
