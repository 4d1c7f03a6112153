/**
 * The operator: three informers (kept warm on every instance, which also serve the objects' status metrics),
 * three controllers (run only by the leader), Lease leader election, the Event recorder, and the wiring between
 * them and the engine. It starts in the background and never blocks or fails `kubekms serve`: the KMS v2 plugin
 * does not depend on the Kubernetes API (invariant 1), so a missing API only shows in readiness() until it answers.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import {
  KMS_ALIAS,
  KMS_GRANT,
  KMS_KEY,
  type KmsAlias,
  type KmsGrant,
  type KmsKey,
  REPORTING_CONTROLLER,
} from '../api/kinds.ts';
import type { EngineCore } from '../engine/core.ts';
import { SECRETS_KEY_ALIAS } from '../engine/ops-maintenance.ts';
import type { StoreChange } from '../engine/records.ts';
import { backoffDelay, sleep } from '../kube/backoff.ts';
import type { KubeClient } from '../kube/client.ts';
import { nodeKubeClient } from '../kube/client-node.ts';
import type { Controller } from '../kube/controller.ts';
import { type ControllerMetrics, controllerMetrics } from '../kube/controller-metrics.ts';
import { describeError } from '../kube/errors.ts';
import { EventRecorder } from '../kube/events.ts';
import { Informer, listWatch } from '../kube/informer.ts';
import { type KubeConfig, loadKubeConfig } from '../kube/kubeconfig.ts';
import { LeaderElector } from '../kube/leader-election.ts';
import { kubeGetter } from '../kube/raw-http.ts';
import type { OperatorContext } from './context.ts';
import { ReencryptController, type ReencryptOptions } from './reencrypt-controller.ts';
import { httpReencryptApi } from './reencrypt-http.ts';
import { reencryptMetrics } from './reencrypt-metrics.ts';
import { RetiredUseEvents } from './retire-versions.ts';
import { engineChangeRouter, makeControllers, routeInformerEvents, startResync } from './routing.ts';
import { registerStatusMetrics } from './status-metrics.ts';
import { apiserverSwitchObserver } from './switch-observer.ts';

export interface OperatorOptions {
  readonly core: EngineCore;
  readonly log: Logger;
  readonly registry?: Registry;
  /** A kubeconfig file; empty: in-cluster service account, else $KUBECONFIG or ~/.kube/config. */
  readonly kubeconfig?: string;
  /** Instead of a kubeconfig (tests). */
  readonly client?: KubeClient;
  /** kubekms's namespace: the Lease and the mirror of the Secrets key live here. */
  readonly namespace: string;
  readonly leaderElection?: boolean;
  readonly identity?: string;
  readonly leaseName?: string;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  readonly workers?: number;
  readonly resyncPeriodMs?: number;
  /** Tests only: destroy a deleted KmsKey's key this long after scheduling its deletion. */
  readonly deletionWindowOverrideMs?: number;
  /** Re-encrypt stored objects after the Secrets key rotates (leader only); absent: off. */
  readonly reencrypt?: ReencryptOptions;
  /** Under --shared-state: read the API server key_id writes every instance publishes in its heartbeat Lease. */
  readonly sharedState?: boolean;
}

export class Operator {
  readonly identity: string;
  readonly #o: OperatorOptions;
  readonly #log: Logger;
  readonly #metrics: ControllerMetrics | undefined;
  #ctx: OperatorContext | undefined;
  #controllers: Controller[] = [];
  #reencrypt: ReencryptController | undefined;
  #elector: LeaderElector | undefined;
  #leading = false;
  #stopped = false;
  #lastError = '';
  #abort = new AbortController();
  #resync: NodeJS.Timeout | undefined;

  constructor(o: OperatorOptions) {
    this.#o = o;
    this.identity = o.identity ?? `${hostname()}_${randomUUID().slice(0, 8)}`;
    this.#log = o.log.child({ component: 'operator' });
    this.#metrics = o.registry ? controllerMetrics(o.registry) : undefined;
    // Every instance serves the objects' status series, leader or not (docs/metrics.md says why).
    if (o.registry) registerStatusMetrics(o.registry, () => this.#ctx);
    o.core.onChange((c) => this.#onEngineChange(c));
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  /** Connects in the background (retrying with backoff until a kubeconfig loads) and returns at once. */
  start(): void {
    void this.#connect();
  }

  async #connect(): Promise<void> {
    for (let failures = 1; !this.#stopped; failures++) {
      try {
        if (this.#o.client) this.#wire(this.#o.client);
        else {
          const kc = loadKubeConfig(this.#o.kubeconfig ?? '');
          this.#wire(nodeKubeClient(kc), kc);
        }
        return;
      } catch (e) {
        this.#lastError = describeError(e);
        const delay = backoffDelay(failures);
        this.#log.warn(
          { err: this.#lastError, retryInMs: delay },
          'operator: cannot load the kubeconfig yet',
        );
        await sleep(delay, this.#abort.signal);
      }
    }
  }

  /** Builds the caches, controllers and routes on a client, starts the informers, and joins the election. */
  #wire(client: KubeClient, kc?: KubeConfig): void {
    const ctx = this.#context(client);
    const cs = makeControllers(ctx, { workers: this.#o.workers ?? 2, metrics: this.#metrics });
    this.#ctx = ctx;
    this.#controllers = [cs.key, cs.alias, cs.grant];
    this.#reencrypt = this.#reencryptController(ctx, kc);
    routeInformerEvents(ctx, cs, () => this.#maybeStartControllers());
    this.#engineChange = engineChangeRouter(
      ctx,
      cs,
      () => this.#o.core.aliasTarget(SECRETS_KEY_ALIAS),
      () => this.#reencrypt?.nudge(),
    );
    for (const i of [ctx.keys, ctx.aliases, ctx.grants]) i.start();
    const retiredUses = new RetiredUseEvents(ctx);
    this.#o.core.retiredUses.onUse((u) => retiredUses.onUse(u));
    this.#resync = startResync(ctx, cs, this.#o.resyncPeriodMs ?? 10 * 3_600_000);
    this.#elect(client);
    // Informers sync in the background; the first synced event starts the controllers if this instance leads.
    const informers = [ctx.keys, ctx.aliases, ctx.grants];
    void Promise.all(informers.map((i) => waitSynced(i, this.#abort.signal))).then(() =>
      this.#maybeStartControllers(),
    );
  }

  /** The informers, the Event recorder and the state every reconciler shares. */
  #context(client: KubeClient): OperatorContext {
    const log = this.#log;
    return {
      core: this.#o.core,
      client,
      recorder: new EventRecorder({
        client,
        reportingController: REPORTING_CONTROLLER,
        reportingInstance: this.identity,
        log,
      }),
      log,
      keys: new Informer<KmsKey>({ source: listWatch(client, KMS_KEY), type: KMS_KEY, log }),
      aliases: new Informer<KmsAlias>({ source: listWatch(client, KMS_ALIAS), type: KMS_ALIAS, log }),
      grants: new Informer<KmsGrant>({ source: listWatch(client, KMS_GRANT), type: KMS_GRANT, log }),
      namespace: this.#o.namespace,
      rotateNowHandled: new Map(),
      lastReady: new Map(),
      ...(this.#o.deletionWindowOverrideMs !== undefined
        ? { deletionWindowOverrideMs: this.#o.deletionWindowOverrideMs }
        : {}),
    };
  }

  /**
   * The re-encryption controller when configured (its API from the options, else from the kubeconfig), watching
   * the API servers' switch-over through this node's API server (the kubeconfig's) unless given an observer.
   */
  #reencryptController(ctx: OperatorContext, kc: KubeConfig | undefined): ReencryptController | undefined {
    const re = this.#o.reencrypt;
    const api = re?.api ?? (kc ? httpReencryptApi(kc) : undefined);
    if (!re || !api) return undefined;
    const observer =
      re.observer ??
      (kc
        ? apiserverSwitchObserver({
            get: kubeGetter(kc),
            leases: ctx.client,
            ...(this.#o.sharedState ? { heartbeatNamespace: this.#o.namespace } : {}),
          })
        : undefined);
    return new ReencryptController(
      ctx,
      api,
      { ...re, ...(observer ? { observer } : {}) },
      this.#o.registry ? reencryptMetrics(this.#o.registry) : undefined,
    );
  }

  /** Leads at once without leader election; else runs for the Lease once kubekms's namespace exists. */
  #elect(client: KubeClient): void {
    if (this.#o.leaderElection === false) {
      this.#leading = true;
      this.#maybeStartControllers();
      return;
    }
    const o = this.#o;
    const elector = new LeaderElector({
      client,
      namespace: o.namespace,
      name: o.leaseName ?? 'kubekms-operator',
      identity: this.identity,
      log: this.#log,
      ...(this.#metrics ? { metrics: this.#metrics } : {}),
      ...(o.leaseDurationMs !== undefined ? { leaseDurationMs: o.leaseDurationMs } : {}),
      ...(o.renewDeadlineMs !== undefined ? { renewDeadlineMs: o.renewDeadlineMs } : {}),
      ...(o.retryPeriodMs !== undefined ? { retryPeriodMs: o.retryPeriodMs } : {}),
      onStartedLeading: () => {
        this.#leading = true;
        this.#maybeStartControllers();
      },
      onStoppedLeading: async () => {
        this.#leading = false;
        await Promise.all([...this.#controllers.map((c) => c.stop()), this.#reencrypt?.stop()]);
      },
    });
    this.#elector = elector;
    void this.#ensureNamespace(client).then(() => {
      if (!this.#stopped) elector.start();
    });
  }

  #engineChange: ((c: StoreChange) => void) | undefined;

  /** The Lease and the Secrets key mirror live in kubekms's namespace: create it if needed (retrying). */
  async #ensureNamespace(client: KubeClient): Promise<void> {
    for (let failures = 1; !this.#stopped; failures++) {
      try {
        await client.ensureNamespace(this.#o.namespace);
        return;
      } catch (e) {
        this.#lastError = describeError(e);
        await sleep(backoffDelay(failures), this.#abort.signal);
      }
    }
  }

  #onEngineChange(c: StoreChange): void {
    try {
      this.#engineChange?.(c);
    } catch (e) {
      this.#log.error({ err: describeError(e) }, 'operator: engine change handler failed');
    }
  }

  #synced(): boolean {
    const c = this.#ctx;
    return (c?.keys.hasSynced() && c.aliases.hasSynced() && c.grants.hasSynced()) ?? false;
  }

  #maybeStartControllers(): void {
    if (this.#stopped || !this.#leading || !this.#synced()) return;
    for (const c of this.#controllers) {
      if (!c.running) {
        c.start();
        this.#log.info({ controller: c.name, identity: this.identity }, 'controller started');
      }
    }
    if (this.#reencrypt && !this.#reencrypt.running) {
      this.#reencrypt.start();
      this.#log.info({ controller: 'reencrypt', identity: this.identity }, 'controller started');
    }
  }

  /** Ready when every informer has synced and none has been failing for long; says whether this instance leads. */
  readiness(): { ok: boolean; detail: string } {
    const c = this.#ctx;
    if (!c)
      return {
        ok: false,
        detail: `connecting to the Kubernetes API${this.#lastError ? `: ${this.#lastError}` : ''}`,
      };
    const checks = [c.keys.health(), c.aliases.health(), c.grants.health()];
    const role = this.#leading
      ? 'leader'
      : `standby${this.#elector?.observedHolder ? ` (leader: ${this.#elector.observedHolder})` : ''}`;
    const bad = checks.filter((x) => !x.ok);
    return bad.length === 0
      ? { ok: true, detail: `${role}; ${checks.map((x) => x.detail).join(', ')}` }
      : { ok: false, detail: `${role}; ${bad.map((x) => x.detail).join(', ')}` };
  }

  /** Stops reconciling, releases the Lease (a successor takes over at once), stops the informers. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#abort.abort();
    if (this.#resync) clearInterval(this.#resync);
    if (this.#elector) await this.#elector.stop();
    await Promise.all([...this.#controllers.map((c) => c.stop()), this.#reencrypt?.stop()]);
    this.#leading = false;
    const c = this.#ctx;
    if (c) {
      await Promise.all([c.keys.stop(), c.aliases.stop(), c.grants.stop()]);
      await Promise.race([c.recorder.flush(), sleep(2000)]);
    }
  }

  /** For tests: simulates a crash of this instance (no Lease release, no graceful drain). */
  async kill(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#abort.abort();
    if (this.#resync) clearInterval(this.#resync);
    const el = this.#elector;
    this.#elector = undefined;
    if (el) await el.stop({ release: false });
    await Promise.all([...this.#controllers.map((c) => c.stop()), this.#reencrypt?.stop()]);
    this.#leading = false;
    const c = this.#ctx;
    if (c) await Promise.all([c.keys.stop(), c.aliases.stop(), c.grants.stop()]);
  }

  /** The caches and recorder, for tests. */
  get context(): OperatorContext | undefined {
    return this.#ctx;
  }
}

async function waitSynced(
  i: Informer<KmsKey> | Informer<KmsAlias> | Informer<KmsGrant>,
  signal: AbortSignal,
): Promise<void> {
  while (!i.hasSynced() && !signal.aborted) await sleep(100, signal);
}

export function startOperator(o: OperatorOptions): Operator {
  const op = new Operator(o);
  op.start();
  return op;
}
