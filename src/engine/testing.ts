/**
 * Test doubles for the engine's storage ports: an in-memory KeyStore and a RootKey that wraps with AES-256-GCM
 * from the given crypto provider. Used by unit tests and benchmarks only — the memory store keeps nothing
 * across restarts, so `kubekms serve` never uses it.
 */
import { KmsError } from './errors.ts';
import type { CryptoProvider, KeyStore, RootKey } from './ports.ts';
import type { AliasRecord, GrantRecord, KeyRecord, StoreChange, StoreState } from './records.ts';
import { SecretBytes } from './secret.ts';

export class MemoryKeyStore implements KeyStore {
  readonly description = 'memory';
  keys = new Map<string, KeyRecord>();
  aliases = new Map<string, AliasRecord>();
  grants = new Map<string, GrantRecord>();
  commits = 0;
  /** Set to make the next commit fail (simulates a full disk). */
  failNext: Error | undefined;

  async open(): Promise<StoreState> {
    return {
      keys: [...this.keys.values()],
      aliases: [...this.aliases.values()],
      grants: [...this.grants.values()],
    };
  }

  async commit(c: StoreChange): Promise<void> {
    if (this.failNext) {
      const e = this.failNext;
      this.failNext = undefined;
      throw e;
    }
    for (const k of c.putKeys ?? []) this.keys.set(k.keyId, k);
    for (const id of c.deleteKeys ?? []) this.keys.delete(id);
    for (const a of c.putAliases ?? []) this.aliases.set(a.aliasName, a);
    for (const n of c.deleteAliases ?? []) this.aliases.delete(n);
    for (const g of c.putGrants ?? []) this.grants.set(g.grantId, g);
    for (const id of c.deleteGrants ?? []) this.grants.delete(id);
    this.commits++;
  }

  async close(): Promise<void> {}
}

export class TestRootKey implements RootKey {
  readonly description = 'test root key';
  readonly #key: SecretBytes;
  readonly #crypto: CryptoProvider;

  constructor(crypto: CryptoProvider, key?: Uint8Array) {
    this.#crypto = crypto;
    this.#key = new SecretBytes(key ?? crypto.randomBytes(32));
  }

  async wrap(plaintext: SecretBytes, aad: Uint8Array): Promise<Uint8Array> {
    return this.#crypto.aesGcmSeal(this.#key, plaintext.unsafeBytes(), aad);
  }

  async unwrap(wrapped: Uint8Array, aad: Uint8Array): Promise<SecretBytes> {
    const pt = this.#crypto.aesGcmOpen(this.#key, wrapped, aad);
    if (!pt) throw new Error('rootkey: unwrap failed');
    return new SecretBytes(pt);
  }
}

/** A clock tests can move. */
export class ManualClock {
  t: number;
  constructor(t = Date.UTC(2026, 0, 1)) {
    this.t = t;
  }
  now(): number {
    return this.t;
  }
  advanceDays(d: number): void {
    this.t += d * 86_400_000;
  }
}

/** A caller with a name and nothing else: may do only what policies and grants allow. */
export function principal(name: string, opts: { admin?: boolean; groups?: string[] } = {}) {
  return {
    caller: { kind: 'principal', name, groups: opts.groups ?? [], admin: opts.admin ?? false },
  } as const;
}

/** The KmsError `f` throws; throws itself when `f` throws nothing or something else. */
export function kmsError(f: () => unknown): KmsError {
  try {
    f();
  } catch (e) {
    if (e instanceof KmsError) return e;
    throw e;
  }
  throw new Error('expected a KmsError, got no error');
}
