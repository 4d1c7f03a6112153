/**
 * Per-object status metrics of KmsKey, KmsAlias and KmsGrant (for GitOps and dashboards), computed from the
 * operator's informer caches at scrape time (prom-client `collect()`), so a deleted object's series go with it:
 * `kubekms_<kind>_status_condition{namespace,name,condition,status}` — one series per status value, 1 for the
 * current one, as cert-manager and external-secrets export — `kubekms_kmskey_suspended` and
 * `kubekms_kmskey_next_rotation_timestamp_seconds`. The only free-form labels are the object's namespace and name
 * (bounded by the objects that exist); condition types come from a closed list per kind (status can be written by
 * others: an unknown type is left out) and status values from True/False/Unknown. No key ids, no key material.
 */
import { Gauge, type Registry } from 'prom-client';
import { type Condition, type ConditionStatus, findCondition } from '../api/conditions.ts';
import type { KmsAlias, KmsGrant, KmsKey } from '../api/kinds.ts';
import type { KubeObject } from '../kube/objects.ts';

/** What the metrics read of an informer: its cache, once it has listed. */
export interface StatusCache<T> {
  list(): T[];
  hasSynced(): boolean;
}

export interface StatusCaches {
  readonly keys: StatusCache<KmsKey>;
  readonly aliases: StatusCache<KmsAlias>;
  readonly grants: StatusCache<KmsGrant>;
}

type WithConditions = KubeObject & { readonly status?: { readonly conditions?: readonly Condition[] } };

const STATUSES: readonly ConditionStatus[] = ['True', 'False', 'Unknown'];

/** The condition types reported per kind: Ready always (Unknown until the operator writes it), others when set. */
export const CONDITION_TYPES = {
  kmskey: ['Ready', 'Reencrypted'],
  kmsalias: ['Ready'],
  kmsgrant: ['Ready'],
} as const satisfies Record<string, readonly string[]>;

/** Registers the gauges once per registry; `caches` is read at each scrape (undefined until the operator is wired). */
export function registerStatusMetrics(registry: Registry, caches: () => StatusCaches | undefined): void {
  if (registry.getSingleMetric('kubekms_kmskey_status_condition')) return;
  conditionGauge(registry, 'kmskey', 'KmsKey', () => listed(caches()?.keys));
  conditionGauge(registry, 'kmsalias', 'KmsAlias', () => listed(caches()?.aliases));
  conditionGauge(registry, 'kmsgrant', 'KmsGrant', () => listed(caches()?.grants));
  new Gauge({
    name: 'kubekms_kmskey_suspended',
    help: "1 when the KmsKey is not Ready by its owner's choice (spec.enabled: false, or its deletion is scheduled), else 0.",
    labelNames: ['namespace', 'name'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const k of listed(caches()?.keys)) this.set(idOf(k), suspended(k) ? 1 : 0);
    },
  });
  new Gauge({
    name: 'kubekms_kmskey_next_rotation_timestamp_seconds',
    help: 'Next automatic rotation (Unix seconds) of each enabled KmsKey with automatic rotation, from its status.',
    labelNames: ['namespace', 'name'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const k of listed(caches()?.keys)) {
        const at = nextRotationSeconds(k);
        if (at !== undefined) this.set(idOf(k), at);
      }
    },
  });
}

function conditionGauge(
  registry: Registry,
  kind: keyof typeof CONDITION_TYPES,
  title: string,
  objects: () => readonly WithConditions[],
): void {
  new Gauge({
    name: `kubekms_${kind}_status_condition`,
    help: `Status of each ${title}'s conditions: 1 for the current status (True, False or Unknown), 0 for the others.`,
    labelNames: ['namespace', 'name', 'condition', 'status'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const o of objects()) {
        for (const type of CONDITION_TYPES[kind]) {
          const c = findCondition(o.status?.conditions, type);
          if (c === undefined && type !== 'Ready') continue;
          const current = statusOf(c);
          for (const status of STATUSES)
            this.set({ ...idOf(o), condition: type, status }, status === current ? 1 : 0);
        }
      }
    },
  });
}

/** The cache once listed; nothing before (a partial view would report objects as missing). */
function listed<T>(c: StatusCache<T> | undefined): readonly T[] {
  return c?.hasSynced() ? c.list() : [];
}

function idOf(o: KubeObject): { namespace: string; name: string } {
  return { namespace: o.metadata.namespace ?? '', name: o.metadata.name };
}

function statusOf(c: Condition | undefined): ConditionStatus {
  return c !== undefined && STATUSES.includes(c.status) ? c.status : 'Unknown';
}

/**
 * Ready=False by the owner's choice, as Argo CD's Suspended health (docs/argocd.md): disabled with
 * spec.enabled: false, or deletion scheduled. kubekms's own cluster-managed key is never meant to be either.
 */
export function suspended(k: KmsKey): boolean {
  const ready = findCondition(k.status?.conditions, 'Ready');
  if (ready?.status !== 'False' || k.status?.keyManager === 'CLUSTER') return false;
  if (ready.reason === 'KeyDisabled') return k.spec?.enabled === false;
  return ready.reason === 'PendingDeletion';
}

/** status.nextRotationTime of an enabled key (written only while automatic rotation is on), in Unix seconds. */
function nextRotationSeconds(k: KmsKey): number | undefined {
  const s = k.status;
  if (s?.keyState !== 'Enabled' || s.nextRotationTime === undefined) return undefined;
  const ms = Date.parse(s.nextRotationTime);
  return Number.isFinite(ms) ? ms / 1000 : undefined;
}
