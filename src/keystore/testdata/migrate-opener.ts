/**
 * The migration kill test's victim: opens (and so migrates) the keystore in <dataDir> with the `file` store
 * (version 1 → 2 in place) or the `sqlite` store (keystore.json → keystore.db), then closes it and prints `OPENED`.
 * The parent kills it with SIGKILL at random instants.
 *
 *   node migrate-opener.ts <file|sqlite> <dataDir> <rootKeyFile>
 */
import { FileRootKey } from '../../rootkey/file-root-key.ts';
import { FILE_STORE, SQLITE_STORE } from './stores.ts';

const [kindName, dataDir, rootKeyFile] = process.argv.slice(2);
if (dataDir === undefined || rootKeyFile === undefined) {
  process.stderr.write('usage: migrate-opener.ts <file|sqlite> <dataDir> <rootKeyFile>\n');
  process.exit(2);
}
const kind = kindName === 'sqlite' ? SQLITE_STORE : FILE_STORE;
const store = kind.make({ dataDir, rootKey: await FileRootKey.load(rootKeyFile) });
await store.open();
await store.close();
process.stdout.write('OPENED\n');
