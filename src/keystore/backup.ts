/**
 * Backups of a local keystore (docs/disaster-recovery.md). A backup file is the keystore document, checked, inside
 * an envelope:
 *
 *   { "format": "kubekms-backup", "formatVersion": 1, "createdAt": ms, "source": "<keystore.json path>",
 *     "sealedBy": "root-key" | "passphrase", "kdf": { "name": "scrypt", "N", "r", "p", "salt" } (passphrase only),
 *     "keystore": { …the keystore document, version 2… } }
 *
 * Key material stays wrapped and every record authenticated: under the store's root key, or — for escrow, kept off
 * site without the HSM — re-wrapped under a key derived from a passphrase. A backup is taken from the file as it
 * is on disk without the lock (a running serve replaces it by atomic rename, so a read sees one whole commit), and
 * only after every record verified and every key version unwrapped. A restore goes into an empty data dir only.
 */
import { join } from 'node:path';
import type { RootKey } from '../engine/ports.ts';
import { passphraseRootKey, type ScryptParams } from '../rootkey/passphrase-key.ts';
import { type DocumentKey, parseDocument, readDocument, trustDocument } from './document-trust.ts';
import { KeyStoreError, locate, RecordDecodeError } from './errors.ts';
import { KEYSTORE_FILE } from './file-keystore.ts';
import { encodeBase64, JsonObjectReader } from './json-reader.ts';
import { encodeDocument, type StoredDocument } from './keystore-document.ts';
import { type KeyStoreFs, nodeFs } from './keystore-fs.ts';
import { checkMaterial, resealDocument } from './reseal.ts';

export const BACKUP_FORMAT = 'kubekms-backup';
const BACKUP_FIELDS = ['format', 'formatVersion', 'createdAt', 'source', 'sealedBy', 'kdf', 'keystore'];
const KDF_FIELDS = ['name', 'N', 'r', 'p', 'salt'];

export interface Backup {
  readonly createdAt: number;
  readonly source: string;
  readonly sealedBy: 'root-key' | 'passphrase';
  readonly kdf?: ScryptParams;
  readonly document: StoredDocument;
}

export interface BackupSummary {
  readonly keys: number;
  readonly versions: number;
  readonly aliases: number;
  readonly grants: number;
  readonly generation: number;
  readonly createdAt: number;
  readonly sealedBy: Backup['sealedBy'];
}

/** Where the sealing key of a backup comes from. */
export interface BackupKeys {
  /** The store's root key: seals `root-key` backups; the target of a restore. */
  readonly rootKey?: RootKey;
  readonly passphrase?: string;
}

/** The backup file's text, from the keystore in `dataDir`, checked under `rootKey` first. */
export async function createBackup(o: {
  readonly dataDir: string;
  readonly rootKey: RootKey;
  /** Re-wrap for escrow under a key derived from this passphrase, with these scrypt parameters. */
  readonly escrow?: { readonly passphrase: string; readonly kdf: ScryptParams };
  readonly now?: number;
  readonly fs?: KeyStoreFs;
}): Promise<{ text: string; summary: BackupSummary }> {
  const file = join(o.dataDir, KEYSTORE_FILE);
  const doc = await readDocument(o.fs ?? nodeFs, file);
  if (doc === undefined) throw new KeyStoreError(`keystore: no keystore at ${file} (wrong --data-dir?)`);
  const auth = await trustDocument(doc, o.rootKey, file);
  if (auth === undefined)
    throw new KeyStoreError(`keystore: ${file} is a version 1 store: start kubekms serve once to migrate it`);
  const versions = await checkMaterial(doc.state, o.rootKey);
  let keystore: string;
  if (o.escrow === undefined) keystore = encodeDocument(doc, auth.wrapped, auth.key);
  else {
    const to = await passphraseRootKey(o.escrow.passphrase, o.escrow.kdf);
    const sealed = await resealDocument(doc, o.rootKey, to);
    keystore = encodeDocument(sealed.doc, sealed.recordAuthKey, sealed.key);
  }
  const createdAt = o.now ?? Date.now();
  const sealedBy = o.escrow === undefined ? 'root-key' : 'passphrase';
  const kdf = o.escrow?.kdf;
  const envelope = {
    format: BACKUP_FORMAT,
    formatVersion: 1,
    createdAt,
    source: file,
    sealedBy,
    ...(kdf ? { kdf: { name: 'scrypt', N: kdf.N, r: kdf.r, p: kdf.p, salt: encodeBase64(kdf.salt) } } : {}),
    keystore: JSON.parse(keystore) as unknown,
  };
  const summary = summarize(doc, versions, createdAt, sealedBy);
  return { text: `${JSON.stringify(envelope, null, 2)}\n`, summary };
}

/** Decodes a backup file strictly; errors name the file and the field. */
export function readBackup(bytes: Uint8Array, file: string): Backup {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new KeyStoreError(`backup: ${file}: not a JSON document (truncated or corrupt)`);
  }
  try {
    const o = new JsonObjectReader(value, '', BACKUP_FIELDS);
    if (o.string('format') !== BACKUP_FORMAT)
      throw new RecordDecodeError('format', `not a kubekms backup (expected "${BACKUP_FORMAT}")`);
    const version = o.integer('formatVersion', 1);
    if (version > 1) throw new RecordDecodeError('formatVersion', `${version}: written by a newer kubekms`);
    const sealedBy = o.oneOf('sealedBy', ['root-key', 'passphrase'] as const);
    const k = sealedBy === 'passphrase' ? o.object('kdf', KDF_FIELDS) : undefined;
    if (k !== undefined) k.oneOf('name', ['scrypt'] as const);
    const kdf = k && {
      N: k.integer('N', 1),
      r: k.integer('r', 1),
      p: k.integer('p', 1),
      salt: k.bytes('salt'),
    };
    const document = parseDocument(
      new TextEncoder().encode(JSON.stringify(o.raw('keystore'))),
      `${file}: keystore`,
    );
    return {
      createdAt: o.integer('createdAt', 0),
      source: o.string('source'),
      sealedBy,
      ...(kdf ? { kdf } : {}),
      document,
    };
  } catch (e) {
    if (e instanceof RecordDecodeError)
      throw new KeyStoreError(`backup: ${file}: ${locate(e.path, e.problem)}`);
    throw e;
  }
}

/**
 * Checks a backup: every record authenticated and every key version unwrapping under its sealing key (the root key
 * or the passphrase). Returns that key and the document's record key, for a restore.
 */
export async function openBackup(
  b: Backup,
  file: string,
  keys: BackupKeys,
): Promise<{ sealing: RootKey; auth: DocumentKey; summary: BackupSummary }> {
  const sealing = await sealingKey(b, keys);
  let auth: DocumentKey | undefined;
  try {
    auth = await trustDocument(b.document, sealing, `${file}: keystore`);
  } catch (e) {
    if (b.sealedBy === 'passphrase' && /sealed under a different root key/.test(String(e)))
      throw new KeyStoreError(`backup: ${file}: wrong escrow passphrase (or the backup was altered)`);
    throw e;
  }
  if (auth === undefined) throw new KeyStoreError(`backup: ${file}: its keystore is not authenticated`);
  const versions = await checkMaterial(b.document.state, sealing);
  return { sealing, auth, summary: summarize(b.document, versions, b.createdAt, b.sealedBy) };
}

async function sealingKey(b: Backup, keys: BackupKeys): Promise<RootKey> {
  if (b.sealedBy === 'root-key') {
    if (keys.rootKey === undefined)
      throw new KeyStoreError('backup: sealed by the root key: give the root key');
    return keys.rootKey;
  }
  if (keys.passphrase === undefined || b.kdf === undefined)
    throw new KeyStoreError('backup: sealed by an escrow passphrase: give --escrow-passphrase-file');
  return passphraseRootKey(keys.passphrase, b.kdf);
}

function summarize(doc: StoredDocument, versions: number, createdAt: number, sealedBy: Backup['sealedBy']) {
  const { keys, aliases, grants } = doc.state;
  return {
    keys: keys.length,
    versions,
    aliases: aliases.length,
    grants: grants.length,
    generation: doc.generation,
    createdAt,
    sealedBy,
  };
}
