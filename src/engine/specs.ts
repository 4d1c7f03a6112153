/**
 * Key specs, usages and algorithms, named exactly as the AWS KMS API model names them, and the table of which
 * combinations are valid. SM2 is out of scope and is not part of these unions.
 */
export const KEY_SPECS = [
  'SYMMETRIC_DEFAULT',
  'HMAC_224',
  'HMAC_256',
  'HMAC_384',
  'HMAC_512',
  'RSA_2048',
  'RSA_3072',
  'RSA_4096',
  'ECC_NIST_P256',
  'ECC_NIST_P384',
  'ECC_NIST_P521',
  'ECC_SECG_P256K1',
  'ECC_NIST_EDWARDS25519',
  'ML_DSA_44',
  'ML_DSA_65',
  'ML_DSA_87',
] as const;
export type KeySpec = (typeof KEY_SPECS)[number];

export const KEY_USAGES = ['ENCRYPT_DECRYPT', 'SIGN_VERIFY', 'GENERATE_VERIFY_MAC', 'KEY_AGREEMENT'] as const;
export type KeyUsage = (typeof KEY_USAGES)[number];

export const SIGNING_ALGORITHMS = [
  'RSASSA_PSS_SHA_256',
  'RSASSA_PSS_SHA_384',
  'RSASSA_PSS_SHA_512',
  'RSASSA_PKCS1_V1_5_SHA_256',
  'RSASSA_PKCS1_V1_5_SHA_384',
  'RSASSA_PKCS1_V1_5_SHA_512',
  'ECDSA_SHA_256',
  'ECDSA_SHA_384',
  'ECDSA_SHA_512',
  'ED25519_SHA_512',
  'ED25519_PH_SHA_512',
  'ML_DSA_SHAKE_256',
] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

export const ENCRYPTION_ALGORITHMS = ['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256'] as const;
export type EncryptionAlgorithm = (typeof ENCRYPTION_ALGORITHMS)[number];
export type RsaEncryptionAlgorithm = Exclude<EncryptionAlgorithm, 'SYMMETRIC_DEFAULT'>;

export const MAC_ALGORITHMS = ['HMAC_SHA_224', 'HMAC_SHA_256', 'HMAC_SHA_384', 'HMAC_SHA_512'] as const;
export type MacAlgorithm = (typeof MAC_ALGORITHMS)[number];

export const KEY_AGREEMENT_ALGORITHMS = ['ECDH'] as const;
export type KeyAgreementAlgorithm = (typeof KEY_AGREEMENT_ALGORITHMS)[number];

export const MESSAGE_TYPES = ['RAW', 'DIGEST'] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

export const DATA_KEY_SPECS = ['AES_256', 'AES_128'] as const;

export const DATA_KEY_PAIR_SPECS = [
  'RSA_2048',
  'RSA_3072',
  'RSA_4096',
  'ECC_NIST_P256',
  'ECC_NIST_P384',
  'ECC_NIST_P521',
  'ECC_SECG_P256K1',
  'ECC_NIST_EDWARDS25519',
] as const;
export type DataKeyPairSpec = (typeof DATA_KEY_PAIR_SPECS)[number];

export type HashAlgorithm = 'SHA-1' | 'SHA-224' | 'SHA-256' | 'SHA-384' | 'SHA-512';
export type HmacKeySpec = Extract<KeySpec, `HMAC_${string}`>;
export type AsymmetricKeySpec = Exclude<KeySpec, 'SYMMETRIC_DEFAULT' | HmacKeySpec>;
export type RsaKeySpec = Extract<KeySpec, `RSA_${string}`>;
export type EccKeySpec = 'ECC_NIST_P256' | 'ECC_NIST_P384' | 'ECC_NIST_P521' | 'ECC_SECG_P256K1';

export const isHmacSpec = (s: KeySpec): s is HmacKeySpec => s.startsWith('HMAC_');
export const isRsaSpec = (s: KeySpec): s is RsaKeySpec => s.startsWith('RSA_');
export const isAsymmetricSpec = (s: KeySpec): s is AsymmetricKeySpec =>
  s !== 'SYMMETRIC_DEFAULT' && !isHmacSpec(s);

/** Which usages each key spec supports. The first entry is the default usage for the spec. */
export const USAGES_BY_SPEC: Readonly<Record<KeySpec, readonly KeyUsage[]>> = {
  SYMMETRIC_DEFAULT: ['ENCRYPT_DECRYPT'],
  HMAC_224: ['GENERATE_VERIFY_MAC'],
  HMAC_256: ['GENERATE_VERIFY_MAC'],
  HMAC_384: ['GENERATE_VERIFY_MAC'],
  HMAC_512: ['GENERATE_VERIFY_MAC'],
  RSA_2048: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'],
  RSA_3072: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'],
  RSA_4096: ['ENCRYPT_DECRYPT', 'SIGN_VERIFY'],
  ECC_NIST_P256: ['SIGN_VERIFY', 'KEY_AGREEMENT'],
  ECC_NIST_P384: ['SIGN_VERIFY', 'KEY_AGREEMENT'],
  ECC_NIST_P521: ['SIGN_VERIFY', 'KEY_AGREEMENT'],
  ECC_SECG_P256K1: ['SIGN_VERIFY'],
  ECC_NIST_EDWARDS25519: ['SIGN_VERIFY'],
  ML_DSA_44: ['SIGN_VERIFY'],
  ML_DSA_65: ['SIGN_VERIFY'],
  ML_DSA_87: ['SIGN_VERIFY'],
};

const RSA_SIGNING: readonly SigningAlgorithm[] = [
  'RSASSA_PSS_SHA_256',
  'RSASSA_PSS_SHA_384',
  'RSASSA_PSS_SHA_512',
  'RSASSA_PKCS1_V1_5_SHA_256',
  'RSASSA_PKCS1_V1_5_SHA_384',
  'RSASSA_PKCS1_V1_5_SHA_512',
];

/** Signing algorithms per spec (SIGN_VERIFY usage), as AWS lists them in KeyMetadata.SigningAlgorithms. */
export const SIGNING_ALGORITHMS_BY_SPEC: Partial<Record<KeySpec, readonly SigningAlgorithm[]>> = {
  RSA_2048: RSA_SIGNING,
  RSA_3072: RSA_SIGNING,
  RSA_4096: RSA_SIGNING,
  ECC_NIST_P256: ['ECDSA_SHA_256'],
  ECC_NIST_P384: ['ECDSA_SHA_384'],
  ECC_NIST_P521: ['ECDSA_SHA_512'],
  ECC_SECG_P256K1: ['ECDSA_SHA_256'],
  ECC_NIST_EDWARDS25519: ['ED25519_SHA_512', 'ED25519_PH_SHA_512'],
  ML_DSA_44: ['ML_DSA_SHAKE_256'],
  ML_DSA_65: ['ML_DSA_SHAKE_256'],
  ML_DSA_87: ['ML_DSA_SHAKE_256'],
};

export const MAC_ALGORITHM_BY_SPEC: Readonly<Record<HmacKeySpec, MacAlgorithm>> = {
  HMAC_224: 'HMAC_SHA_224',
  HMAC_256: 'HMAC_SHA_256',
  HMAC_384: 'HMAC_SHA_384',
  HMAC_512: 'HMAC_SHA_512',
};

export const HASH_OF_MAC: Readonly<Record<MacAlgorithm, HashAlgorithm>> = {
  HMAC_SHA_224: 'SHA-224',
  HMAC_SHA_256: 'SHA-256',
  HMAC_SHA_384: 'SHA-384',
  HMAC_SHA_512: 'SHA-512',
};

/** HMAC key material length in bytes (AWS: the key length equals the hash output length). */
export const HMAC_KEY_BYTES: Readonly<Record<HmacKeySpec, number>> = {
  HMAC_224: 28,
  HMAC_256: 32,
  HMAC_384: 48,
  HMAC_512: 64,
};

/** The hash a signing algorithm applies to a RAW message, or the digest length a DIGEST message must have. */
export const HASH_OF_SIGNING: Readonly<Record<SigningAlgorithm, HashAlgorithm | undefined>> = {
  RSASSA_PSS_SHA_256: 'SHA-256',
  RSASSA_PSS_SHA_384: 'SHA-384',
  RSASSA_PSS_SHA_512: 'SHA-512',
  RSASSA_PKCS1_V1_5_SHA_256: 'SHA-256',
  RSASSA_PKCS1_V1_5_SHA_384: 'SHA-384',
  RSASSA_PKCS1_V1_5_SHA_512: 'SHA-512',
  ECDSA_SHA_256: 'SHA-256',
  ECDSA_SHA_384: 'SHA-384',
  ECDSA_SHA_512: 'SHA-512',
  ED25519_SHA_512: undefined,
  ED25519_PH_SHA_512: 'SHA-512',
  ML_DSA_SHAKE_256: undefined,
};

export const HASH_BYTES: Readonly<Record<HashAlgorithm, number>> = {
  'SHA-1': 20,
  'SHA-224': 28,
  'SHA-256': 32,
  'SHA-384': 48,
  'SHA-512': 64,
};

export const RSA_MODULUS_BYTES: Readonly<Record<RsaKeySpec, number>> = {
  RSA_2048: 256,
  RSA_3072: 384,
  RSA_4096: 512,
};
export const HASH_OF_OAEP: Readonly<Record<RsaEncryptionAlgorithm, HashAlgorithm>> = {
  RSAES_OAEP_SHA_1: 'SHA-1',
  RSAES_OAEP_SHA_256: 'SHA-256',
};

/** Largest plaintext RSA-OAEP can take: k - 2*hLen - 2 (214/190, 342/318, 470/446 bytes, as AWS documents). */
export function rsaOaepMaxPlaintext(spec: RsaKeySpec, alg: RsaEncryptionAlgorithm): number {
  return RSA_MODULUS_BYTES[spec] - 2 * HASH_BYTES[HASH_OF_OAEP[alg]] - 2;
}

/** Limits exactly as AWS KMS applies them. */
export const LIMITS = {
  plaintextMax: 4096,
  ciphertextMax: 6144,
  messageMax: 4096,
  macMessageMax: 4096,
  numberOfBytesMin: 1,
  numberOfBytesMax: 1024,
  descriptionMax: 8192,
  grantTokensMax: 10,
  pendingWindowMinDays: 7,
  pendingWindowMaxDays: 30,
  pendingWindowDefaultDays: 30,
  rotationPeriodMinDays: 90,
  rotationPeriodMaxDays: 2560,
  rotationPeriodDefaultDays: 365,
  onDemandRotationsMax: 25,
  tagKeyMax: 128,
  tagValueMax: 256,
  tagsMax: 50,
  policyMax: 32768,
  aliasNameMax: 256,
  grantNameMax: 256,
  principalMax: 256,
} as const;
