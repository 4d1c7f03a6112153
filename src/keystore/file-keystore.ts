/**
 * The embedded keystore: the whole state in one JSON document, `<dataDir>/keystore.json` (see
 * keystore-document.ts and docs/adr/0003-keystore-format.md), replaced atomically on every commit. Key material
 * is in it only wrapped by the root key; a root key check in the document refuses a store sealed by another key,
 * and every record is authenticated under a key wrapped by the root key (docs/adr/0013), so a record changed
 * without the root key is refused on open, naming it. A version 1 store (no record authentication) is migrated in
 * place on open, by one atomic replace, unless `unauthenticated: 'refuse'`.
 *
 * Commits are serialized; each writes the full document to a temp file, fsyncs, renames it over the old one and
 * fsyncs the directory, and only then updates the in-memory copy, so a failed commit changes nothing.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { KeyStore, RootKey } from '../engine/ports.ts';
import type { StoreChange, StoreState } from '../engine/records.ts';
import { SecretBytes } from '../engine/secret.ts';
import { removeLeftoverTemps, replaceFileAtomically } from './atomic-file.ts';
import { openLocked, SerialQueue } from './data-dir.ts';
import { type DocumentKey, readDocument, trustDocument } from './document-trust.ts';
import { KeyStoreError, locate, RecordDecodeError } from './errors.ts';
import { encodeDocument, type KeystoreDocument, ROOT_KEY_CHECK_AAD } from './keystore-document.ts';
import { type KeyStoreFs, nodeFs } from './keystore-fs.ts';
import type { KeyStoreLock } from './keystore-lock.ts';
import { RecordAuthKey } from './record-auth.ts';
import { applyStoreChange, checkChangeDecodes } from './store-change.ts';
import { checkStoreIntegrity } from './store-integrity.ts';

export const KEYSTORE_FILE = 'keystore.json';

export interface FileKeyStoreOptions {
  readonly dataDir: string;
  readonly rootKey: RootKey;
  /**
   * What to do with a version 1 store, whose records are not authenticated: `migrate` (default) authenticates
   * them as they are (trust on first use, docs/adr/0013) and rewrites the store; `refuse` refuses to open it.
   */
  readonly unauthenticated?: 'migrate' | 'refuse';
  /** File system operations; tests inject failures here. */
  readonly fs?: KeyStoreFs;
}

const EMPTY_STATE: StoreState = { keys: [], aliases: [], grants: [] };

export class FileKeyStore implements KeyStore {
  readonly description: string;
  readonly #dataDir: string;
  readonly #file: string;
  readonly #rootKey: RootKey;
  readonly #unauthenticated: 'migrate' | 'refuse';
  readonly #fs: KeyStoreFs;
  #lock: KeyStoreLock | undefined;
  #opening = false;
  /** The committed document; undefined while closed. */
  #doc: KeystoreDocument | undefined;
  /** The record authentication key of the open store. */
  #auth: DocumentKey | undefined;
  #migratedFrom: number | undefined;
  /** Commits run one after another along this chain. */
  readonly #commits = new SerialQueue();

  constructor(options: FileKeyStoreOptions) {
    this.#dataDir = options.dataDir;
    this.#file = join(options.dataDir, KEYSTORE_FILE);
    this.#rootKey = options.rootKey;
    this.#unauthenticated = options.unauthenticated ?? 'migrate';
    this.#fs = options.fs ?? nodeFs;
    this.description = `file:${this.#file}`;
  }

  /** The number of commits since the store was created (0 when empty and new). */
  get generation(): number {
    if (this.#doc === undefined) throw new KeyStoreError('keystore: not open');
    return this.#doc.generation;
  }

  /** The format version the last open() migrated from (1), or undefined when it found nothing to migrate. */
  get migratedFrom(): number | undefined {
    return this.#migratedFrom;
  }

  async open(): Promise<StoreState> {
    if (this.#opening || this.#doc !== undefined)
      throw new KeyStoreError(`keystore: ${this.#file} is already open`);
    this.#opening = true;
    try {
      const { lock, value } = await openLocked(this.#fs, this.#dataDir, async () => {
        await removeLeftoverTemps(this.#fs, this.#file);
        return (await this.#read()) ?? (await this.#create());
      });
      const [doc, auth] = value;
      this.#lock = lock;
      this.#doc = doc;
      this.#auth = auth;
      return doc.state;
    } finally {
      this.#opening = false;
    }
  }

  commit(change: StoreChange): Promise<void> {
    return this.#commits.run(() => this.#commitNow(change));
  }

  async close(): Promise<void> {
    await this.#commits.idle();
    this.#doc = undefined;
    this.#auth = undefined;
    const lock = this.#lock;
    this.#lock = undefined;
    await lock?.release();
  }

  async #commitNow(change: StoreChange): Promise<void> {
    const current = this.#doc;
    const auth = this.#auth;
    if (current === undefined || auth === undefined)
      throw new KeyStoreError('keystore: commit on a store that is not open');
    let next: KeystoreDocument;
    try {
      // Whatever is written must open again: the new records pass the checks open() applies (the others did
      // when they were stored), and so does the integrity of the whole new state.
      checkChangeDecodes(change);
      const state = applyStoreChange(current.state, change);
      checkStoreIntegrity(state);
      next = { rootKeyCheck: current.rootKeyCheck, generation: current.generation + 1, state };
    } catch (e) {
      if (e instanceof RecordDecodeError)
        throw new KeyStoreError(`keystore: change refused: ${locate(e.path, e.problem)}`);
      throw e;
    }
    await replaceFileAtomically(this.#fs, this.#file, encodeDocument(next, auth.wrapped, auth.key));
    this.#doc = next;
  }

  /** The stored document and its key, or undefined when there is none yet. Refuses anything it cannot trust. */
  async #read(): Promise<[KeystoreDocument, DocumentKey] | undefined> {
    const doc = await readDocument(this.#fs, this.#file);
    if (doc === undefined) return undefined;
    const auth = await trustDocument(doc, this.#rootKey, this.#file);
    if (auth !== undefined) return [doc, auth];
    if (this.#unauthenticated === 'refuse') {
      throw new KeyStoreError(
        `keystore: ${this.#file}: formatVersion ${doc.formatVersion}: its records are not authenticated and ` +
          'migrating unauthenticated stores is turned off; refusing to open it',
      );
    }
    // Trust on first use: the records are authenticated as they are now (docs/adr/0013). One atomic replace, so
    // a crash leaves either the old version 1 file (migrated again on the next open) or the new one.
    const fresh = await RecordAuthKey.generate(this.#rootKey);
    const migrated: KeystoreDocument = {
      rootKeyCheck: doc.rootKeyCheck,
      generation: doc.generation,
      state: doc.state,
    };
    await replaceFileAtomically(this.#fs, this.#file, encodeDocument(migrated, fresh.wrapped, fresh.key));
    this.#migratedFrom = doc.formatVersion;
    return [migrated, fresh];
  }

  async #create(): Promise<[KeystoreDocument, DocumentKey]> {
    const check = new SecretBytes(new Uint8Array(randomBytes(32)));
    const doc: KeystoreDocument = {
      rootKeyCheck: await this.#rootKey.wrap(check, ROOT_KEY_CHECK_AAD),
      generation: 0,
      state: EMPTY_STATE,
    };
    check.wipe();
    const auth = await RecordAuthKey.generate(this.#rootKey);
    await replaceFileAtomically(this.#fs, this.#file, encodeDocument(doc, auth.wrapped, auth.key));
    return [doc, auth];
  }
}
