/**
 * A controller: N workers take keys from a work queue and call a level-triggered reconcile function. Results
 * are handled as controller-runtime does:
 *
 * | reconcile             | queue                         | reconcile_total{result} |
 * |-----------------------|-------------------------------|-------------------------|
 * | {} (success)          | forget                        | success                 |
 * | throws                | addRateLimited (backoff)      | error                   |
 * | throws TerminalError  | forget, no requeue            | error (+ terminal)      |
 * | {requeueAfterMs: d}   | forget, addAfter(d)           | requeue_after           |
 * | {requeue: true}       | addRateLimited                | requeue                 |
 *
 * The queue exists only while the controller runs (while this instance leads); start() enqueues every key.
 */
import type { Logger } from 'pino';
import { type ControllerMetrics, initControllerSeries } from './controller-metrics.ts';
import { describeError } from './errors.ts';
import { type RateLimiterOptions, WorkQueue } from './queue.ts';

export interface ReconcileResult {
  readonly requeueAfterMs?: number;
  readonly requeue?: boolean;
}

/** A failure that retrying cannot fix (an invalid spec): recorded, not retried until the object changes. */
export class TerminalError extends Error {
  override name = 'TerminalError';
}

export type Reconcile = (key: string) => Promise<ReconcileResult | undefined>;

export interface ControllerOptions extends RateLimiterOptions {
  readonly name: string;
  readonly reconcile: Reconcile;
  /** Every key that should be reconciled when the controller starts (from the informer caches). */
  readonly listKeys: () => readonly string[];
  readonly workers?: number;
  readonly metrics?: ControllerMetrics;
  readonly log?: Logger;
}

export class Controller {
  readonly name: string;
  readonly #o: ControllerOptions;
  readonly #workers: number;
  #queue: WorkQueue | undefined;
  #running: Promise<void>[] = [];

  constructor(o: ControllerOptions) {
    this.name = o.name;
    this.#o = o;
    this.#workers = o.workers ?? 2;
    if (o.metrics) initControllerSeries(o.metrics, o.name, this.#workers);
  }

  get running(): boolean {
    return this.#queue !== undefined;
  }

  enqueue(key: string): void {
    this.#queue?.add(key);
  }

  enqueueAfter(key: string, ms: number): void {
    this.#queue?.addAfter(key, ms);
  }

  start(): void {
    if (this.#queue) return;
    const queue = new WorkQueue({
      name: this.name,
      ...(this.#o.metrics ? { metrics: this.#o.metrics } : {}),
      ...(this.#o.baseMs !== undefined ? { baseMs: this.#o.baseMs } : {}),
      ...(this.#o.maxMs !== undefined ? { maxMs: this.#o.maxMs } : {}),
    });
    this.#queue = queue;
    for (const k of this.#o.listKeys()) queue.add(k);
    this.#running = Array.from({ length: this.#workers }, () => this.#work(queue));
  }

  /** Stops taking keys and waits for in-flight reconciles to finish. */
  async stop(): Promise<void> {
    const q = this.#queue;
    if (!q) return;
    this.#queue = undefined;
    q.shutDown();
    await Promise.all(this.#running.splice(0));
  }

  async #work(queue: WorkQueue): Promise<void> {
    const m = this.#o.metrics;
    const controller = this.name;
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      m?.activeWorkers.inc({ controller });
      const started = performance.now();
      try {
        const r = await this.#o.reconcile(key);
        if (r?.requeueAfterMs !== undefined && r.requeueAfterMs > 0) {
          queue.forget(key);
          queue.addAfter(key, r.requeueAfterMs);
          m?.reconcileTotal.inc({ controller, result: 'requeue_after' });
        } else if (r?.requeue) {
          queue.addRateLimited(key);
          m?.reconcileTotal.inc({ controller, result: 'requeue' });
        } else {
          queue.forget(key);
          m?.reconcileTotal.inc({ controller, result: 'success' });
        }
      } catch (e) {
        m?.reconcileTotal.inc({ controller, result: 'error' });
        m?.reconcileErrors.inc({ controller });
        if (e instanceof TerminalError) {
          m?.terminalReconcileErrors.inc({ controller });
          queue.forget(key);
          this.#o.log?.warn({ controller, key, err: e.message }, 'reconcile failed (terminal, not retried)');
        } else {
          const retries = queue.retries(key);
          queue.addRateLimited(key);
          this.#o.log?.warn(
            { controller, key, retries, err: describeError(e) },
            'reconcile failed; retrying',
          );
        }
      } finally {
        m?.reconcileTime.observe({ controller }, (performance.now() - started) / 1000);
        m?.activeWorkers.dec({ controller });
        queue.done(key);
      }
    }
  }
}
