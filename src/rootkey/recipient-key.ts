/**
 * Escrow to a recipient's X25519 public key (docs/adr/0020-escrow-to-a-recipient.md): `kubekms backup
 * --escrow-recipient FILE` re-wraps every key version under a key that only the holder of the matching private key
 * can derive, so a backup kept off site needs neither the HSM nor a passphrase typed at backup time.
 *
 * DHKEM-shaped (as HPKE's DHKEM(X25519, HKDF-SHA256), not its wire format): one ephemeral key pair per backup,
 *
 *   dh  = X25519(ephemeral private, recipient public)           (all-zero refused: a low-order recipient key)
 *   key = HKDF-SHA256(ikm = dh, salt = enc || recipient, info = "kubekms/escrow-recipient/v1", 32 bytes)
 *
 * where `enc` is the ephemeral public key (stored in the backup) and both public keys are raw 32 bytes. The key is
 * a FileRootKey, so the re-wrap is the same AES-256-GCM as everywhere. Keys are PEM files as `openssl genpkey
 * -algorithm X25519` writes them (PKCS#8 private, SPKI public); the private key file must be mode 0600.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
} from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { SecretBytes } from '../engine/secret.ts';
import { RootKeyError } from './errors.ts';
import { FileRootKey } from './file-root-key.ts';

export const RECIPIENT_SCHEME = 'X25519-HKDF-SHA256';
const INFO = 'kubekms/escrow-recipient/v1';
const RAW_BYTES = 32;
const MAX_PEM_BYTES = 4096;

/** What a backup sealed to a recipient stores beside its records: both public keys, raw. */
export interface RecipientSeal {
  readonly scheme: typeof RECIPIENT_SCHEME;
  /** The recipient's public key. */
  readonly recipient: Uint8Array;
  /** The ephemeral public key of this backup. */
  readonly enc: Uint8Array;
}

/** A short non-secret name for a recipient key, to tell keys apart in messages. */
export function recipientFingerprint(raw: Uint8Array): string {
  return createHash('sha256')
    .update('kubekms/escrow-recipient-fingerprint\0')
    .update(raw)
    .digest('hex')
    .slice(0, 16);
}

/** The raw public key in an X25519 SPKI PEM file; errors name the file (`what`, e.g. `--escrow-recipient`). */
export async function readRecipientPublicKey(path: string, what: string): Promise<Uint8Array> {
  const pem = await readPem(path, what);
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw new RootKeyError(
      `rootkey: ${what} ${path}: not a PEM public key (openssl pkey -pubout writes one)`,
    );
  }
  return rawPublic(key, what, path);
}

/** The X25519 private key in a PKCS#8 PEM file readable only by its owner. */
export async function readRecipientPrivateKey(path: string, what: string): Promise<KeyObject> {
  const info = await stat(path).catch((e: unknown) => {
    throw new RootKeyError(`rootkey: cannot read ${what} ${path}: ${codeOf(e)}`, { cause: e });
  });
  const mode = info.mode & 0o777;
  if ((mode & 0o077) !== 0)
    throw new RootKeyError(
      `rootkey: ${what} ${path} has mode 0${mode.toString(8)}, so group or others can access it; run chmod 600 ${path}`,
    );
  const pem = await readPem(path, what);
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new RootKeyError(`rootkey: ${what} ${path}: not a PEM private key (openssl genpkey writes one)`);
  }
  if (key.asymmetricKeyType !== 'x25519')
    throw new RootKeyError(`rootkey: ${what} ${path}: an ${key.asymmetricKeyType} key; expected X25519`);
  return key;
}

/** A fresh escrow key for `recipient` and what the backup must store to derive it again. */
export function sealToRecipient(recipient: Uint8Array): { key: FileRootKey; seal: RecipientSeal } {
  const peer = publicFromRaw(recipient);
  const eph = generateKeyPairSync('x25519');
  const enc = rawPublic(eph.publicKey, 'ephemeral key', '');
  const key = derive(eph.privateKey, peer, enc, recipient);
  return { key, seal: { scheme: RECIPIENT_SCHEME, recipient: Uint8Array.from(recipient), enc } };
}

/** The escrow key of `seal` with the recipient's private key; refuses a private key of another recipient. */
export function openForRecipient(privateKey: KeyObject, seal: RecipientSeal, what: string): FileRootKey {
  const mine = rawPublic(createPublicKey(privateKey), what, '');
  if (!Buffer.from(mine).equals(Buffer.from(seal.recipient)))
    throw new RootKeyError(
      `rootkey: ${what}: not the private key of this backup's recipient (the backup is sealed to ` +
        `${recipientFingerprint(seal.recipient)}, this key is ${recipientFingerprint(mine)})`,
    );
  return derive(privateKey, publicFromRaw(seal.enc), seal.enc, seal.recipient);
}

function derive(priv: KeyObject, peer: KeyObject, enc: Uint8Array, recipient: Uint8Array): FileRootKey {
  const dh = new Uint8Array(diffieHellman({ privateKey: priv, publicKey: peer }));
  if (dh.every((b) => b === 0))
    throw new RootKeyError('rootkey: X25519 gave an all-zero secret (a low-order key)');
  const salt = Buffer.concat([enc, recipient]);
  const okm = new Uint8Array(hkdfSync('sha256', dh, salt, INFO, RAW_BYTES));
  dh.fill(0);
  return FileRootKey.fromSecret(`escrow recipient ${recipientFingerprint(recipient)}`, new SecretBytes(okm));
}

function publicFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== RAW_BYTES) throw new RootKeyError(`rootkey: an X25519 public key is ${RAW_BYTES} bytes`);
  const x = Buffer.from(raw).toString('base64url');
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' });
}

function rawPublic(key: KeyObject, what: string, path: string): Uint8Array {
  if (key.asymmetricKeyType !== 'x25519')
    throw new RootKeyError(
      `rootkey: ${what}${path === '' ? '' : ` ${path}`}: an ${key.asymmetricKeyType} key; expected X25519`,
    );
  const jwk = key.export({ format: 'jwk' });
  return new Uint8Array(Buffer.from(jwk.x ?? '', 'base64url'));
}

async function readPem(path: string, what: string): Promise<string> {
  const bytes = await readFile(path).catch((e: unknown) => {
    throw new RootKeyError(`rootkey: cannot read ${what} ${path}: ${codeOf(e)}`, { cause: e });
  });
  if (bytes.length > MAX_PEM_BYTES)
    throw new RootKeyError(`rootkey: ${what} ${path} holds ${bytes.length} bytes; at most ${MAX_PEM_BYTES}`);
  return bytes.toString('utf8');
}

function codeOf(e: unknown): string {
  if (e instanceof Error && 'code' in e && typeof e.code === 'string') return e.code;
  return e instanceof Error ? e.message : String(e);
}
