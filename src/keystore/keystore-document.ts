/**
 * The keystore file: one JSON document holding the whole state.
 *
 *   { "format": "kubekms-keystore", "formatVersion": 1,
 *     "rootKeyCheck": base64(rootKey.wrap(32 random bytes, AAD "kubekms/root-key-check/v1")),
 *     "generation": n, "keys": [...], "aliases": [...], "grants": [...] }
 *
 * Format policy: every version this code has ever written stays readable; a file with a newer formatVersion is
 * refused ("written by a newer kubekms") rather than half-understood. Adding or changing a field bumps the version.
 */
import type { StoreState } from '../engine/records.ts';
import { RecordDecodeError } from './errors.ts';
import { JsonObjectReader } from './json-reader.ts';
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
export const KEYSTORE_FORMAT_VERSION = 1;
export const ROOT_KEY_CHECK_AAD = new TextEncoder().encode('kubekms/root-key-check/v1');

const DOCUMENT_FIELDS = [
  'format',
  'formatVersion',
  'rootKeyCheck',
  'generation',
  'keys',
  'aliases',
  'grants',
];

export interface KeystoreDocument {
  /** The root key check blob: proves on open that the store is sealed under the configured root key. */
  readonly rootKeyCheck: Uint8Array;
  /** Increases by one with every commit. */
  readonly generation: number;
  readonly state: StoreState;
}

/** The document as text: pretty-printed JSON with a final newline, so that operators can read and diff it. */
export function encodeDocument(doc: KeystoreDocument): string {
  const value: JsonValue = {
    format: KEYSTORE_FORMAT,
    formatVersion: KEYSTORE_FORMAT_VERSION,
    rootKeyCheck: Buffer.from(doc.rootKeyCheck).toString('base64'),
    generation: doc.generation,
    keys: doc.state.keys.map(encodeKeyRecord),
    aliases: doc.state.aliases.map(encodeAliasRecord),
    grants: doc.state.grants.map(encodeGrantRecord),
  };
  return `${JSON.stringify(value, null, 2)}\n`;
}

/**
 * Parses and fully validates a document (shape of every record, then cross-record integrity). Throws a
 * RecordDecodeError whose path names the field; an empty path means the document itself.
 */
export function decodeDocument(text: string): KeystoreDocument {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const message = e instanceof Error ? e.message : '';
    const position = /position (\d+)/.exec(message)?.[1];
    if (/end of JSON input/.test(message) || text.trim() === '') {
      throw new RecordDecodeError('', `not valid JSON: ends after ${text.length} characters (truncated?)`);
    }
    const where = position !== undefined ? ` at character ${position} of ${text.length}` : '';
    throw new RecordDecodeError('', `not valid JSON${where}: corrupt`);
  }
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
  const o = new JsonObjectReader(value, '', DOCUMENT_FIELDS);
  const rootKeyCheck = o.bytes('rootKeyCheck', { nonEmpty: true });
  const generation = o.integer('generation', 0);
  const state: StoreState = {
    keys: o.array('keys').map((k, i) => decodeKeyRecord(k, `keys[${i}]`)),
    aliases: o.array('aliases').map((a, i) => decodeAliasRecord(a, `aliases[${i}]`)),
    grants: o.array('grants').map((g, i) => decodeGrantRecord(g, `grants[${i}]`)),
  };
  checkStoreIntegrity(state);
  return { rootKeyCheck, generation, state };
}
