/**
 * Reports every decrypt under a retired key version (engine/retired-uses.ts): the counter
 * `kubekms_retired_version_decrypts_total{key_manager, result}` (bounded labels: no key ids) and one audit line
 * per attempt, naming the key and version (ids and numbers only). The operator adds a rate-limited Warning Event.
 */
import { Counter, type Registry } from 'prom-client';
import type { EngineCore } from '../engine/core.ts';
import type { RetiredUse } from '../engine/retired-uses.ts';
import type { Logger } from './logger.ts';

export const RETIRED_DECRYPTS = 'kubekms_retired_version_decrypts_total';

export function retiredDecryptsCounter(registry: Registry): Counter<'key_manager' | 'result'> {
  const existing = registry.getSingleMetric(RETIRED_DECRYPTS) as
    | Counter<'key_manager' | 'result'>
    | undefined;
  if (existing) return existing;
  const c = new Counter({
    name: RETIRED_DECRYPTS,
    help: 'Decrypts under a retired key version, by key manager (CLUSTER, CUSTOMER) and result: allowed, or refused (DecryptDisabled, PendingDestruction). Any is a sign that data was missed by re-encryption.',
    labelNames: ['key_manager', 'result'] as const,
    registers: [registry],
  });
  for (const key_manager of ['CLUSTER', 'CUSTOMER'])
    for (const result of ['allowed', 'DecryptDisabled', 'PendingDestruction'])
      c.inc({ key_manager, result }, 0);
  return c;
}

/** Counts and audits each retired-version decrypt of `core`. */
export function reportRetiredUses(core: EngineCore, registry: Registry, log: Logger): void {
  const counter = retiredDecryptsCounter(registry);
  core.retiredUses.onUse((u: RetiredUse) => {
    const result = u.refused ?? 'allowed';
    counter.inc({ key_manager: u.keyManager, result });
    log.warn(
      { audit: 'engine', event: 'RetiredVersionUsed', keyId: u.keyId, version: u.version, result },
      u.refused
        ? `decrypt under retired version ${u.version} of key ${u.keyId} refused (${u.refused})`
        : `decrypt under retired version ${u.version} of key ${u.keyId}: data re-encryption missed`,
    );
  });
}
