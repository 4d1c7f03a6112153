/**
 * Encryption operations: Encrypt, Decrypt, ReEncrypt. Symmetric keys use the v1 ciphertext blob
 * (ciphertext.ts); RSA keys use plain RSAES-OAEP, which callers may also produce offline with GetPublicKey.
 */

import { CIPHERTEXT_FORMAT_V1, type CiphertextFormat, parseCiphertext } from './ciphertext.ts';
import type { EngineCore, LoadedKey, RequestContext } from './core.ts';
import { type EncryptionContext, parseEncryptionContext } from './encryption-context.ts';
import { invalidCiphertext, KmsError, validation } from './errors.ts';
import { aadOf, headerOf } from './headers.ts';
import { checkDecryptVersion } from './ops-retirement.ts';
import type { KeyRecord } from './records.ts';
import { SecretBytes } from './secret.ts';
import {
  ENCRYPTION_ALGORITHMS,
  type EncryptionAlgorithm,
  isRsaSpec,
  LIMITS,
  type RsaEncryptionAlgorithm,
  rsaOaepMaxPlaintext,
} from './specs.ts';
import { optionalEnum, requireBytes } from './validate.ts';

export interface EncryptInput {
  readonly keyId: unknown;
  readonly plaintext: unknown;
  readonly encryptionContext?: unknown;
  readonly encryptionAlgorithm?: unknown;
}

export interface EncryptOutput {
  readonly ciphertextBlob: Uint8Array;
  /** The key ARN. */
  readonly keyId: string;
  readonly keyVersion: number;
  readonly encryptionAlgorithm: EncryptionAlgorithm;
}

export interface DecryptInput {
  readonly ciphertextBlob: unknown;
  readonly keyId?: unknown;
  readonly encryptionContext?: unknown;
  readonly encryptionAlgorithm?: unknown;
}

export interface DecryptOutput {
  readonly plaintext: SecretBytes;
  readonly keyId: string;
  readonly keyVersion: number;
  readonly encryptionAlgorithm: EncryptionAlgorithm;
}

/**
 * Seals with the primary version, as a blob of `format` (the AWS API's by default). The caller has checked
 * authorization, state and usage.
 */
export function sealSymmetric(
  core: EngineCore,
  key: LoadedKey,
  plaintext: Uint8Array,
  ec: EncryptionContext,
  format: CiphertextFormat = CIPHERTEXT_FORMAT_V1,
): Uint8Array {
  const r = key.record;
  const material = key.material.get(r.primaryVersion);
  if (!material) throw new KmsError('KMSInternalException', 'primary key material is not loaded');
  const header = headerOf(r, r.primaryVersion, format);
  return core.crypto.aesGcmSeal(material, plaintext, aadOf(header, ec), header.bytes);
}

function rsaAlgorithm(
  key: KeyRecord,
  alg: EncryptionAlgorithm | undefined,
  field: string,
): RsaEncryptionAlgorithm {
  if (alg === undefined || alg === 'SYMMETRIC_DEFAULT') {
    throw new KmsError(
      'InvalidKeyUsageException',
      `${field}: RSA keys need RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256`,
      field,
    );
  }
  if (!isRsaSpec(key.keySpec))
    throw new KmsError('InvalidKeyUsageException', `${field}: ${alg} needs an RSA key`, field);
  return alg;
}

function refuseContextForAsymmetric(ec: EncryptionContext, field: string): void {
  if (Object.keys(ec).length > 0) throw validation(field, 'is supported only with symmetric encryption keys');
}

/** Encrypts with `key` (already resolved and authorized). Shared by Encrypt, ReEncrypt and data key ops. */
export function encryptWith(
  core: EngineCore,
  key: LoadedKey,
  plaintext: Uint8Array,
  ec: EncryptionContext,
  algorithm: EncryptionAlgorithm | undefined,
  algField: string,
): EncryptOutput {
  const r = key.record;
  core.requireUsable(r, 'ENCRYPT_DECRYPT');
  if (r.keySpec === 'SYMMETRIC_DEFAULT') {
    if (algorithm !== undefined && algorithm !== 'SYMMETRIC_DEFAULT') {
      throw new KmsError(
        'InvalidKeyUsageException',
        `${algField}: ${algorithm} is not valid for a symmetric key`,
        algField,
      );
    }
    return {
      ciphertextBlob: sealSymmetric(core, key, plaintext, ec),
      keyId: core.arnOf(r.keyId),
      keyVersion: r.primaryVersion,
      encryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    };
  }
  const alg = rsaAlgorithm(r, algorithm, algField);
  refuseContextForAsymmetric(ec, 'EncryptionContext');
  if (!isRsaSpec(r.keySpec)) throw new KmsError('InvalidKeyUsageException', 'not an encryption key');
  const max = rsaOaepMaxPlaintext(r.keySpec, alg);
  if (plaintext.length > max)
    throw validation('Plaintext', `must be at most ${max} bytes for ${r.keySpec} with ${alg}`);
  const publicKey = r.versions[0]!.publicKey!;
  return {
    ciphertextBlob: core.crypto.rsaOaepEncrypt(alg, publicKey, plaintext),
    keyId: core.arnOf(r.keyId),
    keyVersion: r.primaryVersion,
    encryptionAlgorithm: alg,
  };
}

export function encrypt(core: EngineCore, ctx: RequestContext, input: EncryptInput): EncryptOutput {
  const key = core.resolve(input.keyId);
  const plaintext = requireBytes(input.plaintext, 'Plaintext', 1, LIMITS.plaintextMax);
  const ec = parseEncryptionContext(input.encryptionContext);
  const alg = optionalEnum(input.encryptionAlgorithm, 'EncryptionAlgorithm', ENCRYPTION_ALGORITHMS);
  core.authorize(ctx, key.record, 'kms:Encrypt', ec);
  return encryptWith(core, key, plaintext, ec, alg, 'EncryptionAlgorithm');
}

/**
 * Decrypts a blob. For symmetric blobs the key comes from the blob; a KeyId naming another key is
 * IncorrectKeyException. Every failure of the blob itself is InvalidCiphertextException, nothing more.
 */
export function decryptWith(
  core: EngineCore,
  ctx: RequestContext,
  blob: Uint8Array,
  namedKeyRef: unknown,
  ec: EncryptionContext,
  algorithm: EncryptionAlgorithm | undefined,
  fields: { key: string; alg: string },
  action: 'kms:Decrypt' | 'kms:ReEncryptFrom',
): DecryptOutput {
  const named =
    namedKeyRef === undefined || namedKeyRef === null ? undefined : core.resolve(namedKeyRef, fields.key);
  if (named && named.record.keySpec !== 'SYMMETRIC_DEFAULT') {
    const r = named.record;
    core.authorize(ctx, r, action, ec);
    core.requireUsable(r, 'ENCRYPT_DECRYPT');
    const alg = rsaAlgorithm(r, algorithm, fields.alg);
    refuseContextForAsymmetric(ec, 'EncryptionContext');
    const pt = core.crypto.rsaOaepDecrypt(alg, named.material.get(r.primaryVersion)!, blob);
    if (!pt) throw invalidCiphertext();
    return {
      plaintext: new SecretBytes(pt),
      keyId: core.arnOf(r.keyId),
      keyVersion: r.primaryVersion,
      encryptionAlgorithm: alg,
    };
  }
  if (algorithm !== undefined && algorithm !== 'SYMMETRIC_DEFAULT') {
    throw new KmsError(
      'IncorrectKeyException',
      `${fields.alg}: ${algorithm} needs the asymmetric key named in ${fields.key}`,
    );
  }
  const parsed = parseCiphertext(blob);
  const key = core.loadedKey(parsed.keyId);
  if (!key) throw invalidCiphertext();
  if (named && named.record.keyId !== parsed.keyId) {
    throw new KmsError(
      'IncorrectKeyException',
      `${fields.key}: the ciphertext was not encrypted under this key`,
    );
  }
  const r = key.record;
  core.authorize(ctx, r, action, ec);
  core.requireUsable(r, 'ENCRYPT_DECRYPT');
  if (r.keySpec !== 'SYMMETRIC_DEFAULT') throw invalidCiphertext();
  const material = key.material.get(parsed.keyVersion);
  if (!material) throw invalidCiphertext();
  const retired = checkDecryptVersion(core, r, parsed.keyVersion);
  const aad = aadOf(headerOf(r, parsed.keyVersion, parsed.format), ec);
  const pt = core.crypto.aesGcmOpen(material, parsed.sealed, aad);
  if (!pt) throw invalidCiphertext();
  if (retired) core.retiredUses.record(retired);
  return {
    plaintext: new SecretBytes(pt),
    keyId: core.arnOf(r.keyId),
    keyVersion: parsed.keyVersion,
    encryptionAlgorithm: 'SYMMETRIC_DEFAULT',
  };
}

const DECRYPT_FIELDS = { key: 'KeyId', alg: 'EncryptionAlgorithm' } as const;

export function decrypt(core: EngineCore, ctx: RequestContext, input: DecryptInput): DecryptOutput {
  const blob = requireBytes(input.ciphertextBlob, 'CiphertextBlob', 1, LIMITS.ciphertextMax);
  const ec = parseEncryptionContext(input.encryptionContext);
  const alg = optionalEnum(input.encryptionAlgorithm, 'EncryptionAlgorithm', ENCRYPTION_ALGORITHMS);
  return decryptWith(core, ctx, blob, input.keyId, ec, alg, DECRYPT_FIELDS, 'kms:Decrypt');
}

export interface ReEncryptInput {
  readonly ciphertextBlob: unknown;
  readonly sourceKeyId?: unknown;
  readonly sourceEncryptionContext?: unknown;
  readonly sourceEncryptionAlgorithm?: unknown;
  readonly destinationKeyId: unknown;
  readonly destinationEncryptionContext?: unknown;
  readonly destinationEncryptionAlgorithm?: unknown;
}

export interface ReEncryptOutput {
  readonly ciphertextBlob: Uint8Array;
  readonly sourceKeyId: string;
  readonly sourceKeyVersion: number;
  readonly keyId: string;
  readonly keyVersion: number;
  readonly sourceEncryptionAlgorithm: EncryptionAlgorithm;
  readonly destinationEncryptionAlgorithm: EncryptionAlgorithm;
}

/** ReEncrypt: the plaintext never leaves the engine. Needs ReEncryptFrom on the source, ReEncryptTo on the destination. */
export function reEncrypt(core: EngineCore, ctx: RequestContext, input: ReEncryptInput): ReEncryptOutput {
  const blob = requireBytes(input.ciphertextBlob, 'CiphertextBlob', 1, LIMITS.ciphertextMax);
  const srcEc = parseEncryptionContext(input.sourceEncryptionContext, 'SourceEncryptionContext');
  const dstEc = parseEncryptionContext(input.destinationEncryptionContext, 'DestinationEncryptionContext');
  const srcAlg = optionalEnum(
    input.sourceEncryptionAlgorithm,
    'SourceEncryptionAlgorithm',
    ENCRYPTION_ALGORITHMS,
  );
  const dstAlg = optionalEnum(
    input.destinationEncryptionAlgorithm,
    'DestinationEncryptionAlgorithm',
    ENCRYPTION_ALGORITHMS,
  );
  const dest = core.resolve(input.destinationKeyId, 'DestinationKeyId');
  const src = decryptWith(
    core,
    ctx,
    blob,
    input.sourceKeyId,
    srcEc,
    srcAlg,
    { key: 'SourceKeyId', alg: 'SourceEncryptionAlgorithm' },
    'kms:ReEncryptFrom',
  );
  try {
    core.authorize(ctx, dest.record, 'kms:ReEncryptTo', dstEc);
    const out = encryptWith(
      core,
      dest,
      src.plaintext.unsafeBytes(),
      dstEc,
      dstAlg,
      'DestinationEncryptionAlgorithm',
    );
    return {
      ciphertextBlob: out.ciphertextBlob,
      sourceKeyId: src.keyId,
      sourceKeyVersion: src.keyVersion,
      keyId: out.keyId,
      keyVersion: out.keyVersion,
      sourceEncryptionAlgorithm: src.encryptionAlgorithm,
      destinationEncryptionAlgorithm: out.encryptionAlgorithm,
    };
  } finally {
    src.plaintext.wipe();
  }
}
