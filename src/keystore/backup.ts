/**
 * Backups of a local keystore (docs/disaster-recovery.md). A backup file is the keystore document, checked, inside
 * an envelope:
 *
 *   { "format": "kubekms-backup", "formatVersion": 2, "createdAt": ms, "source": "<keystore path>",
 *     "sealedBy": "root-key" | "passphrase" | "recipient",
 *     "kdf": { "name": "scrypt", "N", "r", "p", "salt" } (passphrase only),
 *     "recipient": { "scheme": "X25519-HKDF-SHA256", "publicKey", "enc" } (recipient only, version 2),
 *     "keystore": { …the keystore document, version 2… } }
 *
 * Key material stays wrapped and every record authenticated: under the store's root key, or — for escrow, kept off
 * site without the HSM — re-wrapped under a key derived from a passphrase or for a recipient's X25519 public key
 * (rootkey/recipient-key.ts). Version 1 files (no recipient) are still read. A backup is a snapshot taken without the
 * lock (local-snapshot.ts: one read transaction of keystore.db, or a keystore.json not migrated yet), and
 * only after every record verified and every key version unwrapped. A restore goes into an empty data dir only.
 */
import type { KeyObject } from 'node:crypto';
import type { RootKey } from '../engine/ports.ts';
import { passphraseRootKey, type ScryptParams } from '../rootkey/passphrase-key.ts';
import {
  openForRecipient,
  RECIPIENT_SCHEME,
  type RecipientSeal,
  recipientFingerprint,
  sealToRecipient,
} from '../rootkey/recipient-key.ts';
import { type DocumentKey, parseDocument, trustDocument } from './document-trust.ts';
import { KeyStoreError, locate, RecordDecodeError } from './errors.ts';
import { encodeBase64, JsonObjectReader } from './json-reader.ts';
import { encodeDocument, type StoredDocument } from './keystore-document.ts';
import { type KeyStoreFs, nodeFs } from './keystore-fs.ts';
import { keystorePaths, readLocalSnapshot } from './local-snapshot.ts';
import { checkMaterial, resealDocument } from './reseal.ts';

export const BACKUP_FORMAT = 'kubekms-backup';
const BACKUP_FORMAT_VERSION = 2;
const BACKUP_FIELDS = [
  'format',
  'formatVersion',
  'createdAt',
  'source',
  'sealedBy',
  'kdf',
  'recipient',
  'keystore',
];
const KDF_FIELDS = ['name', 'N', 'r', 'p', 'salt'];
const RECIPIENT_FIELDS = ['scheme', 'publicKey', 'enc'];
const SEALED_BY = ['root-key', 'passphrase', 'recipient'] as const;

export interface Backup {
  readonly formatVersion: number;
  readonly createdAt: number;
  readonly source: string;
  readonly sealedBy: (typeof SEALED_BY)[number];
  readonly kdf?: ScryptParams;
  readonly recipient?: RecipientSeal;
  readonly document: StoredDocument;
}

/** How a backup is re-wrapped for escrow: under a passphrase's scrypt key, or for a recipient's public key. */
export type Escrow =
  | { readonly passphrase: string; readonly kdf: ScryptParams }
  | { readonly recipient: Uint8Array };

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
  /** The recipient's X25519 private key, for a `recipient` backup. */
  readonly escrowKey?: KeyObject;
}

/** The backup file's text, from the keystore in `dataDir`, checked under `rootKey` first. */
export async function createBackup(o: {
  readonly dataDir: string;
  readonly rootKey: RootKey;
  /** Re-wrap for escrow (off site, without the HSM or the root key file). */
  readonly escrow?: Escrow;
  readonly now?: number;
  readonly fs?: KeyStoreFs;
}): Promise<{ text: string; summary: BackupSummary }> {
  const snapshot = await readLocalSnapshot(o.fs ?? nodeFs, o.dataDir, o.rootKey);
  if (snapshot === undefined)
    throw new KeyStoreError(`keystore: no keystore at ${keystorePaths(o.dataDir)} (wrong --data-dir?)`);
  const { file, doc, auth } = snapshot;
  if (auth === undefined)
    throw new KeyStoreError(`keystore: ${file} is a version 1 store: start kubekms serve once to migrate it`);
  const versions = await checkMaterial(doc.state, o.rootKey);
  const escrow = o.escrow === undefined ? undefined : await escrowSealing(o.escrow);
  let keystore: string;
  if (escrow === undefined) keystore = encodeDocument(doc, auth.wrapped, auth.key);
  else {
    const sealed = await resealDocument(doc, o.rootKey, escrow.key);
    keystore = encodeDocument(sealed.doc, sealed.recordAuthKey, sealed.key);
  }
  const createdAt = o.now ?? Date.now();
  const sealedBy = escrow?.sealedBy ?? 'root-key';
  const envelope = {
    format: BACKUP_FORMAT,
    formatVersion: BACKUP_FORMAT_VERSION,
    createdAt,
    source: file,
    sealedBy,
    ...escrow?.fields,
    keystore: JSON.parse(keystore) as unknown,
  };
  const summary = summarize(doc, versions, createdAt, sealedBy);
  return { text: `${JSON.stringify(envelope, null, 2)}\n`, summary };
}

/** The escrow key a backup is re-wrapped under, and the envelope fields that derive it again. */
async function escrowSealing(
  e: Escrow,
): Promise<{ key: RootKey; sealedBy: 'passphrase' | 'recipient'; fields: Record<string, unknown> }> {
  if ('recipient' in e) {
    const { key, seal } = sealToRecipient(e.recipient);
    const recipient = {
      scheme: seal.scheme,
      publicKey: encodeBase64(seal.recipient),
      enc: encodeBase64(seal.enc),
    };
    return { key, sealedBy: 'recipient', fields: { recipient } };
  }
  const { N, r, p, salt } = e.kdf;
  const kdf = { name: 'scrypt', N, r, p, salt: encodeBase64(salt) };
  return { key: await passphraseRootKey(e.passphrase, e.kdf), sealedBy: 'passphrase', fields: { kdf } };
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
    if (version > BACKUP_FORMAT_VERSION)
      throw new RecordDecodeError('formatVersion', `${version}: written by a newer kubekms`);
    const sealedBy = o.oneOf('sealedBy', version === 1 ? SEALED_BY.slice(0, 2) : SEALED_BY);
    const recipient =
      sealedBy === 'recipient' ? readRecipientSeal(o.object('recipient', RECIPIENT_FIELDS)) : undefined;
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
      formatVersion: version,
      createdAt: o.integer('createdAt', 0),
      source: o.string('source'),
      sealedBy,
      ...(kdf ? { kdf } : {}),
      ...(recipient ? { recipient } : {}),
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
    if (b.sealedBy === 'recipient' && /sealed under a different root key/.test(String(e)))
      throw new KeyStoreError(
        `backup: ${file}: recipient.enc or rootKeyCheck: altered (the escrow key does not open it)`,
      );
    throw e;
  }
  if (auth === undefined) throw new KeyStoreError(`backup: ${file}: its keystore is not authenticated`);
  const versions = await checkMaterial(b.document.state, sealing);
  return { sealing, auth, summary: summarize(b.document, versions, b.createdAt, b.sealedBy) };
}

/**
 * What can be checked without any key: the file decodes strictly (every record's shape, the store's integrity).
 * Counts versions instead of unwrapping them; for a recipient backup, names the recipient.
 */
export function describeUnopened(b: Backup): BackupSummary & { recipient?: string } {
  const versions = b.document.state.keys.reduce((n, k) => n + k.versions.length, 0);
  const summary = summarize(b.document, versions, b.createdAt, b.sealedBy);
  return b.recipient ? { ...summary, recipient: recipientFingerprint(b.recipient.recipient) } : summary;
}

async function sealingKey(b: Backup, keys: BackupKeys): Promise<RootKey> {
  if (b.sealedBy === 'root-key') {
    if (keys.rootKey === undefined)
      throw new KeyStoreError('backup: sealed by the root key: give the root key');
    return keys.rootKey;
  }
  if (b.sealedBy === 'recipient') {
    if (keys.escrowKey === undefined || b.recipient === undefined)
      throw new KeyStoreError(
        "backup: sealed to an escrow recipient: give --escrow-key (the recipient's private key)",
      );
    return openForRecipient(keys.escrowKey, b.recipient, '--escrow-key');
  }
  if (keys.passphrase === undefined || b.kdf === undefined)
    throw new KeyStoreError('backup: sealed by an escrow passphrase: give --escrow-passphrase-file');
  return passphraseRootKey(keys.passphrase, b.kdf);
}

function readRecipientSeal(o: JsonObjectReader): RecipientSeal {
  o.oneOf('scheme', [RECIPIENT_SCHEME] as const);
  const raw = (name: string) => {
    const bytes = o.bytes(name);
    if (bytes.length !== 32)
      throw new RecordDecodeError(o.at(name), 'expected 32 bytes (a raw X25519 public key)');
    return bytes;
  };
  return { scheme: RECIPIENT_SCHEME, recipient: raw('publicKey'), enc: raw('enc') };
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
