/**
 * The embedded keystore: the whole state in one JSON document, `<dataDir>/keystore.json` (see
 * keystore-document.ts and docs/adr/0003-keystore-format.md), replaced atomically on every commit. Key material
 * is in it only wrapped by the root key; a root key check in the document refuses a store sealed by another key.
 *
 * Commits are serialized; each writes the full document to a temp file, fsyncs, renames it over the old one and
 * fsyncs the directory, and only then updates the in-memory copy, so a failed commit changes nothing.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { KeyStore, RootKey } from '../engine/ports.ts';
import type { StoreChange, StoreState } from '../engine/records.ts';
import { SecretBytes } from '../engine/secret.ts';
import { RootKeyMismatchError } from '../rootkey/errors.ts';
import { removeLeftoverTemps, replaceFileAtomically } from './atomic-file.ts';
import { KeyStoreError, locate, RecordDecodeError } from './errors.ts';
import {
  decodeDocument,
  encodeDocument,
  type KeystoreDocument,
  ROOT_KEY_CHECK_AAD,
} from './keystore-document.ts';
import { errorCode, type KeyStoreFs, nodeFs } from './keystore-fs.ts';
import { KeyStoreLock } from './keystore-lock.ts';
import { applyStoreChange, checkChangeDecodes } from './store-change.ts';
import { checkStoreIntegrity } from './store-integrity.ts';

export const KEYSTORE_FILE = 'keystore.json';

export interface FileKeyStoreOptions {
  readonly dataDir: string;
  readonly rootKey: RootKey;
  /** File system operations; tests inject failures here. */
  readonly fs?: KeyStoreFs;
}

const EMPTY_STATE: StoreState = { keys: [], aliases: [], grants: [] };
const utf8 = new TextDecoder('utf-8', { fatal: true });

export class FileKeyStore implements KeyStore {
  readonly description: string;
  readonly #dataDir: string;
  readonly #file: string;
  readonly #rootKey: RootKey;
  readonly #fs: KeyStoreFs;
  #lock: KeyStoreLock | undefined;
  #opening = false;
  /** The committed document; undefined while closed. */
  #doc: KeystoreDocument | undefined;
  /** Commits run one after another along this chain. */
  #tail: Promise<void> = Promise.resolve();

  constructor(options: FileKeyStoreOptions) {
    this.#dataDir = options.dataDir;
    this.#file = join(options.dataDir, KEYSTORE_FILE);
    this.#rootKey = options.rootKey;
    this.#fs = options.fs ?? nodeFs;
    this.description = `file:${this.#file}`;
  }

  /** The number of commits since the store was created (0 when empty and new). */
  get generation(): number {
    if (this.#doc === undefined) throw new KeyStoreError('keystore: not open');
    return this.#doc.generation;
  }

  async open(): Promise<StoreState> {
    if (this.#opening || this.#doc !== undefined)
      throw new KeyStoreError(`keystore: ${this.#file} is already open`);
    this.#opening = true;
    try {
      await this.#fs.mkdir(this.#dataDir, { recursive: true, mode: 0o700 }).catch((e: unknown) => {
        throw new KeyStoreError(`keystore: cannot create data dir ${this.#dataDir} (${errorCode(e)})`, {
          cause: e,
        });
      });
      const lock = await KeyStoreLock.acquire(this.#fs, this.#dataDir);
      try {
        await removeLeftoverTemps(this.#fs, this.#file);
        const doc = (await this.#read()) ?? (await this.#create());
        this.#lock = lock;
        this.#doc = doc;
        return doc.state;
      } catch (e) {
        await lock.release();
        throw e;
      }
    } finally {
      this.#opening = false;
    }
  }

  commit(change: StoreChange): Promise<void> {
    const run = this.#tail.then(() => this.#commitNow(change));
    this.#tail = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  async close(): Promise<void> {
    await this.#tail;
    this.#doc = undefined;
    const lock = this.#lock;
    this.#lock = undefined;
    await lock?.release();
  }

  async #commitNow(change: StoreChange): Promise<void> {
    const current = this.#doc;
    if (current === undefined) throw new KeyStoreError('keystore: commit on a store that is not open');
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
    await replaceFileAtomically(this.#fs, this.#file, encodeDocument(next));
    this.#doc = next;
  }

  /** The stored document, or undefined when there is none yet. Refuses anything it does not fully understand. */
  async #read(): Promise<KeystoreDocument | undefined> {
    const bytes = await this.#fs.readFile(this.#file).catch((e: unknown) => {
      if (errorCode(e) === 'ENOENT') return undefined;
      throw new KeyStoreError(`keystore: cannot read ${this.#file} (${errorCode(e)})`, { cause: e });
    });
    if (bytes === undefined) return undefined;
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch {
      throw new KeyStoreError(`keystore: ${this.#file}: not valid UTF-8: corrupt; refusing to open it`);
    }
    let doc: KeystoreDocument;
    try {
      doc = decodeDocument(text);
    } catch (e) {
      if (e instanceof RecordDecodeError) {
        throw new KeyStoreError(`keystore: ${this.#file}: ${locate(e.path, e.problem)}; refusing to open it`);
      }
      throw e;
    }
    await this.#checkRootKey(doc.rootKeyCheck);
    return doc;
  }

  async #checkRootKey(rootKeyCheck: Uint8Array): Promise<void> {
    try {
      (await this.#rootKey.unwrap(rootKeyCheck, ROOT_KEY_CHECK_AAD)).wipe();
    } catch (e) {
      if (e instanceof RootKeyMismatchError) {
        throw new KeyStoreError(
          `keystore: ${this.#file} is sealed under a different root key than ${this.#rootKey.description}; ` +
            'start kubekms with the root key that created this store',
        );
      }
      throw new KeyStoreError(`keystore: cannot check the root key of ${this.#file}: ${errorCode(e)}`, {
        cause: e,
      });
    }
  }

  async #create(): Promise<KeystoreDocument> {
    const check = new SecretBytes(new Uint8Array(randomBytes(32)));
    const doc: KeystoreDocument = {
      rootKeyCheck: await this.#rootKey.wrap(check, ROOT_KEY_CHECK_AAD),
      generation: 0,
      state: EMPTY_STATE,
    };
    check.wipe();
    await replaceFileAtomically(this.#fs, this.#file, encodeDocument(doc));
    return doc;
  }
}
