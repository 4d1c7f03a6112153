/**
 * `kubekms restore FILE --shared-state` (docs/disaster-recovery.md): a backup written as the KmsStateRecords of a
 * namespace that holds none, each record authenticated under the root key (docs/adr/0013) by a new writer key.
 *
 * Refused: a namespace holding any record that is not this backup's record, byte for byte (named), and one with a
 * live instance heartbeat (a running kubekms would publish its own cache into the half-restored state).
 * Crash-safe by being resumable: records are created one by one in the engine's write order (keys, then grants,
 * then aliases, so no alias ever names a missing key); a restore killed at any point leaves a subset of the
 * backup's records, and running the same restore again keeps those (they verify under the root key and equal the
 * backup's) and creates the rest. To abandon it instead, delete the namespace's KmsStateRecords.
 */

import { isLive } from '../api/heartbeat-format.ts';
import type { KmsStateRecord } from '../api/kinds.ts';
import { type DecodedRecord, fromObject, objectNameOf, toObject } from '../api/state-records.ts';
import type { RootKey } from '../engine/ports.ts';
import { type KeyRecord, keyMaterialAad, type StoreState } from '../engine/records.ts';
import { type BackupKeys, type BackupSummary, openBackup, readBackup } from '../keystore/backup.ts';
import { KeyStoreError } from '../keystore/errors.ts';
import { canonicalJson, encodeRecord } from '../keystore/record-auth.ts';
import { RecordAuthRing } from '../keystore/record-auth-ring.ts';
import { resealDocument } from '../keystore/reseal.ts';
import { describeError } from '../kube/errors.ts';
import { readHeartbeats } from './rotation-gate.ts';
import { writeOrder } from './shared-store.ts';
import type { StateApi } from './state-api.ts';

export interface SharedRestoreResult {
  readonly summary: BackupSummary;
  /** Records created by this run. */
  readonly created: number;
  /** Records already there from an interrupted run of the same restore. */
  readonly kept: number;
}

export async function restoreSharedState(o: {
  readonly backup: Uint8Array;
  readonly backupFile: string;
  readonly api: StateApi;
  /** The root key of the instances: key material is wrapped and records are authenticated under it. */
  readonly rootKey: RootKey;
  /** Escrow keys (a passphrase or a recipient's private key), for an escrow backup. */
  readonly escrow?: Omit<BackupKeys, 'rootKey'>;
  readonly now?: () => number;
}): Promise<SharedRestoreResult> {
  const b = readBackup(o.backup, o.backupFile);
  const opened = await openBackup(b, o.backupFile, { ...o.escrow, rootKey: o.rootKey });
  const state =
    b.sealedBy === 'root-key'
      ? b.document.state
      : (await resealDocument(b.document, opened.sealing, o.rootKey)).doc.state;
  const ring = await RecordAuthRing.create(o.rootKey, 'refuse');
  const records = orderedRecords(state);
  const ns = o.api.namespace;
  await refuseLiveInstances(o.api, o.now?.() ?? Date.now());
  const present = await call(`listing KmsStateRecords in ${ns}`, () => o.api.list());
  const kept = await matchingRecords(present.items, records, ring, o.rootKey, ns);
  let created = 0;
  for (const d of records) {
    const name = objectNameOf(d);
    if (kept.has(name)) continue;
    await call(`creating KmsStateRecord ${ns}/${name}`, () => o.api.create(toObject(d, ring, ns)));
    created++;
  }
  return { summary: opened.summary, created, kept: kept.size };
}

/** Every record of `state`, in the order the engine writes a change. */
function orderedRecords(state: StoreState): DecodedRecord[] {
  return writeOrder({ putKeys: state.keys, putGrants: state.grants, putAliases: state.aliases }).puts;
}

/**
 * The names of the objects already present that are records of the backup, authenticated under the root key (an
 * interrupted restore's). Any other object refuses the restore, named.
 */
async function matchingRecords(
  present: readonly KmsStateRecord[],
  records: readonly DecodedRecord[],
  ring: RecordAuthRing,
  rootKey: RootKey,
  ns: string,
): Promise<Set<string>> {
  const wanted = new Map(records.map((d) => [objectNameOf(d), d]));
  await ring.learn(present.map((p) => (p as { spec?: { auth?: unknown } }).spec?.auth));
  const foreign: string[] = [];
  const kept = new Set<string>();
  for (const p of present) {
    const name = p.metadata.name;
    const want = wanted.get(name);
    let found: DecodedRecord | undefined;
    try {
      found = fromObject(p, ring);
    } catch {
      found = undefined;
    }
    if (want !== undefined && found !== undefined && (await sameRecord(found, want, rootKey))) kept.add(name);
    else foreign.push(name);
  }
  if (foreign.length > 0)
    throw new KeyStoreError(
      `restore: namespace ${ns} is not empty: it holds ${foreign.length} KmsStateRecord(s) that are not this ` +
        `backup's (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', …' : ''}); restore only into a ` +
        'namespace without KmsStateRecords, never over a shared state',
    );
  return kept;
}

/**
 * Whether two records are the same, their key material compared unwrapped: an escrow backup is re-wrapped under
 * the root key on every run (fresh nonces), so the wrapped bytes of a resumed restore differ.
 */
async function sameRecord(a: DecodedRecord, b: DecodedRecord, rootKey: RootKey): Promise<boolean> {
  if (a.kind !== 'Key' || b.kind !== 'Key')
    return a.kind === b.kind && canonicalJson(encodeRecord(a)) === canonicalJson(encodeRecord(b));
  const bare = (r: KeyRecord): DecodedRecord => ({
    kind: 'Key',
    record: { ...r, versions: r.versions.map((v) => ({ ...v, wrappedMaterial: new Uint8Array(0) })) },
  });
  if (canonicalJson(encodeRecord(bare(a.record))) !== canonicalJson(encodeRecord(bare(b.record))))
    return false;
  for (const [i, va] of a.record.versions.entries()) {
    const vb = b.record.versions[i]!;
    if (Buffer.from(va.wrappedMaterial).equals(Buffer.from(vb.wrappedMaterial))) continue;
    const aad = keyMaterialAad(a.record.keyId, va.version);
    const ma = await rootKey.unwrap(va.wrappedMaterial, aad);
    const mb = await rootKey.unwrap(vb.wrappedMaterial, aad);
    const same = ma.equals(mb);
    ma.wipe();
    mb.wipe();
    if (!same) return false;
  }
  return true;
}

async function refuseLiveInstances(api: StateApi, now: number): Promise<void> {
  const live = (await call(`listing heartbeat Leases in ${api.namespace}`, () => readHeartbeats(api))).filter(
    (h) => isLive(h, now),
  );
  if (live.length > 0)
    throw new KeyStoreError(
      `restore: kubekms instance(s) ${live.map((h) => h.instance).join(', ')} in namespace ${api.namespace} are ` +
        'live (heartbeat Lease current): stop every kubekms instance before restoring the shared state',
    );
}

async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw new KeyStoreError(`restore: ${what}: ${describeError(e)}`, { cause: e });
  }
}
