/**
 * The root-rotation kill test's victim: rotates the keystore in `dataDir` from one file root key to another and
 * prints each phase (`PHASE checked|rewrapped|switching|switched`) as it reaches it, then `DONE <outcome>`. The
 * parent kills it with SIGKILL at chosen moments (root-rotation-crash.test.ts).
 *
 *   node rotate-victim.ts <dataDir> <fromKeyFile> <toKeyFile>
 */
import { FileRootKey } from '../../rootkey/file-root-key.ts';
import { rotateRootKey } from '../root-rotation.ts';

const [dataDir, fromFile, toFile] = process.argv.slice(2);
if (dataDir === undefined || fromFile === undefined || toFile === undefined) {
  process.stderr.write('usage: rotate-victim.ts <dataDir> <fromKeyFile> <toKeyFile>\n');
  process.exit(2);
}
const from = await FileRootKey.load(fromFile);
const to = await FileRootKey.load(toFile);
process.stdout.write('READY\n');
const r = await rotateRootKey({
  dataDir,
  from,
  to,
  onPhase: (phase) => process.stdout.write(`PHASE ${phase}\n`),
});
process.stdout.write(`DONE ${r.outcome}\n`);
