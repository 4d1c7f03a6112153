/**
 * What a request leaves behind once answered: one audit line (never plaintext, keys, secrets, signatures or
 * encryption context values) and the request metrics. Metric children are cached per label set.
 */
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { AuditLog } from './audit-log.ts';
import type { Input } from './decode-input.ts';

/** Filled in step by step as the request goes through the pipeline. */
export interface RequestRecord {
  operation: string;
  principal?: string;
  accessKeyId?: string;
  keyArn?: string;
  encryptionContextKeys?: string[];
}

const EC_MEMBERS = ['EncryptionContext', 'SourceEncryptionContext', 'DestinationEncryptionContext'];

/** Keys of the encryption contexts of a request, for the audit line (values are never logged). */
export function contextKeys(input: Input): string[] | undefined {
  const keys = new Set<string>();
  for (const m of EC_MEMBERS) {
    const ec = input[m];
    if (ec && typeof ec === 'object') for (const k of Object.keys(ec)) keys.add(k.slice(0, 128));
  }
  return keys.size ? [...keys].sort().slice(0, 64) : undefined;
}

export interface RecorderOptions {
  readonly log: Logger;
  /** Where audit lines go; default: through `log` at info level. */
  readonly audit?: AuditLog;
  readonly metrics: Metrics;
}

export class RequestRecorder {
  readonly #o: RecorderOptions;
  readonly #counters = new Map<string, { inc(): void }>();
  readonly #timers = new Map<string, { observe(v: number): void }>();

  constructor(o: RecorderOptions) {
    this.#o = o;
  }

  /** Counts and times the request and writes its audit line. */
  finish(requestId: string, r: RequestRecord, status: number, result: string, seconds: number): void {
    this.#count(r.operation, result);
    this.#time(r.operation, seconds);
    // One fixed shape (absent members are undefined and left out of the JSON line).
    const entry = {
      audit: true,
      api: 'aws',
      requestId,
      operation: r.operation,
      accessKeyId: r.accessKeyId,
      principal: r.principal,
      encryptionContextKeys: r.encryptionContextKeys,
      keyArn: r.keyArn,
      result,
      status,
      latencyMs: Math.round(seconds * 1e6) / 1e3,
    };
    if (this.#o.audit) this.#o.audit.write(entry);
    else this.#o.log.info(entry, 'aws request');
  }

  #count(operation: string, result: string): void {
    const k = `${operation}\0${result}`;
    let c = this.#counters.get(k);
    if (!c) {
      c = this.#o.metrics.requests.labels({ api: 'aws', operation, result });
      this.#counters.set(k, c);
    }
    c.inc();
  }

  #time(operation: string, seconds: number): void {
    let t = this.#timers.get(operation);
    if (!t) {
      t = this.#o.metrics.requestDuration.labels({ api: 'aws', operation });
      this.#timers.set(operation, t);
    }
    t.observe(seconds);
  }
}
