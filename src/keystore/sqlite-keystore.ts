/**
 * The embedded keystore (docs/adr/0016): `<dataDir>/keystore.db`, SQLite in WAL mode with synchronous=FULL, one
 * row per record (sqlite-format.ts), one transaction per commit, so a commit writes what changed and not the whole
 * state. Key material is in it only wrapped by the root key; every row carries its ADR 0013 auth and the meta
 * row an incremental seal, so a row edited, dropped or rolled back without the root key is refused on open,
 * naming it. Opening reads the database read-only and checks everything before a writer connection exists, so a
 * store that is refused is never written to; the data dir is held by the same lock as the file keystore.
 *
 * A data dir holding only `keystore.json` (the file keystore, ADR 0003) is migrated on open: the JSON is checked
 * as FileKeyStore checks it (a version 1 store is authenticated as found unless `unauthenticated: 'refuse'`),
 * `keystore.db` is written crash-safely (sqlite-file.ts) and `keystore.json` removed only after that. When both
 * exist (a kill between the two), the database wins once it has passed every check.
 *
 * Commits are serialized; each runs in the writer thread (sqlite-db.ts) and only then updates the in-memory
 * index, so a failed commit changes nothing.
 */
import { join } from 'node:path';
import type { KeyStore, RootKey } from '../engine/ports.ts';
import type { StoreChange, StoreState } from '../engine/records.ts';
import { syncDirectory } from './atomic-file.ts';
import { openLocked, SerialQueue } from './data-dir.ts';
import { KeyStoreError, locate, RecordDecodeError } from './errors.ts';
import { type KeyStoreFs, nodeFs } from './keystore-fs.ts';
import type { KeyStoreLock } from './keystore-lock.ts';
import { type AuthenticatedKind, canonicalJson, encodeRecord, type RecordAuthKey } from './record-auth.ts';
import { rootSwitch } from './root-switch.ts';
import { SqliteError, SqliteWriter, type SqlStatement } from './sqlite-db.ts';
import { fileExists, readTrustedDatabase, removeDatabaseTemps, removeEmptySideFiles } from './sqlite-file.ts';
import { DB_FILE, deleteRow, putRow, updateSeal } from './sqlite-format.ts';
import { createDatabase, JSON_FILE, migrateJson } from './sqlite-migrate.ts';
import { rowKey, xorInto } from './sqlite-trust.ts';
import { checkChangeDecodes } from './store-change.ts';
import { StoreIndex } from './store-index.ts';

export { DB_FILE } from './sqlite-format.ts';

export interface SqliteKeyStoreOptions {
  readonly dataDir: string;
  readonly rootKey: RootKey;
  /** A version 1 keystore.json (records not authenticated): `migrate` (default) authenticates it as found. */
  readonly unauthenticated?: 'migrate' | 'refuse';
  readonly fs?: KeyStoreFs;
}

/** The open store: what a commit needs, all O(1) to update. */
interface Opened {
  readonly writer: SqliteWriter;
  key: RecordAuthKey;
  auths: Map<string, Uint8Array>;
  readonly index: StoreIndex;
  xor: Uint8Array;
  generation: number;
}

export class SqliteKeyStore implements KeyStore {
  readonly description: string;
  readonly #dataDir: string;
  readonly #path: string;
  readonly #rootKey: RootKey;
  readonly #unauthenticated: 'migrate' | 'refuse';
  readonly #fs: KeyStoreFs;
  #lock: KeyStoreLock | undefined;
  #opening = false;
  #open: Opened | undefined;
  #migratedFrom: number | undefined;
  #migratedJson = false;
  readonly #commits = new SerialQueue();

  constructor(options: SqliteKeyStoreOptions) {
    this.#dataDir = options.dataDir;
    this.#path = join(options.dataDir, DB_FILE);
    this.#rootKey = options.rootKey;
    this.#unauthenticated = options.unauthenticated ?? 'migrate';
    this.#fs = options.fs ?? nodeFs;
    this.description = `sqlite:${this.#path}`;
  }

  /** The number of commits since the store was created (0 when empty and new). */
  get generation(): number {
    if (this.#open === undefined) throw new KeyStoreError('keystore: not open');
    return this.#open.generation;
  }

  /** 1 when the last open() authenticated a version 1 keystore.json as found (trust on first use). */
  get migratedFrom(): number | undefined {
    return this.#migratedFrom;
  }

  /** Whether the last open() migrated a keystore.json into the database. */
  get migratedJson(): boolean {
    return this.#migratedJson;
  }

  async open(): Promise<StoreState> {
    if (this.#opening || this.#open !== undefined)
      throw new KeyStoreError(`keystore: ${this.#path} is already open`);
    this.#opening = true;
    try {
      const { lock, value } = await openLocked(this.#fs, this.#dataDir, () => this.#openLocked());
      this.#lock = lock;
      return value;
    } finally {
      this.#opening = false;
    }
  }

  async #openLocked(): Promise<StoreState> {
    await removeDatabaseTemps(this.#fs, this.#dataDir);
    const json = join(this.#dataDir, JSON_FILE);
    if (!(await fileExists(this.#fs, this.#path))) {
      const migrated = (await fileExists(this.#fs, json))
        ? await migrateJson(this.#fs, this.#dataDir, this.#rootKey, this.#unauthenticated)
        : await createDatabase(this.#fs, this.#dataDir, this.#rootKey);
      this.#migratedFrom = migrated.trustedOnFirstUse ? 1 : undefined;
      this.#migratedJson = migrated.fromJson;
    }
    const trusted = await readTrustedDatabase(this.#path, this.#rootKey).catch(async (e: unknown) => {
      await removeEmptySideFiles(this.#fs, this.#path);
      throw e;
    });
    if (await fileExists(this.#fs, json)) {
      // Migrated (now or by a process killed before it could remove the JSON): the database has passed every check.
      await this.#fs.unlink(json);
      await syncDirectory(this.#fs, this.#dataDir);
      this.#migratedJson = true;
    }
    const writer = await SqliteWriter.start(this.#path).catch((e: unknown) => {
      throw new KeyStoreError(`keystore: cannot open ${this.#path} for writing (${String(e)})`, { cause: e });
    });
    this.#open = {
      writer,
      key: trusted.key,
      auths: trusted.auths,
      index: new StoreIndex(trusted.state),
      xor: trusted.xor,
      generation: trusted.meta.generation,
    };
    return trusted.state;
  }

  commit(change: StoreChange): Promise<void> {
    return this.#commits.run(() => this.#commitNow(change));
  }

  /**
   * Moves the open store to another root key without closing it (serve's online root-key rotation, ADR 0024):
   * after the commits queued before it, `state` — the engine's, i.e. what the store holds — is re-wrapped under
   * `to` and written in one transaction (root-switch.ts); later commits authenticate under the new record key.
   * Resolves with the re-wrapped state. A failure changes nothing.
   */
  switchRoot(from: RootKey, to: RootKey, state: StoreState): Promise<StoreState> {
    return this.#commits.run(async () => {
      const o = this.#open;
      if (o === undefined) throw new KeyStoreError('keystore: root switch on a store that is not open');
      const sw = await rootSwitch(state, new Uint8Array(0), o.generation, from, to);
      if (sw.auths.size !== o.auths.size || [...sw.auths.keys()].some((k) => !o.auths.has(k)))
        throw new KeyStoreError(
          `keystore: ${this.#path}: the state to re-wrap is not the stored one; nothing changed`,
        );
      await o.writer.transaction(sw.statements).catch((e: unknown) => {
        const why = e instanceof SqliteError ? e.detail : String(e);
        throw new KeyStoreError(`keystore: cannot write ${this.#path} (${why}); the store is unchanged`, {
          cause: e,
        });
      });
      o.key = sw.key;
      o.auths = sw.auths;
      o.xor = sw.xor;
      return sw.state;
    });
  }

  async close(): Promise<void> {
    await this.#commits.idle();
    const open = this.#open;
    this.#open = undefined;
    await open?.writer.close();
    const lock = this.#lock;
    this.#lock = undefined;
    await lock?.release();
  }

  async #commitNow(change: StoreChange): Promise<void> {
    const o = this.#open;
    if (o === undefined) throw new KeyStoreError('keystore: commit on a store that is not open');
    try {
      // Whatever is written must open again: every new record passes the checks open() applies.
      checkChangeDecodes(change);
    } catch (e) {
      if (e instanceof RecordDecodeError)
        throw new KeyStoreError(`keystore: change refused: ${locate(e.path, e.problem)}`);
      throw e;
    }
    o.index.check(change);
    const { statements, auths, xor } = this.#rows(o, change);
    const generation = o.generation + 1;
    statements.push(...updateSeal(generation, o.key.xorSeal(generation, xor)));
    await o.writer.transaction(statements).catch((e: unknown) => {
      const why = e instanceof SqliteError ? e.detail : String(e);
      throw new KeyStoreError(`keystore: cannot write ${this.#path} (${why}); the store is unchanged`, {
        cause: e,
      });
    });
    for (const [k, auth] of auths) {
      if (auth === undefined) o.auths.delete(k);
      else o.auths.set(k, auth);
    }
    o.index.apply(change);
    o.xor = xor;
    o.generation = generation;
  }

  /** The statements of a change, the rows' new auths (undefined: deleted) and the seal XOR after it. */
  #rows(o: Opened, change: StoreChange) {
    const statements: SqlStatement[] = [];
    const auths = new Map<string, Uint8Array | undefined>();
    // XOR is its own inverse: a row's term leaves the seal the way it came in.
    const terms: Uint8Array[] = [];
    const drop = (kind: AuthenticatedKind, id: string) => {
      const old = o.auths.get(rowKey(kind, id));
      if (old !== undefined) terms.push(old);
    };
    const remove = (kind: AuthenticatedKind, id: string) => {
      drop(kind, id);
      auths.set(rowKey(kind, id), undefined);
      statements.push(deleteRow(kind, id));
    };
    const put = (kind: AuthenticatedKind, id: string, json: string) => {
      drop(kind, id);
      const auth = o.key.authOfText(kind, json);
      terms.push(auth);
      auths.set(rowKey(kind, id), auth);
      statements.push(putRow({ kind, id, json, auth }));
    };
    for (const id of change.deleteKeys ?? []) remove('Key', id);
    for (const id of change.deleteAliases ?? []) remove('Alias', id);
    for (const id of change.deleteGrants ?? []) remove('Grant', id);
    for (const record of change.putKeys ?? [])
      put('Key', record.keyId, canonicalJson(encodeRecord({ kind: 'Key', record })));
    for (const record of change.putAliases ?? [])
      put('Alias', record.aliasName, canonicalJson(encodeRecord({ kind: 'Alias', record })));
    for (const record of change.putGrants ?? [])
      put('Grant', record.grantId, canonicalJson(encodeRecord({ kind: 'Grant', record })));
    const xor = o.xor.slice();
    xorInto(xor, o.key.sealXor(terms));
    return { statements, auths, xor };
  }
}
