/**
 * The KeyStore of an HA instance (docs/adr/0009-shared-key-state.md): the Kubernetes API is the source of truth,
 * the local file keystore a cache. `open` reads only the cache, so an instance starts with no API; `commit` writes
 * the API first (optimistic concurrency on resourceVersion) and then the cache; `absorb` writes only the cache.
 */

import {
  aliasObjectName,
  type DecodedRecord,
  grantObjectName,
  keyObjectName,
  objectNameOf,
  toObject,
} from '../api/state-records.ts';
import { KmsError } from '../engine/errors.ts';
import type { KeyStore, RootKey } from '../engine/ports.ts';
import type { StoreChange, StoreState } from '../engine/records.ts';
import { type LegacyRecords, RecordAuthRing } from '../keystore/record-auth-ring.ts';
import { describeError, isConflict, KubeApiError } from '../kube/errors.ts';
import type { StateApi } from './state-api.ts';

/** The last resourceVersion seen per object, from our own writes and from the watch. */
export class ResourceVersions {
  readonly #rv = new Map<string, string>();

  get(name: string): string | undefined {
    return this.#rv.get(name);
  }

  /** Keeps the newer of two versions; etcd's are integers (otherwise the last one seen wins). */
  observe(name: string, rv: string | undefined): void {
    if (!rv) return;
    const cur = this.#rv.get(name);
    if (cur !== undefined && /^\d+$/.test(cur) && /^\d+$/.test(rv) && BigInt(rv) < BigInt(cur)) return;
    this.#rv.set(name, rv);
  }

  forget(name: string): void {
    this.#rv.delete(name);
  }
}

export interface SharedKeyStoreOptions {
  readonly cache: KeyStore;
  readonly api: StateApi;
  /** Authenticates the records this instance writes and checks those it reads (docs/adr/0013). */
  readonly rootKey: RootKey;
  /** Records without spec.auth, from a kubekms before ADR 0013: accepted (default, the upgrade window) or refused. */
  readonly legacyRecords?: LegacyRecords;
  readonly versions?: ResourceVersions;
  /** Told which objects another instance changed first, so that the sync can fetch them now. */
  readonly onConflict?: (names: readonly string[]) => void;
}

/** The writes of one change, in the order that keeps every intermediate state safe. */
export function writeOrder(change: StoreChange): { puts: DecodedRecord[]; deletes: string[] } {
  return {
    puts: [
      ...(change.putKeys ?? []).map((record) => ({ kind: 'Key', record }) as const),
      ...(change.putGrants ?? []).map((record) => ({ kind: 'Grant', record }) as const),
      ...(change.putAliases ?? []).map((record) => ({ kind: 'Alias', record }) as const),
    ],
    deletes: [
      ...(change.deleteAliases ?? []).map(aliasObjectName),
      ...(change.deleteGrants ?? []).map(grantObjectName),
      ...(change.deleteKeys ?? []).map(keyObjectName),
    ],
  };
}

export class SharedKeyStore implements KeyStore {
  readonly description: string;
  readonly versions: ResourceVersions;
  readonly #cache: KeyStore;
  readonly #api: StateApi;
  readonly #onConflict: ((names: readonly string[]) => void) | undefined;
  readonly #rootKey: RootKey;
  readonly #legacy: LegacyRecords;
  #ring: RecordAuthRing | undefined;

  constructor(o: SharedKeyStoreOptions) {
    this.#cache = o.cache;
    this.#api = o.api;
    this.versions = o.versions ?? new ResourceVersions();
    this.#onConflict = o.onConflict;
    this.#rootKey = o.rootKey;
    this.#legacy = o.legacyRecords ?? 'accept';
    this.description = `kubernetes:${o.api.namespace}/kmsstaterecords (cache: ${o.cache.description})`;
  }

  async open(): Promise<StoreState> {
    this.#ring ??= await RecordAuthRing.create(this.#rootKey, this.#legacy);
    return this.#cache.open();
  }

  /** The record authentication of this instance; available once the store is open. */
  get ring(): RecordAuthRing {
    if (this.#ring === undefined) throw new Error('shared state: the store is not open');
    return this.#ring;
  }

  /**
   * A new writer key, wrapped by the root key's current root: after a root-key switch (docs/adr/0026), what this
   * instance writes must verify for a holder of the new root alone.
   */
  async renewRing(): Promise<void> {
    this.#ring = await RecordAuthRing.create(this.#rootKey, this.#legacy);
  }

  async commit(change: StoreChange): Promise<void> {
    const { puts, deletes } = writeOrder(change);
    await this.publish(puts, deletes);
    await this.#cache.commit(change);
  }

  absorb(change: StoreChange): Promise<void> {
    return this.#cache.commit(change);
  }

  close(): Promise<void> {
    return this.#cache.close();
  }

  /**
   * Writes records to the API in the given order: create when no version is known, replace with the known
   * version otherwise. On failure, objects this call created are deleted again (best effort) and a KmsError says
   * what happened: KMSInternalException for a concurrent change (clients retry it), DependencyTimeoutException
   * when the API cannot be reached.
   */
  async publish(puts: readonly DecodedRecord[], deletes: readonly string[] = []): Promise<void> {
    const created: string[] = [];
    let name = '';
    try {
      for (const d of puts) {
        name = objectNameOf(d);
        const rv = this.versions.get(name);
        const out = rv
          ? await this.#api.replace(toObject(d, this.ring, this.#api.namespace, rv))
          : await this.#api.create(toObject(d, this.ring, this.#api.namespace));
        if (!rv) created.push(name);
        this.versions.observe(name, out.metadata.resourceVersion);
      }
      for (const n of deletes) {
        name = n;
        await this.#api.delete(n, this.versions.get(n));
        this.versions.forget(n);
      }
    } catch (e) {
      for (const n of created.reverse()) {
        await this.#api.delete(n, this.versions.get(n)).catch(() => undefined);
        this.versions.forget(n);
      }
      throw this.#refusal(name, e);
    }
  }

  #refusal(name: string, e: unknown): KmsError {
    const what = `${this.#api.namespace}/${name}`;
    if (isConflict(e)) {
      this.#onConflict?.([name]);
      return new KmsError(
        'KMSInternalException',
        `shared key state: ${what} was changed by another kubekms instance first; retry the request`,
      );
    }
    if (e instanceof KubeApiError) {
      return new KmsError('KMSInternalException', `shared key state: writing ${what}: ${describeError(e)}`);
    }
    return new KmsError(
      'DependencyTimeoutException',
      `shared key state: the Kubernetes API is unreachable (${describeError(e)}); key management needs it, encryption does not`,
    );
  }
}
