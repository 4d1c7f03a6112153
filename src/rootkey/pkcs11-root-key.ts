/**
 * The `pkcs11` root of trust: the root key is a non-extractable, sensitive AES-256 secret-key object inside a
 * PKCS#11 token (an HSM), found by its CKA_LABEL. Wrapping and unwrapping run inside the token with CKM_AES_GCM:
 *
 *   wrapped = 0x02 || iv(12) || ciphertext || tag(16)      AAD = the caller's AAD, 128-bit tag
 *
 * The leading byte is the format version (0x01 is the file root key's format, so a blob of one provider is never
 * mistaken for the other's). The 96-bit IV comes from node:crypto's CSPRNG; it only has to be unique per key.
 *
 * Sessions: one logged-in session per root key. Calls on it are serialized (a PKCS#11 session runs one operation
 * at a time) and run on the binding's worker threads (C_EncryptAsync / C_DecryptAsync), so the event loop never
 * waits for the HSM. When the token reports that the session is gone (CKR_SESSION_HANDLE_INVALID,
 * CKR_SESSION_CLOSED, CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT, CKR_USER_NOT_LOGGED_IN, a lost key handle), the
 * session is re-opened, logged in again and the key found again, and the call retried once. `close()` closes the
 * session and, with the last user of the module in this process, calls C_Finalize. See docs/adr/0010.
 */
import { createHash, randomBytes } from 'node:crypto';
import { basename } from 'node:path';
import type { RootKey, RootKeyIdentity } from '../engine/ports.ts';
import { SecretBytes } from '../engine/secret.ts';
import { RootKeyError, RootKeyMismatchError } from './errors.ts';
import {
  CKM_AES_GCM,
  CKR,
  ckrCode,
  ckrName,
  type Handle,
  type Mechanism,
  type Pkcs11Api,
  type Pkcs11Binding,
} from './pkcs11-binding.ts';
import { acquirePkcs11Module, type Pkcs11Module } from './pkcs11-module.ts';
import {
  checkTarget,
  closeQuietly,
  findRootKey,
  generateRootKey,
  openLoggedInSession,
  type Pkcs11Target,
  type ResolvedSlot,
  resolveSlot,
} from './pkcs11-token.ts';

export const PKCS11_WRAP_FORMAT = 0x02;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Errors after which the session (and with it the login and the key handle) is re-opened. */
const REOPEN = new Set<number>([
  CKR.SESSION_HANDLE_INVALID,
  CKR.SESSION_CLOSED,
  CKR.DEVICE_REMOVED,
  CKR.TOKEN_NOT_PRESENT,
  CKR.USER_NOT_LOGGED_IN,
  CKR.KEY_HANDLE_INVALID,
  CKR.OBJECT_HANDLE_INVALID,
  CKR.OPERATION_ACTIVE,
  CKR.CRYPTOKI_NOT_INITIALIZED,
]);

/** Errors of C_Decrypt that mean "not this key, not this AAD, or altered" (the tag did not verify). */
const NOT_OURS = new Set<number>([
  CKR.ENCRYPTED_DATA_INVALID,
  CKR.ENCRYPTED_DATA_LEN_RANGE,
  CKR.AEAD_DECRYPT_FAILED,
  CKR.DATA_INVALID,
  CKR.DATA_LEN_RANGE,
]);

/** The part of a logger the root key uses: one warning line per re-opened session. */
export interface Pkcs11Log {
  warn(obj: object, msg: string): void;
}

export interface Pkcs11RootKeyOptions extends Pkcs11Target {
  /** The user PIN (never logged). Kept in memory to log in again after a lost session. */
  readonly pin: string;
  readonly log?: Pkcs11Log | undefined;
  /** Tests only: replaces the npm binding. */
  readonly binding?: (() => Promise<Pkcs11Binding>) | undefined;
}

interface Session {
  readonly slot: ResolvedSlot;
  readonly handle: Handle;
  readonly key: Handle;
}

export class Pkcs11RootKey implements RootKey {
  readonly description: string;
  readonly identity: RootKeyIdentity;
  readonly #module: Pkcs11Module;
  readonly #target: Pkcs11Target;
  readonly #pin: string;
  readonly #log: Pkcs11Log | undefined;
  #session: Session | undefined;
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(module: Pkcs11Module, options: Pkcs11RootKeyOptions, session: Session) {
    this.#module = module;
    this.#target = {
      modulePath: options.modulePath,
      slot: options.slot,
      tokenLabel: options.tokenLabel,
      keyLabel: options.keyLabel,
    };
    this.#pin = options.pin;
    this.#log = options.log;
    this.#session = session;
    this.description =
      `pkcs11:${basename(options.modulePath)} slot ${session.slot.id} token ${session.slot.tokenLabel} ` +
      `label ${options.keyLabel}`;
    // Names the token (its serial and label) and the key (its label): the key itself cannot leave the HSM.
    const fingerprint = createHash('sha256')
      .update(`kubekms/pkcs11-root-key-fingerprint\0${session.slot.serial}\0${session.slot.tokenLabel}\0`)
      .update(options.keyLabel)
      .digest('hex')
      .slice(0, 16);
    this.identity = { kind: 'pkcs11', fingerprint };
  }

  /**
   * Loads the module, finds the slot and the key, and opens the logged-in session. Fails with a RootKeyError that
   * names what is missing (binding, module, slot, token, login, key, key attributes).
   */
  static async open(options: Pkcs11RootKeyOptions): Promise<Pkcs11RootKey> {
    checkTarget(options);
    const module = await acquirePkcs11Module(options.modulePath, options.binding);
    try {
      const session = openSession(module.api, options, options.pin);
      return new Pkcs11RootKey(module, options, session);
    } catch (e) {
      module.release();
      throw e;
    }
  }

  /**
   * Creates the root key in the token (C_GenerateKey, CKM_AES_KEY_GEN, 32 bytes, sensitive, non-extractable) and
   * opens it. Refuses (RootKeyExistsError) when a secret key with the label exists.
   */
  static async create(options: Pkcs11RootKeyOptions): Promise<Pkcs11RootKey> {
    checkTarget(options);
    const module = await acquirePkcs11Module(options.modulePath, options.binding);
    try {
      const slot = resolveSlot(module.api, options);
      const session = openLoggedInSession(module.api, slot, options.pin, true);
      try {
        generateRootKey(module.api, session, slot, options);
      } finally {
        closeQuietly(module.api, session);
      }
      return await Pkcs11RootKey.open(options);
    } finally {
      module.release();
    }
  }

  async wrap(plaintext: SecretBytes, aad: Uint8Array): Promise<Uint8Array> {
    // PKCS#11 bindings pass an empty buffer as a NULL pointer (CKR_ARGUMENTS_BAD); key material is never empty.
    if (plaintext.length === 0) throw new RootKeyError('rootkey: nothing to wrap: the plaintext is empty');
    const iv = randomBytes(IV_BYTES);
    const input = Buffer.from(plaintext.unsafeBytes());
    try {
      const sealed = await this.#withSession('C_Encrypt', async (api, s) => {
        api.C_EncryptInit(s.handle, this.#gcm(iv, aad), s.key);
        return api.C_EncryptAsync(s.handle, input, Buffer.alloc(input.length + TAG_BYTES));
      });
      const out = new Uint8Array(1 + IV_BYTES + sealed.length);
      out[0] = PKCS11_WRAP_FORMAT;
      out.set(iv, 1);
      out.set(sealed, 1 + IV_BYTES);
      return out;
    } finally {
      input.fill(0);
    }
  }

  async unwrap(wrapped: Uint8Array, aad: Uint8Array): Promise<SecretBytes> {
    if (wrapped.length < 1 + IV_BYTES + TAG_BYTES || wrapped[0] !== PKCS11_WRAP_FORMAT)
      throw new RootKeyMismatchError();
    const iv = Buffer.from(wrapped.subarray(1, 1 + IV_BYTES));
    const body = Buffer.from(wrapped.subarray(1 + IV_BYTES));
    const out = Buffer.alloc(body.length);
    try {
      const plain = await this.#withSession('C_Decrypt', async (api, s) => {
        api.C_DecryptInit(s.handle, this.#gcm(iv, aad), s.key);
        try {
          return await api.C_DecryptAsync(s.handle, body, out);
        } catch (e) {
          if (NOT_OURS.has(ckrCode(e) ?? -1)) throw new RootKeyMismatchError();
          // SoftHSM2 (and some HSMs) report a failed GCM tag as CKR_GENERAL_ERROR. Tell that apart from a token
          // in trouble with a probe round trip: if the token wraps and unwraps fine, the blob was not ours.
          if (ckrCode(e) === CKR.GENERAL_ERROR && (await this.#probe(api, s)))
            throw new RootKeyMismatchError();
          throw e;
        }
      });
      return SecretBytes.copyOf(plain);
    } finally {
      out.fill(0);
    }
  }

  /** Closes the session and releases the module (C_Finalize when it was the last user in the process). */
  async close(): Promise<void> {
    await this.#exclusive(async () => this.closeSync());
  }

  /** `close()` without waiting for queued calls: for a process exit hook. Idempotent. */
  closeSync(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#session !== undefined) closeQuietly(this.#module.api, this.#session.handle);
    this.#session = undefined;
    this.#module.release();
  }

  #gcm(iv: Buffer, aad: Uint8Array): Mechanism {
    return {
      mechanism: CKM_AES_GCM,
      parameter: {
        type: this.#module.gcmParamsType,
        iv,
        ivBits: IV_BYTES * 8,
        aad: Buffer.from(aad),
        tagBits: TAG_BYTES * 8,
      },
    };
  }

  /** A wrap/unwrap round trip of random bytes under a random AAD: does the token work at all? */
  async #probe(api: Pkcs11Api, s: Session): Promise<boolean> {
    try {
      const iv = randomBytes(IV_BYTES);
      const aad = randomBytes(16);
      const data = randomBytes(16);
      api.C_EncryptInit(s.handle, this.#gcm(iv, aad), s.key);
      const sealed = await api.C_EncryptAsync(s.handle, data, Buffer.alloc(data.length + TAG_BYTES));
      api.C_DecryptInit(s.handle, this.#gcm(iv, aad), s.key);
      const back = await api.C_DecryptAsync(s.handle, sealed, Buffer.alloc(sealed.length));
      return back.equals(data);
    } catch {
      return false;
    }
  }

  /** Runs `fn` after every call queued before it (one operation at a time on the session). */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(fn, fn);
    this.#tail = run.catch(() => undefined);
    return run;
  }

  #withSession<T>(call: string, op: (api: Pkcs11Api, s: Session) => Promise<T>): Promise<T> {
    return this.#exclusive(async () => {
      for (let attempt = 0; ; attempt++) {
        if (this.#closed) throw new RootKeyError(`rootkey: ${this.description} is closed`);
        const api = this.#module.api;
        let s = this.#session;
        if (s === undefined) {
          s = openSession(api, this.#target, this.#pin);
          this.#session = s;
        }
        try {
          return await op(api, s);
        } catch (e) {
          if (e instanceof RootKeyError) throw e;
          const code = ckrCode(e);
          if (attempt === 0 && code !== undefined && REOPEN.has(code)) {
            this.#log?.warn(
              { rootKey: this.description, reason: ckrName(e) },
              'pkcs11 root key: session lost; re-opening and logging in again',
            );
            closeQuietly(api, s.handle);
            this.#session = undefined;
            continue;
          }
          if (code !== undefined && REOPEN.has(code)) this.#session = undefined;
          throw new RootKeyError(`rootkey: ${call} in ${this.description} failed: ${ckrName(e)}`, {
            cause: e,
          });
        }
      }
    });
  }
}

/** Resolves the slot, logs in and finds the key. Token errors become RootKeyErrors naming the step. */
function openSession(api: Pkcs11Api, target: Pkcs11Target, pin: string): Session {
  const slot = resolveSlot(api, target);
  const handle = openLoggedInSession(api, slot, pin, false);
  try {
    return { slot, handle, key: findRootKey(api, handle, slot, target) };
  } catch (e) {
    closeQuietly(api, handle);
    if (e instanceof RootKeyError) throw e;
    throw new RootKeyError(
      `rootkey: cannot find the root key in ${basename(target.modulePath)}: ${ckrName(e)}`,
      {
        cause: e,
      },
    );
  }
}
