/**
 * The one Prometheus registry of the process (prom-client), with the kubekms metric catalogue. Labels stay
 * low-cardinality: no key ids (only the hashed key_id info metric), no principals.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { BoundCounter, BoundHistogram } from './bound-metrics.ts';

export interface Metrics {
  readonly registry: Registry;
  /** Recorded on every KMS v2 call: bound label sets, plain arithmetic per call (bound-metrics.ts). */
  readonly kmsv2Requests: BoundCounter<'method' | 'code'>;
  readonly kmsv2Duration: BoundHistogram<'method'>;
  readonly kmsv2KeyIdInfo: Gauge<'key_id_hash'>;
  readonly kmsv2Healthy: Gauge;
  readonly kmsv2StoreBehind: Counter;
  /** API requests by API (`aws`), operation and result (`ok` or the AWS error code). */
  readonly requests: Counter<'api' | 'operation' | 'result'>;
  readonly requestDuration: Histogram<'api' | 'operation'>;
}

export function createMetrics(opts: { processMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry });
  return {
    registry,
    kmsv2Requests: new BoundCounter({
      name: 'kubekms_kmsv2_requests_total',
      help: 'KMS v2 plugin requests by method and gRPC status code.',
      labelNames: ['method', 'code'] as const,
      registers: [registry],
    }),
    kmsv2Duration: new BoundHistogram({
      name: 'kubekms_kmsv2_request_duration_seconds',
      help: 'KMS v2 plugin request latency.',
      labelNames: ['method'] as const,
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 1],
      registers: [registry],
    }),
    kmsv2KeyIdInfo: new Gauge({
      name: 'kubekms_kmsv2_key_id_info',
      help: 'The key_id the plugin reports, as a SHA-256 hash (1 for the current one).',
      labelNames: ['key_id_hash'] as const,
      registers: [registry],
    }),
    kmsv2Healthy: new Gauge({
      name: 'kubekms_kmsv2_healthy',
      help: '1 when the plugin reports healthz ok, 0 otherwise.',
      registers: [registry],
    }),
    kmsv2StoreBehind: new Counter({
      name: 'kubekms_kmsv2_store_behind_total',
      help: 'Decrypt requests whose key_id names a key version this keystore does not hold (a rollback, or foreign data).',
      registers: [registry],
    }),
    requests: new Counter({
      name: 'kubekms_requests_total',
      help: 'API requests by API, operation and result (ok or the AWS error code).',
      labelNames: ['api', 'operation', 'result'] as const,
      registers: [registry],
    }),
    requestDuration: new Histogram({
      name: 'kubekms_request_duration_seconds',
      help: 'API request latency, from the first byte of the body to the response, by API and operation.',
      labelNames: ['api', 'operation'] as const,
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
  };
}
