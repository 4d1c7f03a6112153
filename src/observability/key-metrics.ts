/**
 * Key gauges computed from the engine's records at scrape time (prom-client `collect()`), so they are never stale
 * and cost nothing between scrapes. Low cardinality: counts by state and spec, and per key manager the oldest
 * primary version and the earliest due rotation — never a key id.
 */
import { Gauge, type Registry } from 'prom-client';
import type { KeyRecord } from '../engine/records.ts';

export type KeySource = () => Iterable<{ readonly record: KeyRecord }>;

export function registerKeyMetrics(registry: Registry, keys: KeySource, now: () => number = Date.now): void {
  new Gauge({
    name: 'kubekms_keys',
    help: 'Keys in the engine by state (Enabled, Disabled, PendingDeletion, PendingImport) and key spec.',
    labelNames: ['state', 'spec'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const { record } of keys()) this.inc({ state: record.state, spec: record.keySpec });
    },
  });
  new Gauge({
    name: 'kubekms_key_primary_version_age_seconds',
    help: 'Age of the oldest primary key version among enabled keys with automatic rotation, by key manager (CLUSTER: the cluster-managed Secrets key).',
    labelNames: ['manager'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const t = now();
      for (const [manager, age] of perManager(
        keys(),
        (r) => {
          const v = r.versions.find((x) => x.version === r.primaryVersion);
          return v === undefined ? undefined : (t - v.createdAt) / 1000;
        },
        Math.max,
      ))
        this.set({ manager }, age);
    },
  });
  new Gauge({
    name: 'kubekms_key_next_rotation_timestamp_seconds',
    help: 'Earliest next automatic rotation (Unix seconds) among enabled keys with automatic rotation, by key manager.',
    labelNames: ['manager'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [manager, at] of perManager(
        keys(),
        (r) => (r.rotation.nextRotationAt === undefined ? undefined : r.rotation.nextRotationAt / 1000),
        Math.min,
      ))
        this.set({ manager }, at);
    },
  });
}

/** Per key manager: `value` of each enabled, automatically rotating key, folded with `fold`. */
function perManager(
  keys: Iterable<{ readonly record: KeyRecord }>,
  value: (r: KeyRecord) => number | undefined,
  fold: (a: number, b: number) => number,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const { record: r } of keys) {
    if (r.state !== 'Enabled' || !r.rotation.enabled) continue;
    const v = value(r);
    if (v === undefined) continue;
    const prev = out.get(r.keyManager);
    out.set(r.keyManager, prev === undefined ? v : fold(prev, v));
  }
  return out;
}
