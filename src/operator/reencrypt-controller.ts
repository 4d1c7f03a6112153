/**
 * The re-encryption controller (leader only). After the Secrets key's primary version changes, it waits
 * `delayMs` from the rotation (the API servers switch to the new key_id in the meantime), then rewrites every
 * object of the configured resources through a rate-limited pass, recording progress in the Secrets key's KmsKey
 * (`status.reencryption`, condition `Reencrypted`) after every page, so a restart or a new leader resumes from
 * the recorded continue point. Decisions: `reencrypt-decisions.ts`; the pass: `reencrypt-pass.ts`.
 */
import { isDeepStrictEqual } from 'node:util';
import { type ConditionInput, setCondition } from '../api/conditions.ts';
import { KMS_KEY, type KmsKey, type ReencryptionMethod, type ReencryptionStatus } from '../api/kinds.ts';
import { formatKeyId } from '../api/kmsv2-key-id.ts';
import { backoffDelay, sleep } from '../kube/backoff.ts';
import { describeError, isConflict } from '../kube/errors.ts';
import { emit, type OperatorContext } from './context.ts';
import type { MigrationApi, ReencryptApi } from './reencrypt-api.ts';
import { passOutcome, planReencryption, remaining } from './reencrypt-decisions.ts';
import type { ReencryptMetrics } from './reencrypt-metrics.ts';
import { type PassResult, runPass } from './reencrypt-pass.ts';
import { RateLimiter } from './reencrypt-rate.ts';
import { runMigrations } from './reencrypt-svm.ts';
import { retireAfterCompletion } from './retire-versions.ts';
import { statusMergePatch } from './status-patch.ts';
import { decideSwitchover, type Switchover } from './switch-decisions.ts';
import type { SwitchObserver } from './switch-observer.ts';

export interface ReencryptOptions {
  /** The key that wraps Secrets (`--secrets-key`): alias, id or ARN. */
  readonly secretsKey: string;
  readonly resources: readonly string[];
  readonly delayMs: number;
  /** Objects per second; 0 = unlimited. */
  readonly qps: number;
  readonly retryMs?: number;
  readonly pageSize?: number;
  readonly concurrency?: number;
  /** How often to look again when nothing happens (engine changes wake it sooner). */
  readonly pollMs?: number;
  /** Instead of HTTPS from the kubeconfig (tests). */
  readonly api?: ReencryptApi;
  /** Sees the API servers switch to the new key_id (their /metrics); absent: the delay alone decides. */
  readonly observer?: SwitchObserver;
}

interface CurrentKey {
  readonly keyId: string;
  readonly version: number;
  readonly createdAt: number;
}

/** The KmsKey a pass reports on (as read when the pass began) and the key version it re-encrypts to. */
interface PassTarget {
  readonly fresh: KmsKey;
  readonly ns: string;
  readonly name: string;
  readonly keyId: string;
  readonly version: number;
}

export class ReencryptController {
  readonly #ctx: OperatorContext;
  readonly #api: ReencryptApi;
  readonly #o: ReencryptOptions;
  readonly #metrics: ReencryptMetrics | undefined;
  #abort: AbortController | undefined;
  #wake: AbortController = new AbortController();
  #loop: Promise<void> | undefined;

  constructor(ctx: OperatorContext, api: ReencryptApi, o: ReencryptOptions, metrics?: ReencryptMetrics) {
    this.#ctx = ctx;
    this.#api = api;
    this.#o = o;
    this.#metrics = metrics;
  }

  get running(): boolean {
    return this.#loop !== undefined;
  }

  start(): void {
    if (this.#loop) return;
    const abort = new AbortController();
    this.#abort = abort;
    this.#loop = this.#run(abort.signal);
  }

  async stop(): Promise<void> {
    this.#abort?.abort();
    this.#wake.abort();
    await this.#loop;
    this.#loop = undefined;
  }

  /** Look again now (the engine changed). */
  nudge(): void {
    this.#wake.abort();
  }

  async #run(signal: AbortSignal): Promise<void> {
    const poll = this.#o.pollMs ?? 5_000;
    for (let failures = 0; !signal.aborted; ) {
      this.#wake = new AbortController(); // a nudge during the step cuts the following sleep short
      const wake = this.#wake.signal;
      let waitMs: number;
      try {
        waitMs = await this.#step(signal);
        failures = 0;
      } catch (e) {
        failures++;
        waitMs = backoffDelay(failures, 1_000, 60_000);
        this.#ctx.log.warn({ err: describeError(e), retryInMs: waitMs }, 'reencrypt: step failed');
      }
      if (signal.aborted) break;
      await sleep(Math.max(0, Math.min(waitMs, poll)), AbortSignal.any([signal, wake]));
    }
  }

  #current(): CurrentKey | undefined {
    try {
      const r = this.#ctx.core.resolve(this.#o.secretsKey, 'secrets-key').record;
      const v = r.versions.find((x) => x.version === r.primaryVersion);
      return v ? { keyId: r.keyId, version: r.primaryVersion, createdAt: v.createdAt } : undefined;
    } catch {
      return undefined;
    }
  }

  /** The KmsKey that reports the Secrets key: the mirror for the cluster-managed key, else the one owning it. */
  #target(keyId: string): KmsKey | undefined {
    const all = this.#ctx.keys
      .list()
      .filter((k) => k.status?.keyId === keyId && !k.metadata.deletionTimestamp);
    return all.find((k) => k.metadata.namespace === this.#ctx.namespace) ?? all[0];
  }

  /** One decision and its execution; returns how long to wait before the next. */
  async #step(signal: AbortSignal): Promise<number> {
    const poll = this.#o.pollMs ?? 5_000;
    const key = this.#current();
    const cached = key && this.#target(key.keyId);
    if (!key || !cached) return poll;
    const ns = cached.metadata.namespace ?? '';
    const name = cached.metadata.name;
    const fresh = await this.#ctx.client.get<KmsKey>(KMS_KEY, ns, name);
    if (!fresh) return poll;
    const recorded = fresh.status?.reencryption;
    const switchover = await this.#switchover(recorded, key);
    const plan = planReencryption({
      status: recorded,
      version: key.version,
      versionCreatedAt: key.createdAt,
      now: Date.now(),
      delayMs: this.#o.delayMs,
      retryMs: this.#o.retryMs ?? 5 * 60_000,
      ...(switchover ? { switchover } : {}),
    });
    this.#recordSwitchover(plan.kind === 'wait' ? switchover : undefined);
    if (plan.kind === 'idle') {
      await retireAfterCompletion(this.#ctx, fresh, key.keyId, key.version);
      return poll;
    }
    if (plan.kind === 'wait') {
      if (!isDeepStrictEqual(fresh.status?.reencryption, plan.status)) {
        await this.#write(ns, name, plan.status, pendingCondition(plan.status));
      }
      return plan.until - Date.now();
    }
    const at: PassTarget = { fresh, ns, name, keyId: key.keyId, version: key.version };
    const s0 = plan.resumed ? plan.status : { ...plan.status, method: await this.#method() };
    await this.#announce(at, s0, plan.resumed, plan.because);
    const svm = this.#api.migrations;
    const result =
      s0.method === 'StorageVersionMigration' && svm
        ? await this.#migrate(at, s0, plan.resumed, svm, signal)
        : await this.#pass(at, s0, signal);
    if (!result.stopped) await this.#finish(at, result.status);
    return 0;
  }

  /** StorageVersionMigration where the API server serves it, else kubekms's own pass. */
  async #method(): Promise<ReencryptionMethod> {
    return (await this.#api.migrations?.served()) ? 'StorageVersionMigration' : 'Pass';
  }

  /** Creates and follows the StorageVersionMigrations, persisting their progress; counts the migrated objects. */
  async #migrate(
    at: PassTarget,
    s0: ReencryptionStatus,
    resumed: boolean,
    migrations: MigrationApi,
    signal: AbortSignal,
  ): Promise<PassResult> {
    const m = this.#metrics;
    let counted = s0.done;
    const result = await runMigrations(s0, {
      api: this.#api,
      migrations,
      resources: this.#o.resources,
      resumed,
      signal,
      ...(this.#o.pollMs !== undefined ? { pollMs: Math.min(this.#o.pollMs, 2_000) } : {}),
      shouldStop: () => this.#current()?.version !== at.version,
      onPage: async (s) => {
        m?.remaining.set(remaining(s));
        if (s.done > counted) m?.objects.inc({ result: 'rewritten' }, s.done - counted);
        counted = Math.max(counted, s.done);
        await this.#write(at.ns, at.name, s);
      },
      onUnknownResource: (res) => this.#unknownResource(at, res),
    });
    if (!result.stopped && result.status.failed > 0)
      m?.objects.inc({ result: 'failed' }, result.status.failed);
    return result;
  }

  /** The switch-over gauges: what a waiting version saw, zeros (and observable) when none waits. */
  #recordSwitchover(sw: Switchover | undefined): void {
    const m = this.#metrics;
    if (!m) return;
    const live = sw && sw.kind !== 'unknown' ? sw.apiservers : 0;
    const pending = sw?.kind === 'waiting' ? sw.pending.length : 0;
    m.apiservers.set({ state: 'live' }, live);
    m.apiservers.set({ state: 'switched' }, live - pending);
    m.observable.set(sw?.kind === 'unknown' ? 0 : 1);
  }

  /** Looks at the API servers only while a new version waits for them (their answer decides the start). */
  async #switchover(s: ReencryptionStatus | undefined, key: CurrentKey): Promise<Switchover | undefined> {
    const observer = this.#o.observer;
    if (!observer || (!s && key.version <= 1)) return undefined;
    if (s && s.keyVersion === key.version && s.phase !== 'Pending') return undefined;
    return decideSwitchover(await observer.observe(), formatKeyId(key.keyId, key.version), key.createdAt);
  }

  /** Records the start (status and Event) or, for a resumed pass, says so. */
  async #announce(
    at: PassTarget,
    s0: ReencryptionStatus,
    resumed: boolean,
    because: string | undefined,
  ): Promise<void> {
    const resources = this.#o.resources.join(', ');
    if (resumed) {
      this.#ctx.log.info(
        { keyVersion: s0.keyVersion, done: s0.done, total: s0.total },
        'reencrypt: resuming',
      );
      this.#event(
        at.fresh,
        'Normal',
        'ReencryptionResumed',
        'Resume',
        `resuming re-encryption to version ${s0.keyVersion} at ${s0.done + s0.skipped + s0.failed} of ${s0.total} (${resources})`,
        at.keyId,
      );
      return;
    }
    const why = `${s0.method === 'StorageVersionMigration' ? ' through StorageVersionMigration' : ''}${because ? ` (started: ${because})` : ''}`;
    await this.#write(at.ns, at.name, s0, {
      status: 'False',
      reason: 'InProgress',
      message: `re-encrypting ${resources} to version ${s0.keyVersion}${why}`,
    });
    this.#event(
      at.fresh,
      'Normal',
      'ReencryptionStarted',
      'Reencrypt',
      `re-encrypting ${resources} to key version ${s0.keyVersion} (${at.keyId})${why}`,
      at.keyId,
    );
  }

  /** Runs the pass from `s0`, persisting progress after every page; stops when the primary version moves. */
  #pass(at: PassTarget, s0: ReencryptionStatus, signal: AbortSignal): Promise<PassResult> {
    const m = this.#metrics;
    return runPass(s0, {
      api: this.#api,
      resources: this.#o.resources,
      limiter: new RateLimiter({ qps: this.#o.qps }),
      signal,
      ...(this.#o.pageSize !== undefined ? { pageSize: this.#o.pageSize } : {}),
      ...(this.#o.concurrency !== undefined ? { concurrency: this.#o.concurrency } : {}),
      shouldStop: () => this.#current()?.version !== at.version,
      onObject: (r) => m?.objects.inc({ result: r }),
      onPage: async (s) => {
        m?.remaining.set(remaining(s));
        await this.#write(at.ns, at.name, s);
      },
      onUnknownResource: (res) => this.#unknownResource(at, res),
      onFailure: (o, err) =>
        this.#ctx.log.warn(
          { namespace: o.metadata.namespace, name: o.metadata.name, err },
          'reencrypt: object failed',
        ),
    });
  }

  #unknownResource(at: PassTarget, res: string): void {
    this.#event(
      at.fresh,
      'Warning',
      'ReencryptionResourceUnknown',
      'Reencrypt',
      `resource ${JSON.stringify(res)} is not served by the API server (or cannot be listed and updated); skipped`,
      at.keyId,
    );
  }

  /** Records the outcome of a finished pass: status, condition and Event. */
  async #finish(at: PassTarget, status: ReencryptionStatus): Promise<void> {
    const out = passOutcome(status);
    const final: ReencryptionStatus = { ...status, phase: out.phase, finishedAt: new Date().toISOString() };
    await this.#write(at.ns, at.name, final, out.condition);
    this.#metrics?.remaining.set(0);
    this.#event(
      at.fresh,
      out.phase === 'Completed' ? 'Normal' : 'Warning',
      out.phase === 'Completed' ? 'ReencryptionCompleted' : 'ReencryptionFailed',
      'Reencrypt',
      out.condition.message,
      at.keyId,
    );
  }

  #event(
    o: KmsKey,
    type: 'Normal' | 'Warning',
    reason: string,
    action: string,
    note: string,
    keyId: string,
  ): void {
    emit(this.#ctx, KMS_KEY, o, { type, reason, action, note, audit: { keyId } });
  }

  /** Writes status.reencryption (and the Reencrypted condition) on a fresh read, retrying conflicts. */
  async #write(
    ns: string,
    name: string,
    s: ReencryptionStatus,
    cond?: Omit<ConditionInput, 'type' | 'observedGeneration'>,
  ): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const o = await this.#ctx.client.get<KmsKey>(KMS_KEY, ns, name);
      if (!o) return;
      const status: Record<string, unknown> = {
        reencryption: statusMergePatch(o.status?.reencryption, s),
      };
      if (cond)
        status.conditions = setCondition(
          o.status?.conditions,
          { type: 'Reencrypted', ...cond, observedGeneration: o.metadata.generation ?? 0 },
          new Date().toISOString(),
        );
      try {
        await this.#ctx.client.patch(
          KMS_KEY,
          ns,
          name,
          { metadata: { resourceVersion: o.metadata.resourceVersion }, status },
          { patchType: 'merge', status: true },
        );
        return;
      } catch (e) {
        if (!isConflict(e) || attempt >= 5) throw e;
      }
    }
  }
}

function pendingCondition(s: ReencryptionStatus): Omit<ConditionInput, 'type' | 'observedGeneration'> {
  if (s.phase === 'Failed')
    return {
      status: 'False',
      reason: 'ObjectsFailed',
      message: `the last pass to version ${s.keyVersion} had ${s.failed} failures; retrying`,
    };
  const sw = s.switchover;
  const seen = !sw
    ? ''
    : sw.unavailable
      ? `; their switch-over cannot be seen (${sw.unavailable}), so the delay decides`
      : `; ${sw.switched} of ${sw.apiservers} live API servers seen writing under the new key_id`;
  return {
    status: 'False',
    reason: 'WaitingForApiservers',
    message: `key version ${s.keyVersion} is primary; re-encryption starts once every API server writes under the new key_id, at the latest at ${s.notBefore}${seen}`,
  };
}
