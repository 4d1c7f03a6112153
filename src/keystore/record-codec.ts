/**
 * KeyRecord, AliasRecord and GrantRecord to and from JSON values. Bytes are standard padded base64; optional
 * fields are omitted when absent. Decoding validates every field and throws a RecordDecodeError naming its path
 * (e.g. `keys[3].versions[0].wrappedMaterial: not base64`); it also checks the structure of a keyset (versions
 * strictly increasing from 1, the primary is one of them, the usage fits the spec), a subset of what the engine
 * checks, so that anything the engine commits can be read back.
 */
import type { KeyPolicy, PolicyStatement } from '../engine/policy.ts';
import {
  type AliasRecord,
  GRANT_OPERATIONS,
  type GrantConstraints,
  type GrantRecord,
  type KeyManager,
  type KeyRecord,
  type KeyState,
  type KeyVersionRecord,
  type RotationConfig,
  type RotationType,
} from '../engine/records.ts';
import { KEY_SPECS, KEY_USAGES, USAGES_BY_SPEC } from '../engine/specs.ts';
import { RecordDecodeError } from './errors.ts';
import { encodeBase64, JsonObjectReader } from './json-reader.ts';

export type JsonValue =
  | null
  | boolean
  | number
  | string
  | readonly JsonValue[]
  | { readonly [k: string]: JsonValue };
type JsonObject = { [k: string]: JsonValue };

const KEY_STATES: readonly KeyState[] = ['Enabled', 'Disabled', 'PendingDeletion', 'PendingImport'];
const KEY_MANAGERS: readonly KeyManager[] = ['CUSTOMER', 'CLUSTER'];
const ROTATION_TYPES: readonly RotationType[] = ['AUTOMATIC', 'ON_DEMAND'];

const KEY_FIELDS = [
  'keyId',
  'createdAt',
  'description',
  'keySpec',
  'keyUsage',
  'keyManager',
  'state',
  'deletionDate',
  'pendingWindowDays',
  'rotation',
  'versions',
  'primaryVersion',
  'policy',
  'tags',
  'retiredVersions',
  'revision',
] as const;
const VERSION_FIELDS = [
  'version',
  'createdAt',
  'wrappedMaterial',
  'publicKey',
  'rotationType',
  'retiredAt',
  'lastUsedAt',
  'destroyAt',
] as const;
const RETIRED_POLICY_FIELDS = ['disableDecryptAfterMs'] as const;
const ROTATION_FIELDS = ['enabled', 'periodDays', 'nextRotationAt'] as const;
const POLICY_FIELDS = ['statements'] as const;
const STATEMENT_FIELDS = ['sid', 'effect', 'principals', 'actions'] as const;
const ALIAS_FIELDS = ['aliasName', 'targetKeyId', 'createdAt', 'updatedAt'] as const;
const GRANT_FIELDS = [
  'grantId',
  'grantToken',
  'keyId',
  'name',
  'granteePrincipal',
  'retiringPrincipal',
  'issuingPrincipal',
  'operations',
  'constraints',
  'createdAt',
] as const;
const CONSTRAINT_FIELDS = ['encryptionContextEquals', 'encryptionContextSubset'] as const;

/** Copies `source[name]` into `target` only when it is defined. */
function putOptional(target: JsonObject, name: string, value: JsonValue | undefined): void {
  if (value !== undefined) target[name] = value;
}

// ---------------------------------------------------------------------------------------------- encoding

export function encodeKeyRecord(r: KeyRecord): JsonValue {
  const out: JsonObject = {
    keyId: r.keyId,
    createdAt: r.createdAt,
    description: r.description,
    keySpec: r.keySpec,
    keyUsage: r.keyUsage,
    keyManager: r.keyManager,
    state: r.state,
  };
  putOptional(out, 'deletionDate', r.deletionDate);
  putOptional(out, 'pendingWindowDays', r.pendingWindowDays);
  const rotation: JsonObject = { enabled: r.rotation.enabled, periodDays: r.rotation.periodDays };
  putOptional(rotation, 'nextRotationAt', r.rotation.nextRotationAt);
  out.rotation = rotation;
  out.versions = r.versions.map(encodeVersion);
  out.primaryVersion = r.primaryVersion;
  out.policy = { statements: r.policy.statements.map(encodeStatement) };
  out.tags = { ...r.tags };
  if (r.retiredVersions?.disableDecryptAfterMs !== undefined) {
    out.retiredVersions = { disableDecryptAfterMs: r.retiredVersions.disableDecryptAfterMs };
  }
  out.revision = r.revision;
  return out;
}

function encodeVersion(v: KeyVersionRecord): JsonValue {
  const out: JsonObject = {
    version: v.version,
    createdAt: v.createdAt,
    wrappedMaterial: encodeBase64(v.wrappedMaterial),
  };
  putOptional(out, 'publicKey', v.publicKey && encodeBase64(v.publicKey));
  putOptional(out, 'rotationType', v.rotationType);
  putOptional(out, 'retiredAt', v.retiredAt);
  putOptional(out, 'lastUsedAt', v.lastUsedAt);
  putOptional(out, 'destroyAt', v.destroyAt);
  return out;
}

function encodeStatement(s: PolicyStatement): JsonValue {
  const out: JsonObject = {};
  putOptional(out, 'sid', s.sid);
  out.effect = s.effect;
  out.principals = [...s.principals];
  out.actions = [...s.actions];
  return out;
}

export function encodeAliasRecord(a: AliasRecord): JsonValue {
  return {
    aliasName: a.aliasName,
    targetKeyId: a.targetKeyId,
    createdAt: a.createdAt,
    updatedAt: a.updatedAt,
  };
}

export function encodeGrantRecord(g: GrantRecord): JsonValue {
  const out: JsonObject = { grantId: g.grantId, grantToken: g.grantToken, keyId: g.keyId };
  putOptional(out, 'name', g.name);
  out.granteePrincipal = g.granteePrincipal;
  putOptional(out, 'retiringPrincipal', g.retiringPrincipal);
  out.issuingPrincipal = g.issuingPrincipal;
  out.operations = [...g.operations];
  if (g.constraints !== undefined) {
    const c: JsonObject = {};
    putOptional(
      c,
      'encryptionContextEquals',
      g.constraints.encryptionContextEquals && {
        ...g.constraints.encryptionContextEquals,
      },
    );
    putOptional(
      c,
      'encryptionContextSubset',
      g.constraints.encryptionContextSubset && {
        ...g.constraints.encryptionContextSubset,
      },
    );
    out.constraints = c;
  }
  out.createdAt = g.createdAt;
  return out;
}

// ---------------------------------------------------------------------------------------------- decoding

/** Decodes one key record; `path` names it in errors, e.g. `keys[3]`. */
export function decodeKeyRecord(value: unknown, path: string): KeyRecord {
  const o = new JsonObjectReader(value, path, KEY_FIELDS);
  const keyId = o.string('keyId', { nonEmpty: true });
  const createdAt = o.integer('createdAt', 0);
  const description = o.string('description');
  const keySpec = o.oneOf('keySpec', KEY_SPECS);
  const keyUsage = o.oneOf('keyUsage', KEY_USAGES);
  if (!USAGES_BY_SPEC[keySpec].includes(keyUsage)) {
    throw new RecordDecodeError(o.at('keyUsage'), `${keyUsage} is not a usage of ${keySpec}`);
  }
  const keyManager = o.oneOf('keyManager', KEY_MANAGERS);
  const state = o.oneOf('state', KEY_STATES);
  const deletionDate = o.optionalInteger('deletionDate', 0);
  const pendingWindowDays = o.optionalInteger('pendingWindowDays', 1);
  const rotation = decodeRotation(o.object('rotation', ROTATION_FIELDS));
  const versions = o.array('versions').map((v, i) => decodeVersion(v, `${o.at('versions')}[${i}]`));
  if (versions.length === 0)
    throw new RecordDecodeError(o.at('versions'), 'empty: a key has at least one version');
  versions.forEach((v, i) => {
    const previous = i === 0 ? 0 : versions[i - 1]!.version;
    if (v.version <= previous) {
      throw new RecordDecodeError(
        `${o.at('versions')}[${i}].version`,
        `${v.version} does not follow ${previous}`,
      );
    }
  });
  const primaryVersion = o.integer('primaryVersion', 1);
  if (!versions.some((v) => v.version === primaryVersion)) {
    throw new RecordDecodeError(o.at('primaryVersion'), `${primaryVersion} is not one of the versions`);
  }
  const policy = decodePolicy(o.object('policy', POLICY_FIELDS));
  const tags = o.stringMap('tags');
  const retired = o.optionalObject('retiredVersions', RETIRED_POLICY_FIELDS);
  const disableDecryptAfterMs = retired?.optionalInteger('disableDecryptAfterMs', 0);
  const revision = o.integer('revision', 0);
  return {
    keyId,
    createdAt,
    description,
    keySpec,
    keyUsage,
    keyManager,
    state,
    ...(deletionDate !== undefined ? { deletionDate } : {}),
    ...(pendingWindowDays !== undefined ? { pendingWindowDays } : {}),
    rotation,
    versions,
    primaryVersion,
    policy,
    tags,
    ...(disableDecryptAfterMs !== undefined ? { retiredVersions: { disableDecryptAfterMs } } : {}),
    revision,
  };
}

function decodeRotation(o: JsonObjectReader): RotationConfig {
  const enabled = o.boolean('enabled');
  const periodDays = o.integer('periodDays', 1);
  const nextRotationAt = o.optionalInteger('nextRotationAt', 0);
  return { enabled, periodDays, ...(nextRotationAt !== undefined ? { nextRotationAt } : {}) };
}

function decodeVersion(value: unknown, path: string): KeyVersionRecord {
  const o = new JsonObjectReader(value, path, VERSION_FIELDS);
  const version = o.integer('version', 1);
  const createdAt = o.integer('createdAt', 0);
  const wrappedMaterial = o.bytes('wrappedMaterial', { nonEmpty: true });
  const publicKey = o.optionalBytes('publicKey', { nonEmpty: true });
  const rotationType = o.optionalOneOf('rotationType', ROTATION_TYPES);
  const retiredAt = o.optionalInteger('retiredAt', 0);
  const lastUsedAt = o.optionalInteger('lastUsedAt', 0);
  const destroyAt = o.optionalInteger('destroyAt', 0);
  return {
    version,
    createdAt,
    wrappedMaterial,
    ...(publicKey !== undefined ? { publicKey } : {}),
    ...(rotationType !== undefined ? { rotationType } : {}),
    ...(retiredAt !== undefined ? { retiredAt } : {}),
    ...(lastUsedAt !== undefined ? { lastUsedAt } : {}),
    ...(destroyAt !== undefined ? { destroyAt } : {}),
  };
}

function decodePolicy(o: JsonObjectReader): KeyPolicy {
  const statements = o.array('statements').map((s, i): PolicyStatement => {
    const st = new JsonObjectReader(s, `${o.at('statements')}[${i}]`, STATEMENT_FIELDS);
    const sid = st.optionalString('sid');
    const effect = st.oneOf('effect', ['Allow', 'Deny'] as const);
    const principals = st.strings('principals');
    const actions = st.strings('actions');
    return { ...(sid !== undefined ? { sid } : {}), effect, principals, actions };
  });
  return { statements };
}

/** Decodes one alias record; `path` names it in errors, e.g. `aliases[0]`. */
export function decodeAliasRecord(value: unknown, path: string): AliasRecord {
  const o = new JsonObjectReader(value, path, ALIAS_FIELDS);
  return {
    aliasName: o.string('aliasName', { nonEmpty: true }),
    targetKeyId: o.string('targetKeyId', { nonEmpty: true }),
    createdAt: o.integer('createdAt', 0),
    updatedAt: o.integer('updatedAt', 0),
  };
}

/** Decodes one grant record; `path` names it in errors, e.g. `grants[0]`. */
export function decodeGrantRecord(value: unknown, path: string): GrantRecord {
  const o = new JsonObjectReader(value, path, GRANT_FIELDS);
  const grantId = o.string('grantId', { nonEmpty: true });
  const grantToken = o.string('grantToken', { nonEmpty: true });
  const keyId = o.string('keyId', { nonEmpty: true });
  const name = o.optionalString('name');
  const granteePrincipal = o.string('granteePrincipal', { nonEmpty: true });
  const retiringPrincipal = o.optionalString('retiringPrincipal', { nonEmpty: true });
  const issuingPrincipal = o.string('issuingPrincipal', { nonEmpty: true });
  const operations = o.strings('operations').map((op, i) => {
    const known = GRANT_OPERATIONS.find((g) => g === op);
    if (known === undefined) {
      throw new RecordDecodeError(
        `${o.at('operations')}[${i}]`,
        `unknown grant operation ${JSON.stringify(op)}`,
      );
    }
    return known;
  });
  const c = o.optionalObject('constraints', CONSTRAINT_FIELDS);
  let constraints: GrantConstraints | undefined;
  if (c !== undefined) {
    const equals = c.optionalStringMap('encryptionContextEquals');
    const subset = c.optionalStringMap('encryptionContextSubset');
    constraints = {
      ...(equals !== undefined ? { encryptionContextEquals: equals } : {}),
      ...(subset !== undefined ? { encryptionContextSubset: subset } : {}),
    };
  }
  const createdAt = o.integer('createdAt', 0);
  return {
    grantId,
    grantToken,
    keyId,
    ...(name !== undefined ? { name } : {}),
    granteePrincipal,
    ...(retiringPrincipal !== undefined ? { retiringPrincipal } : {}),
    issuingPrincipal,
    operations,
    ...(constraints !== undefined ? { constraints } : {}),
    createdAt,
  };
}
