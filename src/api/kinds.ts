/**
 * kubekms.io/v1alpha1: the TypeScript shapes of KmsKey, KmsAlias, KmsGrant and KmsStateRecord, and the names
 * every part of kubekms shares. The CRD schemas (crd-schemas.ts) are the validating source; these types only describe.
 */
import type { JsonValue } from '../keystore/record-codec.ts';
import type { KubeObject, ResourceType } from '../kube/objects.ts';
import type { Condition } from './conditions.ts';
import type { RetiredVersionsSpec } from './retired-policy.ts';

export const GROUP = 'kubekms.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

export const KMS_KEY: ResourceType = { group: GROUP, version: VERSION, plural: 'kmskeys', kind: 'KmsKey' };
export const KMS_ALIAS: ResourceType = {
  group: GROUP,
  version: VERSION,
  plural: 'kmsaliases',
  kind: 'KmsAlias',
};
export const KMS_GRANT: ResourceType = {
  group: GROUP,
  version: VERSION,
  plural: 'kmsgrants',
  kind: 'KmsGrant',
};

/** kubekms's own records of the shared key state (HA): not user objects, written by kubekms instances only. */
export const KMS_STATE_RECORD: ResourceType = {
  group: GROUP,
  version: VERSION,
  plural: 'kmsstaterecords',
  kind: 'KmsStateRecord',
};

/** One finalizer for all three kinds: the engine side is cleaned up before the object goes. */
export const FINALIZER = 'kubekms.io/finalizer';
/** Engine tag naming the KmsKey that owns a key (`namespace/name`): how a CR finds its key after any restart. */
export const OWNER_TAG = 'kubekms.io/owner';
/** On a KmsKey being deleted: cancel the scheduled key deletion and let the object go (the key stays, Disabled). */
export const CANCEL_DELETION_ANNOTATION = 'kubekms.io/cancel-deletion';
/** Marks the read-only mirror of a cluster-managed key. */
export const CLUSTER_MANAGED_LABEL = 'kubekms.io/cluster-managed';
export const REPORTING_CONTROLLER = 'kubekms.io/operator';

/** A Kubernetes identity: exactly one of the three. */
export interface PrincipalSpec {
  readonly serviceAccount?: { readonly name: string; readonly namespace?: string };
  readonly user?: string;
  readonly group?: string;
}

export interface PolicyStatementSpec {
  readonly effect?: 'Allow' | 'Deny';
  readonly subjects: readonly PrincipalSpec[];
  readonly operations: readonly string[];
}

export interface KmsKeySpec {
  readonly description?: string;
  readonly keySpec?: string;
  readonly keyUsage?: string;
  readonly enabled?: boolean;
  readonly rotation?: { readonly enabled?: boolean; readonly periodDays?: number };
  readonly rotateNow?: string;
  /** What happens to versions retired after a verified re-encryption (api/retired-policy.ts). */
  readonly retiredVersions?: RetiredVersionsSpec;
  readonly deletionWindowDays?: number;
  readonly deletionPolicy?: 'Delete' | 'Retain';
  readonly policy?: { readonly statements?: readonly PolicyStatementSpec[] };
  readonly tags?: Readonly<Record<string, string>>;
}

export interface KmsKeyStatus {
  readonly keyId?: string;
  readonly arn?: string;
  readonly keyState?: string;
  readonly keyManager?: string;
  readonly currentVersion?: number;
  readonly currentKeyMaterialId?: string;
  readonly creationTime?: string;
  readonly lastRotationTime?: string;
  readonly nextRotationTime?: string;
  readonly deletionDate?: string;
  readonly encryptionAlgorithms?: readonly string[];
  readonly signingAlgorithms?: readonly string[];
  readonly macAlgorithms?: readonly string[];
  readonly keyAgreementAlgorithms?: readonly string[];
  /** The spec.rotateNow token last acted on. */
  readonly rotateNow?: string;
  /** Progress of re-encrypting stored objects after a rotation (the Secrets key only; written by its controller). */
  readonly reencryption?: ReencryptionStatus;
  /** The retired versions of the key (still decrypting unless the policy or a scheduled destruction refuses them). */
  readonly retiredVersions?: readonly RetiredVersionStatus[];
  readonly conditions?: readonly Condition[];
  readonly observedGeneration?: number;
}

export interface RetiredVersionStatus {
  readonly version: number;
  readonly retiredTime: string;
  readonly lastUsedTime?: string;
  readonly destructionDate?: string;
}

export interface KmsKey extends KubeObject {
  readonly spec?: KmsKeySpec;
  readonly status?: KmsKeyStatus;
}

export interface KmsAliasSpec {
  readonly aliasName: string;
  readonly targetKeyRef?: { readonly name: string };
  readonly targetKeyId?: string;
}

export interface KmsAliasStatus {
  readonly aliasArn?: string;
  readonly targetKeyId?: string;
  readonly conditions?: readonly Condition[];
  readonly observedGeneration?: number;
}

export interface KmsAlias extends KubeObject {
  readonly spec: KmsAliasSpec;
  readonly status?: KmsAliasStatus;
}

export interface KmsGrantSpec {
  readonly keyRef: { readonly name: string };
  readonly grantee: PrincipalSpec;
  readonly retiringPrincipal?: PrincipalSpec;
  readonly operations: readonly string[];
  readonly constraints?: {
    readonly encryptionContextEquals?: Readonly<Record<string, string>>;
    readonly encryptionContextSubset?: Readonly<Record<string, string>>;
  };
}

export interface KmsGrantStatus {
  readonly grantId?: string;
  readonly keyId?: string;
  readonly grantee?: string;
  readonly conditions?: readonly Condition[];
  readonly observedGeneration?: number;
}

export interface KmsGrant extends KubeObject {
  readonly spec: KmsGrantSpec;
  readonly status?: KmsGrantStatus;
}

export type ReencryptionPhase = 'Pending' | 'Running' | 'Completed' | 'Failed';

/** KmsKey `status.reencryption`: one pass that rewrites every listed object under `keyVersion`. */
export interface ReencryptionStatus {
  readonly phase: ReencryptionPhase;
  /** The primary version this pass re-encrypts to. */
  readonly keyVersion: number;
  /** Objects the pass has listed so far or in all (the list snapshot's size per resource, summed). */
  readonly total: number;
  /** Objects rewritten (a no-op replace accepted by the API server). */
  readonly done: number;
  /** Objects gone before their turn (404): nothing left to rewrite. */
  readonly skipped: number;
  /** Objects the pass could not rewrite (errors other than 404/409 after retries). */
  readonly failed: number;
  /** Pending: not before this time (RFC 3339), the API servers switch to the new key_id in the meantime. */
  readonly notBefore?: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  /** The resource being worked on (index into the configured list's names) and the list continue token. */
  readonly resource?: string;
  readonly continue?: string;
  /** Configured resources the API server does not serve (reported, skipped). */
  readonly unknownResources?: readonly string[];
  /** What the API servers' metrics said about the new key_id (absent when kubekms does not look). */
  readonly switchover?: SwitchoverStatus;
  /** How the objects are rewritten: the cluster's StorageVersionMigrations, or kubekms's own pass. */
  readonly method?: ReencryptionMethod;
  /** With StorageVersionMigration: one per served resource, as last seen. */
  readonly migrations?: readonly MigrationStatus[];
}

export type ReencryptionMethod = 'StorageVersionMigration' | 'Pass';

/** One StorageVersionMigration kubekms created, and its state (from its conditions). */
export interface MigrationStatus {
  readonly resource: string;
  readonly name: string;
  readonly phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  readonly message?: string;
}

/**
 * The switch-over of the API servers to a new key_id as last seen: live API servers (identity Leases), how many
 * of them wrote (`to_storage`) under it since the rotation, the identity hashes still pending, or why it could not
 * be seen (then the fixed delay decides).
 */
export interface SwitchoverStatus {
  readonly apiservers: number;
  readonly switched: number;
  readonly pending?: readonly string[];
  readonly unavailable?: string;
}

export type StateRecordKind = 'Key' | 'Alias' | 'Grant';

/** One key, alias or grant of the shared key state: `record` as the file keystore encodes it. */
export interface KmsStateRecord extends KubeObject {
  readonly spec: {
    readonly kind: StateRecordKind;
    readonly record: JsonValue;
    /** Authenticates the record under the root key (docs/adr/0013-authenticated-records.md). */
    readonly auth?: unknown;
  };
}
