/**
 * The custom resources that own engine state: the KmsKey owning a key (its owner tag, when the object still
 * exists and names that key), and the KmsAliases claiming an alias name (the holder first).
 */
import { aliasHolder } from '../../api/alias-claims.ts';
import { KMS_ALIAS, KMS_KEY, type KmsAlias, type KmsKey } from '../../api/kinds.ts';
import type { KeyRecord } from '../../engine/records.ts';
import type { ClusterDeps } from './deps.ts';
import { ownerOfKey } from './mapping.ts';

export type Ref = { readonly namespace: string; readonly name: string };

/** The KmsKey owning a key, or undefined when none does (then the engine is managed directly). */
export async function keyObject(
  d: ClusterDeps,
  r: KeyRecord,
): Promise<(Ref & { object: KmsKey }) | undefined> {
  const owner = ownerOfKey(r);
  if (!owner) return undefined;
  const object = await d.api.get<KmsKey>(KMS_KEY, owner.namespace, owner.name);
  if (!object || (object.status?.keyId !== undefined && object.status.keyId !== r.keyId)) return undefined;
  return { ...owner, object };
}

/** The KmsAliases claiming an alias name, the holder first. */
export async function aliasObjects(d: ClusterDeps, aliasName: string): Promise<KmsAlias[]> {
  const all = await d.api.list<KmsAlias>(KMS_ALIAS);
  const claimants = all.filter((a) => a.spec.aliasName === aliasName);
  const holder = aliasHolder(claimants);
  return holder ? [holder, ...claimants.filter((a) => a !== holder)] : [];
}
