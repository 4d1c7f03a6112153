/**
 * The AWS KMS API model (kms-model.json, generated from botocore's service-2.json without documentation),
 * typed just enough to walk shapes: request decoding (decode-input.ts) and the test-only response validator
 * (model-validate.ts) both read it.
 */
import raw from './kms-model.json' with { type: 'json' };

export interface MemberRef {
  readonly shape: string;
}

export interface Shape {
  readonly type:
    | 'structure'
    | 'string'
    | 'blob'
    | 'integer'
    | 'long'
    | 'boolean'
    | 'timestamp'
    | 'list'
    | 'map'
    | 'double'
    | 'float';
  readonly members?: Readonly<Record<string, MemberRef>>;
  readonly required?: readonly string[];
  readonly member?: MemberRef;
  readonly key?: MemberRef;
  readonly value?: MemberRef;
  readonly enum?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  readonly pattern?: string;
  readonly exception?: boolean;
}

export interface Operation {
  readonly name: string;
  readonly input?: MemberRef;
  readonly output?: MemberRef;
  readonly errors?: readonly MemberRef[];
}

interface Model {
  readonly metadata: { readonly targetPrefix: string };
  readonly operations: Readonly<Record<string, Operation>>;
  readonly shapes: Readonly<Record<string, Shape>>;
}

export const MODEL = raw as unknown as Model;

export const TARGET_PREFIX = MODEL.metadata.targetPrefix;

/** Every operation name in the model (54 in the 2026 model). */
export const MODEL_OPERATIONS: readonly string[] = Object.keys(MODEL.operations);

export function shapeOf(name: string): Shape {
  const s = MODEL.shapes[name];
  if (!s) throw new Error(`kms-model: no shape ${name}`);
  return s;
}
