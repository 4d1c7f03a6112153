/**
 * Data keys for client-side envelope encryption: GenerateDataKey[WithoutPlaintext],
 * GenerateDataKeyPair[WithoutPlaintext], and GenerateRandom.
 */
import type { EngineCore, LoadedKey, RequestContext } from './core.ts';
import { type EncryptionContext, parseEncryptionContext } from './encryption-context.ts';
import { KmsError, validation } from './errors.ts';
import { sealSymmetric } from './ops-encrypt.ts';
import type { KeyAction } from './policy.ts';
import { SecretBytes } from './secret.ts';
import { DATA_KEY_PAIR_SPECS, DATA_KEY_SPECS, type DataKeyPairSpec, LIMITS } from './specs.ts';
import { optionalEnum, optionalInt, requireEnum, requireInt } from './validate.ts';

export interface GenerateDataKeyInput {
  readonly keyId: unknown;
  readonly keySpec?: unknown;
  readonly numberOfBytes?: unknown;
  readonly encryptionContext?: unknown;
}

export interface DataKey {
  readonly ciphertextBlob: Uint8Array;
  readonly plaintext: SecretBytes;
  readonly keyId: string;
  readonly keyVersion: number;
}

/** Data keys and data key pairs are wrapped by a symmetric encryption key the caller may use for `action`. */
function requireDataKeyWrapper(
  core: EngineCore,
  ctx: RequestContext,
  key: LoadedKey,
  action: KeyAction,
  ec: EncryptionContext,
): void {
  core.authorize(ctx, key.record, action, ec);
  core.requireUsable(key.record, 'ENCRYPT_DECRYPT');
  if (key.record.keySpec !== 'SYMMETRIC_DEFAULT') {
    throw new KmsError(
      'InvalidKeyUsageException',
      `KeyId: ${core.arnOf(key.record.keyId)} is not a symmetric encryption key`,
      'KeyId',
    );
  }
}

function dataKeyLength(input: GenerateDataKeyInput): number {
  const spec = optionalEnum(input.keySpec, 'KeySpec', DATA_KEY_SPECS);
  const n = optionalInt(
    input.numberOfBytes,
    'NumberOfBytes',
    LIMITS.numberOfBytesMin,
    LIMITS.numberOfBytesMax,
  );
  if (spec !== undefined && n !== undefined)
    throw validation('KeySpec', 'give either KeySpec or NumberOfBytes, not both');
  if (spec === undefined && n === undefined)
    throw validation('KeySpec', 'KeySpec or NumberOfBytes is required');
  return n ?? (spec === 'AES_128' ? 16 : 32);
}

function generate(
  core: EngineCore,
  ctx: RequestContext,
  input: GenerateDataKeyInput,
  action: KeyAction,
): DataKey {
  const key = core.resolve(input.keyId);
  const length = dataKeyLength(input);
  const ec = parseEncryptionContext(input.encryptionContext);
  requireDataKeyWrapper(core, ctx, key, action, ec);
  const plaintext = new SecretBytes(core.crypto.randomBytes(length));
  return {
    ciphertextBlob: sealSymmetric(core, key, plaintext.unsafeBytes(), ec),
    plaintext,
    keyId: core.arnOf(key.record.keyId),
    keyVersion: key.record.primaryVersion,
  };
}

export function generateDataKey(core: EngineCore, ctx: RequestContext, input: GenerateDataKeyInput): DataKey {
  return generate(core, ctx, input, 'kms:GenerateDataKey');
}

export function generateDataKeyWithoutPlaintext(
  core: EngineCore,
  ctx: RequestContext,
  input: GenerateDataKeyInput,
): Omit<DataKey, 'plaintext'> {
  const { plaintext, ...rest } = generate(core, ctx, input, 'kms:GenerateDataKeyWithoutPlaintext');
  plaintext.wipe();
  return rest;
}

export interface GenerateDataKeyPairInput {
  readonly keyId: unknown;
  readonly keyPairSpec: unknown;
  readonly encryptionContext?: unknown;
}

export interface DataKeyPair {
  readonly privateKeyCiphertextBlob: Uint8Array;
  /** PKCS#8 DER. */
  readonly privateKeyPlaintext: SecretBytes;
  /** SubjectPublicKeyInfo DER. */
  readonly publicKey: Uint8Array;
  readonly keyId: string;
  readonly keyVersion: number;
  readonly keyPairSpec: DataKeyPairSpec;
}

function generatePair(
  core: EngineCore,
  ctx: RequestContext,
  input: GenerateDataKeyPairInput,
  action: KeyAction,
): DataKeyPair {
  const key = core.resolve(input.keyId);
  const spec = requireEnum(input.keyPairSpec, 'KeyPairSpec', DATA_KEY_PAIR_SPECS);
  const ec = parseEncryptionContext(input.encryptionContext);
  requireDataKeyWrapper(core, ctx, key, action, ec);
  const pair = core.crypto.generateKeyPair(spec);
  return {
    privateKeyCiphertextBlob: sealSymmetric(core, key, pair.privateKey.unsafeBytes(), ec),
    privateKeyPlaintext: pair.privateKey,
    publicKey: pair.publicKey,
    keyId: core.arnOf(key.record.keyId),
    keyVersion: key.record.primaryVersion,
    keyPairSpec: spec,
  };
}

export function generateDataKeyPair(
  core: EngineCore,
  ctx: RequestContext,
  input: GenerateDataKeyPairInput,
): DataKeyPair {
  return generatePair(core, ctx, input, 'kms:GenerateDataKeyPair');
}

export function generateDataKeyPairWithoutPlaintext(
  core: EngineCore,
  ctx: RequestContext,
  input: GenerateDataKeyPairInput,
): Omit<DataKeyPair, 'privateKeyPlaintext'> {
  const { privateKeyPlaintext, ...rest } = generatePair(
    core,
    ctx,
    input,
    'kms:GenerateDataKeyPairWithoutPlaintext',
  );
  privateKeyPlaintext.wipe();
  return rest;
}

/** GenerateRandom: 1–1024 bytes. Needs no key, so any authenticated caller may use it. */
export function generateRandom(core: EngineCore, numberOfBytes: unknown): SecretBytes {
  const n = requireInt(numberOfBytes, 'NumberOfBytes', LIMITS.numberOfBytesMin, LIMITS.numberOfBytesMax);
  return new SecretBytes(core.crypto.randomBytes(n));
}
