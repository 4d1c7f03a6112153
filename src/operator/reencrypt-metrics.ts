/** `kubekms_reencryption_objects_total{result}` and `kubekms_reencryption_remaining`, once per registry. */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ObjectResult } from './reencrypt-pass.ts';

export interface ReencryptMetrics {
  readonly objects: Counter<'result'>;
  readonly remaining: Gauge;
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
  for (const r of ['rewritten', 'skipped', 'conflict', 'failed'] satisfies ObjectResult[])
    objects.inc({ result: r }, 0);
  return { objects, remaining };
}
