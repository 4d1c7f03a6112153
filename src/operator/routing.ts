/**
 * The operator's three controllers and what enqueues into them: informer events (an object, the aliases and
 * grants that depend on a key, the KmsAliases claiming the same name), engine changes (the KmsKeys, aliases and
 * grants whose engine records moved, and the Secrets key mirror), and the periodic resync.
 */

import type { KmsKey } from '../api/kinds.ts';
import { OWNER_TAG } from '../api/kinds.ts';
import type { StoreChange } from '../engine/records.ts';
import { Controller, type Reconcile } from '../kube/controller.ts';
import type { ControllerMetrics } from '../kube/controller-metrics.ts';
import { keyOf } from '../kube/objects.ts';
import { reconcileAlias } from './alias-reconciler.ts';
import { mirrorName } from './cluster-key-mirror.ts';
import type { OperatorContext } from './context.ts';
import { reconcileGrant } from './grant-reconciler.ts';
import { reconcileKey } from './key-reconciler.ts';

export interface Controllers {
  readonly key: Controller;
  readonly alias: Controller;
  readonly grant: Controller;
}

export function makeControllers(
  ctx: OperatorContext,
  o: { readonly workers: number; readonly metrics: ControllerMetrics | undefined },
): Controllers {
  const controller = (name: string, reconcile: Reconcile, listKeys: () => string[]) =>
    new Controller({
      name,
      reconcile,
      listKeys,
      workers: o.workers,
      log: ctx.log,
      ...(o.metrics ? { metrics: o.metrics } : {}),
    });
  const mirror = `${ctx.namespace}/${mirrorName}`;
  return {
    key: controller(
      'kmskey',
      (k) => reconcileKey(ctx, k),
      () => [...ctx.keys.list().map(keyOf), mirror],
    ),
    alias: controller(
      'kmsalias',
      (k) => reconcileAlias(ctx, k),
      () => ctx.aliases.list().map(keyOf),
    ),
    grant: controller(
      'kmsgrant',
      (k) => reconcileGrant(ctx, k),
      () => ctx.grants.list().map(keyOf),
    ),
  };
}

/** Enqueues the KmsAliases and KmsGrants that refer to `k` (by name, or the alias by key id). */
function enqueueDependents(ctx: OperatorContext, cs: Controllers, k: KmsKey): void {
  const ns = k.metadata.namespace;
  const id = k.status?.keyId;
  for (const a of ctx.aliases.list()) {
    if (a.metadata.namespace !== ns) continue;
    if (a.spec.targetKeyRef?.name === k.metadata.name || (id && a.spec.targetKeyId === id))
      cs.alias.enqueue(keyOf(a));
  }
  for (const g of ctx.grants.list()) {
    if (g.metadata.namespace === ns && g.spec.keyRef.name === k.metadata.name) cs.grant.enqueue(keyOf(g));
  }
}

/** Every KmsAlias claiming `name`: the holder may change. */
function enqueueClaimants(ctx: OperatorContext, cs: Controllers, name: string): void {
  for (const a of ctx.aliases.list()) if (a.spec.aliasName === name) cs.alias.enqueue(keyOf(a));
}

/** Informer events → controllers. `onKeyEvent` runs after each KmsKey event (the first may start the leader). */
export function routeInformerEvents(ctx: OperatorContext, cs: Controllers, onKeyEvent: () => void): void {
  ctx.keys.on((_e, k) => {
    cs.key.enqueue(keyOf(k));
    enqueueDependents(ctx, cs, k);
    onKeyEvent();
  });
  ctx.aliases.on((_e, a, old) => {
    cs.alias.enqueue(keyOf(a));
    enqueueClaimants(ctx, cs, a.spec.aliasName);
    if (old && old.spec.aliasName !== a.spec.aliasName) enqueueClaimants(ctx, cs, old.spec.aliasName);
  });
  ctx.grants.on((_e, g) => cs.grant.enqueue(keyOf(g)));
}

/**
 * Engine changes → controllers: a change made through another door (the AWS API, another instance) shows in the
 * objects' status. `secretsKeyId` names the cluster-managed Secrets key (its mirror KmsKey); `onKeysTouched` runs
 * when any key moved (re-encryption watches for rotations).
 */
export function engineChangeRouter(
  ctx: OperatorContext,
  cs: Controllers,
  secretsKeyId: () => string | undefined,
  onKeysTouched: () => void,
): (c: StoreChange) => void {
  return (c) => {
    const touched = new Set([...(c.putKeys ?? []).map((r) => r.keyId), ...(c.deleteKeys ?? [])]);
    const owners = new Set((c.putKeys ?? []).map((r) => r.tags[OWNER_TAG]).filter((x) => x !== undefined));
    for (const k of ctx.keys.list()) {
      const owned = owners.has(`${k.metadata.namespace}/${k.metadata.name}`);
      if ((k.status?.keyId && touched.has(k.status.keyId)) || owned) {
        cs.key.enqueue(keyOf(k));
        enqueueDependents(ctx, cs, k);
      }
    }
    const secrets = secretsKeyId();
    if (secrets && touched.has(secrets)) cs.key.enqueue(`${ctx.namespace}/${mirrorName}`);
    for (const n of [...(c.putAliases ?? []).map((a) => a.aliasName), ...(c.deleteAliases ?? [])])
      enqueueClaimants(ctx, cs, n);
    const grantIds = new Set([...(c.putGrants ?? []).map((g) => g.grantId), ...(c.deleteGrants ?? [])]);
    for (const g of ctx.grants.list())
      if (g.status?.grantId && grantIds.has(g.status.grantId)) cs.grant.enqueue(keyOf(g));
    if (touched.size > 0) onKeysTouched();
  };
}

/** Every cached object again, every `periodMs` (a missed event heals within one period). */
export function startResync(ctx: OperatorContext, cs: Controllers, periodMs: number): NodeJS.Timeout {
  const t = setInterval(() => {
    for (const k of ctx.keys.list()) cs.key.enqueue(keyOf(k));
    for (const a of ctx.aliases.list()) cs.alias.enqueue(keyOf(a));
    for (const g of ctx.grants.list()) cs.grant.enqueue(keyOf(g));
  }, periodMs);
  t.unref();
  return t;
}
