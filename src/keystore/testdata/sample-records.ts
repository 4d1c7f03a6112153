/** Hand-built records for keystore tests and the crash writer. Material is random and wrapped by the root key. */
import { randomBytes } from 'node:crypto';
import type { RootKey } from '../../engine/ports.ts';
import {
  type AliasRecord,
  type GrantRecord,
  type KeyRecord,
  type KeyVersionRecord,
  keyMaterialAad,
} from '../../engine/records.ts';
import { SecretBytes } from '../../engine/secret.ts';

export async function wrappedVersion(
  rootKey: RootKey,
  keyId: string,
  version: number,
  extra: Partial<KeyVersionRecord> = {},
): Promise<KeyVersionRecord> {
  const material = new SecretBytes(new Uint8Array(randomBytes(32)));
  const wrappedMaterial = await rootKey.wrap(material, keyMaterialAad(keyId, version));
  return { version, createdAt: 1_700_000_000_000 + version, wrappedMaterial, ...extra };
}

/** A symmetric key with one version and only the required fields. */
export async function minimalKey(rootKey: RootKey, keyId: string): Promise<KeyRecord> {
  return {
    keyId,
    createdAt: 1_700_000_000_000,
    description: '',
    keySpec: 'SYMMETRIC_DEFAULT',
    keyUsage: 'ENCRYPT_DECRYPT',
    keyManager: 'CUSTOMER',
    state: 'Enabled',
    rotation: { enabled: false, periodDays: 365 },
    versions: [await wrappedVersion(rootKey, keyId, 1)],
    primaryVersion: 1,
    policy: { statements: [] },
    tags: {},
    revision: 0,
  };
}

/** A key with every optional field set, odd strings and three versions (one staged). */
export async function fullKey(rootKey: RootKey, keyId: string): Promise<KeyRecord> {
  return {
    keyId,
    createdAt: 1_700_000_000_123,
    description: 'line 1\nline 2 "quoted" \u00e9\u4e2d\ud83d\udd11',
    keySpec: 'HMAC_256',
    keyUsage: 'GENERATE_VERIFY_MAC',
    keyManager: 'CLUSTER',
    state: 'PendingDeletion',
    deletionDate: 1_800_000_000_000,
    pendingWindowDays: 7,
    rotation: { enabled: true, periodDays: 90, nextRotationAt: 1_710_000_000_000 },
    versions: [
      await wrappedVersion(rootKey, keyId, 1),
      await wrappedVersion(rootKey, keyId, 2, { rotationType: 'AUTOMATIC' }),
      await wrappedVersion(rootKey, keyId, 4, { rotationType: 'ON_DEMAND' }),
    ],
    primaryVersion: 2,
    policy: {
      statements: [
        { sid: 'Admins', effect: 'Allow', principals: ['group:system:masters'], actions: ['kms:*'] },
        { effect: 'Deny', principals: ['*'], actions: ['kms:ScheduleKeyDeletion', 'kms:Generate*'] },
      ],
    },
    tags: Object.fromEntries([
      ['team', 'platform'],
      ['__proto__', 'not a prototype'],
      ['', 'empty key'],
      ['ünï', '🔑'],
    ]),
    revision: 42,
  };
}

/** An asymmetric key: one version with a public key. */
export async function signingKey(rootKey: RootKey, keyId: string): Promise<KeyRecord> {
  const base = await minimalKey(rootKey, keyId);
  return {
    ...base,
    keySpec: 'ECC_NIST_P256',
    keyUsage: 'SIGN_VERIFY',
    versions: [await wrappedVersion(rootKey, keyId, 1, { publicKey: new Uint8Array(randomBytes(91)) })],
  };
}

export function alias(aliasName: string, targetKeyId: string): AliasRecord {
  return { aliasName, targetKeyId, createdAt: 1_700_000_000_000, updatedAt: 1_700_000_000_500 };
}

export function fullGrant(grantId: string, keyId: string): GrantRecord {
  return {
    grantId,
    grantToken: `token-${grantId}`,
    keyId,
    name: 'deploy',
    granteePrincipal: 'system:serviceaccount:apps:web',
    retiringPrincipal: 'system:serviceaccount:apps:ops',
    issuingPrincipal: 'admin',
    operations: ['Decrypt', 'GenerateDataKey', 'RetireGrant'],
    constraints: {
      encryptionContextEquals: { tenant: 'a', purpose: 'session' },
      encryptionContextSubset: { tenant: 'a' },
    },
    createdAt: 1_700_000_000_000,
  };
}

export function minimalGrant(grantId: string, keyId: string): GrantRecord {
  return {
    grantId,
    grantToken: `token-${grantId}`,
    keyId,
    granteePrincipal: 'system:serviceaccount:apps:web',
    issuingPrincipal: 'admin',
    operations: ['Encrypt'],
    createdAt: 1_700_000_000_000,
  };
}
