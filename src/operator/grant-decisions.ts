/**
 * What the KmsGrant controller should do: a pure function of the object, its key and the engine's grant. The
 * grant's spec is immutable (CEL), so a grant is created once, re-created only if it vanished from the engine,
 * and revoked when the object is deleted.
 */

import { FINALIZER, type KmsGrant, type KmsKey } from '../api/kinds.ts';
import { grantOperationsFor } from '../engine/ops-grants.ts';
import type { GrantRecord, KeyRecord } from '../engine/records.ts';

export type GrantPlan =
  | { readonly kind: 'release'; readonly revoke: GrantRecord | undefined }
  | {
      readonly kind: 'refuse';
      readonly reason: string;
      readonly message: string;
      readonly addFinalizer: boolean;
    }
  | {
      readonly kind: 'create';
      readonly key: KeyRecord;
      readonly addFinalizer: boolean;
      readonly recreate: boolean;
    }
  | { readonly kind: 'none'; readonly key: KeyRecord; readonly addFinalizer: boolean };

export interface GrantInput {
  readonly object: KmsGrant;
  readonly keyObject: KmsKey | undefined;
  readonly key: KeyRecord | undefined;
  /** The engine's grant named by status.grantId, if it still exists. */
  readonly grant: GrantRecord | undefined;
}

export function planGrant(i: GrantInput): GrantPlan {
  const o = i.object;
  const ns = o.metadata.namespace ?? '';
  const hasFinalizer = o.metadata.finalizers?.includes(FINALIZER) ?? false;
  if (o.metadata.deletionTimestamp) return { kind: 'release', revoke: hasFinalizer ? i.grant : undefined };
  const addFinalizer = !hasFinalizer;
  const keyName = `${ns}/${o.spec.keyRef.name}`;
  if (!i.keyObject)
    return {
      kind: 'refuse',
      reason: 'KeyNotFound',
      message: `KmsKey ${keyName} does not exist`,
      addFinalizer,
    };
  if (!i.keyObject.status?.keyId)
    return {
      kind: 'refuse',
      reason: 'KeyNotReady',
      message: `KmsKey ${keyName} has no key yet`,
      addFinalizer,
    };
  const key = i.key;
  if (!key)
    return {
      kind: 'refuse',
      reason: 'KeyNotFound',
      message: `the engine has no key ${i.keyObject.status.keyId} (KmsKey ${keyName})`,
      addFinalizer,
    };
  const allowed = grantOperationsFor(key);
  const bad = o.spec.operations.filter((op) => !(allowed as readonly string[]).includes(op));
  if (bad.length > 0) {
    return {
      kind: 'refuse',
      reason: 'IncompatibleOperations',
      message: `${bad.join(', ')} cannot be granted on a ${key.keySpec} ${key.keyUsage} key (allowed: ${allowed.join(', ')})`,
      addFinalizer,
    };
  }
  if (i.grant && i.grant.keyId === key.keyId) return { kind: 'none', key, addFinalizer };
  return { kind: 'create', key, addFinalizer, recreate: o.status?.grantId !== undefined };
}
