/**
 * Record authentication for records that several processes write to one place (KmsStateRecord objects in HA,
 * docs/adr/0013): each record carries the auth envelope `{ recordAuthKey, auth }` — the writer's record
 * authentication key wrapped by the root key, and the record's HMAC under it. A reader that holds the same root
 * key unwraps each distinct writer key once (`learn`) and then checks records synchronously (`check`). Whoever
 * cannot wrap a key under the root key cannot make an envelope that verifies.
 */
import type { RootKey } from '../engine/ports.ts';
import { RootKeyMismatchError } from '../rootkey/errors.ts';
import { decodeBase64, encodeBase64 } from './json-reader.ts';
import { type AuthenticatedRecord, RecordAuthKey } from './record-auth.ts';

export interface AuthEnvelope {
  readonly recordAuthKey: string;
  readonly auth: string;
}

/**
 * What to do with a record that has no envelope at all (written by a kubekms from before ADR 0013): `accept` it
 * (the upgrade window: trust on first use, as for a version 1 keystore) or `refuse` it.
 */
export type LegacyRecords = 'accept' | 'refuse';

export class RecordAuthRing {
  readonly legacy: LegacyRecords;
  readonly #rootKey: RootKey;
  readonly #own: RecordAuthKey;
  readonly #ownWrapped: string;
  /** Writer keys by their wrapped form: unwrapped, or `undefined` when the root key refused the blob. */
  readonly #known = new Map<string, RecordAuthKey | undefined>();

  private constructor(rootKey: RootKey, own: RecordAuthKey, wrapped: Uint8Array, legacy: LegacyRecords) {
    this.legacy = legacy;
    this.#rootKey = rootKey;
    this.#own = own;
    this.#ownWrapped = encodeBase64(wrapped);
    this.#known.set(this.#ownWrapped, own);
  }

  /** A ring whose own key is new (generated and wrapped under `rootKey`). */
  static async create(rootKey: RootKey, legacy: LegacyRecords = 'accept'): Promise<RecordAuthRing> {
    const { key, wrapped } = await RecordAuthKey.generate(rootKey);
    return new RecordAuthRing(rootKey, key, wrapped, legacy);
  }

  /** The envelope of a record this process writes. */
  envelope(r: AuthenticatedRecord): AuthEnvelope {
    return { recordAuthKey: this.#ownWrapped, auth: encodeBase64(this.#own.authOf(r)) };
  }

  /** Whether `envelope` needs no `learn` before `problem` can judge it (its key is known, or it is no envelope). */
  knows(envelope: unknown): boolean {
    return !isEnvelope(envelope) || this.#known.has(envelope.recordAuthKey);
  }

  /**
   * Unwraps the writer keys of these envelopes that are not known yet. Blobs the root key refuses are remembered
   * as refused; other root key failures (an HSM that is away) reject and are tried again next time.
   */
  async learn(envelopes: Iterable<unknown>): Promise<void> {
    const blobs = new Set<string>();
    for (const e of envelopes) {
      const blob = isEnvelope(e) ? e.recordAuthKey : undefined;
      if (blob !== undefined && !this.#known.has(blob)) blobs.add(blob);
    }
    for (const blob of blobs) {
      const bytes = decodeBase64(blob);
      const key =
        bytes === undefined
          ? undefined
          : await RecordAuthKey.unwrap(this.#rootKey, bytes).catch((e: unknown) => {
              if (e instanceof RootKeyMismatchError) return undefined;
              throw e;
            });
      this.#known.set(blob, key);
    }
  }

  /**
   * Undefined when `envelope` authenticates the record under a writer key wrapped by the root key (learnt
   * before); otherwise the reason, for an error that names the record.
   */
  problem(r: AuthenticatedRecord, envelope: unknown): string | undefined {
    if (envelope === undefined && this.legacy === 'accept') return undefined;
    if (!isEnvelope(envelope)) return NO_ENVELOPE;
    if (!this.#known.has(envelope.recordAuthKey)) return 'its writer key was not unwrapped yet';
    const key = this.#known.get(envelope.recordAuthKey);
    if (key === undefined) return 'its writer key is not wrapped by this root key';
    const auth = decodeBase64(envelope.auth);
    if (auth === undefined || !key.verify(r, auth)) return 'its auth does not match its content';
    return undefined;
  }
}

export const NO_ENVELOPE = 'no auth envelope: not written by a kubekms that authenticates records';

function isEnvelope(e: unknown): e is AuthEnvelope {
  if (typeof e !== 'object' || e === null) return false;
  const o = e as Record<string, unknown>;
  return typeof o.recordAuthKey === 'string' && typeof o.auth === 'string' && Object.keys(o).length === 2;
}
