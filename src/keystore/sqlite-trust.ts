/**
 * Deciding whether to trust a database keystore (sqlite-format.ts), before anything writes to it: the root key
 * check, the record authentication key, then every row — its auth over the stored text, strict decoding
 * (record-codec.ts), its id column against the record — the cross-record integrity and the incremental seal.
 * Every refusal is a KeyStoreError naming the file and the row (`key "…"`). Returns the state with what a commit
 * needs to seal incrementally: each row's auth and the XOR of the seal terms.
 */
import { timingSafeEqual } from 'node:crypto';
import type { RootKey } from '../engine/ports.ts';
import type { AliasRecord, GrantRecord, KeyRecord, StoreState } from '../engine/records.ts';
import { checkRootKey, refused, unwrapRecordKey } from './document-trust.ts';
import { KeyStoreError, locate, RecordDecodeError } from './errors.ts';
import type { RecordAuthKey } from './record-auth.ts';
import { decodeAliasRecord, decodeGrantRecord, decodeKeyRecord } from './record-codec.ts';
import type { DbMeta, StoredRow } from './sqlite-format.ts';
import { rowName } from './sqlite-format.ts';
import { checkStoreIntegrity } from './store-integrity.ts';

export interface TrustedDatabase {
  readonly state: StoreState;
  readonly meta: DbMeta;
  readonly key: RecordAuthKey;
  /** Each row's auth by rowKey(kind, id). */
  readonly auths: Map<string, Uint8Array>;
  /** The XOR of every row's seal term. */
  readonly xor: Uint8Array;
}

export const rowKey = (kind: string, id: string): string => `${kind}\0${id}`;

export function xorInto(acc: Uint8Array, term: Uint8Array): void {
  for (let i = 0; i < acc.length; i++) acc[i]! ^= term[i]!;
}

export async function trustDatabase(
  read: { readonly meta: DbMeta; readonly rows: readonly StoredRow[] },
  rootKey: RootKey,
  file: string,
): Promise<TrustedDatabase> {
  const { meta, rows } = read;
  await checkRootKey(meta.rootKeyCheck, rootKey, file);
  const key = await unwrapRecordKey(rootKey, meta.recordAuthKey, file);
  const keys: KeyRecord[] = [];
  const aliases: AliasRecord[] = [];
  const grants: GrantRecord[] = [];
  const auths = new Map<string, Uint8Array>();
  try {
    for (const row of rows) {
      const name = rowName(row.kind, row.id);
      if (!key.verifyText(row.kind, row.json, row.auth)) throw refused(file, name);
      const record = decodeRow(row, name);
      key.remember(record, row.auth);
      auths.set(rowKey(row.kind, row.id), row.auth);
      if (row.kind === 'Key') keys.push(record as KeyRecord);
      else if (row.kind === 'Alias') aliases.push(record as AliasRecord);
      else grants.push(record as GrantRecord);
    }
    checkStoreIntegrity({ keys, aliases, grants });
  } catch (e) {
    if (e instanceof RecordDecodeError)
      throw new KeyStoreError(`keystore: ${file}: ${locate(e.path, e.problem)}; refusing to open it`);
    throw e;
  }
  const xor = key.sealXor(rows.map((r) => r.auth));
  if (!sameBytes(key.xorSeal(meta.generation, xor), meta.seal)) {
    throw refused(
      file,
      'seal',
      'the set of records or the generation differs from what kubekms wrote (a record removed, added back or ' +
        'rolled back to an older copy)',
    );
  }
  return { state: { keys, aliases, grants }, meta, key, auths, xor };
}

function decodeRow(row: StoredRow, name: string): KeyRecord | AliasRecord | GrantRecord {
  let value: unknown;
  try {
    value = JSON.parse(row.json);
  } catch {
    throw new RecordDecodeError(name, 'not valid JSON');
  }
  const record =
    row.kind === 'Key'
      ? decodeKeyRecord(value, name)
      : row.kind === 'Alias'
        ? decodeAliasRecord(value, name)
        : decodeGrantRecord(value, name);
  const id = idOf(record);
  if (id !== row.id)
    throw new RecordDecodeError(
      `${name}: id`,
      `the row says ${JSON.stringify(row.id)}, the record ${JSON.stringify(id)}`,
    );
  return record;
}

/** The id of a record (a grant also has a keyId: the key it belongs to). */
export function idOf(record: KeyRecord | AliasRecord | GrantRecord): string {
  if ('aliasName' in record) return record.aliasName;
  if ('grantId' in record) return record.grantId;
  return record.keyId;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
