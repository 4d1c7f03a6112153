/**
 * The database keystore's format (docs/adr/0016): `<dataDir>/keystore.db`, SQLite in WAL mode, two tables.
 *
 *   meta    (name, value):  format "kubekms-keystore-db", formatVersion 1, rootKeyCheck, recordAuthKey (both
 *                           wrapped by the root key, as in keystore.json), generation, seal
 *   records (kind, id, json, auth), one row per key, alias and grant, in insertion order (rowid); `json` is the
 *                           record's canonical JSON (record-auth.ts canonicalJson of record-codec.ts's encoding),
 *                           `auth` its ADR 0013 HMAC over exactly that text
 *
 * seal = HMAC(K, generation ‖ XOR of every row's secret seal term) (record-auth.ts xorSeal), updated in the
 * transaction of every commit at a cost that does not depend on the number of rows. Reading is strict: unknown
 * meta rows, kinds or column types are refused with an error naming the row.
 */
import { RecordDecodeError } from './errors.ts';
import { AUTH_BYTES, type AuthenticatedKind } from './record-auth.ts';
import type { SqlQuery, SqlStatement, SqlValue } from './sqlite-db.ts';

export const DB_FILE = 'keystore.db';
export const DB_FORMAT = 'kubekms-keystore-db';
export const DB_FORMAT_VERSION = 1;

export const SCHEMA: readonly SqlStatement[] = [
  { sql: 'CREATE TABLE meta (name TEXT PRIMARY KEY NOT NULL, value ANY NOT NULL) STRICT', params: [] },
  {
    sql:
      'CREATE TABLE records (kind TEXT NOT NULL, id TEXT NOT NULL, json TEXT NOT NULL, auth BLOB NOT NULL, ' +
      'UNIQUE (kind, id)) STRICT',
    params: [],
  },
];

const KINDS: readonly AuthenticatedKind[] = ['Key', 'Alias', 'Grant'];
const META_NAMES = [
  'format',
  'formatVersion',
  'rootKeyCheck',
  'recordAuthKey',
  'generation',
  'seal',
] as const;

export interface DbMeta {
  readonly rootKeyCheck: Uint8Array;
  readonly recordAuthKey: Uint8Array;
  readonly generation: number;
  readonly seal: Uint8Array;
}

export interface StoredRow {
  readonly kind: AuthenticatedKind;
  readonly id: string;
  readonly json: string;
  readonly auth: Uint8Array;
}

/** How errors name a row: `key "…"`, `alias "…"`, `grant "…"`. */
export function rowName(kind: AuthenticatedKind, id: string): string {
  return `${kind.toLowerCase()} ${JSON.stringify(id)}`;
}

/** Reads and strictly checks the meta rows and every record row (not their content or auth: sqlite-trust.ts). */
export function readDatabase(q: SqlQuery): { meta: DbMeta; rows: StoredRow[] } {
  checkSchema(q);
  const meta = readMeta(q);
  const rows: StoredRow[] = [];
  for (const r of q.iterate('SELECT rowid, kind, id, json, auth FROM records ORDER BY rowid')) {
    const where = `records row ${String(r.rowid)}`;
    const kind = KINDS.find((k) => k === r.kind);
    if (kind === undefined) throw new RecordDecodeError(`${where}.kind`, `unknown kind ${String(r.kind)}`);
    const { id, json, auth } = r;
    if (typeof id !== 'string' || id === '')
      throw new RecordDecodeError(`${where}.id`, 'expected a non-empty text');
    if (typeof json !== 'string') throw new RecordDecodeError(`${where}.json`, 'expected text');
    if (!(auth instanceof Uint8Array) || auth.length !== AUTH_BYTES)
      throw new RecordDecodeError(`${rowName(kind, id)}: auth`, `expected ${AUTH_BYTES} bytes`);
    rows.push({ kind, id, json, auth });
  }
  return { meta, rows };
}

/** The two tables and their unique indexes, nothing else: a trigger or view planted beside them is refused. */
const SCHEMA_OBJECTS = [
  'index sqlite_autoindex_meta_1',
  'index sqlite_autoindex_records_1',
  'table meta',
  'table records',
];

function checkSchema(q: SqlQuery): void {
  const found = [...q.iterate('SELECT type, name FROM sqlite_schema')].map(
    (r) => `${String(r.type)} ${String(r.name)}`,
  );
  for (const o of found)
    if (!SCHEMA_OBJECTS.includes(o)) throw new RecordDecodeError(`schema.${o}`, 'unknown');
  for (const o of SCHEMA_OBJECTS)
    if (!found.includes(o)) throw new RecordDecodeError(`schema.${o}`, 'missing');
}

function readMeta(q: SqlQuery): DbMeta {
  const values = new Map<string, SqlValue>();
  for (const r of q.iterate('SELECT name, value FROM meta')) {
    const name = String(r.name);
    if (!META_NAMES.some((n) => n === name)) throw new RecordDecodeError(`meta.${name}`, 'unknown field');
    values.set(name, r.value ?? null);
  }
  const value = (name: string): SqlValue => {
    if (!values.has(name)) throw new RecordDecodeError(`meta.${name}`, 'missing');
    return values.get(name)!;
  };
  if (value('format') !== DB_FORMAT)
    throw new RecordDecodeError('meta.format', `not a kubekms keystore (expected "${DB_FORMAT}")`);
  const version = value('formatVersion');
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1)
    throw new RecordDecodeError('meta.formatVersion', 'expected a positive integer');
  if (version > DB_FORMAT_VERSION)
    throw new RecordDecodeError(
      'meta.formatVersion',
      `${version}: written by a newer kubekms (this one reads up to ${DB_FORMAT_VERSION}); upgrade kubekms to open it`,
    );
  const bytes = (name: string, length?: number): Uint8Array => {
    const v = value(name);
    if (!(v instanceof Uint8Array) || v.length === 0 || (length !== undefined && v.length !== length))
      throw new RecordDecodeError(`meta.${name}`, length ? `expected ${length} bytes` : 'expected bytes');
    return v;
  };
  const generation = value('generation');
  if (typeof generation !== 'number' || !Number.isSafeInteger(generation) || generation < 0)
    throw new RecordDecodeError('meta.generation', 'expected an integer ≥ 0');
  return {
    rootKeyCheck: bytes('rootKeyCheck'),
    recordAuthKey: bytes('recordAuthKey'),
    generation,
    seal: bytes('seal', AUTH_BYTES),
  };
}

/** The statements that fill a new database: schema, meta and rows. */
export function initialStatements(meta: DbMeta, rows: Iterable<StoredRow>): SqlStatement[] {
  const out: SqlStatement[] = [...SCHEMA];
  const put = (name: string, value: SqlValue) =>
    out.push({ sql: 'INSERT INTO meta (name, value) VALUES (?, ?)', params: [name, value] });
  put('format', DB_FORMAT);
  put('formatVersion', DB_FORMAT_VERSION);
  put('rootKeyCheck', meta.rootKeyCheck);
  put('recordAuthKey', meta.recordAuthKey);
  put('generation', meta.generation);
  put('seal', meta.seal);
  for (const r of rows) out.push(putRow(r));
  return out;
}

/** Inserts a row, or replaces its json and auth in place (its rowid, so its position, stays). */
export function putRow(r: StoredRow): SqlStatement {
  return {
    sql:
      'INSERT INTO records (kind, id, json, auth) VALUES (?, ?, ?, ?) ' +
      'ON CONFLICT (kind, id) DO UPDATE SET json = excluded.json, auth = excluded.auth',
    params: [r.kind, r.id, r.json, r.auth],
  };
}

export function deleteRow(kind: AuthenticatedKind, id: string): SqlStatement {
  return { sql: 'DELETE FROM records WHERE kind = ? AND id = ?', params: [kind, id] };
}

export function updateSeal(generation: number, seal: Uint8Array): SqlStatement[] {
  return [
    { sql: "UPDATE meta SET value = ? WHERE name = 'generation'", params: [generation] },
    { sql: "UPDATE meta SET value = ? WHERE name = 'seal'", params: [seal] },
  ];
}

/** Replaces the root key check and the record authentication key (a root-key rotation, root-rotation.ts). */
export function updateRoot(rootKeyCheck: Uint8Array, recordAuthKey: Uint8Array): SqlStatement[] {
  return [
    { sql: "UPDATE meta SET value = ? WHERE name = 'rootKeyCheck'", params: [rootKeyCheck] },
    { sql: "UPDATE meta SET value = ? WHERE name = 'recordAuthKey'", params: [recordAuthKey] },
  ];
}
