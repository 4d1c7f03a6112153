/**
 * Cross-record integrity of a whole store: ids are unique, every alias targets an existing key, every grant
 * belongs to an existing key. Checked on open and before every commit, so a store that was written can always
 * be read back. Throws a RecordDecodeError naming the offending field.
 */
import type { StoreState } from '../engine/records.ts';
import { RecordDecodeError } from './errors.ts';

export function checkStoreIntegrity(state: StoreState): void {
  const keyIds = new Set<string>();
  state.keys.forEach((k, i) => {
    if (keyIds.has(k.keyId))
      throw new RecordDecodeError(`keys[${i}].keyId`, `duplicate key id ${quote(k.keyId)}`);
    keyIds.add(k.keyId);
  });
  const aliasNames = new Set<string>();
  state.aliases.forEach((a, i) => {
    if (aliasNames.has(a.aliasName)) {
      throw new RecordDecodeError(`aliases[${i}].aliasName`, `duplicate alias ${quote(a.aliasName)}`);
    }
    aliasNames.add(a.aliasName);
    if (!keyIds.has(a.targetKeyId)) {
      throw new RecordDecodeError(`aliases[${i}].targetKeyId`, `key ${quote(a.targetKeyId)} does not exist`);
    }
  });
  const grantIds = new Set<string>();
  state.grants.forEach((g, i) => {
    if (grantIds.has(g.grantId)) {
      throw new RecordDecodeError(`grants[${i}].grantId`, `duplicate grant id ${quote(g.grantId)}`);
    }
    grantIds.add(g.grantId);
    if (!keyIds.has(g.keyId))
      throw new RecordDecodeError(`grants[${i}].keyId`, `key ${quote(g.keyId)} does not exist`);
  });
}

const quote = (s: string): string => JSON.stringify(s);
