/**
 * Reading a keystore document and deciding whether to trust it: strict decoding (keystore-document.ts), the root
 * key check, then — for a version 2 document — the record authentication key, every record's auth and the seal.
 * Every refusal is a KeyStoreError naming the file, and the record (`keys[3] (key "…")`) when one was changed
 * without the root key. Shared by FileKeyStore.open, the read-only inspection of `kubekms doctor`, and backups.
 */
import type { RootKey } from '../engine/ports.ts';
import { RootKeyMismatchError } from '../rootkey/errors.ts';
import { KeyStoreError, locate, RecordDecodeError } from './errors.ts';
import { decodeDocument, ROOT_KEY_CHECK_AAD, type StoredDocument } from './keystore-document.ts';
import { errorCode, type KeyStoreFs } from './keystore-fs.ts';
import { type AuthenticatedRecord, RecordAuthKey } from './record-auth.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The record authentication key of a trusted version 2 document, with its wrap as stored. */
export interface DocumentKey {
  readonly key: RecordAuthKey;
  readonly wrapped: Uint8Array;
}

/** Decodes a document from bytes; a malformed one is a KeyStoreError `keystore: <file>: <field>: <problem>`. */
export function parseDocument(bytes: Uint8Array, file: string): StoredDocument {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new KeyStoreError(`keystore: ${file}: not valid UTF-8: corrupt; refusing to open it`);
  }
  try {
    return decodeDocument(text);
  } catch (e) {
    if (e instanceof RecordDecodeError) {
      throw new KeyStoreError(`keystore: ${file}: ${locate(e.path, e.problem)}; refusing to open it`);
    }
    throw e;
  }
}

/** The document in `file`, or undefined when there is none. */
export async function readDocument(fs: KeyStoreFs, file: string): Promise<StoredDocument | undefined> {
  const bytes = await fs.readFile(file).catch((e: unknown) => {
    if (errorCode(e) === 'ENOENT') return undefined;
    throw new KeyStoreError(`keystore: cannot read ${file} (${errorCode(e)})`, { cause: e });
  });
  return bytes === undefined ? undefined : parseDocument(bytes, file);
}

/**
 * Checks that `doc` is sealed under `rootKey` and, for version 2, that every record and the seal were written by
 * a holder of it. Returns the record authentication key (undefined for an unauthenticated version 1 document).
 */
export async function trustDocument(
  doc: StoredDocument,
  rootKey: RootKey,
  file: string,
): Promise<DocumentKey | undefined> {
  await checkRootKey(doc.rootKeyCheck, rootKey, file);
  if (doc.auth === undefined) return undefined;
  const key = await unwrapRecordKey(rootKey, doc.auth.recordAuthKey, file);
  const { state } = doc;
  const { records } = doc.auth;
  const check = (r: AuthenticatedRecord, auth: Uint8Array, where: string, id: string): void => {
    if (!key.verify(r, auth)) throw refused(file, `${where} (${r.kind.toLowerCase()} ${JSON.stringify(id)})`);
  };
  for (const [i, record] of state.keys.entries())
    check({ kind: 'Key', record }, records.keys[i]!, `keys[${i}]`, record.keyId);
  for (const [i, record] of state.aliases.entries())
    check({ kind: 'Alias', record }, records.aliases[i]!, `aliases[${i}]`, record.aliasName);
  for (const [i, record] of state.grants.entries())
    check({ kind: 'Grant', record }, records.grants[i]!, `grants[${i}]`, record.grantId);
  if (!key.verifySeal(doc.generation, records, doc.auth.seal)) {
    throw refused(
      file,
      'seal',
      'the set of records or the generation differs from what kubekms wrote (a record removed, added back from ' +
        'an older copy, or reordered)',
    );
  }
  return { key, wrapped: doc.auth.recordAuthKey };
}

/** The record authentication key of a store, unwrapped; refused (naming `recordAuthKey`) when the root key did not wrap it. */
export async function unwrapRecordKey(
  rootKey: RootKey,
  wrapped: Uint8Array,
  file: string,
): Promise<RecordAuthKey> {
  return RecordAuthKey.unwrap(rootKey, wrapped).catch((e: unknown) => {
    if (e instanceof RootKeyMismatchError)
      throw refused(file, 'recordAuthKey', 'not wrapped by this root key');
    throw new KeyStoreError(`keystore: cannot unwrap the record key of ${file}: ${errorCode(e)}`, {
      cause: e,
    });
  });
}

/** Refuses a store whose root key check does not unwrap under `rootKey`, naming both. */
export async function checkRootKey(rootKeyCheck: Uint8Array, rootKey: RootKey, file: string): Promise<void> {
  try {
    (await rootKey.unwrap(rootKeyCheck, ROOT_KEY_CHECK_AAD)).wipe();
  } catch (e) {
    if (e instanceof RootKeyMismatchError) {
      throw new KeyStoreError(
        `keystore: ${file} is sealed under a different root key than ${rootKey.description}; ` +
          'start kubekms with the root key that created this store',
      );
    }
    throw new KeyStoreError(`keystore: cannot check the root key of ${file}: ${errorCode(e)}`, { cause: e });
  }
}

/** The refusal of a store with a record (or the seal) changed without the root key. */
export function refused(
  file: string,
  where: string,
  why = 'its auth does not match its content',
): KeyStoreError {
  return new KeyStoreError(
    `keystore: ${file}: ${where}: changed without the root key (${why}); refusing to open it`,
  );
}
