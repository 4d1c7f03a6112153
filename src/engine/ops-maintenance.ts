/**
 * Housekeeping that time drives: automatic rotations that are due, and destruction of keys whose deletion
 * window has ended (with their aliases and grants), and of retired versions whose waiting period has ended. Also the cluster-managed keys kubekms creates for itself.
 */
import type { EngineCore } from './core.ts';
import { nextVersionNumber } from './keyset.ts';
import { createAlias } from './ops-aliases.ts';
import { createKey } from './ops-keys.ts';
import { destroyDueVersions, persistRetiredUses } from './ops-retirement.ts';
import { isRotationDue, rotateKey } from './ops-rotation.ts';
import { SYSTEM } from './policy.ts';
import type { KeyRecord } from './records.ts';

export const SECRETS_KEY_ALIAS = 'alias/kubekms/secrets';

export interface MaintenanceReport {
  readonly rotated: string[];
  /** Due rotations held back: data names a version this keystore lacks (a rollback, docs/adr/0022). */
  readonly heldBack: string[];
  readonly destroyed: string[];
  /** Retired versions whose destruction waiting period ended, destroyed now. */
  readonly destroyedVersions: { keyId: string; version: number }[];
}

export async function runMaintenance(core: EngineCore): Promise<MaintenanceReport> {
  const now = core.clock.now();
  const rotated: string[] = [];
  const heldBack: string[] = [];
  const destroyed: string[] = [];
  for (const record of core.allKeys()) {
    if (!isRotationDue(record, now)) continue;
    if (core.dataVersions.highest(record.keyId) >= nextVersionNumber(record)) heldBack.push(record.keyId);
    else {
      await rotateKey(core, record.keyId, 'AUTOMATIC');
      rotated.push(record.keyId);
    }
  }
  const due = core.allKeys().filter((r) => r.state === 'PendingDeletion' && r.deletionDate! <= now);
  for (const r of due) {
    await destroyKey(core, r);
    destroyed.push(r.keyId);
  }
  await persistRetiredUses(core);
  const destroyedVersions = await destroyDueVersions(core);
  return { rotated, heldBack, destroyed, destroyedVersions };
}

/** Destroys a key's material for good, with its aliases and grants, in one commit. */
export function destroyKey(core: EngineCore, r: KeyRecord): Promise<void> {
  return core.mutate(async () => ({
    change: {
      deleteKeys: [r.keyId],
      deleteAliases: core
        .allAliases()
        .filter((a) => a.targetKeyId === r.keyId)
        .map((a) => a.aliasName),
      deleteGrants: core.grantsOf(r.keyId).map((g) => g.grantId),
    },
    result: undefined,
  }));
}

/**
 * Makes sure a cluster-managed key exists behind `alias` (created on first start, with no Kubernetes API).
 * Returns its key id.
 */
export async function ensureClusterKey(
  core: EngineCore,
  alias: string,
  description: string,
): Promise<string> {
  const existing = core.findAlias(alias);
  if (existing && core.findKey(existing.targetKeyId)) return existing.targetKeyId;
  const meta = await createKey(core, { caller: SYSTEM }, { description }, 'CLUSTER');
  if (existing) {
    await core.mutate(async () => ({
      change: { putAliases: [{ ...existing, targetKeyId: meta.keyId, updatedAt: core.clock.now() }] },
      result: undefined,
    }));
  } else {
    await createAlias(core, { caller: SYSTEM }, alias, meta.keyId);
  }
  return meta.keyId;
}
