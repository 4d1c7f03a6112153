/**
 * Controller metrics with controller-runtime's names, labels and buckets, so existing dashboards and alerts
 * work unchanged. One set per Prometheus registry (created on first use).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export const RECONCILE_RESULTS = ['success', 'error', 'requeue', 'requeue_after'] as const;
export type ReconcileResultLabel = (typeof RECONCILE_RESULTS)[number];

/** What a work queue reports at scrape time. */
export interface QueueStats {
  readonly name: string;
  unfinishedWorkSeconds(): number;
  longestRunningProcessorSeconds(): number;
}

export interface ControllerMetrics {
  readonly reconcileTotal: Counter<'controller' | 'result'>;
  readonly reconcileErrors: Counter<'controller'>;
  readonly terminalReconcileErrors: Counter<'controller'>;
  readonly reconcileTime: Histogram<'controller'>;
  readonly maxConcurrentReconciles: Gauge<'controller'>;
  readonly activeWorkers: Gauge<'controller'>;
  readonly depth: Gauge<'name' | 'controller'>;
  readonly adds: Counter<'name' | 'controller'>;
  readonly retries: Counter<'name' | 'controller'>;
  readonly queueDuration: Histogram<'name' | 'controller'>;
  readonly workDuration: Histogram<'name' | 'controller'>;
  readonly leaderStatus: Gauge<'name'>;
  readonly queues: Set<QueueStats>;
}

const RECONCILE_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25,
  1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];
const QUEUE_BUCKETS = Array.from({ length: 12 }, (_, i) => 1e-8 * 10 ** i);

const byRegistry = new WeakMap<Registry, ControllerMetrics>();

export function controllerMetrics(registry: Registry): ControllerMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const mk = makers(registry);
  const queues = new Set<QueueStats>();
  const m: ControllerMetrics = {
    queues,
    ...reconcileMetrics(mk),
    ...queueMetrics(mk, queues),
    leaderStatus: mk.gauge(
      'leader_election_master_status',
      'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master',
      ['name'],
    ),
  };
  byRegistry.set(registry, m);
  return m;
}

type Makers = ReturnType<typeof makers>;

function makers(registry: Registry) {
  const registers = [registry];
  return {
    counter: <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
      new Counter<L>({ name, help, labelNames, registers }),
    gauge: <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
      new Gauge<L>({ name, help, labelNames, registers }),
    histogram: <L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[]) =>
      new Histogram<L>({ name, help, labelNames, buckets, registers }),
    /** A gauge read from the queues at scrape time. */
    queueGauge: (name: string, help: string, read: (q: QueueStats) => number, queues: Set<QueueStats>) =>
      new Gauge({
        name,
        help,
        labelNames: ['name', 'controller'] as const,
        registers,
        collect() {
          for (const q of queues) this.set({ name: q.name, controller: q.name }, read(q));
        },
      }),
  };
}

/** controller_runtime_*: reconciles per controller. */
function reconcileMetrics(mk: Makers) {
  const c = ['controller'] as const;
  return {
    reconcileTotal: mk.counter(
      'controller_runtime_reconcile_total',
      'Total number of reconciliations per controller',
      ['controller', 'result'] as const,
    ),
    reconcileErrors: mk.counter(
      'controller_runtime_reconcile_errors_total',
      'Total number of reconciliation errors per controller',
      c,
    ),
    terminalReconcileErrors: mk.counter(
      'controller_runtime_terminal_reconcile_errors_total',
      'Total number of terminal reconciliation errors per controller',
      c,
    ),
    reconcileTime: mk.histogram(
      'controller_runtime_reconcile_time_seconds',
      'Length of time per reconciliation per controller',
      c,
      RECONCILE_BUCKETS,
    ),
    maxConcurrentReconciles: mk.gauge(
      'controller_runtime_max_concurrent_reconciles',
      'Maximum number of concurrent reconciles per controller',
      c,
    ),
    activeWorkers: mk.gauge(
      'controller_runtime_active_workers',
      'Number of currently used workers per controller',
      c,
    ),
  };
}

/** workqueue_*: one queue per controller, named after it. */
function queueMetrics(mk: Makers, queues: Set<QueueStats>) {
  const q = ['name', 'controller'] as const;
  mk.queueGauge(
    'workqueue_unfinished_work_seconds',
    'How many seconds of work has been done that is in progress and has not been observed by work_duration',
    (x) => x.unfinishedWorkSeconds(),
    queues,
  );
  mk.queueGauge(
    'workqueue_longest_running_processor_seconds',
    'How many seconds has the longest running processor for workqueue been running',
    (x) => x.longestRunningProcessorSeconds(),
    queues,
  );
  return {
    depth: mk.gauge('workqueue_depth', 'Current depth of workqueue', q),
    adds: mk.counter('workqueue_adds_total', 'Total number of adds handled by workqueue', q),
    retries: mk.counter('workqueue_retries_total', 'Total number of retries handled by workqueue', q),
    queueDuration: mk.histogram(
      'workqueue_queue_duration_seconds',
      'How long in seconds an item stays in workqueue before being requested',
      q,
      QUEUE_BUCKETS,
    ),
    workDuration: mk.histogram(
      'workqueue_work_duration_seconds',
      'How long in seconds processing an item from workqueue takes',
      q,
      QUEUE_BUCKETS,
    ),
  };
}

/** Pre-initializes every label pair to 0 so that rate() works from the first scrape. */
export function initControllerSeries(m: ControllerMetrics, controller: string, workers: number): void {
  for (const result of RECONCILE_RESULTS) m.reconcileTotal.inc({ controller, result }, 0);
  m.reconcileErrors.inc({ controller }, 0);
  m.terminalReconcileErrors.inc({ controller }, 0);
  m.maxConcurrentReconciles.set({ controller }, workers);
  m.activeWorkers.set({ controller }, 0);
  m.depth.set({ name: controller, controller }, 0);
  m.adds.inc({ name: controller, controller }, 0);
  m.retries.inc({ name: controller, controller }, 0);
}
