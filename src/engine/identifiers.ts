/**
 * Key identifiers: lowercase UUID key ids, ARN-shaped ids fixed per installation, alias names, and the four
 * forms a request may use to name a key (key id, key ARN, alias name, alias ARN).
 */

import { bytesToUuid } from './ciphertext.ts';
import { KmsError, validation } from './errors.ts';

/** Fixed per installation: they are frozen into ciphertexts' ARNs held by clients, so never change them. */
export interface ArnConfig {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
}

export const DEFAULT_ARN_CONFIG: ArnConfig = {
  partition: 'aws',
  region: 'us-east-1',
  account: '000000000000',
};

export function validateArnConfig(c: ArnConfig): ArnConfig {
  if (!/^[a-z][a-z0-9-]{0,62}$/.test(c.partition))
    throw validation('partition', 'must match [a-z][a-z0-9-]*');
  if (!/^[a-z]{2}(-[a-z0-9]+)+$/.test(c.region)) throw validation('region', 'must look like us-east-1');
  if (!/^\d{12}$/.test(c.account)) throw validation('account', 'must be 12 digits');
  return c;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
export const isKeyUuid = (s: string): boolean => UUID_RE.test(s);

/** A random (version 4) UUID from 16 random bytes. */
export function uuidFromRandom(r: Uint8Array): string {
  const b = Uint8Array.from(r.subarray(0, 16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  return bytesToUuid(b);
}

export const keyArn = (c: ArnConfig, keyId: string): string =>
  `arn:${c.partition}:kms:${c.region}:${c.account}:key/${keyId}`;
export const aliasArn = (c: ArnConfig, aliasName: string): string =>
  `arn:${c.partition}:kms:${c.region}:${c.account}:${aliasName}`;

export type KeyRef =
  | { readonly kind: 'key'; readonly keyId: string }
  | { readonly kind: 'alias'; readonly aliasName: string };

const ALIAS_RE = /^alias\/[a-zA-Z0-9:/_-]+$/;
export const RESERVED_ALIAS_PREFIXES = ['alias/aws/', 'alias/kubekms/'] as const;

/** Parses any of the four key identifier forms. Errors name `field`. */
export function parseKeyRef(value: unknown, c: ArnConfig, field = 'KeyId'): KeyRef {
  if (typeof value !== 'string' || value.length === 0) throw validation(field, 'must be a non-empty string');
  if (value.length > 2048) throw validation(field, 'must be at most 2048 characters');
  if (value.startsWith('arn:')) {
    const parts = value.split(':');
    const prefix = `arn:${c.partition}:kms:${c.region}:${c.account}:`;
    if (parts.length < 6 || parts[2] !== 'kms') throw validation(field, 'is not a KMS ARN');
    if (!value.startsWith(prefix)) {
      // A well-formed ARN of another partition, region or account names no key here.
      throw new KmsError('NotFoundException', `${field}: ${value} is not a key of this installation`);
    }
    const resource = value.slice(prefix.length);
    if (resource.startsWith('key/')) {
      const id = resource.slice(4);
      if (!isKeyUuid(id)) throw new KmsError('NotFoundException', `Key '${value}' does not exist`);
      return { kind: 'key', keyId: id };
    }
    if (resource.startsWith('alias/')) return { kind: 'alias', aliasName: checkAliasSyntax(resource, field) };
    throw validation(field, 'ARN resource must be key/<id> or alias/<name>');
  }
  if (value.startsWith('alias/')) return { kind: 'alias', aliasName: checkAliasSyntax(value, field) };
  if (!isKeyUuid(value.toLowerCase())) {
    throw new KmsError('NotFoundException', `Invalid keyId '${value}'`);
  }
  return { kind: 'key', keyId: value.toLowerCase() };
}

function checkAliasSyntax(name: string, field: string): string {
  if (name.length > 256 || !ALIAS_RE.test(name)) {
    throw new KmsError(
      'InvalidAliasNameException',
      `${field}: alias name must match ^alias/[a-zA-Z0-9:/_-]+$ (≤ 256)`,
      field,
    );
  }
  return name;
}

/** Checks an alias name a user wants to create: syntax, and not in a reserved namespace. */
export function validateNewAliasName(value: unknown, field = 'AliasName', allowReserved = false): string {
  if (typeof value !== 'string' || value.length === 0) throw validation(field, 'must be a non-empty string');
  const name = checkAliasSyntax(value, field);
  if (allowReserved) return name;
  for (const p of RESERVED_ALIAS_PREFIXES) {
    if (name.startsWith(p)) {
      throw new KmsError('InvalidAliasNameException', `${field}: the prefix ${p} is reserved`, field);
    }
  }
  return name;
}
