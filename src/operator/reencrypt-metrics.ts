/**
 * `kubekms_reencryption_objects_total{result}`, `kubekms_reencryption_remaining`, and the switch-over seen while a
 * new version waits (`kubekms_reencryption_apiservers{state}`, `kubekms_reencryption_switchover_observable`),
 * once per registry.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ObjectResult } from './reencrypt-pass.ts';

export interface ReencryptMetrics {
  readonly objects: Counter<'result'>;
  readonly remaining: Gauge;
  /** state = live | switched: API servers seen while a new version waits (0 when none waits). */
  readonly apiservers: Gauge<'state'>;
  /** 0 while a waiting version's switch-over cannot be seen (the delay decides), else 1. */
  readonly observable: Gauge;
}

export function reencryptMetrics(registry: Registry): ReencryptMetrics {
  const objects =
    (registry.getSingleMetric('kubekms_reencryption_objects_total') as Counter<'result'> | undefined) ??
    new Counter({
      name: 'kubekms_reencryption_objects_total',
      help: 'Objects handled by re-encryption passes, by result: rewritten, skipped (gone meanwhile), conflict (re-read and retried), failed.',
      labelNames: ['result'],
      registers: [registry],
    });
  const remaining =
    (registry.getSingleMetric('kubekms_reencryption_remaining') as Gauge | undefined) ??
    new Gauge({
      name: 'kubekms_reencryption_remaining',
      help: 'Objects the running re-encryption pass has yet to handle (0 when none runs).',
      registers: [registry],
    });
  const apiservers =
    (registry.getSingleMetric('kubekms_reencryption_apiservers') as Gauge<'state'> | undefined) ??
    new Gauge({
      name: 'kubekms_reencryption_apiservers',
      help: 'While a new Secrets key version waits for the API servers: live ones (state="live") and those seen writing under its key_id (state="switched"); 0 otherwise.',
      labelNames: ['state'],
      registers: [registry],
    });
  const observable =
    (registry.getSingleMetric('kubekms_reencryption_switchover_observable') as Gauge | undefined) ??
    new Gauge({
      name: 'kubekms_reencryption_switchover_observable',
      help: "0 while a waiting version's switch-over cannot be seen (API server /metrics or identity Leases unreadable; --reencrypt-delay decides), 1 otherwise.",
      registers: [registry],
    });
  for (const r of ['rewritten', 'skipped', 'conflict', 'failed'] satisfies ObjectResult[])
    objects.inc({ result: r }, 0);
  for (const st of ['live', 'switched']) apiservers.set({ state: st }, 0);
  observable.set(1);
  return { objects, remaining, apiservers, observable };
}
