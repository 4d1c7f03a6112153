/**
 * How each asymmetric key spec maps onto node:crypto: key generation parameters and the check that a parsed
 * KeyObject really is a key of the spec (type, curve, modulus size).
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { AsymmetricKeySpec, EccKeySpec, HashAlgorithm } from '../engine/specs.ts';

/** OpenSSL's curve names, as node:crypto reports them in `asymmetricKeyDetails.namedCurve`. */
export const CURVE_OF_SPEC: Readonly<Record<EccKeySpec, string>> = {
  ECC_NIST_P256: 'prime256v1',
  ECC_NIST_P384: 'secp384r1',
  ECC_NIST_P521: 'secp521r1',
  ECC_SECG_P256K1: 'secp256k1',
};

const RSA_BITS = { RSA_2048: 2048, RSA_3072: 3072, RSA_4096: 4096 } as const;
const ML_DSA_TYPE = { ML_DSA_44: 'ml-dsa-44', ML_DSA_65: 'ml-dsa-65', ML_DSA_87: 'ml-dsa-87' } as const;

export const NODE_HASH: Readonly<Record<HashAlgorithm, string>> = {
  'SHA-1': 'sha1',
  'SHA-224': 'sha224',
  'SHA-256': 'sha256',
  'SHA-384': 'sha384',
  'SHA-512': 'sha512',
};

export const isEccSpec = (spec: AsymmetricKeySpec): spec is EccKeySpec => spec in CURVE_OF_SPEC;

/** A fresh key pair of `spec` as node KeyObjects (RSA keys use e = 65537). */
export function generateNodeKeyPair(spec: AsymmetricKeySpec): {
  privateKey: KeyObject;
  publicKey: KeyObject;
} {
  switch (spec) {
    case 'RSA_2048':
    case 'RSA_3072':
    case 'RSA_4096':
      return generateKeyPairSync('rsa', { modulusLength: RSA_BITS[spec], publicExponent: 0x10001 });
    case 'ECC_NIST_P256':
    case 'ECC_NIST_P384':
    case 'ECC_NIST_P521':
    case 'ECC_SECG_P256K1':
      return generateKeyPairSync('ec', { namedCurve: CURVE_OF_SPEC[spec] });
    case 'ECC_NIST_EDWARDS25519':
      return generateKeyPairSync('ed25519');
    case 'ML_DSA_44':
      return generateKeyPairSync('ml-dsa-44');
    case 'ML_DSA_65':
      return generateKeyPairSync('ml-dsa-65');
    case 'ML_DSA_87':
      return generateKeyPairSync('ml-dsa-87');
  }
}

/** Whether the parsed key (public or private) is a key of `spec`. */
export function keyMatchesSpec(key: KeyObject, spec: AsymmetricKeySpec): boolean {
  const details = key.asymmetricKeyDetails;
  switch (spec) {
    case 'RSA_2048':
    case 'RSA_3072':
    case 'RSA_4096':
      return key.asymmetricKeyType === 'rsa' && details?.modulusLength === RSA_BITS[spec];
    case 'ECC_NIST_P256':
    case 'ECC_NIST_P384':
    case 'ECC_NIST_P521':
    case 'ECC_SECG_P256K1':
      return key.asymmetricKeyType === 'ec' && details?.namedCurve === CURVE_OF_SPEC[spec];
    case 'ECC_NIST_EDWARDS25519':
      return key.asymmetricKeyType === 'ed25519';
    case 'ML_DSA_44':
    case 'ML_DSA_65':
    case 'ML_DSA_87':
      return (key.asymmetricKeyType as string) === ML_DSA_TYPE[spec];
  }
}
