/**
 * The crash test's victim: opens a local keystore (`file` or `sqlite`) and commits until its generation reaches
 * `total`, each commit one operation on key records: create a key (version 1), rotate one (a new version), or
 * delete one. Before each commit it prints `OP <json>`, after it resolves `ACK`; the parent kills it with SIGKILL
 * at random moments and restarts it.
 *
 *   node crash-writer.ts <file|sqlite> <dataDir> <rootKeyFile> <total>
 */
import type { KeyRecord } from '../../engine/records.ts';
import { FileRootKey } from '../../rootkey/file-root-key.ts';
import { minimalKey, wrappedVersion } from './sample-records.ts';
import { FILE_STORE, SQLITE_STORE } from './stores.ts';

export type CrashOp =
  | { readonly op: 'create' | 'rotate'; readonly keyId: string; readonly version: number }
  | { readonly op: 'delete'; readonly keyId: string };

const [kindName, dataDir, rootKeyFile, totalText] = process.argv.slice(2);
if (dataDir === undefined || rootKeyFile === undefined || totalText === undefined) {
  process.stderr.write('usage: crash-writer.ts <file|sqlite> <dataDir> <rootKeyFile> <total>\n');
  process.exit(2);
}
const kind = kindName === 'sqlite' ? SQLITE_STORE : FILE_STORE;
const total = Number(totalText);
const rootKey = await FileRootKey.load(rootKeyFile);
const store = kind.make({ dataDir, rootKey });
const state = await store.open();
const keys = new Map<string, KeyRecord>(state.keys.map((k) => [k.keyId, k]));
process.stdout.write(`READY ${store.generation}\n`);

while (store.generation < total) {
  const existing = [...keys.values()];
  const dice = Math.random();
  const id = `key-${store.generation}`;
  if (existing.length === 0 || dice < 0.4) {
    const record = await minimalKey(rootKey, id);
    await commit({ op: 'create', keyId: id, version: 1 }, () => store.commit({ putKeys: [record] }));
    keys.set(id, record);
  } else {
    const k = existing[Math.floor(Math.random() * existing.length)]!;
    if (dice < 0.8) {
      const next = k.versions[k.versions.length - 1]!.version + 1;
      const v = await wrappedVersion(rootKey, k.keyId, next, { rotationType: 'ON_DEMAND' });
      const record = { ...k, versions: [...k.versions, v], revision: k.revision + 1 };
      await commit({ op: 'rotate', keyId: k.keyId, version: next }, () => store.commit({ putKeys: [record] }));
      keys.set(k.keyId, record);
    } else {
      await commit({ op: 'delete', keyId: k.keyId }, () => store.commit({ deleteKeys: [k.keyId] }));
      keys.delete(k.keyId);
    }
  }
}
await store.close();
process.stdout.write('DONE\n');

async function commit(op: CrashOp, run: () => Promise<void>): Promise<void> {
  process.stdout.write(`OP ${JSON.stringify(op)}\n`);
  await run();
  process.stdout.write('ACK\n');
}
