/**
 * The KmsStateRecord CRD: the shared key state of HA deployments (docs/adr/0009-shared-key-state.md). One object
 * per engine record; `spec.record` is the record as the file keystore encodes it, decoded strictly on read, so the
 * schema only bounds the envelope. Not in the `kubekms` category: these are kubekms's internals, not user objects.
 */
import type { Schema } from './crd-common.ts';

export const KMS_STATE_RECORD_CRD: Schema = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'kmsstaterecords.kubekms.io' },
  spec: {
    group: 'kubekms.io',
    scope: 'Namespaced',
    names: {
      kind: 'KmsStateRecord',
      listKind: 'KmsStateRecordList',
      plural: 'kmsstaterecords',
      singular: 'kmsstaterecord',
    },
    versions: [
      {
        name: 'v1alpha1',
        served: true,
        storage: true,
        additionalPrinterColumns: [
          { name: 'Kind', type: 'string', jsonPath: '.spec.kind' },
          { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
        ],
        schema: {
          openAPIV3Schema: {
            type: 'object',
            description:
              'kubekms internal: one key, alias or grant of the shared key state. Key material is wrapped by the ' +
              'root key. Written only by kubekms instances; never edit by hand. Must not be encrypted by kubekms.',
            required: ['spec'],
            properties: {
              apiVersion: { type: 'string' },
              kind: { type: 'string' },
              metadata: { type: 'object' },
              spec: {
                type: 'object',
                required: ['kind', 'record'],
                properties: {
                  kind: { type: 'string', enum: ['Key', 'Alias', 'Grant'] },
                  record: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
                  auth: {
                    type: 'object',
                    description:
                      "The writer's record authentication key wrapped by the root key, and the record's HMAC " +
                      'under it (docs/adr/0013-authenticated-records.md).',
                    required: ['recordAuthKey', 'auth'],
                    properties: { recordAuthKey: { type: 'string' }, auth: { type: 'string' } },
                  },
                },
              },
            },
          },
        },
      },
    ],
  },
};
