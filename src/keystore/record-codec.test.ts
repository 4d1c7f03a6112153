import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RootKey } from '../engine/ports.ts';
import type { KeyRecord } from '../engine/records.ts';
import { FileRootKey } from '../rootkey/file-root-key.ts';
import { RecordDecodeError } from './errors.ts';
import {
  decodeAliasRecord,
  decodeGrantRecord,
  decodeKeyRecord,
  encodeAliasRecord,
  encodeGrantRecord,
  encodeKeyRecord,
} from './record-codec.ts';
import {
  alias,
  fullGrant,
  fullKey,
  minimalGrant,
  minimalKey,
  signingKey,
} from './testdata/sample-records.ts';
import { tempDir } from './testing.ts';

const dir = tempDir('kubekms-codec-');
let rootKey: RootKey;
let full: KeyRecord;
beforeAll(async () => {
  rootKey = await FileRootKey.create(join(dir(), 'root.key'));
  full = await fullKey(rootKey, 'key-full');
});

/** Through JSON text and back, as the keystore file does. */
const viaText = (v: unknown): unknown => JSON.parse(JSON.stringify(v));
type Obj = Record<string, unknown>;
const clone = (v: unknown): Obj => viaText(v) as Obj;

function decodeError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RecordDecodeError);
    return (e as Error).message;
  }
  throw new Error('expected a RecordDecodeError');
}

describe('record codec round trip', () => {
  it('round-trips a key with every optional field, as plain Uint8Arrays', async () => {
    const back = decodeKeyRecord(viaText(encodeKeyRecord(full)), 'keys[0]');
    expect(back).toEqual(full);
    const v0 = back.versions[0]!;
    expect(Object.getPrototypeOf(v0.wrappedMaterial)).toBe(Uint8Array.prototype);
    expect(Buffer.from(v0.wrappedMaterial).equals(Buffer.from(full.versions[0]!.wrappedMaterial))).toBe(true);
  });

  it('round-trips minimal and asymmetric keys and omits absent optional fields', async () => {
    for (const k of [await minimalKey(rootKey, 'm'), await signingKey(rootKey, 's')]) {
      const json = viaText(encodeKeyRecord(k));
      expect(JSON.stringify(json)).not.toMatch(
        /null|undefined|deletionDate|pendingWindowDays|nextRotationAt/,
      );
      const back = decodeKeyRecord(json, 'keys[0]');
      expect(back).toEqual(k);
      expect(Object.keys(back)).toEqual(Object.keys(k));
    }
  });

  it('keeps a __proto__ tag as data, never as a prototype', () => {
    const back = decodeKeyRecord(viaText(encodeKeyRecord(full)), 'keys[0]');
    expect(Object.getPrototypeOf(back.tags)).toBe(Object.prototype);
    expect(Object.hasOwn(back.tags, '__proto__')).toBe(true);
    expect(Object.getOwnPropertyDescriptor(back.tags, '__proto__')?.value).toBe('not a prototype');
  });

  it('round-trips aliases and grants', () => {
    const a = alias('alias/kubekms/secrets', 'k1');
    expect(decodeAliasRecord(viaText(encodeAliasRecord(a)), 'aliases[0]')).toEqual(a);
    for (const g of [fullGrant('g1', 'k1'), minimalGrant('g2', 'k1')]) {
      const back = decodeGrantRecord(viaText(encodeGrantRecord(g)), 'grants[0]');
      expect(back).toEqual(g);
      expect(Object.keys(back)).toEqual(Object.keys(g));
    }
  });
});

describe('record codec validation names the field', () => {
  const keyCases: [string, (k: Obj) => void, string][] = [
    [
      'bad base64',
      (k) => (version(k, 0).wrappedMaterial = 'not*base64'),
      'keys[3].versions[0].wrappedMaterial: not base64',
    ],
    [
      'unpadded base64',
      (k) => (version(k, 0).wrappedMaterial = 'QUI'),
      'keys[3].versions[0].wrappedMaterial: not base64',
    ],
    [
      'empty material',
      (k) => (version(k, 0).wrappedMaterial = ''),
      'keys[3].versions[0].wrappedMaterial: empty',
    ],
    [
      'public key not base64',
      (k) => (version(k, 1).publicKey = '%%%%'),
      'keys[3].versions[1].publicKey: not base64',
    ],
    ['unknown spec', (k) => (k.keySpec = 'AES_512'), 'keys[3].keySpec: unknown value "AES_512"'],
    [
      'usage unfit',
      (k) => (k.keyUsage = 'SIGN_VERIFY'),
      'keys[3].keyUsage: SIGN_VERIFY is not a usage of HMAC_256',
    ],
    ['unknown state', (k) => (k.state = 'Gone'), 'keys[3].state: unknown value "Gone"'],
    ['negative time', (k) => (k.createdAt = -1), 'keys[3].createdAt: out of range'],
    ['fractional time', (k) => (k.createdAt = 1.5), 'keys[3].createdAt: not an integer: 1.5'],
    ['string number', (k) => (k.revision = '1'), 'keys[3].revision: expected an integer, found a string'],
    [
      'null optional',
      (k) => (k.deletionDate = null),
      'keys[3].deletionDate: expected an integer, found null',
    ],
    ['missing field', (k) => delete k.description, 'keys[3].description: missing'],
    ['unknown field', (k) => (k.stat = 'Enabled'), 'keys[3].stat: unknown field'],
    ['empty key id', (k) => (k.keyId = ''), 'keys[3].keyId: empty'],
    ['no versions', (k) => (k.versions = []), 'keys[3].versions: empty'],
    ['versions an object', (k) => (k.versions = {}), 'keys[3].versions: expected an array, found an object'],
    [
      'versions out of order',
      (k) => (version(k, 1).version = 1),
      'keys[3].versions[1].version: 1 does not follow 1',
    ],
    ['version zero', (k) => (version(k, 0).version = 0), 'keys[3].versions[0].version: out of range'],
    [
      'primary missing',
      (k) => (k.primaryVersion = 3),
      'keys[3].primaryVersion: 3 is not one of the versions',
    ],
    [
      'rotation type',
      (k) => (version(k, 1).rotationType = 'MANUAL'),
      'keys[3].versions[1].rotationType: unknown',
    ],
    ['rotation missing', (k) => delete k.rotation, 'keys[3].rotation: missing'],
    [
      'rotation flag',
      (k) => ((k.rotation as Obj).enabled = 'yes'),
      'keys[3].rotation.enabled: expected a boolean',
    ],
    ['tag value', (k) => ((k.tags as Obj).team = 5), 'keys[3].tags.team: expected a string, found a number'],
    ['tags array', (k) => (k.tags = []), 'keys[3].tags: expected an object of strings, found an array'],
    [
      'effect',
      (k) => (statement(k, 0).effect = 'Maybe'),
      'keys[3].policy.statements[0].effect: unknown value',
    ],
    [
      'principal',
      (k) => (statement(k, 1).principals = [1]),
      'keys[3].policy.statements[1].principals[0]: expected a',
    ],
    [
      'statement field',
      (k) => (statement(k, 0).Effect = 'Allow'),
      'keys[3].policy.statements[0].Effect: unknown',
    ],
  ];
  it.each(keyCases)('key: %s', (_name, mutate, expected) => {
    const json = clone(encodeKeyRecord(full));
    mutate(json);
    expect(decodeError(() => decodeKeyRecord(json, 'keys[3]'))).toContain(`keystore: ${expected}`);
  });

  it('refuses a record that is not an object', () => {
    expect(decodeError(() => decodeKeyRecord([], 'keys[0]'))).toBe(
      'keystore: keys[0]: expected an object, found an array',
    );
    expect(decodeError(() => decodeAliasRecord('x', 'aliases[1]'))).toBe(
      'keystore: aliases[1]: expected an object, found a string',
    );
  });

  const grantCases: [string, (g: Obj) => void, string][] = [
    [
      'operation',
      (g) => (g.operations = ['Decrypt', 'Fly']),
      'grants[0].operations[1]: unknown grant operation "Fly"',
    ],
    [
      'constraint value',
      (g) => (((g.constraints as Obj).encryptionContextEquals as Obj).tenant = 1),
      'grants[0].constraints.encryptionContextEquals.tenant: expected a string, found a number',
    ],
    [
      'constraint field',
      (g) => ((g.constraints as Obj).other = {}),
      'grants[0].constraints.other: unknown field',
    ],
    ['grantee', (g) => (g.granteePrincipal = ''), 'grants[0].granteePrincipal: empty'],
    ['missing key', (g) => delete g.keyId, 'grants[0].keyId: missing'],
  ];
  it.each(grantCases)('grant: %s', (_name, mutate, expected) => {
    const json = clone(encodeGrantRecord(fullGrant('g', 'k')));
    mutate(json);
    expect(decodeError(() => decodeGrantRecord(json, 'grants[0]'))).toContain(`keystore: ${expected}`);
  });

  it('alias: empty name and missing target', () => {
    const json = clone(encodeAliasRecord(alias('alias/a', 'k')));
    expect(decodeError(() => decodeAliasRecord({ ...json, aliasName: '' }, 'aliases[0]'))).toBe(
      'keystore: aliases[0].aliasName: empty',
    );
    const { targetKeyId: _t, ...rest } = json;
    expect(decodeError(() => decodeAliasRecord(rest, 'aliases[0]'))).toBe(
      'keystore: aliases[0].targetKeyId: missing',
    );
  });
});

function version(k: Obj, i: number): Obj {
  return (k.versions as Obj[])[i]!;
}
function statement(k: Obj, i: number): Obj {
  return ((k.policy as Obj).statements as Obj[])[i]!;
}

describe('record codec: retired versions (additive fields)', () => {
  it('round-trips retiredAt, lastUsedAt, destroyAt and the retiredVersions policy; old records stay as they were', () => {
    const retired: KeyRecord = {
      ...full,
      versions: [
        {
          ...full.versions[0]!,
          retiredAt: 1_750_000_000_000,
          lastUsedAt: 1_750_000_100_000,
          destroyAt: 1_760_000_000_000,
        },
        ...full.versions.slice(1),
      ],
      retiredVersions: { disableDecryptAfterMs: 604_800_000 },
    };
    const json = viaText(encodeKeyRecord(retired)) as Obj;
    expect(decodeKeyRecord(json, 'keys[0]')).toEqual(retired);
    expect(JSON.stringify(viaText(encodeKeyRecord(full)))).not.toMatch(/retired|lastUsedAt|destroyAt/);
    const bad = clone(json);
    (bad.retiredVersions as Obj).disableDecryptAfterMs = -1;
    expect(decodeError(() => decodeKeyRecord(bad, 'keys[0]'))).toMatch(
      /keys\[0\]\.retiredVersions\.disableDecryptAfterMs/,
    );
  });
});
