/**
 * Applies a StoreChange to a StoreState, returning a new state (the input is not modified). Puts replace a
 * record with the same id in place or append a new one; deletes of absent ids are no-ops. A change that names
 * one id twice (two puts, or a put and a delete) is ambiguous and refused.
 */
import type { StoreChange, StoreState } from '../engine/records.ts';
import { KeyStoreError } from './errors.ts';
import {
  decodeAliasRecord,
  decodeGrantRecord,
  decodeKeyRecord,
  encodeAliasRecord,
  encodeGrantRecord,
  encodeKeyRecord,
} from './record-codec.ts';

export function applyStoreChange(state: StoreState, change: StoreChange): StoreState {
  return {
    keys: applyTo('key', state.keys, change.putKeys, change.deleteKeys, (k) => k.keyId),
    aliases: applyTo('alias', state.aliases, change.putAliases, change.deleteAliases, (a) => a.aliasName),
    grants: applyTo('grant', state.grants, change.putGrants, change.deleteGrants, (g) => g.grantId),
  };
}

function applyTo<T>(
  kind: string,
  current: readonly T[],
  puts: readonly T[] | undefined,
  deletes: readonly string[] | undefined,
  idOf: (record: T) => string,
): readonly T[] {
  if ((puts === undefined || puts.length === 0) && (deletes === undefined || deletes.length === 0))
    return current;
  const named = new Set<string>();
  const claim = (id: string) => {
    if (named.has(id))
      throw new KeyStoreError(`keystore: change refused: ${kind} ${JSON.stringify(id)} named twice`);
    named.add(id);
  };
  for (const r of puts ?? []) claim(idOf(r));
  for (const id of deletes ?? []) claim(id);
  const byId = new Map<string, T>();
  for (const r of current) byId.set(idOf(r), r);
  for (const id of deletes ?? []) byId.delete(id);
  for (const r of puts ?? []) byId.set(idOf(r), r);
  return [...byId.values()];
}

/**
 * Checks that every record a change puts would be read back by open(): encodes and strictly decodes it.
 * Throws a RecordDecodeError with a path such as `putKeys[0].versions[1].wrappedMaterial`.
 */
export function checkChangeDecodes(change: StoreChange): void {
  for (const [i, k] of (change.putKeys ?? []).entries()) decodeKeyRecord(encodeKeyRecord(k), `putKeys[${i}]`);
  for (const [i, a] of (change.putAliases ?? []).entries())
    decodeAliasRecord(encodeAliasRecord(a), `putAliases[${i}]`);
  for (const [i, g] of (change.putGrants ?? []).entries())
    decodeGrantRecord(encodeGrantRecord(g), `putGrants[${i}]`);
}
