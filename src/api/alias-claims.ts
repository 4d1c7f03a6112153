/**
 * Alias names are cluster-wide in the engine, so several KmsAliases may claim one: the earliest created holds it,
 * later ones report Conflict. The operator and cluster mode apply the same rule.
 */
import type { KmsAlias } from './kinds.ts';

const claimOrder = (a: KmsAlias): string =>
  `${a.metadata.creationTimestamp ?? ''}\0${a.metadata.namespace}/${a.metadata.name}`;

/** The KmsAlias, among those naming the same alias, that holds the name (the earliest created). */
export function aliasHolder(claimants: readonly KmsAlias[]): KmsAlias | undefined {
  return [...claimants].sort((a, b) => (claimOrder(a) < claimOrder(b) ? -1 : 1))[0];
}
