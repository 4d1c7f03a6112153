/**
 * A local keystore on disk as one editable JSON document, whatever its format, for tamper tests: the shape of
 * keystore.json (`{ rootKeyCheck, recordAuthKey, generation, seal, keys: [{…, auth}], aliases, grants }`, bytes in
 * base64). For keystore.db it is built from the meta and record rows, and written back as rows in list order (a
 * record left alone keeps its exact text, so its auth still matches). This is what an attacker with write access
 * to the data dir, and without the root key, can do.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalJson } from '../record-auth.ts';
import type { JsonValue } from '../record-codec.ts';
import { type SqlStatement, SqliteReader, writeDatabase } from '../sqlite-db.ts';
import { DB_FILE } from '../sqlite-format.ts';

export type Json = Record<string, unknown>;
export type Doc = { keys: Json[]; aliases: Json[]; grants: Json[] } & Json;

const LISTS = [
  ['keys', 'Key', 'keyId'],
  ['aliases', 'Alias', 'aliasName'],
  ['grants', 'Grant', 'grantId'],
] as const;
const b64 = (v: unknown) => Buffer.from(v as Uint8Array).toString('base64');
const bytes = (v: unknown) => new Uint8Array(Buffer.from(String(v), 'base64'));

export async function loadDoc(dataDir: string, file: string): Promise<Doc> {
  if (file !== DB_FILE) return JSON.parse(await readFile(join(dataDir, file), 'utf8')) as Doc;
  const reader = SqliteReader.open(join(dataDir, DB_FILE));
  try {
    return reader.snapshot((q) => {
      const doc: Doc = { keys: [], aliases: [], grants: [] };
      for (const m of q.iterate('SELECT name, value FROM meta'))
        doc[String(m.name)] = m.value instanceof Uint8Array ? b64(m.value) : m.value;
      for (const r of q.iterate('SELECT kind, json, auth FROM records ORDER BY rowid')) {
        const list = LISTS.find(([, kind]) => kind === r.kind)![0];
        doc[list].push({ ...(JSON.parse(String(r.json)) as Json), auth: b64(r.auth) });
      }
      return doc;
    });
  } finally {
    reader.close();
  }
}

export async function saveDoc(dataDir: string, file: string, doc: Doc): Promise<void> {
  if (file !== DB_FILE) return writeFile(join(dataDir, file), JSON.stringify(doc, null, 2));
  const statements: SqlStatement[] = [
    { sql: 'DELETE FROM records', params: [] },
    { sql: 'DELETE FROM meta', params: [] },
  ];
  for (const [name, value] of Object.entries(doc)) {
    if (LISTS.some(([list]) => list === name)) continue;
    const binary = ['rootKeyCheck', 'recordAuthKey', 'seal'].includes(name);
    const v = binary ? bytes(value) : (value as string | number);
    statements.push({ sql: 'INSERT INTO meta (name, value) VALUES (?, ?)', params: [name, v] });
  }
  for (const [list, kind, idField] of LISTS)
    for (const { auth, ...record } of doc[list]) {
      const json = JSON.stringify(record);
      statements.push({
        sql: 'INSERT INTO records (kind, id, json, auth) VALUES (?, ?, ?, ?)',
        params: [kind, String(record[idField]), json, bytes(auth)],
      });
    }
  writeDatabase(join(dataDir, DB_FILE), statements);
}

/** The canonical text of a record as the database stores it (for tests that write rows by hand). */
export const rowText = (record: Json): string => canonicalJson(record as JsonValue);
