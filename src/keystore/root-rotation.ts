/**
 * Root-key rotation of a local keystore, offline (docs/adr/0024-root-key-rotation.md): every key version is
 * unwrapped under the current root key and wrapped under the new one, the store gets a new root key check and a
 * new record authentication key under the new root (so the old root key can no longer forge records), and every
 * record is re-authenticated. The switch is one atomic step — one SQLite transaction for `keystore.db`, one
 * atomic replace for `keystore.json` — so a kill at any instant leaves a store that opens under exactly one of
 * the two roots, never neither and never a mix. Running it again after a kill finishes the job: a store already
 * under the new root is checked and left alone.
 *
 * Holds the data dir's lock for the whole run, so it refuses while `kubekms serve` (or anything else) has the
 * store open. Nothing is written until the whole store has been checked under the current root key.
 */
import { join } from 'node:path';
import type { RootKey } from '../engine/ports.ts';
import type { StoreState } from '../engine/records.ts';
import { RootKeyMismatchError } from '../rootkey/errors.ts';
import { removeLeftoverTemps, replaceFileAtomically } from './atomic-file.ts';
import { readDocument, trustDocument } from './document-trust.ts';
import { KeyStoreError } from './errors.ts';
import { encodeDocument, ROOT_KEY_CHECK_AAD } from './keystore-document.ts';
import { errorCode, type KeyStoreFs, nodeFs } from './keystore-fs.ts';
import { KeyStoreLock } from './keystore-lock.ts';
import { resealDocument } from './reseal.ts';
import { rootSwitch } from './root-switch.ts';
import { SqliteError, SqliteWriter } from './sqlite-db.ts';
import { fileExists, readDatabaseFile, readTrustedDatabase, removeDatabaseTemps } from './sqlite-file.ts';
import { DB_FILE } from './sqlite-format.ts';
import { JSON_FILE } from './sqlite-migrate.ts';
import { trustDatabase } from './sqlite-trust.ts';

/**
 * Progress, for tests that kill the rotation at chosen points: checked → rewrapped → switching (the one write that
 * switches roots begins) → switched.
 */
export type RotationPhase = 'checked' | 'rewrapped' | 'switching' | 'switched';

export interface RootRotationOptions {
  readonly dataDir: string;
  /** The root key that protects the store now. */
  readonly from: RootKey;
  /** The root key that protects it afterwards. */
  readonly to: RootKey;
  readonly fs?: KeyStoreFs;
  readonly onPhase?: (phase: RotationPhase) => void;
}

export interface RootRotationResult {
  /** `rotated`: moved to the new root now; `already`: the store was under the new root (a run killed after its switch). */
  readonly outcome: 'rotated' | 'already';
  readonly file: string;
  readonly keys: number;
  readonly versions: number;
  /** Keys, aliases and grants: every one re-authenticated. */
  readonly records: number;
}

export async function rotateRootKey(o: RootRotationOptions): Promise<RootRotationResult> {
  const fs = o.fs ?? nodeFs;
  if (!(await fileExists(fs, o.dataDir))) throw new KeyStoreError(`keystore: no data dir ${o.dataDir}`);
  const lock = await KeyStoreLock.acquire(fs, o.dataDir).catch((e: unknown) => {
    if (e instanceof KeyStoreError && /another kubekms/.test(e.message))
      throw new KeyStoreError(
        `${e.message}. Root-key rotation is offline: stop kubekms serve on this node, rotate, then start it ` +
          'with the new root key',
      );
    throw e;
  });
  try {
    const db = join(o.dataDir, DB_FILE);
    if (await fileExists(fs, db)) return await rotateDatabase(fs, db, o);
    const json = join(o.dataDir, JSON_FILE);
    if (await fileExists(fs, json)) return await rotateDocument(fs, json, o);
    throw new KeyStoreError(`keystore: ${o.dataDir} holds no keystore (neither ${DB_FILE} nor ${JSON_FILE})`);
  } finally {
    await lock.release();
  }
}

/** Whether the store's root key check unwraps under `rootKey` (a dead HSM is an error, not a "no"). */
export async function sealedUnder(
  rootKey: RootKey,
  rootKeyCheck: Uint8Array,
  file: string,
): Promise<boolean> {
  try {
    (await rootKey.unwrap(rootKeyCheck, ROOT_KEY_CHECK_AAD)).wipe();
    return true;
  } catch (e) {
    if (e instanceof RootKeyMismatchError) return false;
    throw new KeyStoreError(`keystore: cannot check the root key of ${file}: ${errorCode(e)}`, { cause: e });
  }
}

function result(outcome: RootRotationResult['outcome'], file: string, state: StoreState): RootRotationResult {
  return {
    outcome,
    file,
    keys: state.keys.length,
    versions: state.keys.reduce((n, k) => n + k.versions.length, 0),
    records: state.keys.length + state.aliases.length + state.grants.length,
  };
}

async function rotateDatabase(
  fs: KeyStoreFs,
  path: string,
  o: RootRotationOptions,
): Promise<RootRotationResult> {
  await removeDatabaseTemps(fs, o.dataDir);
  const read = readDatabaseFile(path);
  if (await sealedUnder(o.to, read.meta.rootKeyCheck, path))
    return result('already', path, (await trustDatabase(read, o.to, path)).state);
  const trusted = await trustDatabase(read, o.from, path);
  o.onPhase?.('checked');
  const { generation, rootKeyCheck } = read.meta;
  // One transaction: every row, the root key check, the record key and the seal change together or not at all.
  const { statements } = await rootSwitch(trusted.state, rootKeyCheck, generation, o.from, o.to);
  o.onPhase?.('rewrapped');
  await writeTransaction(path, statements, () => o.onPhase?.('switching'));
  o.onPhase?.('switched');
  return result('rotated', path, (await readTrustedDatabase(path, o.to)).state);
}

async function writeTransaction(
  path: string,
  statements: Parameters<SqliteWriter['transaction']>[0],
  started: () => void,
): Promise<void> {
  const why = (e: unknown) => (e instanceof SqliteError ? e.detail : String(e));
  const writer = await SqliteWriter.start(path).catch((e: unknown) => {
    throw new KeyStoreError(`keystore: cannot open ${path} for writing (${why(e)})`, { cause: e });
  });
  try {
    started();
    await writer.transaction(statements).catch((e: unknown) => {
      throw new KeyStoreError(`keystore: cannot write ${path} (${why(e)}); the store is unchanged`, {
        cause: e,
      });
    });
  } finally {
    await writer.close();
  }
}

async function rotateDocument(
  fs: KeyStoreFs,
  file: string,
  o: RootRotationOptions,
): Promise<RootRotationResult> {
  await removeLeftoverTemps(fs, file);
  const doc = await readDocument(fs, file);
  if (doc === undefined) throw new KeyStoreError(`keystore: ${file} disappeared while rotating`);
  if (await sealedUnder(o.to, doc.rootKeyCheck, file)) {
    await trustDocument(doc, o.to, file);
    return result('already', file, doc.state);
  }
  // A version 1 document (records not authenticated) is authenticated as found, as opening it would (ADR 0013).
  await trustDocument(doc, o.from, file);
  o.onPhase?.('checked');
  const sealed = await resealDocument(doc, o.from, o.to);
  o.onPhase?.('rewrapped');
  o.onPhase?.('switching');
  await replaceFileAtomically(fs, file, encodeDocument(sealed.doc, sealed.recordAuthKey, sealed.key));
  o.onPhase?.('switched');
  const back = await readDocument(fs, file);
  if (back === undefined || (await trustDocument(back, o.to, file)) === undefined)
    throw new KeyStoreError(
      `keystore: ${file} does not read back under ${o.to.description} after the rotation`,
    );
  return result('rotated', file, back.state);
}
