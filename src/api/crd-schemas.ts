/**
 * The three CRDs as data: the single source of `crds/*.yaml` (render-crds.ts writes them; a test checks they
 * are current). Enums and limits come from the engine's tables, so the schema and the engine cannot drift.
 */

import { KEY_SPECS, KEY_USAGES, LIMITS, USAGES_BY_SPEC } from '../engine/specs.ts';
import {
  AGE_COLUMN,
  CONDITIONS_SCHEMA,
  crd,
  OPERATIONS_SCHEMA,
  principalSchema,
  READY_COLUMN,
  REASON_COLUMN,
  type Schema,
} from './crd-common.ts';
import { RETIRED_AFTER_PATTERN } from './retired-policy.ts';
import { KMS_STATE_RECORD_CRD } from './state-crd.ts';

const immutable = (what: string) => [{ rule: 'self == oldSelf', message: `${what} is immutable` }];
const strings = (maxItems: number): Schema => ({
  type: 'array',
  maxItems,
  items: { type: 'string', maxLength: 64 },
});
const TIME: Schema = { type: 'string', format: 'date-time' };
const CONTEXT_MAP: Schema = {
  type: 'object',
  maxProperties: 8,
  additionalProperties: { type: 'string', maxLength: 384 },
};

/** CEL map literal: key spec → the usages it supports (the engine's USAGES_BY_SPEC). */
const usagesBySpecCel = `{${KEY_SPECS.map((s) => `'${s}': [${USAGES_BY_SPEC[s].map((u) => `'${u}'`).join(', ')}]`).join(', ')}}`;
const ROTATABLE = "self.keySpec == 'SYMMETRIC_DEFAULT' || self.keySpec.startsWith('HMAC_')";

export const KMS_KEY_CRD = crd({
  kind: 'KmsKey',
  plural: 'kmskeys',
  singular: 'kmskey',
  shortNames: ['kk'],
  description: 'A key in the kubekms engine. The operator creates, updates and deletes the key to match.',
  spec: {
    type: 'object',
    'x-kubernetes-validations': [
      {
        rule: `self.keyUsage in ${usagesBySpecCel}[self.keySpec]`,
        messageExpression: "'keyUsage ' + self.keyUsage + ' is not valid for keySpec ' + self.keySpec",
        fieldPath: '.keyUsage',
      },
      {
        rule: `!self.rotation.enabled || ${ROTATABLE}`,
        message: 'automatic rotation is supported only for SYMMETRIC_DEFAULT and HMAC keys',
        fieldPath: '.rotation.enabled',
      },
      {
        rule: `!has(self.rotateNow) || ${ROTATABLE}`,
        message: 'on-demand rotation is supported only for SYMMETRIC_DEFAULT and HMAC keys',
        fieldPath: '.rotateNow',
      },
    ],
    properties: {
      description: { type: 'string', maxLength: LIMITS.descriptionMax, default: '' },
      keySpec: {
        type: 'string',
        enum: [...KEY_SPECS],
        default: 'SYMMETRIC_DEFAULT',
        'x-kubernetes-validations': immutable('keySpec'),
      },
      keyUsage: {
        type: 'string',
        enum: [...KEY_USAGES],
        default: 'ENCRYPT_DECRYPT',
        'x-kubernetes-validations': immutable('keyUsage'),
      },
      enabled: { type: 'boolean', default: true },
      rotation: {
        type: 'object',
        default: {},
        description: 'Automatic rotation: a new key version every periodDays.',
        properties: {
          enabled: { type: 'boolean', default: false },
          periodDays: {
            type: 'integer',
            minimum: LIMITS.rotationPeriodMinDays,
            maximum: LIMITS.rotationPeriodMaxDays,
            default: LIMITS.rotationPeriodDefaultDays,
          },
        },
      },
      rotateNow: {
        type: 'string',
        maxLength: 253,
        description: 'A token: each time it changes, the key is rotated once (on demand).',
      },
      retiredVersions: {
        type: 'object',
        description:
          'Versions below the primary are retired once a re-encryption completed with 0 failures: they still decrypt, and every use is reported. disableDecryptAfter (7d, 12h, 30m, 0s) refuses decrypt under a retired version once it went unused that long; removing or raising it lets it decrypt again.',
        properties: {
          disableDecryptAfter: { type: 'string', pattern: RETIRED_AFTER_PATTERN, maxLength: 6 },
          destroy: {
            type: 'array',
            maxItems: 100,
            description:
              'Retired versions to destroy, each after destroyWindowDays; until then it refuses to decrypt, and removing it from the list cancels. A version not retired yet is scheduled once it is.',
            items: {
              type: 'object',
              required: ['version'],
              properties: { version: { type: 'integer', minimum: 1 } },
            },
          },
          destroyWindowDays: {
            type: 'integer',
            minimum: LIMITS.pendingWindowMinDays,
            maximum: LIMITS.pendingWindowMaxDays,
            description: 'Days between scheduling a version for destruction and destroying it (default 30).',
          },
        },
      },
      deletionWindowDays: {
        type: 'integer',
        minimum: LIMITS.pendingWindowMinDays,
        maximum: LIMITS.pendingWindowMaxDays,
        default: LIMITS.pendingWindowDefaultDays,
        description: 'Days between deleting the object and destroying the key material.',
      },
      deletionPolicy: {
        type: 'string',
        enum: ['Delete', 'Retain'],
        default: 'Delete',
        description:
          'Delete: deleting the object schedules key deletion. Retain: the key stays in the engine.',
      },
      policy: {
        type: 'object',
        description: 'Who may use the key. Administration is Kubernetes RBAC on this object.',
        properties: {
          statements: {
            type: 'array',
            maxItems: 50,
            items: {
              type: 'object',
              required: ['subjects', 'operations'],
              properties: {
                effect: { type: 'string', enum: ['Allow', 'Deny'], default: 'Allow' },
                subjects: { type: 'array', minItems: 1, maxItems: 50, items: principalSchema('A subject.') },
                operations: OPERATIONS_SCHEMA,
              },
            },
          },
        },
      },
      tags: {
        type: 'object',
        maxProperties: LIMITS.tagsMax - 1,
        additionalProperties: { type: 'string', maxLength: LIMITS.tagValueMax },
        'x-kubernetes-validations': [
          {
            rule: "self.all(k, size(k) <= 128 && !k.startsWith('aws:') && !k.startsWith('kubekms.io/'))",
            message: 'tag keys are at most 128 characters; the prefixes aws: and kubekms.io/ are reserved',
          },
        ],
      },
    },
  },
  status: {
    type: 'object',
    properties: {
      keyId: { type: 'string' },
      arn: { type: 'string' },
      keyState: { type: 'string' },
      keyManager: { type: 'string' },
      currentVersion: { type: 'integer' },
      currentKeyMaterialId: { type: 'string' },
      creationTime: TIME,
      lastRotationTime: TIME,
      nextRotationTime: TIME,
      deletionDate: TIME,
      encryptionAlgorithms: strings(8),
      signingAlgorithms: strings(16),
      macAlgorithms: strings(4),
      keyAgreementAlgorithms: strings(4),
      rotateNow: { type: 'string' },
      retiredVersions: {
        type: 'array',
        description:
          'Retired versions: when retired, last used (as far as kubekms recorded), destruction date.',
        items: {
          type: 'object',
          properties: {
            version: { type: 'integer' },
            retiredTime: TIME,
            lastUsedTime: TIME,
            destructionDate: TIME,
          },
        },
      },
      reencryption: {
        type: 'object',
        description: 'Progress of re-encrypting stored objects after a rotation (the Secrets key only).',
        properties: {
          phase: { type: 'string', enum: ['Pending', 'Running', 'Completed', 'Failed'] },
          keyVersion: { type: 'integer' },
          total: { type: 'integer' },
          done: { type: 'integer' },
          skipped: { type: 'integer' },
          failed: { type: 'integer' },
          notBefore: TIME,
          startedAt: TIME,
          finishedAt: TIME,
          resource: { type: 'string' },
          continue: { type: 'string' },
          unknownResources: strings(64),
          switchover: {
            type: 'object',
            description:
              'The API servers switching to the new key_id: live ones, how many wrote under it, pending identity hashes, or why it could not be seen.',
            properties: {
              apiservers: { type: 'integer' },
              switched: { type: 'integer' },
              pending: { type: 'array', maxItems: 64, items: { type: 'string', maxLength: 80 } },
              unavailable: { type: 'string', maxLength: 1024 },
            },
          },
          method: { type: 'string', enum: ['StorageVersionMigration', 'Pass'] },
          migrations: {
            type: 'array',
            maxItems: 64,
            description: 'The StorageVersionMigrations of this re-encryption, one per resource.',
            items: {
              type: 'object',
              properties: {
                resource: { type: 'string', maxLength: 253 },
                name: { type: 'string', maxLength: 253 },
                phase: { type: 'string', enum: ['Pending', 'Running', 'Succeeded', 'Failed'] },
                message: { type: 'string', maxLength: 1024 },
              },
            },
          },
        },
      },
      conditions: CONDITIONS_SCHEMA,
      observedGeneration: { type: 'integer', format: 'int64' },
    },
  },
  columns: [
    { name: 'Spec', type: 'string', jsonPath: '.spec.keySpec' },
    { name: 'Usage', type: 'string', jsonPath: '.spec.keyUsage' },
    { name: 'State', type: 'string', jsonPath: '.status.keyState' },
    { name: 'Version', type: 'integer', jsonPath: '.status.currentVersion' },
    READY_COLUMN,
    AGE_COLUMN,
    { name: 'Key-ID', type: 'string', priority: 1, jsonPath: '.status.keyId' },
    { name: 'Rotation', type: 'boolean', priority: 1, jsonPath: '.spec.rotation.enabled' },
    { name: 'Next-Rotation', type: 'string', priority: 1, jsonPath: '.status.nextRotationTime' },
    REASON_COLUMN,
  ],
});

export const KMS_ALIAS_CRD = crd({
  kind: 'KmsAlias',
  plural: 'kmsaliases',
  singular: 'kmsalias',
  shortNames: ['ka'],
  description:
    'An alias name for a KmsKey of the same namespace. Re-pointable; alias names are cluster-unique.',
  spec: {
    type: 'object',
    required: ['aliasName'],
    'x-kubernetes-validations': [
      {
        rule: 'has(self.targetKeyRef) != has(self.targetKeyId)',
        message: 'exactly one of targetKeyRef, targetKeyId',
      },
    ],
    properties: {
      aliasName: {
        type: 'string',
        minLength: 7,
        maxLength: LIMITS.aliasNameMax,
        pattern: '^alias/[a-zA-Z0-9/_-]+$',
        'x-kubernetes-validations': [
          {
            rule: "!self.startsWith('alias/aws/') && !self.startsWith('alias/kubekms/')",
            message: 'the prefixes alias/aws/ and alias/kubekms/ are reserved',
          },
          ...immutable('aliasName'),
        ],
      },
      targetKeyRef: {
        type: 'object',
        required: ['name'],
        description: 'A KmsKey in the same namespace.',
        properties: { name: { type: 'string', minLength: 1, maxLength: 253 } },
      },
      targetKeyId: {
        type: 'string',
        pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
        description: 'The key id of a key owned by a KmsKey of the same namespace.',
      },
    },
  },
  status: {
    type: 'object',
    properties: {
      aliasArn: { type: 'string' },
      targetKeyId: { type: 'string' },
      conditions: CONDITIONS_SCHEMA,
      observedGeneration: { type: 'integer', format: 'int64' },
    },
  },
  columns: [
    { name: 'Alias', type: 'string', jsonPath: '.spec.aliasName' },
    { name: 'Target', type: 'string', jsonPath: '.spec.targetKeyRef.name' },
    READY_COLUMN,
    AGE_COLUMN,
    { name: 'Target-Key-ID', type: 'string', priority: 1, jsonPath: '.status.targetKeyId' },
    REASON_COLUMN,
  ],
});

export const KMS_GRANT_CRD = crd({
  kind: 'KmsGrant',
  plural: 'kmsgrants',
  singular: 'kmsgrant',
  shortNames: ['kg'],
  description:
    'A grant: lets a Kubernetes identity use a KmsKey of the same namespace. Immutable; delete to revoke.',
  spec: {
    type: 'object',
    required: ['keyRef', 'grantee', 'operations'],
    'x-kubernetes-validations': immutable('spec'),
    properties: {
      keyRef: {
        type: 'object',
        required: ['name'],
        properties: { name: { type: 'string', minLength: 1, maxLength: 253 } },
      },
      grantee: principalSchema('Who receives the permissions.'),
      retiringPrincipal: principalSchema('Who may retire the grant.'),
      operations: OPERATIONS_SCHEMA,
      constraints: {
        type: 'object',
        properties: { encryptionContextEquals: CONTEXT_MAP, encryptionContextSubset: CONTEXT_MAP },
        'x-kubernetes-validations': [
          {
            rule: '!(has(self.encryptionContextEquals) && has(self.encryptionContextSubset))',
            message: 'encryptionContextEquals and encryptionContextSubset are mutually exclusive',
          },
        ],
      },
    },
  },
  status: {
    type: 'object',
    properties: {
      grantId: { type: 'string' },
      keyId: { type: 'string' },
      grantee: { type: 'string' },
      conditions: CONDITIONS_SCHEMA,
      observedGeneration: { type: 'integer', format: 'int64' },
    },
  },
  columns: [
    { name: 'Key', type: 'string', jsonPath: '.spec.keyRef.name' },
    { name: 'Grantee', type: 'string', jsonPath: '.status.grantee' },
    READY_COLUMN,
    AGE_COLUMN,
    { name: 'Operations', type: 'string', priority: 1, jsonPath: '.spec.operations' },
    { name: 'Grant-ID', type: 'string', priority: 1, jsonPath: '.status.grantId' },
    REASON_COLUMN,
  ],
});

export const CRDS = {
  kmskeys: KMS_KEY_CRD,
  kmsaliases: KMS_ALIAS_CRD,
  kmsgrants: KMS_GRANT_CRD,
  kmsstaterecords: KMS_STATE_RECORD_CRD,
} as const;
