/**
 * serve's maintenance sweep: every --maintenance-interval it promotes staged versions every live instance holds
 * (with --shared-state), follows a root-key rotation's marker (docs/adr/0026) and runs due rotations and
 * deletions, logging each as an event.
 */
import type { EngineCore } from '../engine/core.ts';
import { runMaintenance } from '../engine/ops-maintenance.ts';
import type { RunningSharedState } from '../ha/shared-state.ts';
import type { Logger } from '../observability/logger.ts';

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Starts the sweep; returns its stop. */
export function startMaintenance(
  core: EngineCore,
  shared: RunningSharedState | undefined,
  log: Logger,
  intervalMs: number,
): () => Promise<void> {
  const sweep = () => {
    shared?.promoteAcknowledged().then(
      (ids) => {
        for (const id of ids) log.info({ keyId: id, event: 'KeyRotated' }, 'staged version promoted');
      },
      (e: unknown) => log.warn({ err: message(e) }, 'promotion sweep failed'),
    );
    shared?.followRoot?.().catch((e: unknown) => log.warn({ err: message(e) }, 'root marker check failed'));
    runMaintenance(core).then(
      (r) => {
        for (const id of r.rotated) log.info({ keyId: id, event: 'KeyRotated' }, 'key rotated automatically');
        for (const id of r.heldBack)
          log.warn(
            { keyId: id },
            'automatic rotation held back: data names a newer version of this key than the keystore holds (rollback suspected)',
          );
        for (const id of r.destroyed)
          log.info({ keyId: id, event: 'KeyDeleted' }, 'key destroyed after its deletion window');
        for (const v of r.destroyedVersions)
          log.info(
            { ...v, event: 'VersionDestroyed' },
            'retired key version destroyed after its waiting period',
          );
      },
      (e: unknown) => log.error({ err: message(e) }, 'maintenance failed'),
    );
  };
  const timer = setInterval(sweep, intervalMs);
  timer.unref();
  return async () => clearInterval(timer);
}
