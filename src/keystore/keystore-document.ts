/**
 * The keystore file: one JSON document holding the whole state.
 *
 *   { "format": "kubekms-keystore", "formatVersion": 2,
 *     "rootKeyCheck": base64(rootKey.wrap(32 random bytes, AAD "kubekms/root-key-check/v1")),
 *     "recordAuthKey": base64(rootKey.wrap(K, AAD "kubekms/record-auth-key/v1")),
 *     "generation": n, "seal": base64(HMAC(K, generation and every record auth)),
 *     "keys": [{..., "auth": ...}], "aliases": [{..., "auth": ...}], "grants": [{..., "auth": ...}] }
 *
 * Version 1 is the same without recordAuthKey, seal and the auths (nothing but key material was authenticated);
 * it is still read, and FileKeyStore migrates it to version 2 (record-auth.ts, docs/adr/0013).
 *
 * Format policy: every version this code has ever written stays readable; a file with a newer formatVersion is
 * refused ("written by a newer kubekms") rather than half-understood. Adding or changing a field bumps the version.
 */
import type { StoreState } from '../engine/records.ts';
import { RecordDecodeError } from './errors.ts';
import { describeJson, encodeBase64, JsonObjectReader } from './json-reader.ts';
import { AUTH_BYTES, authsOf, type RecordAuthKey, type RecordAuths } from './record-auth.ts';
import {
  decodeAliasRecord,
  decodeGrantRecord,
  decodeKeyRecord,
  encodeAliasRecord,
  encodeGrantRecord,
  encodeKeyRecord,
  type JsonValue,
} from './record-codec.ts';
import { checkStoreIntegrity } from './store-integrity.ts';

export const KEYSTORE_FORMAT = 'kubekms-keystore';
export const KEYSTORE_FORMAT_VERSION = 2;
export const ROOT_KEY_CHECK_AAD = new TextEncoder().encode('kubekms/root-key-check/v1');

const V1_FIELDS = ['format', 'formatVersion', 'rootKeyCheck', 'generation', 'keys', 'aliases', 'grants'];
const V2_FIELDS = [...V1_FIELDS, 'recordAuthKey', 'seal'];

export interface KeystoreDocument {
  /** The root key check blob: proves on open that the store is sealed under the configured root key. */
  readonly rootKeyCheck: Uint8Array;
  /** Increases by one with every commit. */
  readonly generation: number;
  readonly state: StoreState;
}

/** The authentication a version 2 document carries; checked by document-trust.ts. */
export interface DocumentAuth {
  /** The record authentication key, wrapped by the root key. */
  readonly recordAuthKey: Uint8Array;
  readonly seal: Uint8Array;
  readonly records: RecordAuths;
}

/** A document as read from a file: version 1 has no `auth`. */
export interface StoredDocument extends KeystoreDocument {
  readonly formatVersion: number;
  readonly auth?: DocumentAuth;
}

/**
 * The document as text (always the current version): pretty-printed JSON with a final newline, so that operators
 * can read and diff it. `key` authenticates every record and the whole; `recordAuthKey` is its wrap.
 */
export function encodeDocument(doc: KeystoreDocument, recordAuthKey: Uint8Array, key: RecordAuthKey): string {
  const auths = authsOf(key, doc.state);
  const withAuth = (value: JsonValue, auth: Uint8Array): JsonValue => ({
    ...(value as { readonly [k: string]: JsonValue }),
    auth: encodeBase64(auth),
  });
  const value: JsonValue = {
    format: KEYSTORE_FORMAT,
    formatVersion: KEYSTORE_FORMAT_VERSION,
    rootKeyCheck: encodeBase64(doc.rootKeyCheck),
    recordAuthKey: encodeBase64(recordAuthKey),
    generation: doc.generation,
    seal: encodeBase64(key.seal(doc.generation, auths)),
    keys: doc.state.keys.map((k, i) => withAuth(encodeKeyRecord(k), auths.keys[i]!)),
    aliases: doc.state.aliases.map((a, i) => withAuth(encodeAliasRecord(a), auths.aliases[i]!)),
    grants: doc.state.grants.map((g, i) => withAuth(encodeGrantRecord(g), auths.grants[i]!)),
  };
  return `${JSON.stringify(value, null, 2)}\n`;
}

/**
 * Parses and fully validates a document (shape of every record, then cross-record integrity). Throws a
 * RecordDecodeError whose path names the field; an empty path means the document itself. Does not check any
 * authentication (that needs the root key: document-trust.ts).
 */
export function decodeDocument(text: string): StoredDocument {
  const value = parseJson(text);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RecordDecodeError('', 'not a JSON object');
  }
  const format = (value as Record<string, unknown>).format;
  if (format !== KEYSTORE_FORMAT) {
    throw new RecordDecodeError('format', `not a kubekms keystore (expected "${KEYSTORE_FORMAT}")`);
  }
  const formatVersion = (value as Record<string, unknown>).formatVersion;
  if (typeof formatVersion !== 'number' || !Number.isSafeInteger(formatVersion) || formatVersion < 1) {
    throw new RecordDecodeError('formatVersion', 'expected a positive integer');
  }
  if (formatVersion > KEYSTORE_FORMAT_VERSION) {
    throw new RecordDecodeError(
      'formatVersion',
      `${formatVersion}: written by a newer kubekms (this one reads up to ${KEYSTORE_FORMAT_VERSION}); ` +
        'upgrade kubekms to open it',
    );
  }
  const v1 = formatVersion === 1;
  const o = new JsonObjectReader(value, '', v1 ? V1_FIELDS : V2_FIELDS);
  const rootKeyCheck = o.bytes('rootKeyCheck', { nonEmpty: true });
  const recordAuthKey = v1 ? undefined : o.bytes('recordAuthKey', { nonEmpty: true });
  const generation = o.integer('generation', 0);
  const seal = v1 ? undefined : authBytes(o, 'seal');
  const split = (list: readonly unknown[], path: string) =>
    list.map((r, i) => (v1 ? { record: r, auth: undefined } : splitAuth(r, `${path}[${i}]`)));
  const keys = split(o.array('keys'), 'keys');
  const aliases = split(o.array('aliases'), 'aliases');
  const grants = split(o.array('grants'), 'grants');
  const state: StoreState = {
    keys: keys.map((k, i) => decodeKeyRecord(k.record, `keys[${i}]`)),
    aliases: aliases.map((a, i) => decodeAliasRecord(a.record, `aliases[${i}]`)),
    grants: grants.map((g, i) => decodeGrantRecord(g.record, `grants[${i}]`)),
  };
  checkStoreIntegrity(state);
  if (recordAuthKey === undefined || seal === undefined)
    return { formatVersion, rootKeyCheck, generation, state };
  const records: RecordAuths = {
    keys: keys.map((k) => k.auth!),
    aliases: aliases.map((a) => a.auth!),
    grants: grants.map((g) => g.auth!),
  };
  return { formatVersion, rootKeyCheck, generation, state, auth: { recordAuthKey, seal, records } };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const message = e instanceof Error ? e.message : '';
    const position = /position (\d+)/.exec(message)?.[1];
    if (/end of JSON input/.test(message) || text.trim() === '' || position === String(text.length)) {
      throw new RecordDecodeError('', `not valid JSON: ends after ${text.length} characters (truncated?)`);
    }
    const where = position !== undefined ? ` at character ${position} of ${text.length}` : '';
    throw new RecordDecodeError('', `not valid JSON${where}: corrupt`);
  }
}

function authBytes(o: JsonObjectReader, name: string): Uint8Array {
  const bytes = o.bytes(name);
  if (bytes.length !== AUTH_BYTES) throw new RecordDecodeError(o.at(name), `expected ${AUTH_BYTES} bytes`);
  return bytes;
}

/** A stored record without its `auth` field, and the auth. */
function splitAuth(value: unknown, path: string): { record: unknown; auth: Uint8Array } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RecordDecodeError(path, `expected an object, found ${describeJson(value)}`);
  }
  const { auth, ...record } = value as Record<string, unknown>;
  const reader = new JsonObjectReader(auth === undefined ? {} : { auth }, path, ['auth']);
  return { record, auth: authBytes(reader, 'auth') };
}
