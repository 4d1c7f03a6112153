/**
 * The local keystores, for suites that hold every one of them to the same guarantees (`describe.each(STORES)`):
 * the file keystore (keystore.json, ADR 0003) and the database keystore (keystore.db, ADR 0016).
 */
import type { KeyStore, RootKey } from '../../engine/ports.ts';
import { FileKeyStore } from '../file-keystore.ts';
import type { KeyStoreFs } from '../keystore-fs.ts';
import { SqliteKeyStore } from '../sqlite-keystore.ts';

export interface LocalStore extends KeyStore {
  readonly generation: number;
}

export interface StoreKind {
  readonly name: 'file' | 'sqlite';
  /** The file that holds the state (compared byte for byte to show that nothing was written). */
  readonly file: string;
  /** Temp files a writer killed mid-write leaves (open removes them). */
  readonly leftovers: (deadPid: number) => readonly string[];
  make(o: { dataDir: string; rootKey: RootKey; fs?: KeyStoreFs }): LocalStore;
  /** How a refusal names a record: `keys[0] (key "k")` in keystore.json, `key "k"` in keystore.db. */
  recordName(list: string, index: number, label: string): string;
}

export const FILE_STORE: StoreKind = {
  name: 'file',
  file: 'keystore.json',
  leftovers: (pid) => [`keystore.json.tmp-${pid}-0a1b2c`, 'keystore.json.tmp-1-ffffff'],
  make: (o) => new FileKeyStore(o),
  recordName: (list, index, label) => `${list}[${index}] (${label})`,
};

export const SQLITE_STORE: StoreKind = {
  name: 'sqlite',
  file: 'keystore.db',
  leftovers: () => ['keystore.db.tmp', 'keystore.db.tmp-wal', 'keystore.db.tmp-journal'],
  make: (o) => new SqliteKeyStore(o),
  recordName: (_list, _index, label) => label,
};

export const STORES: readonly StoreKind[] = [FILE_STORE, SQLITE_STORE];
