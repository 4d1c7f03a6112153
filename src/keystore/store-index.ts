/**
 * Cross-record integrity checked per change, at a cost that depends on the change and not on the size of the
 * store (the database keystore's commits; store-integrity.ts checks a whole state on open). Keeps which keys
 * exist, what each alias and grant refers to, and how many refer to each key. A change is refused when it names
 * an id twice, points an alias or grant at a key that will not exist, or deletes a key something still refers
 * to; the message names the record, like store-integrity.ts's (`alias "…": targetKeyId: key "…" does not exist`).
 */
import type { StoreChange, StoreState } from '../engine/records.ts';
import { KeyStoreError } from './errors.ts';

const q = (s: string): string => JSON.stringify(s);

export class StoreIndex {
  readonly #keys = new Set<string>();
  readonly #aliasTarget = new Map<string, string>();
  readonly #grantKey = new Map<string, string>();
  /** Key id → the number of aliases and grants that refer to it. */
  readonly #referrers = new Map<string, number>();

  constructor(state: StoreState) {
    for (const k of state.keys) this.#keys.add(k.keyId);
    for (const a of state.aliases) this.#refer(this.#aliasTarget, a.aliasName, a.targetKeyId);
    for (const g of state.grants) this.#refer(this.#grantKey, g.grantId, g.keyId);
  }

  /** Throws `keystore: change refused: …` when `change` would break the integrity of the store. */
  check(change: StoreChange): void {
    onceEach(
      'key',
      change.putKeys?.map((k) => k.keyId),
      change.deleteKeys,
    );
    onceEach(
      'alias',
      change.putAliases?.map((a) => a.aliasName),
      change.deleteAliases,
    );
    onceEach(
      'grant',
      change.putGrants?.map((g) => g.grantId),
      change.deleteGrants,
    );
    const put = new Set(change.putKeys?.map((k) => k.keyId));
    const deleted = new Set(change.deleteKeys);
    const exists = (id: string) => put.has(id) || (this.#keys.has(id) && !deleted.has(id));
    for (const a of change.putAliases ?? [])
      if (!exists(a.targetKeyId)) throw refused(`alias ${q(a.aliasName)}`, 'targetKeyId', a.targetKeyId);
    for (const g of change.putGrants ?? [])
      if (!exists(g.keyId)) throw refused(`grant ${q(g.grantId)}`, 'keyId', g.keyId);
    for (const id of deleted) {
      if (put.has(id) || !this.#keys.has(id) || (this.#referrers.get(id) ?? 0) === 0) continue;
      const left = (map: Map<string, string>, dropped: readonly string[] | undefined, moved: Set<string>) =>
        [...map].find(([name, target]) => target === id && !dropped?.includes(name) && !moved.has(name))?.[0];
      const alias = left(
        this.#aliasTarget,
        change.deleteAliases,
        new Set(change.putAliases?.map((a) => a.aliasName)),
      );
      if (alias !== undefined) throw refused(`alias ${q(alias)}`, 'targetKeyId', id);
      const grant = left(
        this.#grantKey,
        change.deleteGrants,
        new Set(change.putGrants?.map((g) => g.grantId)),
      );
      if (grant !== undefined) throw refused(`grant ${q(grant)}`, 'keyId', id);
    }
  }

  /** Records a change that check() accepted and that is now committed. */
  apply(change: StoreChange): void {
    for (const name of change.deleteAliases ?? []) this.#unrefer(this.#aliasTarget, name);
    for (const id of change.deleteGrants ?? []) this.#unrefer(this.#grantKey, id);
    for (const a of change.putAliases ?? []) this.#refer(this.#aliasTarget, a.aliasName, a.targetKeyId);
    for (const g of change.putGrants ?? []) this.#refer(this.#grantKey, g.grantId, g.keyId);
    for (const id of change.deleteKeys ?? []) this.#keys.delete(id);
    for (const k of change.putKeys ?? []) this.#keys.add(k.keyId);
  }

  #refer(map: Map<string, string>, name: string, keyId: string): void {
    this.#unrefer(map, name);
    map.set(name, keyId);
    this.#referrers.set(keyId, (this.#referrers.get(keyId) ?? 0) + 1);
  }

  #unrefer(map: Map<string, string>, name: string): void {
    const old = map.get(name);
    if (old === undefined) return;
    map.delete(name);
    const n = (this.#referrers.get(old) ?? 1) - 1;
    if (n === 0) this.#referrers.delete(old);
    else this.#referrers.set(old, n);
  }
}

function onceEach(
  kind: string,
  puts: readonly string[] | undefined,
  deletes: readonly string[] | undefined,
): void {
  const named = new Set<string>();
  for (const id of [...(puts ?? []), ...(deletes ?? [])]) {
    if (named.has(id)) throw new KeyStoreError(`keystore: change refused: ${kind} ${q(id)} named twice`);
    named.add(id);
  }
}

function refused(record: string, field: string, keyId: string): KeyStoreError {
  return new KeyStoreError(`keystore: change refused: ${record}: ${field}: key ${q(keyId)} does not exist`);
}
