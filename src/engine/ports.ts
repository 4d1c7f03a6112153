/**
 * The engine's ports: everything that is not pure computation reaches the engine through these interfaces.
 * Implementations live in src/crypto (primitives), src/keystore (persistence) and src/rootkey (root of trust).
 */

import type { StoreChange, StoreState } from './records.ts';
import type { SecretBytes } from './secret.ts';
import type {
  AsymmetricKeySpec,
  EccKeySpec,
  HashAlgorithm,
  MessageType,
  RsaEncryptionAlgorithm,
  SigningAlgorithm,
} from './specs.ts';

/**
 * Cryptographic primitives. Nonces are generated inside the primitive and cannot be passed in; algorithms come
 * from closed unions. Failures of authenticated decryption return `undefined` and say nothing else.
 */
export interface CryptoProvider {
  readonly name: string;
  randomBytes(length: number): Uint8Array;

  /**
   * AES-GCM (key of 16 or 32 bytes) with a fresh random 96-bit nonce. Returns
   * `prefix || nonce(12) || ciphertext || tag(16)` in one buffer; `prefix` is copied, not authenticated
   * (put it in `aad` to authenticate it).
   */
  aesGcmSeal(key: SecretBytes, plaintext: Uint8Array, aad: Uint8Array, prefix?: Uint8Array): Uint8Array;
  /** Opens `nonce(12) || ciphertext || tag(16)`; `undefined` on any failure. */
  aesGcmOpen(key: SecretBytes, sealed: Uint8Array, aad: Uint8Array): Uint8Array | undefined;

  hmac(hash: HashAlgorithm, key: SecretBytes, message: Uint8Array): Uint8Array;
  digest(hash: HashAlgorithm, data: Uint8Array): Uint8Array;

  /** A new key pair: the private key as PKCS#8 DER, the public key as SubjectPublicKeyInfo DER. */
  generateKeyPair(spec: AsymmetricKeySpec): { privateKey: SecretBytes; publicKey: Uint8Array };

  /**
   * Signs. RAW messages are hashed by the algorithm's hash (pure Ed25519 and ML-DSA sign the message itself);
   * DIGEST messages are already hashed. ECDSA signatures are DER; RSA-PSS uses salt length = hash length.
   */
  sign(
    spec: AsymmetricKeySpec,
    algorithm: SigningAlgorithm,
    privateKey: SecretBytes,
    message: Uint8Array,
    messageType: MessageType,
  ): Uint8Array;
  verify(
    spec: AsymmetricKeySpec,
    algorithm: SigningAlgorithm,
    publicKey: Uint8Array,
    message: Uint8Array,
    messageType: MessageType,
    signature: Uint8Array,
  ): boolean;

  rsaOaepEncrypt(algorithm: RsaEncryptionAlgorithm, publicKey: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /** `undefined` on any failure (wrong key, bad padding, wrong length). */
  rsaOaepDecrypt(
    algorithm: RsaEncryptionAlgorithm,
    privateKey: SecretBytes,
    ciphertext: Uint8Array,
  ): Uint8Array | undefined;

  /** ECDH: the raw shared secret (x coordinate). Throws `InvalidPublicKey` if the peer key is not on the curve. */
  ecdh(spec: EccKeySpec, privateKey: SecretBytes, peerPublicKey: Uint8Array): SecretBytes;

  /** Checks that `publicKey` is a well-formed SPKI DER key of `spec`. */
  isValidPublicKey(spec: AsymmetricKeySpec, publicKey: Uint8Array): boolean;
}

/** The root of trust: wraps and unwraps key material. The root key itself never leaves the provider. */
export interface RootKeyIdentity {
  readonly kind: 'file' | 'pkcs11';
  /** 16 hex digits: file, a hash of the key; pkcs11, a hash of the token's serial and label and the key label. */
  readonly fingerprint: string;
}

export interface RootKey {
  /** A non-secret description, e.g. "file:/etc/kubekms/root.key (fingerprint 3f2a…)". */
  readonly description: string;
  /** Which root of trust, for logs and `kubekms doctor`: its provider and a non-secret fingerprint. */
  readonly identity?: RootKeyIdentity;
  wrap(plaintext: SecretBytes, aad: Uint8Array): Promise<Uint8Array>;
  /** Rejects (with RootKeyMismatchError) when the blob was not wrapped by this root key with this AAD. */
  unwrap(wrapped: Uint8Array, aad: Uint8Array): Promise<SecretBytes>;
}

/** Persistence of key state. Every commit is atomic: after a crash either all of it or none of it is visible. */
export interface KeyStore {
  readonly description: string;
  /** Loads the whole state, creating an empty store on first use. Refuses corrupt or foreign stores. */
  open(): Promise<StoreState>;
  /** Durably applies a change. Resolves only once the change survives a crash. */
  commit(change: StoreChange): Promise<void>;
  /**
   * Persists a change that is already committed elsewhere (another instance wrote it to the shared store), in
   * this instance's local copy only. Stores that are not replicated omit it; the engine then uses `commit`.
   */
  absorb?(change: StoreChange): Promise<void>;
  close(): Promise<void>;
}

/**
 * Between the two phases of a rotation (HA, docs/adr/0009-shared-key-state.md): resolves true once every live
 * instance holds `version` of `keyId`, false when it gave up waiting (the version then stays staged).
 */
export type RotationGate = (keyId: string, version: number) => Promise<boolean>;

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
