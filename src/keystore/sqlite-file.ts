/**
 * The database file of the keystore on disk: reading it (read-only, one read transaction, then every check of
 * sqlite-trust.ts) and writing a whole new one crash-safely (docs/adr/0016): `keystore.db.tmp` (0600) filled in
 * one transaction and closed, fsynced, renamed to `keystore.db`, directory fsynced. A kill at any instant leaves
 * either no `keystore.db` (the temp files are removed on the next open) or a complete one.
 */
import { join } from 'node:path';
import type { RootKey } from '../engine/ports.ts';
import type { StoreState } from '../engine/records.ts';
import { syncDirectory } from './atomic-file.ts';
import { KeyStoreError, locate, RecordDecodeError } from './errors.ts';
import { errorCode, type KeyStoreFs } from './keystore-fs.ts';
import { canonicalJson, encodeRecord, type RecordAuthKey } from './record-auth.ts';
import { SqliteError, SqliteReader, writeDatabase } from './sqlite-db.ts';
import { DB_FILE, initialStatements, readDatabase, type StoredRow } from './sqlite-format.ts';
import { type TrustedDatabase, trustDatabase } from './sqlite-trust.ts';

export const DB_TEMP = `${DB_FILE}.tmp`;
/** Files SQLite keeps beside a database while it is open (and after a crash). */
const SIDE_FILES = ['', '-wal', '-shm', '-journal'];

export async function fileExists(fs: KeyStoreFs, path: string): Promise<boolean> {
  return fs.stat(path).then(
    () => true,
    (e: unknown) => {
      if (errorCode(e) === 'ENOENT') return false;
      throw new KeyStoreError(`keystore: cannot read ${path} (${errorCode(e)})`, { cause: e });
    },
  );
}

/** Reads `<dataDir>/keystore.db` and checks every row, the seal and the root key. Writes nothing. */
export async function readTrustedDatabase(path: string, rootKey: RootKey): Promise<TrustedDatabase> {
  return trustDatabase(readDatabaseFile(path), rootKey, path);
}

/** Reads and strictly decodes the meta and record rows of the database at `path` (no root key yet). */
export function readDatabaseFile(path: string): ReturnType<typeof readDatabase> {
  let read: ReturnType<typeof readDatabase>;
  try {
    const reader = SqliteReader.open(path);
    try {
      read = reader.snapshot(readDatabase);
    } finally {
      reader.close();
    }
  } catch (e) {
    if (e instanceof RecordDecodeError)
      throw new KeyStoreError(`keystore: ${path}: ${locate(e.path, e.problem)}; refusing to open it`);
    if (e instanceof SqliteError)
      throw new KeyStoreError(
        `keystore: ${path}: ${e.detail}: corrupt or not a keystore; refusing to open it`,
      );
    throw e;
  }
  return read;
}

/** What a new database file holds. */
export interface NewDatabase {
  readonly rootKeyCheck: Uint8Array;
  readonly recordAuthKey: Uint8Array;
  readonly key: RecordAuthKey;
  readonly generation: number;
  readonly state: StoreState;
}

/** The rows of a state: canonical JSON and auth, in the state's order. */
export function rowsOf(key: RecordAuthKey, state: StoreState): StoredRow[] {
  const row = (kind: StoredRow['kind'], id: string, json: string): StoredRow => ({
    kind,
    id,
    json,
    auth: key.authOfText(kind, json),
  });
  return [
    ...state.keys.map((record) =>
      row('Key', record.keyId, canonicalJson(encodeRecord({ kind: 'Key', record }))),
    ),
    ...state.aliases.map((record) =>
      row('Alias', record.aliasName, canonicalJson(encodeRecord({ kind: 'Alias', record }))),
    ),
    ...state.grants.map((record) =>
      row('Grant', record.grantId, canonicalJson(encodeRecord({ kind: 'Grant', record }))),
    ),
  ];
}

/** Writes `<dataDir>/keystore.db` holding `db`, crash-safely; it must not exist yet. */
export async function writeDatabaseFile(fs: KeyStoreFs, dataDir: string, db: NewDatabase): Promise<void> {
  const temp = join(dataDir, DB_TEMP);
  await removeDatabaseTemps(fs, dataDir);
  const rows = rowsOf(db.key, db.state);
  const xor = db.key.sealXor(rows.map((r) => r.auth));
  const meta = {
    rootKeyCheck: db.rootKeyCheck,
    recordAuthKey: db.recordAuthKey,
    generation: db.generation,
    seal: db.key.xorSeal(db.generation, xor),
  };
  try {
    await (await fs.open(temp, 'wx', 0o600)).close(); // SQLite gives its side files the mode of this one
    writeDatabase(temp, initialStatements(meta, rows));
    const fh = await fs.open(temp, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(temp, join(dataDir, DB_FILE));
    await syncDirectory(fs, dataDir);
  } catch (e) {
    await removeDatabaseTemps(fs, dataDir);
    const why = e instanceof SqliteError ? e.detail : errorCode(e);
    throw new KeyStoreError(`keystore: cannot write ${join(dataDir, DB_FILE)} (${why})`, { cause: e });
  }
}

/**
 * Removes the empty `-wal` and the `-shm` that a read-only connection leaves beside a database it refused. Only
 * under the keystore lock (no other connection is open): a WAL that holds anything is never touched.
 */
export async function removeEmptySideFiles(fs: KeyStoreFs, path: string): Promise<void> {
  const wal = await fs.stat(`${path}-wal`).catch(() => undefined);
  if (wal === undefined || wal.size !== 0) return;
  await fs.unlink(`${path}-wal`).catch(() => {});
  await fs.unlink(`${path}-shm`).catch(() => {});
}

/** Removes `keystore.db.tmp` and its side files, left by a process killed while writing them. */
export async function removeDatabaseTemps(fs: KeyStoreFs, dataDir: string): Promise<void> {
  for (const side of SIDE_FILES) await fs.unlink(join(dataDir, `${DB_TEMP}${side}`)).catch(() => {});
}
