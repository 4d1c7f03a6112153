/**
 * The crash test's victim: opens a FileKeyStore and performs commits until the store holds `total` key versions,
 * each commit adding a new key (version 1) or a new version of an existing key. After each commit resolves it
 * prints `ACK <keyId> <version>`; the parent kills it with SIGKILL at random moments and restarts it.
 *
 *   node crash-writer.ts <dataDir> <rootKeyFile> <total>
 */
import type { KeyRecord } from '../../engine/records.ts';
import { FileRootKey } from '../../rootkey/file-root-key.ts';
import { FileKeyStore } from '../file-keystore.ts';
import { minimalKey, wrappedVersion } from './sample-records.ts';

const [dataDir, rootKeyFile, totalText] = process.argv.slice(2);
if (dataDir === undefined || rootKeyFile === undefined || totalText === undefined) {
  process.stderr.write('usage: crash-writer.ts <dataDir> <rootKeyFile> <total>\n');
  process.exit(2);
}
const total = Number(totalText);
const rootKey = await FileRootKey.load(rootKeyFile);
const store = new FileKeyStore({ dataDir, rootKey });
const state = await store.open();
const keys = new Map<string, KeyRecord>(state.keys.map((k) => [k.keyId, k]));
let done = state.keys.reduce((n, k) => n + k.versions.length, 0);
process.stdout.write(`READY ${done}\n`);

while (done < total) {
  let record: KeyRecord;
  const existing = [...keys.values()];
  if (existing.length === 0 || Math.random() < 0.3) {
    record = await minimalKey(rootKey, `key-${String(keys.size + 1).padStart(3, '0')}`);
  } else {
    const k = existing[Math.floor(Math.random() * existing.length)]!;
    const next = k.versions[k.versions.length - 1]!.version + 1;
    const v = await wrappedVersion(rootKey, k.keyId, next, { rotationType: 'ON_DEMAND' });
    record = { ...k, versions: [...k.versions, v], revision: k.revision + 1 };
  }
  await store.commit({ putKeys: [record] });
  keys.set(record.keyId, record);
  done++;
  process.stdout.write(`ACK ${record.keyId} ${record.versions[record.versions.length - 1]!.version}\n`);
}
await store.close();
process.stdout.write('DONE\n');
