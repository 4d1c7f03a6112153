/**
 * This instance's heartbeat Lease (format in heartbeat-format.ts): renewed every 10 s, and at once when the
 * versions it holds change, so that a rotation waiting for acknowledgements sees them within a round trip.
 */

import { encodeKeyIdWrites, KEY_ID_WRITES_ANNOTATION, type KeyIdWrite } from '../api/apiserver-writes.ts';
import {
  encodeHeldVersions,
  HEARTBEAT_DURATION_SECONDS,
  HEARTBEAT_PERIOD_MS,
  HELD_VERSIONS_ANNOTATION,
  type HeldVersions,
  heartbeatLeaseName,
  INSTANCE_LABEL,
  INSTANCE_LABEL_VALUE,
  KEY_ID_ANNOTATION,
  NEXT_ROOT_KEY_ANNOTATION,
  ROOT_KEY_ANNOTATION,
} from '../api/heartbeat-format.ts';
import { sleep } from '../kube/backoff.ts';
import type { Lease } from '../kube/client.ts';
import { microTime } from '../kube/client.ts';
import { describeError } from '../kube/errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { StateApi } from './state-api.ts';

export interface HeartbeatOptions {
  readonly api: StateApi;
  readonly instance: string;
  readonly held: () => HeldVersions;
  readonly keyId: () => string;
  /** The root of trust this instance holds (`<kind>:<fingerprint>`), published for doctor; absent: not published. */
  readonly rootKey?: () => string;
  /** The root key it holds staged for a rotation ('' when none; docs/adr/0026). */
  readonly nextRootKey?: () => string;
  readonly log: Logger;
  readonly periodMs?: number;
  /**
   * This node's kube-apiserver key_id writes (its /metrics), published for the re-encryption leader; read at most
   * every WRITES_REFRESH_MS. Absent: not published.
   */
  readonly apiserverWrites?: () => Promise<readonly KeyIdWrite[]>;
}

const WRITES_REFRESH_MS = 30_000;

export class Heartbeat {
  readonly #o: HeartbeatOptions;
  readonly #abort = new AbortController();
  #wake: (() => void) | undefined;
  /** A poke that came while a renewal was in flight: renew again at once after it (it may carry stale state). */
  #poked = false;
  #loop: Promise<void> | undefined;
  #lastOk = 0;
  #lastError = '';
  #writes: { readonly at: number; readonly value: string | undefined } | undefined;

  constructor(o: HeartbeatOptions) {
    this.#o = o;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Renew now (the held versions changed). */
  poke(): void {
    if (this.#wake) this.#wake();
    else this.#poked = true;
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    this.#wake?.();
    await this.#loop;
  }

  health(): { ok: boolean; detail: string } {
    const age = Date.now() - this.#lastOk;
    if (this.#lastOk === 0 || age > HEARTBEAT_DURATION_SECONDS * 1000) {
      return { ok: false, detail: `heartbeat: not renewed${this.#lastError ? ` (${this.#lastError})` : ''}` };
    }
    return { ok: true, detail: `heartbeat: renewed ${Math.round(age / 1000)}s ago` };
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      try {
        await this.renew();
        this.#lastOk = Date.now();
        this.#lastError = '';
      } catch (e) {
        this.#lastError = describeError(e);
        this.#o.log.warn({ err: this.#lastError }, 'heartbeat: renewal failed');
      }
      if (this.#poked) {
        this.#poked = false;
        continue;
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        sleep(this.#o.periodMs ?? HEARTBEAT_PERIOD_MS, signal).then(resolve, resolve);
      });
      this.#wake = undefined;
    }
  }

  /**
   * Renews now and resolves once the Lease says what this instance holds (a root key just staged or switched);
   * a conflict with the loop's own renewal is retried.
   */
  async renewNow(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.renew();
        this.#lastOk = Date.now();
        return;
      } catch (e) {
        if (attempt >= 5) throw e;
        await sleep(100 * attempt);
      }
    }
  }

  /** One renewal: create the Lease, or replace it with the version read (a 409 is retried next round). */
  async renew(): Promise<void> {
    const { api, instance } = this.#o;
    const name = heartbeatLeaseName(instance);
    const writes = await this.#apiserverWrites();
    const body = (resourceVersion?: string): Lease => ({
      metadata: {
        name,
        namespace: api.namespace,
        ...(resourceVersion ? { resourceVersion } : {}),
        labels: { [INSTANCE_LABEL]: INSTANCE_LABEL_VALUE, 'app.kubernetes.io/name': 'kubekms' },
        annotations: {
          [HELD_VERSIONS_ANNOTATION]: encodeHeldVersions(this.#o.held()),
          [KEY_ID_ANNOTATION]: this.#o.keyId(),
          ...(this.#o.rootKey ? { [ROOT_KEY_ANNOTATION]: this.#o.rootKey() } : {}),
          ...(this.#o.nextRootKey?.() ? { [NEXT_ROOT_KEY_ANNOTATION]: this.#o.nextRootKey() } : {}),
          ...(writes !== undefined ? { [KEY_ID_WRITES_ANNOTATION]: writes } : {}),
        },
      },
      spec: {
        holderIdentity: instance,
        leaseDurationSeconds: HEARTBEAT_DURATION_SECONDS,
        renewTime: microTime(Date.now()),
      },
    });
    const cur = await api.getLease(name);
    if (cur) await api.replaceLease(body(cur.metadata.resourceVersion));
    else await api.createLease(body());
  }

  /** The encoded writes, refreshed at most every WRITES_REFRESH_MS; a failed read publishes none (logged). */
  async #apiserverWrites(): Promise<string | undefined> {
    const read = this.#o.apiserverWrites;
    if (!read) return undefined;
    const now = Date.now();
    if (this.#writes && now - this.#writes.at < WRITES_REFRESH_MS) return this.#writes.value;
    let value: string | undefined;
    try {
      value = encodeKeyIdWrites(await read());
    } catch (e) {
      this.#o.log.warn({ err: describeError(e) }, 'heartbeat: cannot read the API server key_id writes');
    }
    this.#writes = { at: now, value };
    return value;
  }
}
