/**
 * The `file` root of trust: a 32-byte AES-256 key in a file readable only by its owner. It wraps key material
 * with AES-256-GCM (node:crypto) and a fresh random 96-bit nonce per wrap:
 *
 *   wrapped = 0x01 || nonce(12) || ciphertext || tag(16)      AAD = the caller's AAD
 *
 * The leading byte is the format version of the wrapped blob. The key lives in a KeyObject (outside the JS heap)
 * and is never logged; `description` carries only a fingerprint.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createSecretKey,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import { constants, open, readFile, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { RootKey, RootKeyIdentity } from '../engine/ports.ts';
import { SecretBytes } from '../engine/secret.ts';
import { RootKeyError, RootKeyExistsError, RootKeyMismatchError } from './errors.ts';
import { parseRootKeyFile, ROOT_KEY_BYTES } from './key-file-format.ts';

const WRAP_FORMAT = 0x01;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const FINGERPRINT_LABEL = Buffer.from('kubekms/root-key-fingerprint', 'utf8');

export class FileRootKey implements RootKey {
  readonly description: string;
  readonly identity: RootKeyIdentity;
  readonly #key: KeyObject;

  private constructor(label: string, keyBytes: Uint8Array) {
    const fingerprint = createHash('sha256')
      .update(FINGERPRINT_LABEL)
      .update(keyBytes)
      .digest()
      .subarray(0, 8);
    this.identity = { kind: 'file', fingerprint: fingerprint.toString('hex') };
    this.description = `${label} (fingerprint ${this.identity.fingerprint})`;
    this.#key = createSecretKey(keyBytes);
    keyBytes.fill(0);
  }

  /**
   * A root key of the same format from 32 secret bytes that are not in a file (a key derived from a backup's
   * escrow passphrase). Takes the bytes and wipes them; `label` starts the description.
   */
  static fromSecret(label: string, key: SecretBytes): FileRootKey {
    if (key.length !== ROOT_KEY_BYTES) throw new RootKeyError(`rootkey: ${label}: not a 32-byte key`);
    const root = new FileRootKey(label, Uint8Array.from(key.unsafeBytes()));
    key.wipe();
    return root;
  }

  /**
   * Loads a root key file (raw 32 bytes, 64 hex digits or 44 base64 characters; see key-file-format.ts).
   * Refuses a file that group or others may access, and a file of the wrong size.
   */
  static async load(path: string): Promise<FileRootKey> {
    const info = await stat(path).catch((e: unknown) => {
      throw new RootKeyError(`rootkey: cannot read root key file ${path}: ${errorCode(e)}`, { cause: e });
    });
    if (!info.isFile()) throw new RootKeyError(`rootkey: root key file ${path} is not a regular file`);
    const mode = info.mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw new RootKeyError(
        `rootkey: root key file ${path} has mode 0${mode.toString(8)}, so group or others can access it; ` +
          `run chmod 600 ${path}`,
      );
    }
    const content = await readFile(path).catch((e: unknown) => {
      throw new RootKeyError(`rootkey: cannot read root key file ${path}: ${errorCode(e)}`, { cause: e });
    });
    const parsed = parseRootKeyFile(content);
    content.fill(0);
    if (typeof parsed === 'string') throw new RootKeyError(`rootkey: root key file ${path}: ${parsed}`);
    if (parsed.every((b) => b === 0)) {
      throw new RootKeyError(
        `rootkey: root key file ${path} holds an all-zero key; generate it from a random source`,
      );
    }
    return new FileRootKey(`file:${path}`, parsed);
  }

  /**
   * Creates a new random root key file (raw 32 bytes, mode 0600) and returns it. Never overwrites: fails if the
   * file exists. The file and its directory entry are fsynced before this resolves.
   */
  static async create(path: string): Promise<FileRootKey> {
    const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600).catch(
      (e: unknown) => {
        if (errorCode(e) === 'EEXIST') {
          throw new RootKeyExistsError(path, { cause: e });
        }
        throw new RootKeyError(`rootkey: cannot create root key file ${path}: ${errorCode(e)}`, { cause: e });
      },
    );
    const key = new Uint8Array(randomBytes(ROOT_KEY_BYTES));
    try {
      await fh.writeFile(key);
      await fh.sync();
      await fh.close();
      await syncDirectory(dirname(path));
    } catch (e) {
      key.fill(0);
      await fh.close().catch(() => {});
      await unlink(path).catch(() => {});
      throw new RootKeyError(`rootkey: cannot write root key file ${path}: ${errorCode(e)}`, { cause: e });
    }
    return new FileRootKey(`file:${path}`, key);
  }

  async wrap(plaintext: SecretBytes, aad: Uint8Array): Promise<Uint8Array> {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad);
    const body = cipher.update(plaintext.unsafeBytes());
    const tail = cipher.final();
    const tag = cipher.getAuthTag();
    const out = new Uint8Array(1 + NONCE_BYTES + body.length + tail.length + TAG_BYTES);
    out[0] = WRAP_FORMAT;
    out.set(nonce, 1);
    out.set(body, 1 + NONCE_BYTES);
    out.set(tail, 1 + NONCE_BYTES + body.length);
    out.set(tag, out.length - TAG_BYTES);
    return out;
  }

  async unwrap(wrapped: Uint8Array, aad: Uint8Array): Promise<SecretBytes> {
    if (wrapped.length < 1 + NONCE_BYTES + TAG_BYTES || wrapped[0] !== WRAP_FORMAT)
      throw new RootKeyMismatchError();
    const nonce = wrapped.subarray(1, 1 + NONCE_BYTES);
    const body = wrapped.subarray(1 + NONCE_BYTES, wrapped.length - TAG_BYTES);
    const tag = wrapped.subarray(wrapped.length - TAG_BYTES);
    let head: Buffer | undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, nonce, { authTagLength: TAG_BYTES });
      decipher.setAAD(aad);
      decipher.setAuthTag(tag);
      head = decipher.update(body);
      const tail = decipher.final();
      const out = new Uint8Array(head.length + tail.length);
      out.set(head);
      out.set(tail, head.length);
      tail.fill(0);
      return new SecretBytes(out);
    } catch {
      throw new RootKeyMismatchError();
    } finally {
      head?.fill(0);
    }
  }
}

/** fsyncs a directory so that a file created or renamed in it survives a crash. */
async function syncDirectory(path: string): Promise<void> {
  const dir = await open(path, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

function errorCode(e: unknown): string {
  if (e instanceof Error && 'code' in e && typeof e.code === 'string') return e.code;
  return e instanceof Error ? e.message : String(e);
}
