/**
 * The migration kill test's victim: opens (and so migrates) the keystore in <dataDir>, then closes it and prints
 * `OPENED`. The parent kills it with SIGKILL at random instants.
 *
 *   node migrate-opener.ts <dataDir> <rootKeyFile>
 */
import { FileRootKey } from '../../rootkey/file-root-key.ts';
import { FileKeyStore } from '../file-keystore.ts';

const [dataDir, rootKeyFile] = process.argv.slice(2);
if (dataDir === undefined || rootKeyFile === undefined) {
  process.stderr.write('usage: migrate-opener.ts <dataDir> <rootKeyFile>\n');
  process.exit(2);
}
const store = new FileKeyStore({ dataDir, rootKey: await FileRootKey.load(rootKeyFile) });
await store.open();
await store.close();
process.stdout.write('OPENED\n');
