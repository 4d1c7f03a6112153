/**
 * The KMS v2 plugin's behaviour, independent of gRPC: Status from memory, Encrypt with the primary version of
 * the Secrets key, Decrypt by key_id. The grpc-js wiring is in server.ts; each RPC maps onto one method here.
 *
 * Health (docs/adr/0004-kmsv2-status-and-key-id.md):
 * - the Secrets key is missing, Disabled or PendingDeletion → Status fails with a gRPC error, so the apiserver
 *   stops extending its write window (a non-ok healthz alone would not: kubernetes#138950);
 * - the key is usable but the last self-test (an Encrypt+Decrypt round trip of the current version) failed or
 *   is older than `selfTestMaxAgeMs` → healthz names the problem;
 * - otherwise healthz is "ok".
 */

import { formatKeyId } from '../api/kmsv2-key-id.ts';
import { CIPHERTEXT_OVERHEAD } from '../engine/ciphertext.ts';
import type { EngineCore, LoadedKey } from '../engine/core.ts';
import { invalidCiphertext, KmsError, validation } from '../engine/errors.ts';
import { isFormat1, openForPlugin, sealForPlugin } from '../engine/ops-kmsv2.ts';
import { constantTimeEqual } from '../engine/secret.ts';
import { checkAnnotations } from './annotations.ts';
import { KeyIdCache } from './key-id.ts';

export type PluginApiVersion = 'v2' | 'v2beta1';

export interface PluginOptions {
  readonly core: EngineCore;
  /** Any key identifier form; resolved on every Status so that alias changes are seen. */
  readonly secretsKey: string;
  readonly apiVersion?: PluginApiVersion;
  readonly selfTestMaxAgeMs?: number;
  readonly now?: () => number;
  /**
   * HA: fetches a key version this instance does not hold yet (it was promoted while this instance was away) from
   * the shared state. Called at most once per Decrypt, only for key_ids of the right shape.
   */
  readonly fetchVersion?: (keyUuid: string, version: number) => Promise<void>;
  /**
   * Told of a Decrypt whose key_id names a version above the newest this keystore holds of that key (after any HA
   * fetch): the keystore is older than data the apiserver stored — a rollback: restored from an older backup, an
   * older copy put back (docs/adr/0022-rollback-detection.md).
   */
  readonly onStoreBehind?: (w: StoreBehind) => void;
}

/** A Decrypt key_id that this keystore cannot have issued as it is now. */
export interface StoreBehind {
  readonly keyId: string;
  readonly keyUuid: string;
  readonly version: number;
  /** The newest version of that key this keystore holds (below `version`). */
  readonly newestHeld: number;
}

export interface StatusResult {
  readonly version: PluginApiVersion;
  readonly healthz: string;
  readonly keyId: string;
}

export const ENCRYPT_CIPHERTEXT_MAX = 1024;

export class KmsV2Plugin {
  readonly #core: EngineCore;
  readonly #secretsKey: string;
  readonly #version: PluginApiVersion;
  readonly #maxAge: number;
  readonly #now: () => number;
  readonly #fetchVersion: ((keyUuid: string, version: number) => Promise<void>) | undefined;
  readonly #onStoreBehind: ((w: StoreBehind) => void) | undefined;
  #lastSelfTest = { keyId: '', at: 0, ok: false, error: 'no self-test yet' };
  readonly #keyIds = new KeyIdCache();
  /** HA: key_ids whose last fetch from the shared state failed (the API unreachable): no rollback is judged. */
  readonly #unfetched = new Set<string>();

  constructor(o: PluginOptions) {
    this.#core = o.core;
    this.#secretsKey = o.secretsKey;
    this.#version = o.apiVersion ?? 'v2';
    this.#maxAge = o.selfTestMaxAgeMs ?? 60_000;
    this.#now = o.now ?? Date.now;
    this.#fetchVersion = o.fetchVersion;
    this.#onStoreBehind = o.onStoreBehind;
  }

  /** The Secrets key, checked usable: a KmsError otherwise (missing, disabled, pending deletion, wrong usage). */
  #usableKey(): LoadedKey {
    const key = this.#core.resolve(this.#secretsKey, 'secrets-key');
    this.#core.requireUsable(key.record, 'ENCRYPT_DECRYPT');
    if (key.record.keySpec !== 'SYMMETRIC_DEFAULT') {
      throw new KmsError(
        'InvalidKeyUsageException',
        `secrets-key: ${key.record.keySpec} keys cannot wrap DEK seeds`,
      );
    }
    return key;
  }

  currentKeyId(): string {
    const r = this.#usableKey().record;
    return formatKeyId(r.keyId, r.primaryVersion);
  }

  /** Encrypt + Decrypt of a random seed with the current version, in memory. Records the outcome. */
  selfTest(): { ok: boolean; error: string } {
    let keyId = '';
    try {
      keyId = this.currentKeyId();
      const seed = this.#core.crypto.randomBytes(32);
      const enc = this.encrypt(seed);
      const dec = this.decrypt(enc.ciphertext, enc.keyId, {}, 'self-test');
      if (enc.keyId !== keyId || !constantTimeEqual(dec, seed)) throw new Error('round trip mismatch');
      this.#lastSelfTest = { keyId, at: this.#now(), ok: true, error: '' };
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      this.#lastSelfTest = { keyId, at: this.#now(), ok: false, error: `self-test failed: ${error}` };
    }
    return { ok: this.#lastSelfTest.ok, error: this.#lastSelfTest.error };
  }

  /** Answers from memory. Throws a KmsError when the key is unusable (the gRPC layer turns it into an error). */
  status(): StatusResult {
    const keyId = this.currentKeyId();
    const t = this.#lastSelfTest;
    if (t.keyId !== keyId || this.#now() - t.at > this.#maxAge) this.selfTest();
    const healthz = this.#lastSelfTest.ok ? 'ok' : this.#lastSelfTest.error;
    return { version: this.#version, healthz, keyId };
  }

  /** Ready when the key is usable and the last self-test passed. */
  readiness(): { ok: boolean; detail: string } {
    try {
      const s = this.status();
      return s.healthz === 'ok'
        ? { ok: true, detail: `key_id ${s.keyId}` }
        : { ok: false, detail: s.healthz };
    } catch (e) {
      return { ok: false, detail: e instanceof Error ? e.message : String(e) };
    }
  }

  encrypt(plaintext: Uint8Array): {
    ciphertext: Uint8Array;
    keyId: string;
    annotations: Record<string, Uint8Array>;
  } {
    if (plaintext.length === 0) throw validation('plaintext', 'must not be empty');
    if (plaintext.length > ENCRYPT_CIPHERTEXT_MAX - CIPHERTEXT_OVERHEAD) {
      throw validation(
        'plaintext',
        `wrapped size ${plaintext.length + CIPHERTEXT_OVERHEAD} would exceed the apiserver's 1024-byte limit`,
      );
    }
    const keyUuid = this.#usableKey().record.keyId;
    const out = sealForPlugin(this.#core, keyUuid, plaintext);
    const annotations: Record<string, Uint8Array> = {};
    const problem = checkAnnotations(annotations);
    if (problem) throw new KmsError('KMSInternalException', problem);
    return { ciphertext: out.ciphertext, keyId: formatKeyId(keyUuid, out.keyVersion), annotations };
  }

  /**
   * A promise when `keyId` names a version this instance does not hold and a fetch hook is configured (the
   * Decrypt then waits for it); undefined otherwise, which keeps the common path synchronous.
   */
  fetchMissing(keyId: string): Promise<void> | undefined {
    const fetch = this.#fetchVersion;
    if (!fetch) return undefined;
    const id = this.#keyIds.parse(keyId);
    if (!id || this.#core.holdsVersion(id.keyUuid, id.version)) return undefined;
    return fetch(id.keyUuid, id.version).then(
      () => {
        this.#unfetched.delete(keyId);
      },
      () => {
        if (this.#unfetched.size < 64) this.#unfetched.add(keyId);
      },
    );
  }

  /**
   * Decrypts only what the named key_id wrapped: an unknown key_id is refused, the ciphertext must be of the
   * plugin's domain and carry the same key and version, and kubekms never emits annotations, so any are a
   * mismatch.
   */
  decrypt(
    ciphertext: Uint8Array,
    keyId: string,
    annotations: Readonly<Record<string, Uint8Array>>,
    uid: string,
  ): Uint8Array {
    if (uid.length === 0) throw validation('uid', 'must not be empty');
    if (ciphertext.length === 0) throw validation('ciphertext', 'must not be empty');
    if (ciphertext.length > ENCRYPT_CIPHERTEXT_MAX) throw invalidCiphertext();
    const id = this.#keyIds.parse(keyId);
    if (!id)
      throw new KmsError(
        'NotFoundException',
        `key_id: ${JSON.stringify(keyId.slice(0, 128))} is not a key_id this plugin issued`,
      );
    if (!this.#core.holdsVersion(id.keyUuid, id.version))
      throw this.#storeBehind(keyId, id.keyUuid, id.version);
    for (const _ in annotations) throw invalidCiphertext();
    const format1 = isFormat1(ciphertext) && this.#opensFormat1(id.keyUuid);
    return openForPlugin(this.#core, ciphertext, id.keyUuid, id.version, format1);
  }

  /**
   * A key_id of kubekms's shape that this keystore cannot open. A version above the newest it holds can only have
   * been issued by a newer state of this keystore (versions only grow, and only older ones are ever destroyed): a
   * rollback, reported — in HA only once the shared state answered without it (unreachable, it may just be new). A key it does not hold at all may have been deleted, so that is only said, not reported.
   */
  #storeBehind(keyId: string, keyUuid: string, version: number): KmsError {
    const newestHeld = this.#core.highestHeldVersion(keyUuid);
    const quoted = JSON.stringify(keyId);
    if (newestHeld === 0)
      return new KmsError(
        'NotFoundException',
        `key_id: ${quoted}: this keystore does not hold that key (deleted, a keystore older than the data, or ` +
          "data that is not this cluster's)",
      );
    if (version < newestHeld)
      return new KmsError('NotFoundException', `key_id: ${quoted}: that version of the key was destroyed`);
    if (this.#fetchVersion !== undefined && this.#unfetched.has(keyId))
      return new KmsError(
        'NotFoundException',
        `key_id: ${quoted}: this instance does not hold that version yet and could not fetch it from the shared state`,
      );
    this.#core.dataVersions.note(keyUuid, version);
    this.#onStoreBehind?.({ keyId, keyUuid, version, newestHeld });
    return new KmsError(
      'NotFoundException',
      `key_id: ${quoted}: this keystore's newest version of that key is v${newestHeld}; the keystore is older ` +
        'than the data (restored from an older backup, or an older copy put back?)',
    );
  }

  /**
   * Format 1 blobs are the plugin's own from before format 2, or the AWS API's: they open only under a key the AWS
   * API cannot use for data operations, the Secrets key served now or a cluster-managed key
   * (docs/adr/0017-ciphertext-domains.md).
   */
  #opensFormat1(keyUuid: string): boolean {
    if (this.#core.findKey(keyUuid)?.keyManager === 'CLUSTER') return true;
    try {
      return this.#core.resolve(this.#secretsKey, 'secrets-key').record.keyId === keyUuid;
    } catch {
      return false;
    }
  }
}
