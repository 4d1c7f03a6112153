/**
 * Cluster mode (`--aws-management=cluster`): the management operations act through the kubekms.io custom
 * resources, so the cluster stays the single source of truth; reads and data operations use the engine as in
 * standalone mode. Every handler works the same way:
 *
 *   1. preflight: the standalone operation runs against a dry-run view of the engine (dry-run.ts), so input
 *      validation, authorization (key policy, grants, admin) and key state are decided exactly as in standalone
 *      mode, and nothing is written when they refuse;
 *   2. the change the engine would have made becomes a KmsKey/KmsAlias/KmsGrant create, merge patch or delete
 *      (mapping.ts), one file per resource kind (keys.ts, aliases.ts, grants.ts);
 *   3. the handler waits (bounded, wait.ts) until the operator has reconciled it into the engine, then answers
 *      from the engine with the standalone response shape. Kubernetes failures are mapped in kube-failures.ts.
 *
 * Keys, aliases and grants that no custom resource owns (created before cluster mode, or by kubekms itself) are
 * managed on the engine directly, as in standalone mode.
 */
import { OPERATIONS } from '../operations.ts';
import type { Handler } from '../ops/types.ts';
import { createAlias, deleteAlias, updateAlias } from './aliases.ts';
import { type ClusterOptions, clusterDeps } from './deps.ts';
import { createGrant, grantRemoval } from './grants.ts';
import { cancelKeyDeletion, createKey, keyUpdate, rotateKeyOnDemand, scheduleKeyDeletion } from './keys.ts';

export type { ClusterOptions };

const KEY_UPDATES = [
  'EnableKey',
  'DisableKey',
  'UpdateKeyDescription',
  'EnableKeyRotation',
  'DisableKeyRotation',
  'TagResource',
  'UntagResource',
  'PutKeyPolicy',
];

export function clusterOperations(o: ClusterOptions): Readonly<Record<string, Handler>> {
  const d = clusterDeps(o);
  const overrides: Record<string, Handler> = {
    CreateKey: createKey(d),
    ScheduleKeyDeletion: scheduleKeyDeletion(d),
    CancelKeyDeletion: cancelKeyDeletion(d),
    RotateKeyOnDemand: rotateKeyOnDemand(d),
    CreateAlias: createAlias(d),
    UpdateAlias: updateAlias(d),
    DeleteAlias: deleteAlias(d),
    CreateGrant: createGrant(d),
    RetireGrant: grantRemoval(d, 'RetireGrant'),
    RevokeGrant: grantRemoval(d, 'RevokeGrant'),
  };
  for (const n of KEY_UPDATES) overrides[n] = keyUpdate(d, n);
  return { ...OPERATIONS, ...overrides };
}
