/** Schema pieces shared by the three CRDs: conditions (metav1.Condition), principals, printer columns. */
import { GRANT_OPERATIONS } from '../engine/records.ts';

export type Schema = Record<string, unknown>;

export const CONDITIONS_SCHEMA: Schema = {
  type: 'array',
  maxItems: 8,
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': ['type'],
  items: {
    type: 'object',
    required: ['type', 'status', 'reason', 'message', 'lastTransitionTime'],
    properties: {
      type: { type: 'string', maxLength: 316 },
      status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
      reason: {
        type: 'string',
        minLength: 1,
        maxLength: 1024,
        pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
      },
      message: { type: 'string', maxLength: 32768 },
      lastTransitionTime: { type: 'string', format: 'date-time' },
      observedGeneration: { type: 'integer', format: 'int64', minimum: 0 },
    },
  },
};

const PRINCIPAL_NAME: Schema = { type: 'string', minLength: 1, maxLength: 200, pattern: '^[\\w+=,.@:/-]+$' };

export function principalSchema(description: string): Schema {
  return {
    type: 'object',
    description,
    properties: {
      serviceAccount: {
        type: 'object',
        required: ['name'],
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 253 },
          namespace: {
            type: 'string',
            maxLength: 63,
            pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
            description: "Defaults to the object's namespace.",
          },
        },
      },
      user: { ...PRINCIPAL_NAME, description: 'A user name as the API server authenticates it.' },
      group: { ...PRINCIPAL_NAME, description: 'A group name; matches every member.' },
    },
    'x-kubernetes-validations': [
      {
        rule: '(has(self.serviceAccount) ? 1 : 0) + (has(self.user) ? 1 : 0) + (has(self.group) ? 1 : 0) == 1',
        message: 'exactly one of serviceAccount, user, group',
      },
    ],
  };
}

export const OPERATIONS_SCHEMA: Schema = {
  type: 'array',
  minItems: 1,
  maxItems: GRANT_OPERATIONS.length,
  'x-kubernetes-list-type': 'set',
  items: { type: 'string', enum: [...GRANT_OPERATIONS] },
};

export const READY_COLUMN = {
  name: 'Ready',
  type: 'string',
  jsonPath: '.status.conditions[?(@.type=="Ready")].status',
};
export const REASON_COLUMN = {
  name: 'Reason',
  type: 'string',
  priority: 1,
  jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
};
export const AGE_COLUMN = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

export function crd(o: {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  description: string;
  spec: Schema;
  status: Schema;
  columns: Schema[];
}): Schema {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${o.plural}.kubekms.io` },
    spec: {
      group: 'kubekms.io',
      scope: 'Namespaced',
      names: {
        kind: o.kind,
        listKind: `${o.kind}List`,
        plural: o.plural,
        singular: o.singular,
        shortNames: o.shortNames,
        categories: ['kubekms'],
      },
      versions: [
        {
          name: 'v1alpha1',
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: o.columns,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: o.description,
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: o.spec,
                status: o.status,
              },
            },
          },
        },
      ],
    },
  };
}
