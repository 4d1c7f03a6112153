/**
 * The first database of a data dir (docs/adr/0016): a new empty one, or the migration of the file keystore's
 * `keystore.json`. The JSON is read and checked as FileKeyStore.open checks it (root key, every record auth and
 * the seal); a version 1 document, whose records are not authenticated, is authenticated as found (trust on first
 * use, ADR 0013) unless that is turned off. The database keeps the document's root key check, record
 * authentication key and generation. `keystore.json` itself is not touched here: SqliteKeyStore removes it only
 * after `keystore.db` was renamed into place and passed every check, so a kill at any instant leaves either the
 * JSON alone (migrated again) or both (the database wins).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { RootKey } from '../engine/ports.ts';
import { SecretBytes } from '../engine/secret.ts';
import { readDocument, trustDocument } from './document-trust.ts';
import { KeyStoreError } from './errors.ts';
import { ROOT_KEY_CHECK_AAD } from './keystore-document.ts';
import type { KeyStoreFs } from './keystore-fs.ts';
import { RecordAuthKey } from './record-auth.ts';
import { writeDatabaseFile } from './sqlite-file.ts';

export const JSON_FILE = 'keystore.json';

export interface Created {
  readonly fromJson: boolean;
  /** A version 1 keystore.json was authenticated as found. */
  readonly trustedOnFirstUse: boolean;
}

export async function createDatabase(fs: KeyStoreFs, dataDir: string, rootKey: RootKey): Promise<Created> {
  const check = new SecretBytes(new Uint8Array(randomBytes(32)));
  const rootKeyCheck = await rootKey.wrap(check, ROOT_KEY_CHECK_AAD);
  check.wipe();
  const { key, wrapped } = await RecordAuthKey.generate(rootKey);
  const state = { keys: [], aliases: [], grants: [] };
  await writeDatabaseFile(fs, dataDir, { rootKeyCheck, recordAuthKey: wrapped, key, generation: 0, state });
  return { fromJson: false, trustedOnFirstUse: false };
}

export async function migrateJson(
  fs: KeyStoreFs,
  dataDir: string,
  rootKey: RootKey,
  unauthenticated: 'migrate' | 'refuse',
): Promise<Created> {
  const file = join(dataDir, JSON_FILE);
  const doc = await readDocument(fs, file);
  if (doc === undefined) throw new KeyStoreError(`keystore: ${file} disappeared while opening it`);
  const found = await trustDocument(doc, rootKey, file);
  if (found === undefined && unauthenticated === 'refuse') {
    throw new KeyStoreError(
      `keystore: ${file}: formatVersion ${doc.formatVersion}: its records are not authenticated and ` +
        'migrating unauthenticated stores is turned off; refusing to open it',
    );
  }
  const trustedOnFirstUse = found === undefined;
  const auth = found ?? (await RecordAuthKey.generate(rootKey));
  await writeDatabaseFile(fs, dataDir, {
    rootKeyCheck: doc.rootKeyCheck,
    recordAuthKey: auth.wrapped,
    key: auth.key,
    generation: doc.generation,
    state: doc.state,
  });
  return { fromJson: true, trustedOnFirstUse };
}
