/**
 * A consistent, checked snapshot of the local keystore of a data dir, whatever its format: `keystore.db` (the
 * database keystore, read in one read transaction beside a running serve) or, in a data dir not migrated yet,
 * `keystore.json` (replaced by atomic rename, so a read sees one whole commit). Taken without the keystore lock
 * and without writing anything; refused (KeyStoreError naming the file and the record) unless every record, the
 * seal and the root key check pass. Used by `kubekms doctor` (inspect.ts) and backups (backup.ts).
 */
import { join } from 'node:path';
import type { RootKey } from '../engine/ports.ts';
import { type DocumentKey, readDocument, trustDocument } from './document-trust.ts';
import type { StoredDocument } from './keystore-document.ts';
import type { KeyStoreFs } from './keystore-fs.ts';
import { fileExists, readTrustedDatabase } from './sqlite-file.ts';
import { DB_FILE } from './sqlite-format.ts';
import { JSON_FILE } from './sqlite-migrate.ts';

export interface LocalSnapshot {
  /** The file it was read from. */
  readonly file: string;
  readonly doc: StoredDocument;
  /** The record authentication key; undefined for a version 1 keystore.json (records not authenticated). */
  readonly auth: DocumentKey | undefined;
}

/** The snapshot, or undefined when the data dir holds no keystore. */
export async function readLocalSnapshot(
  fs: KeyStoreFs,
  dataDir: string,
  rootKey: RootKey,
): Promise<LocalSnapshot | undefined> {
  const db = join(dataDir, DB_FILE);
  if (await fileExists(fs, db)) {
    const t = await readTrustedDatabase(db, rootKey);
    const { rootKeyCheck, generation, recordAuthKey } = t.meta;
    return {
      file: db,
      doc: { formatVersion: 2, rootKeyCheck, generation, state: t.state },
      auth: { key: t.key, wrapped: recordAuthKey },
    };
  }
  const file = join(dataDir, JSON_FILE);
  const doc = await readDocument(fs, file);
  if (doc === undefined) return undefined;
  return { file, doc, auth: await trustDocument(doc, rootKey, file) };
}

/** Names where a keystore was looked for, for "no keystore" errors. */
export function keystorePaths(dataDir: string): string {
  return `${join(dataDir, DB_FILE)} (or ${JSON_FILE})`;
}
