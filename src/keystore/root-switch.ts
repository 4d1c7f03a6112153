/**
 * The one write that moves a database keystore to another root key (docs/adr/0024), shared by the offline rotation
 * (root-rotation.ts) and serve's online one (SqliteKeyStore.switchRoot): the state re-wrapped under the new root
 * (reseal.ts: every version, a new root key check and a new record authentication key), every row re-authenticated,
 * and the statements of the single transaction that replaces every row, the root key check, the record key and the
 * seal. Also what the open store needs afterwards: each row's auth and the XOR of the seal terms.
 */
import type { RootKey } from '../engine/ports.ts';
import type { StoreState } from '../engine/records.ts';
import type { RecordAuthKey } from './record-auth.ts';
import { resealDocument } from './reseal.ts';
import type { SqlStatement } from './sqlite-db.ts';
import { rowsOf } from './sqlite-file.ts';
import { putRow, updateRoot, updateSeal } from './sqlite-format.ts';
import { rowKey } from './sqlite-trust.ts';

export interface RootSwitch {
  readonly state: StoreState;
  readonly statements: SqlStatement[];
  readonly key: RecordAuthKey;
  readonly auths: Map<string, Uint8Array>;
  readonly xor: Uint8Array;
}

export async function rootSwitch(
  state: StoreState,
  rootKeyCheck: Uint8Array,
  generation: number,
  from: RootKey,
  to: RootKey,
): Promise<RootSwitch> {
  const sealed = await resealDocument({ rootKeyCheck, generation, state }, from, to);
  const rows = rowsOf(sealed.key, sealed.doc.state);
  const xor = sealed.key.sealXor(rows.map((r) => r.auth));
  const auths = new Map<string, Uint8Array>();
  for (const r of rows) auths.set(rowKey(r.kind, r.id), r.auth);
  const statements = [
    ...updateRoot(sealed.doc.rootKeyCheck, sealed.recordAuthKey),
    ...updateSeal(generation, sealed.key.xorSeal(generation, xor)),
    ...rows.map(putRow),
  ];
  return { state: sealed.doc.state, statements, key: sealed.key, auths, xor };
}
