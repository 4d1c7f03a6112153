/**
 * What the KmsAlias controller should do: a pure function of the object, the other KmsAliases with the same
 * name, the resolved target and the engine's alias. Alias names are cluster-wide in the engine, so the earliest
 * KmsAlias claiming a name holds it and later ones report Conflict.
 */

import { aliasHolder } from '../api/alias-claims.ts';
import { FINALIZER, type KmsAlias, type KmsKey, OWNER_TAG } from '../api/kinds.ts';
import type { AliasRecord, KeyRecord } from '../engine/records.ts';

export type AliasTarget =
  | { readonly ok: true; readonly record: KeyRecord }
  | { readonly ok: false; readonly reason: string; readonly message: string };

export type AliasPlan =
  | { readonly kind: 'release'; readonly deleteEngineAlias: boolean; readonly addFinalizer?: never }
  | {
      readonly kind: 'refuse';
      readonly reason: string;
      readonly message: string;
      readonly addFinalizer: boolean;
    }
  | {
      readonly kind: 'bind';
      readonly action: 'create' | 'update' | 'none';
      readonly keyId: string;
      readonly addFinalizer: boolean;
    };

/** Resolves targetKeyRef (a KmsKey of the same namespace) or targetKeyId (a key such a KmsKey owns). */
export function resolveAliasTarget(
  o: KmsAlias,
  keyObject: (name: string) => KmsKey | undefined,
  engineKey: (keyId: string) => KeyRecord | undefined,
): AliasTarget {
  const ns = o.metadata.namespace ?? '';
  let r: KeyRecord | undefined;
  if (o.spec.targetKeyRef) {
    const k = keyObject(o.spec.targetKeyRef.name);
    if (!k)
      return {
        ok: false,
        reason: 'TargetKeyNotFound',
        message: `KmsKey ${ns}/${o.spec.targetKeyRef.name} does not exist`,
      };
    const id = k.status?.keyId;
    if (!id)
      return {
        ok: false,
        reason: 'TargetKeyNotReady',
        message: `KmsKey ${ns}/${k.metadata.name} has no key yet`,
      };
    r = engineKey(id);
    if (!r)
      return {
        ok: false,
        reason: 'TargetKeyNotFound',
        message: `the engine has no key ${id} (KmsKey ${ns}/${k.metadata.name})`,
      };
  } else {
    const id = o.spec.targetKeyId ?? '';
    r = engineKey(id);
    if (!r) return { ok: false, reason: 'TargetKeyNotFound', message: `the engine has no key ${id}` };
    const owner = r.tags[OWNER_TAG];
    if (owner === undefined)
      return {
        ok: false,
        reason: 'TargetKeyNotManaged',
        message: `key ${id} is not owned by a KmsKey; an alias may target only keys of KmsKeys in namespace ${ns}`,
      };
    if (!owner.startsWith(`${ns}/`))
      return {
        ok: false,
        reason: 'CrossNamespaceTarget',
        message: `key ${id} belongs to KmsKey ${owner}; an alias may target only keys of its own namespace (${ns})`,
      };
  }
  if (r.state === 'PendingDeletion')
    return { ok: false, reason: 'TargetKeyPendingDeletion', message: `key ${r.keyId} is pending deletion` };
  return { ok: true, record: r };
}

export interface AliasInput {
  readonly object: KmsAlias;
  /** Every KmsAlias with the same spec.aliasName, this one included. */
  readonly claimants: readonly KmsAlias[];
  readonly target: AliasTarget;
  readonly engineAlias: AliasRecord | undefined;
  /** The key the engine alias points at now, if any. */
  readonly currentTarget: KeyRecord | undefined;
}

export function planAlias(i: AliasInput): AliasPlan {
  const o = i.object;
  const bound = o.status?.targetKeyId;
  const holds = aliasHolder(i.claimants)?.metadata.uid === o.metadata.uid;
  const hasFinalizer = o.metadata.finalizers?.includes(FINALIZER) ?? false;
  if (o.metadata.deletionTimestamp) {
    if (!hasFinalizer) return { kind: 'release', deleteEngineAlias: false };
    // Delete the engine alias only if this object created it and it still points where this object put it.
    return {
      kind: 'release',
      deleteEngineAlias: holds && bound !== undefined && i.engineAlias?.targetKeyId === bound,
    };
  }
  const addFinalizer = !hasFinalizer;
  if (!holds) {
    const h = aliasHolder(i.claimants)!;
    return {
      kind: 'refuse',
      reason: 'Conflict',
      message: `${o.spec.aliasName} is already declared by KmsAlias ${h.metadata.namespace}/${h.metadata.name}`,
      addFinalizer,
    };
  }
  if (!i.target.ok)
    return { kind: 'refuse', reason: i.target.reason, message: i.target.message, addFinalizer };
  const want = i.target.record;
  if (!i.engineAlias) return { kind: 'bind', action: 'create', keyId: want.keyId, addFinalizer };
  if (i.engineAlias.targetKeyId === want.keyId)
    return { kind: 'bind', action: 'none', keyId: want.keyId, addFinalizer };
  if (bound !== i.engineAlias.targetKeyId) {
    return {
      kind: 'refuse',
      reason: 'Conflict',
      message: `${o.spec.aliasName} already exists in the engine (pointing at ${i.engineAlias.targetKeyId}) and was not created by this KmsAlias`,
      addFinalizer,
    };
  }
  const cur = i.currentTarget;
  if (cur && (cur.keySpec !== want.keySpec || cur.keyUsage !== want.keyUsage)) {
    return {
      kind: 'refuse',
      reason: 'IncompatibleTarget',
      message: `an alias can move only to a key of the same spec and usage (${cur.keySpec}/${cur.keyUsage}), not ${want.keySpec}/${want.keyUsage}`,
      addFinalizer,
    };
  }
  return { kind: 'bind', action: 'update', keyId: want.keyId, addFinalizer };
}
