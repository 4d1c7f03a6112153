/**
 * Engine records as KmsStateRecord objects and back: object names, the envelope, and strict decoding (the file
 * keystore's record codec). An object that does not decode, or whose `spec.auth` does not authenticate it under
 * the root key (docs/adr/0013), is reported, never half-applied.
 */
import { createHash } from 'node:crypto';
import type { AliasRecord, GrantRecord, KeyRecord } from '../engine/records.ts';
import type { RecordAuthRing } from '../keystore/record-auth-ring.ts';
import {
  decodeAliasRecord,
  decodeGrantRecord,
  decodeKeyRecord,
  encodeAliasRecord,
  encodeGrantRecord,
  encodeKeyRecord,
} from '../keystore/record-codec.ts';
import { KMS_STATE_RECORD, type KmsStateRecord } from './kinds.ts';
export type DecodedRecord =
  | { readonly kind: 'Key'; readonly record: KeyRecord }
  | { readonly kind: 'Alias'; readonly record: AliasRecord }
  | { readonly kind: 'Grant'; readonly record: GrantRecord };

/** An object whose `spec.auth` does not authenticate its record under the root key (docs/adr/0013). */
export class UnauthenticatedRecordError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnauthenticatedRecordError';
  }
}

export const keyObjectName = (keyId: string): string => `key-${keyId}`;
/** Alias names hold `/` and upper case, which object names cannot: a hash names the object instead. */
export const aliasObjectName = (aliasName: string): string =>
  `alias-${createHash('sha256').update(aliasName).digest('hex').slice(0, 40)}`;
export const grantObjectName = (grantId: string): string => `grant-${grantId.toLowerCase()}`;

export function objectNameOf(d: DecodedRecord): string {
  switch (d.kind) {
    case 'Key':
      return keyObjectName(d.record.keyId);
    case 'Alias':
      return aliasObjectName(d.record.aliasName);
    case 'Grant':
      return grantObjectName(d.record.grantId);
  }
}

export function toObject(
  d: DecodedRecord,
  ring: RecordAuthRing,
  namespace: string,
  resourceVersion?: string,
): KmsStateRecord {
  const record =
    d.kind === 'Key'
      ? encodeKeyRecord(d.record)
      : d.kind === 'Alias'
        ? encodeAliasRecord(d.record)
        : encodeGrantRecord(d.record);
  return {
    apiVersion: `${KMS_STATE_RECORD.group}/${KMS_STATE_RECORD.version}`,
    kind: KMS_STATE_RECORD.kind,
    metadata: {
      name: objectNameOf(d),
      namespace,
      labels: { 'app.kubernetes.io/managed-by': 'kubekms', 'kubekms.io/record-kind': d.kind },
      ...(resourceVersion ? { resourceVersion } : {}),
    },
    spec: { kind: d.kind, record, auth: ring.envelope(d) },
  };
}

/**
 * Decodes an object from the API. Throws a RecordDecodeError naming the field for a malformed record, and an
 * Error when the object's name does not match its record (a record cannot hide under another key's name) or when
 * `spec.auth` does not authenticate it (`ring.learn` must have seen the object's `spec.auth` before).
 */
export function fromObject(o: KmsStateRecord, ring: RecordAuthRing): DecodedRecord {
  const path = `${KMS_STATE_RECORD.kind} ${o.metadata.name}: spec.record`;
  const spec = (o as { spec?: { kind?: unknown; record?: unknown } }).spec;
  let d: DecodedRecord;
  switch (spec?.kind) {
    case 'Key':
      d = { kind: 'Key', record: decodeKeyRecord(spec.record, path) };
      break;
    case 'Alias':
      d = { kind: 'Alias', record: decodeAliasRecord(spec.record, path) };
      break;
    case 'Grant':
      d = { kind: 'Grant', record: decodeGrantRecord(spec.record, path) };
      break;
    default:
      throw new Error(
        `${KMS_STATE_RECORD.kind} ${o.metadata.name}: spec.kind: expected Key, Alias or Grant, got ${JSON.stringify(spec?.kind)}`,
      );
  }
  const want = objectNameOf(d);
  if (want !== o.metadata.name) {
    throw new Error(
      `${KMS_STATE_RECORD.kind} ${o.metadata.name}: metadata.name: its record belongs in ${want}`,
    );
  }
  const problem = ring.problem(d, (spec as { auth?: unknown }).auth);
  if (problem !== undefined) {
    throw new UnauthenticatedRecordError(
      `${KMS_STATE_RECORD.kind} ${o.metadata.name}: spec.auth: not written by a holder of the root key (${problem})`,
    );
  }
  return d;
}
