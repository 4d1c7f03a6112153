/** Asymmetric key operations: Sign, Verify, GetPublicKey, DeriveSharedSecret. */
import type { EngineCore, LoadedKey, RequestContext } from './core.ts';
import { requireEnabled } from './core.ts';
import { KmsError, validation } from './errors.ts';
import type { KeyRecord } from './records.ts';
import type { SecretBytes } from './secret.ts';
import {
  type AsymmetricKeySpec,
  type EccKeySpec,
  type EncryptionAlgorithm,
  HASH_BYTES,
  HASH_OF_SIGNING,
  isAsymmetricSpec,
  isRsaSpec,
  KEY_AGREEMENT_ALGORITHMS,
  type KeyAgreementAlgorithm,
  type KeySpec,
  type KeyUsage,
  LIMITS,
  type MessageType,
  SIGNING_ALGORITHMS,
  SIGNING_ALGORITHMS_BY_SPEC,
  type SigningAlgorithm,
} from './specs.ts';
import { requireBytes, requireEnum } from './validate.ts';

export interface SignInput {
  readonly keyId: unknown;
  readonly message: unknown;
  readonly messageType?: unknown;
  readonly signingAlgorithm: unknown;
}

export interface SignOutput {
  readonly keyId: string;
  readonly signature: Uint8Array;
  readonly signingAlgorithm: SigningAlgorithm;
}

interface CheckedSign {
  readonly key: LoadedKey;
  readonly spec: AsymmetricKeySpec;
  readonly algorithm: SigningAlgorithm;
  readonly message: Uint8Array;
  readonly messageType: MessageType;
}

function checkSignRequest(
  core: EngineCore,
  ctx: RequestContext,
  input: SignInput,
  action: 'kms:Sign' | 'kms:Verify',
): CheckedSign {
  const key = core.resolve(input.keyId);
  const message = requireBytes(input.message, 'Message', 1, LIMITS.messageMax);
  if (input.messageType === 'EXTERNAL_MU') {
    throw new KmsError(
      'UnsupportedOperationException',
      'MessageType: EXTERNAL_MU is not supported',
      'MessageType',
    );
  }
  const messageType: MessageType =
    input.messageType === undefined || input.messageType === null
      ? 'RAW'
      : requireEnum(input.messageType, 'MessageType', ['RAW', 'DIGEST'] as const);
  const algorithm = requireEnum(input.signingAlgorithm, 'SigningAlgorithm', SIGNING_ALGORITHMS);
  core.authorize(ctx, key.record, action);
  core.requireUsable(key.record, 'SIGN_VERIFY');
  const spec = key.record.keySpec;
  if (!isAsymmetricSpec(spec) || !(SIGNING_ALGORITHMS_BY_SPEC[spec] ?? []).includes(algorithm)) {
    throw new KmsError(
      'InvalidKeyUsageException',
      `SigningAlgorithm: ${algorithm} is not valid for ${spec}`,
      'SigningAlgorithm',
    );
  }
  if (messageType === 'DIGEST') {
    const hash = HASH_OF_SIGNING[algorithm];
    if (hash === undefined) throw validation('MessageType', `DIGEST is not valid with ${algorithm}; use RAW`);
    if (message.length !== HASH_BYTES[hash]) {
      throw validation(
        'Message',
        `a ${hash} digest must be ${HASH_BYTES[hash]} bytes (got ${message.length})`,
      );
    }
  } else if (algorithm === 'ED25519_PH_SHA_512') {
    // AWS: "ED25519_PH_SHA_512 requires MessageType:DIGEST"; the two types are not interchangeable.
    throw validation('MessageType', `RAW is not valid with ${algorithm}; use DIGEST`);
  }
  return { key, spec, algorithm, message, messageType };
}

/**
 * What the provider signs. For ED25519_PH_SHA_512 AWS KMS "still performs the SHA-512 prehash" of FIPS 186-5
 * §7.8.1 step 1 on the caller's digest (the input is hashed twice: once by the caller, once by KMS), so the
 * signature is HashEdDSA over the 64 bytes the caller sent. The provider's DIGEST takes the prehash itself.
 */
function providerMessage(core: EngineCore, c: CheckedSign): Uint8Array {
  return c.algorithm === 'ED25519_PH_SHA_512' ? core.crypto.digest('SHA-512', c.message) : c.message;
}

/** The public key of the version that signs (asymmetric keys have exactly one version; see keyset.ts). */
function primaryPublicKey(r: KeyRecord): Uint8Array {
  const v = r.versions.find((x) => x.version === r.primaryVersion);
  if (!v?.publicKey) throw new KmsError('KMSInternalException', 'the primary version has no public key');
  return v.publicKey;
}

export function sign(core: EngineCore, ctx: RequestContext, input: SignInput): SignOutput {
  const c = checkSignRequest(core, ctx, input, 'kms:Sign');
  const r = c.key.record;
  const material = c.key.material.get(r.primaryVersion);
  if (!material) throw new KmsError('KMSInternalException', 'primary key material is not loaded');
  const signature = core.crypto.sign(c.spec, c.algorithm, material, providerMessage(core, c), c.messageType);
  return { keyId: core.arnOf(r.keyId), signature, signingAlgorithm: c.algorithm };
}

export interface VerifyInput extends SignInput {
  readonly signature: unknown;
}

/** Verify. A signature that does not verify is KMSInvalidSignatureException, never `false`. */
export function verify(
  core: EngineCore,
  ctx: RequestContext,
  input: VerifyInput,
): SignOutput & { signatureValid: true } {
  const c = checkSignRequest(core, ctx, input, 'kms:Verify');
  const signature = requireBytes(input.signature, 'Signature', 1, 6144);
  const r = c.key.record;
  let ok: boolean;
  try {
    ok = core.crypto.verify(
      c.spec,
      c.algorithm,
      primaryPublicKey(r),
      providerMessage(core, c),
      c.messageType,
      signature,
    );
  } catch {
    // A signature the primitive cannot even parse is just an invalid signature, never a 5xx (invariant 8).
    ok = false;
  }
  if (!ok) throw new KmsError('KMSInvalidSignatureException', 'the signature is not valid');
  return { keyId: core.arnOf(r.keyId), signature, signingAlgorithm: c.algorithm, signatureValid: true };
}

export interface PublicKeyOutput {
  readonly keyId: string;
  readonly publicKey: Uint8Array;
  readonly keySpec: KeySpec;
  readonly keyUsage: KeyUsage;
  readonly encryptionAlgorithms?: readonly EncryptionAlgorithm[];
  readonly signingAlgorithms?: readonly SigningAlgorithm[];
  readonly keyAgreementAlgorithms?: readonly KeyAgreementAlgorithm[];
}

export function getPublicKey(core: EngineCore, ctx: RequestContext, keyRef: unknown): PublicKeyOutput {
  const key = core.resolve(keyRef);
  const r = key.record;
  core.authorize(ctx, r, 'kms:GetPublicKey');
  requireEnabled(r, core.arnOf(r.keyId));
  if (!isAsymmetricSpec(r.keySpec)) {
    throw new KmsError('UnsupportedOperationException', `${core.arnOf(r.keyId)} is not an asymmetric key`);
  }
  const algs =
    r.keyUsage === 'ENCRYPT_DECRYPT'
      ? { encryptionAlgorithms: ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'] as const }
      : r.keyUsage === 'KEY_AGREEMENT'
        ? { keyAgreementAlgorithms: ['ECDH'] as const }
        : { signingAlgorithms: SIGNING_ALGORITHMS_BY_SPEC[r.keySpec] ?? [] };
  return {
    keyId: core.arnOf(r.keyId),
    publicKey: primaryPublicKey(r),
    keySpec: r.keySpec,
    keyUsage: r.keyUsage,
    ...algs,
  };
}

export interface DeriveSharedSecretInput {
  readonly keyId: unknown;
  readonly keyAgreementAlgorithm: unknown;
  readonly publicKey: unknown;
}

export function deriveSharedSecret(
  core: EngineCore,
  ctx: RequestContext,
  input: DeriveSharedSecretInput,
): { keyId: string; sharedSecret: SecretBytes; keyAgreementAlgorithm: KeyAgreementAlgorithm } {
  const key = core.resolve(input.keyId);
  const algorithm = requireEnum(
    input.keyAgreementAlgorithm,
    'KeyAgreementAlgorithm',
    KEY_AGREEMENT_ALGORITHMS,
  );
  const peer = requireBytes(input.publicKey, 'PublicKey', 1, 8192);
  const r = key.record;
  core.authorize(ctx, r, 'kms:DeriveSharedSecret');
  core.requireUsable(r, 'KEY_AGREEMENT');
  const spec = r.keySpec as EccKeySpec;
  if (isRsaSpec(r.keySpec) || !core.crypto.isValidPublicKey(spec, peer)) {
    throw validation('PublicKey', `must be a DER SubjectPublicKeyInfo ${spec} public key`);
  }
  let sharedSecret: SecretBytes;
  try {
    sharedSecret = core.crypto.ecdh(spec, key.material.get(r.primaryVersion)!, peer);
  } catch {
    throw validation('PublicKey', `is not a valid ${spec} public key`);
  }
  return { keyId: core.arnOf(r.keyId), sharedSecret, keyAgreementAlgorithm: algorithm };
}
