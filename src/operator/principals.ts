/**
 * Kubernetes identities → the engine's principal names: a service account is
 * `system:serviceaccount:NAMESPACE:NAME` (what the API server authenticates it as), a user is its name, a group is
 * `group:NAME`. A service account without a namespace is in the object's namespace.
 */
import type { PrincipalSpec } from '../api/kinds.ts';

export function principalName(p: PrincipalSpec, defaultNamespace: string): string {
  if (p.serviceAccount)
    return `system:serviceaccount:${p.serviceAccount.namespace ?? defaultNamespace}:${p.serviceAccount.name}`;
  if (p.user !== undefined) return p.user;
  if (p.group !== undefined) return `group:${p.group}`;
  throw new Error('principal: exactly one of serviceAccount, user, group is required');
}
