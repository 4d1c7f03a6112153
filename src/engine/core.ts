/**
 * The engine's state and the few mechanisms every operation shares: loading, key resolution, authorization,
 * state and usage checks, and serialized, durable mutation. Operations live in ops-*.ts files as functions
 * over an EngineCore.
 */

import { DataVersions } from './data-versions.ts';
import type { EncryptionContext } from './encryption-context.ts';
import { KmsError, notFound } from './errors.ts';
import {
  type ArnConfig,
  aliasArn,
  DEFAULT_ARN_CONFIG,
  type KeyRef,
  keyArn,
  parseKeyRef,
  uuidFromRandom,
} from './identifiers.ts';
import { checkKeyRecord } from './keyset.ts';
import { authorize, type Caller, type KeyAction } from './policy.ts';
import type { Clock, CryptoProvider, KeyStore, RootKey, RotationGate } from './ports.ts';
import { systemClock } from './ports.ts';
import {
  type AliasRecord,
  type GrantRecord,
  type KeyRecord,
  keyMaterialAad,
  type StoreChange,
} from './records.ts';
import { RetiredUseLog } from './retired-uses.ts';
import type { SecretBytes } from './secret.ts';
import type { KeyUsage } from './specs.ts';

/** Who asks, and with which grant tokens. */
export interface RequestContext {
  readonly caller: Caller;
  readonly grantTokens?: readonly string[];
}

/** A key with its unwrapped material held in memory, version → material. */
export interface LoadedKey {
  readonly record: KeyRecord;
  readonly material: ReadonlyMap<number, SecretBytes>;
}

export interface EngineOptions {
  readonly crypto: CryptoProvider;
  readonly rootKey: RootKey;
  readonly store: KeyStore;
  readonly clock?: Clock;
  readonly arn?: ArnConfig;
  /** When key state is shared between instances: rotations stage, wait at this gate, and promote. */
  readonly rotationGate?: RotationGate;
}

/** Listeners learn about committed changes (metrics, audit, the KMS v2 plugin's key_id). */
export type ChangeListener = (change: StoreChange) => void;

export class EngineCore {
  readonly crypto: CryptoProvider;
  readonly rootKey: RootKey;
  readonly store: KeyStore;
  readonly clock: Clock;
  readonly arn: ArnConfig;
  /** Set when key state is shared between instances: rotations then stage, wait here, and promote. */
  readonly rotationGate: RotationGate | undefined;
  /** Decrypts under retired versions: the last use of each, and who hears of every one (metrics, audit). */
  readonly retiredUses = new RetiredUseLog();
  /** Versions that data names beyond what this keystore holds (a rollback): their keys are not rotated. */
  readonly dataVersions = new DataVersions();

  // Private: every change goes through mutate/absorb, every read through the named queries below. TypeScript
  // `private` rather than `#`: a dry-run view (aws/cluster/dry-run.ts) is an object whose prototype is the core.
  private readonly keyMap = new Map<string, LoadedKey>();
  private readonly aliasMap = new Map<string, AliasRecord>();
  private readonly grantMap = new Map<string, GrantRecord>();
  readonly #listeners: ChangeListener[] = [];
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(o: EngineOptions) {
    this.crypto = o.crypto;
    this.rootKey = o.rootKey;
    this.store = o.store;
    this.clock = o.clock ?? systemClock;
    this.arn = o.arn ?? DEFAULT_ARN_CONFIG;
    this.rotationGate = o.rotationGate;
  }

  /** Opens the store and unwraps every key version with the root key. */
  static async open(o: EngineOptions): Promise<EngineCore> {
    const core = new EngineCore(o);
    const state = await o.store.open();
    for (const r of state.keys) {
      checkKeyRecord(r);
      core.keyMap.set(r.keyId, { record: r, material: await core.unwrapAll(r) });
    }
    for (const a of state.aliases) core.aliasMap.set(a.aliasName, a);
    for (const g of state.grants) core.grantMap.set(g.grantId, g);
    return core;
  }

  private async unwrapAll(r: KeyRecord): Promise<Map<number, SecretBytes>> {
    const m = new Map<number, SecretBytes>();
    for (const v of r.versions) {
      m.set(v.version, await this.rootKey.unwrap(v.wrappedMaterial, keyMaterialAad(r.keyId, v.version)));
    }
    return m;
  }

  /** The record of a key by its canonical id (no alias or ARN parsing), or undefined. */
  findKey(keyId: string): KeyRecord | undefined {
    return this.keyMap.get(keyId)?.record;
  }

  /** The key with its material, by canonical id: for engine operations, never handed to adapters. */
  loadedKey(keyId: string): LoadedKey | undefined {
    return this.keyMap.get(keyId);
  }

  /** True when this instance can decrypt with `version` of `keyId` (its material is unwrapped here). */
  holdsVersion(keyId: string, version: number): boolean {
    return this.keyMap.get(keyId)?.material.has(version) ?? false;
  }

  /** The highest version of `keyId` this instance holds material for; 0 for an unknown key. */
  highestHeldVersion(keyId: string): number {
    let top = 0;
    for (const v of this.keyMap.get(keyId)?.material.keys() ?? []) if (v > top) top = v;
    return top;
  }

  /** Every key record, a snapshot (safe to mutate the engine while iterating). */
  allKeys(): KeyRecord[] {
    return Array.from(this.keyMap.values(), (k) => k.record);
  }

  findAlias(aliasName: string): AliasRecord | undefined {
    return this.aliasMap.get(aliasName);
  }

  /** The key id an alias points to, or undefined when there is no such alias. */
  aliasTarget(aliasName: string): string | undefined {
    return this.aliasMap.get(aliasName)?.targetKeyId;
  }

  allAliases(): AliasRecord[] {
    return [...this.aliasMap.values()];
  }

  findGrant(grantId: string): GrantRecord | undefined {
    return this.grantMap.get(grantId);
  }

  findGrantByToken(grantToken: string): GrantRecord | undefined {
    for (const g of this.grantMap.values()) if (g.grantToken === grantToken) return g;
    return undefined;
  }

  allGrants(): GrantRecord[] {
    return [...this.grantMap.values()];
  }

  /** How many keys, aliases and grants the engine holds (for logs and health). */
  counts(): { keys: number; aliases: number; grants: number } {
    return { keys: this.keyMap.size, aliases: this.aliasMap.size, grants: this.grantMap.size };
  }

  onChange(listener: ChangeListener): void {
    this.#listeners.push(listener);
  }

  newUuid(): string {
    return uuidFromRandom(this.crypto.randomBytes(16));
  }

  arnOf(keyId: string): string {
    return keyArn(this.arn, keyId);
  }

  /** Resolves any key identifier form to a loaded key, or NotFoundException. */
  resolve(value: unknown, field = 'KeyId'): LoadedKey {
    // Fast path: a canonical key id (the common case on hot paths) needs no parsing.
    if (typeof value === 'string') {
      const direct = this.keyMap.get(value);
      if (direct) return direct;
    }
    const ref: KeyRef = parseKeyRef(value, this.arn, field);
    let keyId: string;
    if (ref.kind === 'alias') {
      const alias = this.aliasMap.get(ref.aliasName);
      if (!alias) throw notFound(`Alias ${aliasArn(this.arn, ref.aliasName)}`);
      keyId = alias.targetKeyId;
    } else {
      keyId = ref.keyId;
    }
    const key = this.keyMap.get(keyId);
    if (!key) throw new KmsError('NotFoundException', `Key '${this.arnOf(keyId)}' does not exist`);
    return key;
  }

  grantsOf(keyId: string): GrantRecord[] {
    const out: GrantRecord[] = [];
    for (const g of this.grantMap.values()) if (g.keyId === keyId) out.push(g);
    return out;
  }

  /** Deny by default: AccessDeniedException unless the key policy or a grant allows the action. */
  authorize(ctx: RequestContext, key: KeyRecord, action: KeyAction, ec?: EncryptionContext): void {
    if (ctx.caller.kind === 'system') return;
    if (ctx.grantTokens) {
      for (const t of ctx.grantTokens) {
        if (!this.findGrantByToken(t)) {
          throw new KmsError(
            'InvalidGrantTokenException',
            'GrantTokens: a grant token is not valid',
            'GrantTokens',
          );
        }
      }
    }
    const grants = this.grantMap.size === 0 ? [] : this.grantsOf(key.keyId);
    if (authorize(ctx.caller, action, key.policy, grants, ec) === 'allow') return;
    throw new KmsError(
      'AccessDeniedException',
      `User: ${ctx.caller.name} is not authorized to perform: ${action} on resource: ${this.arnOf(key.keyId)}`,
    );
  }

  /** State first, then usage (invariant 5): Disabled, PendingDeletion, PendingImport refuse crypto. */
  requireUsable(key: KeyRecord, usage: KeyUsage): void {
    if (key.state !== 'Enabled') requireEnabled(key, this.arnOf(key.keyId));
    if (key.keyUsage !== usage) {
      throw new KmsError(
        'InvalidKeyUsageException',
        `${this.arnOf(key.keyId)} key usage is ${key.keyUsage} which is not valid for this operation (needs ${usage})`,
      );
    }
  }

  /**
   * Runs `fn` with exclusive access to the state: management operations are serialized so that each
   * read-modify-write sees the result of the previous one. `fn` returns the change to commit and the result.
   * Nothing is visible in memory until the store has durably committed the change.
   */
  mutate<T>(
    fn: () => Promise<{
      change: StoreChange;
      result: T;
      material?: ReadonlyMap<string, ReadonlyMap<number, SecretBytes>>;
    }>,
  ): Promise<T> {
    const run = this.#queue.then(async () => {
      const { change, result, material } = await fn();
      if (isEmptyChange(change)) return result;
      for (const k of change.putKeys ?? []) checkKeyRecord(k);
      await this.store.commit(change);
      this.apply(change, material);
      for (const l of this.#listeners) l(change);
      return result;
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Takes a change that another instance already committed to the shared store: serialized with local
   * mutations, new versions unwrapped first, persisted locally (the store's `absorb`), then made visible.
   */
  absorb(change: StoreChange): Promise<void> {
    const run = this.#queue.then(async () => {
      if (isEmptyChange(change)) return;
      const material = new Map<string, Map<number, SecretBytes>>();
      for (const r of change.putKeys ?? []) {
        checkKeyRecord(r);
        const held = this.keyMap.get(r.keyId)?.material;
        const m = new Map<number, SecretBytes>();
        for (const v of r.versions) {
          if (held?.has(v.version)) continue;
          m.set(v.version, await this.rootKey.unwrap(v.wrappedMaterial, keyMaterialAad(r.keyId, v.version)));
        }
        material.set(r.keyId, m);
      }
      await (this.store.absorb ? this.store.absorb(change) : this.store.commit(change));
      this.apply(change, material);
      for (const l of this.#listeners) l(change);
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Replaces every key's record by the one `rewrap` returns — the same record with its material wrapped under
   * another root key, already durable (an online root-key rotation) — serialized with mutations, so that no change
   * is made between the store's switch and this one. The material held in memory stays; a record that differs
   * in anything but its wrapped material is refused.
   */
  replaceWrapping(rewrap: (keys: readonly KeyRecord[]) => Promise<readonly KeyRecord[]>): Promise<void> {
    const run = this.#queue.then(async () => {
      const next = await rewrap(this.allKeys());
      for (const r of next) {
        const prev = this.keyMap.get(r.keyId);
        const same =
          prev?.record.versions.map((v) => v.version).join() === r.versions.map((v) => v.version).join();
        if (prev === undefined || !same)
          throw new Error(`engine: re-wrapped key ${r.keyId} does not match the key held`);
        this.keyMap.set(r.keyId, { record: r, material: prev.material });
      }
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  private apply(change: StoreChange, material?: ReadonlyMap<string, ReadonlyMap<number, SecretBytes>>): void {
    for (const r of change.putKeys ?? []) {
      const prev = this.keyMap.get(r.keyId);
      const m = new Map(prev?.material ?? []);
      for (const [v, s] of material?.get(r.keyId) ?? []) m.set(v, s);
      // A version the record no longer lists was destroyed (ops-retirement.ts): its material goes too.
      for (const [v, s] of m) {
        if (!r.versions.some((x) => x.version === v)) {
          s.wipe();
          m.delete(v);
        }
      }
      // Material first, record second: a version is decryptable before any record names it primary.
      this.keyMap.set(r.keyId, { record: r, material: m });
    }
    for (const id of change.deleteKeys ?? []) {
      const prev = this.keyMap.get(id);
      if (prev) for (const s of prev.material.values()) s.wipe();
      this.keyMap.delete(id);
    }
    for (const a of change.putAliases ?? []) this.aliasMap.set(a.aliasName, a);
    for (const n of change.deleteAliases ?? []) this.aliasMap.delete(n);
    for (const g of change.putGrants ?? []) this.grantMap.set(g.grantId, g);
    for (const id of change.deleteGrants ?? []) this.grantMap.delete(id);
  }
}

function isEmptyChange(c: StoreChange): boolean {
  return !(
    c.putKeys?.length ||
    c.deleteKeys?.length ||
    c.putAliases?.length ||
    c.deleteAliases?.length ||
    c.putGrants?.length ||
    c.deleteGrants?.length
  );
}

export function requireEnabled(key: KeyRecord, arn: string): void {
  switch (key.state) {
    case 'Enabled':
      return;
    case 'Disabled':
      throw new KmsError('DisabledException', `${arn} is disabled.`);
    case 'PendingDeletion':
      throw new KmsError('KMSInvalidStateException', `${arn} is pending deletion.`);
    case 'PendingImport':
      throw new KmsError('KMSInvalidStateException', `${arn} is pending import.`);
  }
}
