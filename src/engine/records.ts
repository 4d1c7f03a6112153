/**
 * The persisted data model: keys (each a keyset of versions, Tink-style), aliases and grants. Records are
 * immutable values; a change produces new records. Key material appears here only wrapped by the root key.
 */

import type { KeyPolicy } from './policy.ts';
import type { KeySpec, KeyUsage } from './specs.ts';

export type KeyState = 'Enabled' | 'Disabled' | 'PendingDeletion' | 'PendingImport';
export type KeyManager = 'CUSTOMER' | 'CLUSTER';
export type RotationType = 'AUTOMATIC' | 'ON_DEMAND';

export interface KeyVersionRecord {
  /** 1-based, increasing, never reused. */
  readonly version: number;
  readonly createdAt: number;
  /** Key material wrapped by the root key with AAD = keyMaterialAad(keyId, version). */
  readonly wrappedMaterial: Uint8Array;
  /** SubjectPublicKeyInfo DER, for asymmetric keys. */
  readonly publicKey?: Uint8Array;
  /** How the version came to be; absent for the first version. */
  readonly rotationType?: RotationType;
  /**
   * Epoch ms at which the version was retired (a verified re-encryption left nothing under it): it still
   * decrypts, every use is reported, and the key's retiredVersions policy may refuse it (ops-retirement.ts).
   */
  readonly retiredAt?: number;
  /** The last decrypt under this retired version that kubekms recorded (epoch ms; written lazily). */
  readonly lastUsedAt?: number;
  /** Set on a retired version scheduled for destruction: refused from now, destroyed at this epoch ms. */
  readonly destroyAt?: number;
}

/** What happens to retired versions (spec.retiredVersions on a KmsKey). */
export interface RetiredVersionsPolicy {
  /** Decrypt under a retired version is refused once this long has passed since its retirement or last use. */
  readonly disableDecryptAfterMs?: number;
}

export interface RotationConfig {
  readonly enabled: boolean;
  readonly periodDays: number;
  /** When the next automatic rotation is due (epoch ms); set while enabled. */
  readonly nextRotationAt?: number;
}

export interface KeyRecord {
  readonly keyId: string;
  readonly createdAt: number;
  readonly description: string;
  readonly keySpec: KeySpec;
  readonly keyUsage: KeyUsage;
  readonly keyManager: KeyManager;
  readonly state: KeyState;
  /** Epoch ms after which the key is destroyed; set only in PendingDeletion. */
  readonly deletionDate?: number;
  readonly pendingWindowDays?: number;
  readonly rotation: RotationConfig;
  readonly versions: readonly KeyVersionRecord[];
  /** The version that encrypts, signs and MACs. Versions above it are staged (decrypt-only until promoted). */
  readonly primaryVersion: number;
  readonly policy: KeyPolicy;
  readonly tags: Readonly<Record<string, string>>;
  /** Absent: retired versions always decrypt (and every use is still reported). */
  readonly retiredVersions?: RetiredVersionsPolicy;
  /** Increases with every change of this record; lets replicated stores detect lost updates. */
  readonly revision: number;
}

export interface AliasRecord {
  readonly aliasName: string;
  readonly targetKeyId: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export const GRANT_OPERATIONS = [
  'Decrypt',
  'Encrypt',
  'GenerateDataKey',
  'GenerateDataKeyWithoutPlaintext',
  'ReEncryptFrom',
  'ReEncryptTo',
  'Sign',
  'Verify',
  'GetPublicKey',
  'CreateGrant',
  'RetireGrant',
  'DescribeKey',
  'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext',
  'GenerateMac',
  'VerifyMac',
  'DeriveSharedSecret',
] as const;
export type GrantOperation = (typeof GRANT_OPERATIONS)[number];

export interface GrantConstraints {
  readonly encryptionContextEquals?: Readonly<Record<string, string>>;
  readonly encryptionContextSubset?: Readonly<Record<string, string>>;
}

export interface GrantRecord {
  readonly grantId: string;
  readonly grantToken: string;
  readonly keyId: string;
  readonly name?: string;
  readonly granteePrincipal: string;
  readonly retiringPrincipal?: string;
  readonly issuingPrincipal: string;
  readonly operations: readonly GrantOperation[];
  readonly constraints?: GrantConstraints;
  readonly createdAt: number;
}

export interface StoreState {
  readonly keys: readonly KeyRecord[];
  readonly aliases: readonly AliasRecord[];
  readonly grants: readonly GrantRecord[];
}

/** One atomic change to the store: records to put (insert or replace) and ids to delete. */
export interface StoreChange {
  readonly putKeys?: readonly KeyRecord[];
  readonly deleteKeys?: readonly string[];
  readonly putAliases?: readonly AliasRecord[];
  readonly deleteAliases?: readonly string[];
  readonly putGrants?: readonly GrantRecord[];
  readonly deleteGrants?: readonly string[];
}

const textEncoder = new TextEncoder();

/** AAD binding a wrapped key version to its key and version number (invariant 4). */
export function keyMaterialAad(keyId: string, version: number): Uint8Array {
  return textEncoder.encode(`kubekms/key-material/v1\0${keyId}\0${version}`);
}
