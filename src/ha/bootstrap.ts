/**
 * The cluster-managed Secrets key on a shared state: created by whichever instance gets there first. A racing
 * instance loses the alias (409), drops the key it created (never used: nothing served it) and takes the winner's.
 */

import { aliasObjectName, keyObjectName } from '../api/state-records.ts';
import type { EngineCore } from '../engine/core.ts';
import { KmsError } from '../engine/errors.ts';
import { destroyKey, ensureClusterKey } from '../engine/ops-maintenance.ts';
import type { StateSync } from './state-sync.ts';

export async function ensureSharedClusterKey(
  core: EngineCore,
  sync: StateSync,
  alias: string,
  description: string,
): Promise<string> {
  const before = new Set(core.allKeys().map((r) => r.keyId));
  try {
    return await ensureClusterKey(core, alias, description);
  } catch (e) {
    // Lost the race: at the API (409) or, when the winner's alias arrived first, in the engine.
    if (
      !(e instanceof KmsError) ||
      (e.code !== 'KMSInternalException' && e.code !== 'AlreadyExistsException')
    ) {
      throw e;
    }
    await sync.refresh([aliasObjectName(alias)]);
    const winner = core.findAlias(alias);
    if (!winner) throw e;
    if (!core.findKey(winner.targetKeyId)) await sync.refresh([keyObjectName(winner.targetKeyId)]);
    if (!core.findKey(winner.targetKeyId)) throw e;
    for (const r of core.allKeys()) {
      if (!before.has(r.keyId) && r.keyId !== winner.targetKeyId) await destroyKey(core, r);
    }
    return winner.targetKeyId;
  }
}
