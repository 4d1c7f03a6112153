/**
 * Measures the O(n) rewrite cost of the file keystore (docs/adr/0003-keystore-format.md):
 *
 *   node src/keystore/testdata/measure-commit.ts [keys=1000] [commits=50]
 *
 * Prints the file size, the time to open, and commit latency (each commit rewrites the whole document).
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileRootKey } from '../../rootkey/file-root-key.ts';
import { FileKeyStore } from '../file-keystore.ts';
import { decodeDocument, encodeDocument } from '../keystore-document.ts';
import { RecordAuthKey } from '../record-auth.ts';
import { fullKey, minimalKey } from './sample-records.ts';

const keyCount = Number(process.argv[2] ?? 1000);
const commits = Number(process.argv[3] ?? 50);
const dir = await mkdtemp(join(tmpdir(), 'kubekms-measure-'));
try {
  const rootKey = await FileRootKey.create(join(dir, 'root.key'));
  const dataDir = join(dir, 'data');
  const keys = await Promise.all(
    Array.from({ length: keyCount }, (_, i) => (i % 10 === 0 ? fullKey : minimalKey)(rootKey, `key-${i}`)),
  );
  const store = new FileKeyStore({ dataDir, rootKey });
  await store.open();
  await store.commit({ putKeys: keys });
  const times: number[] = [];
  for (let i = 0; i < commits; i++) {
    const k = keys[i % keys.length]!;
    const t0 = performance.now();
    await store.commit({ putKeys: [{ ...k, description: `edit ${i}`, revision: k.revision + 1 }] });
    times.push(performance.now() - t0);
  }
  await store.close();
  const size = (await stat(join(dataDir, 'keystore.json'))).size;
  const t1 = performance.now();
  const reopened = new FileKeyStore({ dataDir, rootKey });
  const state = await reopened.open();
  const openMs = performance.now() - t1;
  await reopened.close();
  const median = (f: () => void): number => {
    const runs = Array.from({ length: 15 }, () => {
      const t = performance.now();
      f();
      return performance.now() - t;
    }).sort((a, b) => a - b);
    return runs[7]!;
  };
  let text = '';
  const auth = await RecordAuthKey.generate(rootKey);
  // The first encode computes every record's auth; later ones (like a commit) reuse the auths of unchanged records.
  const encodeMs = median(() => {
    text = encodeDocument({ rootKeyCheck: new Uint8Array(45), generation: 1, state }, auth.wrapped, auth.key);
  });
  const decodeMs = median(() => decodeDocument(text));
  times.sort((a, b) => a - b);
  const pct = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))]!.toFixed(1);
  console.log(
    `${keyCount} keys, ${state.keys.reduce((n, k) => n + k.versions.length, 0)} versions, file ${(size / 1024).toFixed(0)} KiB: ` +
      `commit p50 ${pct(0.5)} ms, p95 ${pct(0.95)} ms (CPU: encode ${encodeMs.toFixed(1)} ms; full decode ${decodeMs.toFixed(1)} ms); open ${openMs.toFixed(1)} ms`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
