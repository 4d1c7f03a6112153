/**
 * `kubekms doctor`'s rollback check (docs/adr/0022-rollback-detection.md): kube-apiserver's /metrics name, by
 * hash, every key_id it wrote data under since it started. A write under a version of the Secrets key above the
 * newest this keystore holds means the keystore is older than data in etcd (restored from an older backup, an
 * older copy put back). Hashes cannot be inverted, so the versions just above the newest are hashed and looked up.
 */
import { type KeyIdWrite, sha256Label } from '../api/apiserver-writes.ts';
import { formatKeyId } from '../api/kmsv2-key-id.ts';
import { type CheckRow, row } from './report.ts';

/** How many versions above the newest held are looked for (a rollback over more rotations goes unseen). */
const LOOK_AHEAD = 1000;

/** A FAIL row when the API server wrote under a version of `key` newer than the keystore holds; else undefined. */
export function keystoreBehindRow(
  writes: readonly KeyIdWrite[],
  key: { readonly keyId: string; readonly newestVersion: number },
): CheckRow | undefined {
  const byHash = new Map(writes.map((w) => [w.keyIdHash, w]));
  let found: { keyId: string; at: number } | undefined;
  for (let v = key.newestVersion + 1; v <= key.newestVersion + LOOK_AHEAD; v++) {
    const keyId = formatKeyId(key.keyId, v);
    const w = byHash.get(sha256Label(keyId));
    if (w !== undefined) found = { keyId, at: w.at };
  }
  if (found === undefined) return undefined;
  return row(
    'keystore vs data',
    'FAIL',
    `the API server wrote data under ${found.keyId} (${new Date(found.at).toISOString()}), but this keystore's ` +
      `newest version of the Secrets key is v${key.newestVersion}: the keystore is older than the data (restored ` +
      'from an older backup, or an older copy put back?); restore the newest backup (docs/disaster-recovery.md)',
  );
}
