/** The engine's KeyMetadata in AWS shape. kubekms's cluster-managed keys appear as AWS-managed keys. */
import type { KeyMetadata } from '../../engine/metadata.ts';
import { shapeOf } from '../model/model.ts';
import { type Body, seconds } from './types.ts';

const LEGACY_SPECS = new Set(shapeOf('CustomerMasterKeySpec').enum ?? []);

/** The deprecated CustomerMasterKeySpec mirror, for the specs its enum has (newer specs have none). */
export const legacySpec = (spec: string): string | undefined => (LEGACY_SPECS.has(spec) ? spec : undefined);

export function awsKeyMetadata(m: KeyMetadata): Body {
  return {
    AWSAccountId: m.account,
    KeyId: m.keyId,
    Arn: m.arn,
    CreationDate: seconds(m.creationDate),
    Enabled: m.enabled,
    Description: m.description,
    KeyUsage: m.keyUsage,
    KeyState: m.keyState,
    DeletionDate: m.keyState === 'PendingDeletion' ? seconds(m.deletionDate) : undefined,
    PendingDeletionWindowInDays: m.keyState === 'PendingDeletion' ? m.pendingDeletionWindowInDays : undefined,
    Origin: 'AWS_KMS',
    KeyManager: m.keyManager === 'CLUSTER' ? 'AWS' : 'CUSTOMER',
    CustomerMasterKeySpec: legacySpec(m.keySpec),
    KeySpec: m.keySpec,
    EncryptionAlgorithms: m.encryptionAlgorithms,
    SigningAlgorithms: m.signingAlgorithms,
    KeyAgreementAlgorithms: m.keyAgreementAlgorithms,
    MacAlgorithms: m.macAlgorithms,
    MultiRegion: false,
    CurrentKeyMaterialId: m.currentKeyMaterialId,
  };
}
