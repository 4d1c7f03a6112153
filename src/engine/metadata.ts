/** The public description of a key (AWS KeyMetadata, in engine terms). Contains no key material. */
import type { EngineCore } from './core.ts';
import type { KeyRecord } from './records.ts';
import {
  type EncryptionAlgorithm,
  isHmacSpec,
  isRsaSpec,
  type KeyAgreementAlgorithm,
  MAC_ALGORITHM_BY_SPEC,
  type MacAlgorithm,
  SIGNING_ALGORITHMS_BY_SPEC,
  type SigningAlgorithm,
} from './specs.ts';

export interface KeyMetadata {
  readonly keyId: string;
  readonly arn: string;
  readonly account: string;
  readonly creationDate: number;
  readonly enabled: boolean;
  readonly description: string;
  readonly keyUsage: KeyRecord['keyUsage'];
  readonly keySpec: KeyRecord['keySpec'];
  readonly keyState: KeyRecord['state'];
  readonly keyManager: KeyRecord['keyManager'];
  readonly deletionDate?: number;
  readonly pendingDeletionWindowInDays?: number;
  readonly encryptionAlgorithms?: readonly EncryptionAlgorithm[];
  readonly signingAlgorithms?: readonly SigningAlgorithm[];
  readonly macAlgorithms?: readonly MacAlgorithm[];
  readonly keyAgreementAlgorithms?: readonly KeyAgreementAlgorithm[];
  readonly currentKeyMaterialId: string;
  readonly primaryVersion: number;
  readonly versions: number;
}

import { toHex as hex } from './bytes.ts';

const utf8 = new TextEncoder();

/** A public, stable id for a key version (64 hex characters, like AWS KeyMaterialId). */
export function keyMaterialId(core: EngineCore, keyId: string, version: number): string {
  return hex(core.crypto.digest('SHA-256', utf8.encode(`kubekms/key-material-id/v1\0${keyId}\0${version}`)));
}

export function algorithmsOf(r: KeyRecord): Partial<KeyMetadata> {
  switch (r.keyUsage) {
    case 'ENCRYPT_DECRYPT':
      return {
        encryptionAlgorithms: isRsaSpec(r.keySpec)
          ? ['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256']
          : ['SYMMETRIC_DEFAULT'],
      };
    case 'SIGN_VERIFY':
      return { signingAlgorithms: SIGNING_ALGORITHMS_BY_SPEC[r.keySpec] ?? [] };
    case 'GENERATE_VERIFY_MAC':
      return isHmacSpec(r.keySpec) ? { macAlgorithms: [MAC_ALGORITHM_BY_SPEC[r.keySpec]] } : {};
    case 'KEY_AGREEMENT':
      return { keyAgreementAlgorithms: ['ECDH'] };
  }
}

export function metadataOf(core: EngineCore, r: KeyRecord): KeyMetadata {
  return {
    keyId: r.keyId,
    arn: core.arnOf(r.keyId),
    account: core.arn.account,
    creationDate: r.createdAt,
    enabled: r.state === 'Enabled',
    description: r.description,
    keyUsage: r.keyUsage,
    keySpec: r.keySpec,
    keyState: r.state,
    keyManager: r.keyManager,
    ...(r.deletionDate !== undefined
      ? { deletionDate: r.deletionDate, pendingDeletionWindowInDays: r.pendingWindowDays }
      : {}),
    ...algorithmsOf(r),
    currentKeyMaterialId: keyMaterialId(core, r.keyId, r.primaryVersion),
    primaryVersion: r.primaryVersion,
    versions: r.versions.length,
  };
}
