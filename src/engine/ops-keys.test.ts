import { beforeEach, describe, expect, it } from 'vitest';
import { nodeCrypto } from '../crypto/node-provider.ts';
import { EngineCore } from './core.ts';
import { KmsError } from './errors.ts';
import { createAlias, deleteAlias, listAliases, updateAlias } from './ops-aliases.ts';
import { encrypt } from './ops-encrypt.ts';
import {
  cancelKeyDeletion,
  createKey,
  describeKey,
  disableKey,
  enableKey,
  listKeys,
  scheduleKeyDeletion,
  updateKeyDescription,
} from './ops-keys.ts';
import { ensureClusterKey, runMaintenance, SECRETS_KEY_ALIAS } from './ops-maintenance.ts';
import {
  disableKeyRotation,
  enableKeyRotation,
  getKeyRotationStatus,
  listKeyRotations,
  promoteRotation,
  rotateKeyOnDemand,
  stageRotation,
} from './ops-rotation.ts';
import { getKeyPolicy, listResourceTags, putKeyPolicy, tagResource, untagResource } from './ops-tags.ts';
import { SYSTEM } from './policy.ts';
import { KEY_SPECS, USAGES_BY_SPEC } from './specs.ts';
import { ManualClock, MemoryKeyStore, principal, TestRootKey } from './testing.ts';

const sys = { caller: SYSTEM };
const admin = principal('admin', { admin: true });
const rejects = async (p: Promise<unknown>, code: string, msg?: RegExp) => {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e, `expected ${code}`).toBeInstanceOf(KmsError);
  expect((e as KmsError).code).toBe(code);
  if (msg) expect((e as KmsError).message).toMatch(msg);
};

let core: EngineCore;
let store: MemoryKeyStore;
let clock: ManualClock;
let rootKey: TestRootKey;

beforeEach(async () => {
  store = new MemoryKeyStore();
  clock = new ManualClock();
  rootKey = new TestRootKey(nodeCrypto);
  core = await EngineCore.open({ crypto: nodeCrypto, rootKey, store, clock });
});

describe('CreateKey', () => {
  it('creates every spec with every valid usage, and refuses invalid pairs naming KeyUsage', async () => {
    for (const spec of KEY_SPECS) {
      for (const usage of USAGES_BY_SPEC[spec]) {
        const m = await createKey(core, sys, { keySpec: spec, keyUsage: usage });
        expect(m).toMatchObject({ keySpec: spec, keyUsage: usage, keyState: 'Enabled', enabled: true });
        expect(m.keyId).toMatch(/^[0-9a-f-]{36}$/);
      }
    }
    await rejects(
      createKey(core, sys, { keySpec: 'SYMMETRIC_DEFAULT', keyUsage: 'SIGN_VERIFY' }),
      'ValidationException',
      /^KeyUsage:/,
    );
    await rejects(
      createKey(core, sys, { keySpec: 'ECC_SECG_P256K1', keyUsage: 'KEY_AGREEMENT' }),
      'ValidationException',
      /^KeyUsage:/,
    );
    await rejects(
      createKey(core, sys, { keySpec: 'RSA_2048' }),
      'ValidationException',
      /^KeyUsage: is required/,
    );
    await rejects(
      createKey(core, sys, { keySpec: 'SM2', keyUsage: 'SIGN_VERIFY' }),
      'ValidationException',
      /^KeySpec:/,
    );
    await rejects(
      createKey(core, sys, { description: 'x'.repeat(8193) }),
      'ValidationException',
      /^Description:/,
    );
  }, 60_000);

  it('persists wrapped material only, and reopens to the same keys', async () => {
    const m = await createKey(core, sys, { keySpec: 'HMAC_256' });
    const rec = store.keys.get(m.keyId)!;
    expect(rec.versions[0]!.wrappedMaterial.length).toBe(32 + 28);
    const again = await EngineCore.open({ crypto: nodeCrypto, rootKey, store, clock });
    expect(describeKey(again, sys, m.keyId)).toEqual(m);
  });

  it('does not change memory when the store fails to commit', async () => {
    store.failNext = new Error('disk full');
    await expect(createKey(core, sys, {})).rejects.toThrow('disk full');
    expect(core.counts().keys).toBe(0);
    await createKey(core, sys, {});
    expect(core.counts().keys).toBe(1);
  });
});

describe('key states', () => {
  it('follows the AWS state machine', async () => {
    const { keyId } = await createKey(core, sys, {});
    await disableKey(core, admin, keyId);
    expect(describeKey(core, sys, keyId).keyState).toBe('Disabled');
    await enableKey(core, admin, keyId);
    const s = await scheduleKeyDeletion(core, admin, keyId, undefined);
    expect(s.pendingWindowInDays).toBe(30);
    expect(s.deletionDate).toBe(clock.now() + 30 * 86_400_000);
    await rejects(enableKey(core, admin, keyId), 'KMSInvalidStateException', /pending deletion/);
    await rejects(scheduleKeyDeletion(core, admin, keyId, 7), 'KMSInvalidStateException');
    await cancelKeyDeletion(core, admin, keyId);
    expect(describeKey(core, sys, keyId).keyState).toBe('Disabled');
    await rejects(cancelKeyDeletion(core, admin, keyId), 'KMSInvalidStateException', /not pending deletion/);
  });

  it('refuses deletion windows outside 7-30 days, naming the field', async () => {
    const { keyId } = await createKey(core, sys, {});
    await rejects(scheduleKeyDeletion(core, admin, keyId, 6), 'ValidationException', /^PendingWindowInDays/);
    await rejects(scheduleKeyDeletion(core, admin, keyId, 31), 'ValidationException', /^PendingWindowInDays/);
  });

  it('destroys the key with its aliases and grants when the window ends', async () => {
    const { keyId } = await createKey(core, sys, {});
    await createAlias(core, admin, 'alias/doomed', keyId);
    await scheduleKeyDeletion(core, admin, keyId, 7);
    clock.advanceDays(6);
    expect((await runMaintenance(core)).destroyed).toEqual([]);
    clock.advanceDays(1);
    expect((await runMaintenance(core)).destroyed).toEqual([keyId]);
    expect(store.keys.has(keyId)).toBe(false);
    expect(store.aliases.has('alias/doomed')).toBe(false);
    expect(() => describeKey(core, sys, keyId)).toThrow(/does not exist/);
  });

  it('updates descriptions and tags, refusing reserved tag keys', async () => {
    const { keyId } = await createKey(core, sys, { tags: [{ tagKey: 'team', tagValue: 'a' }] });
    await updateKeyDescription(core, admin, keyId, 'new');
    expect(describeKey(core, sys, keyId).description).toBe('new');
    await tagResource(core, admin, keyId, [{ tagKey: 'env', tagValue: 'prod' }]);
    await untagResource(core, admin, keyId, ['team']);
    expect(listResourceTags(core, admin, keyId, undefined, undefined).items).toEqual([
      { tagKey: 'env', tagValue: 'prod' },
    ]);
    await rejects(tagResource(core, admin, keyId, [{ tagKey: 'aws:x', tagValue: '' }]), 'TagException');
  });
});

describe('rotation', () => {
  it('enables rotation for 90-2560 days and rotates automatically when due', async () => {
    const { keyId } = await createKey(core, sys, {});
    await rejects(enableKeyRotation(core, admin, keyId, 89), 'ValidationException', /^RotationPeriodInDays/);
    await enableKeyRotation(core, admin, keyId, 90);
    expect(getKeyRotationStatus(core, admin, keyId)).toMatchObject({
      keyRotationEnabled: true,
      rotationPeriodInDays: 90,
    });
    clock.advanceDays(90);
    expect((await runMaintenance(core)).rotated).toEqual([keyId]);
    expect(describeKey(core, sys, keyId).primaryVersion).toBe(2);
    expect(
      listKeyRotations(core, admin, keyId, undefined, undefined).items.map((r) => r.rotationType),
    ).toEqual(['AUTOMATIC']);
    await disableKeyRotation(core, admin, keyId);
    expect(getKeyRotationStatus(core, admin, keyId).keyRotationEnabled).toBe(false);
  });

  it('refuses rotation of asymmetric keys and limits on-demand rotations to 25', async () => {
    const ec = await createKey(core, sys, { keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' });
    await rejects(rotateKeyOnDemand(core, admin, ec.keyId), 'UnsupportedOperationException');
    const { keyId } = await createKey(core, sys, {});
    for (let i = 0; i < 25; i++) await rotateKeyOnDemand(core, admin, keyId);
    await rejects(rotateKeyOnDemand(core, admin, keyId), 'LimitExceededException');
    const page = listKeyRotations(core, admin, keyId, 10, undefined);
    expect(page.truncated).toBe(true);
    const rest = listKeyRotations(core, admin, keyId, 100, page.nextMarker);
    expect(page.items.length + rest.items.length).toBe(25);
  });

  it('stages a version that decrypts before it is promoted to encrypt', async () => {
    const { keyId } = await createKey(core, sys, {});
    await stageRotation(core, keyId, 'ON_DEMAND');
    expect(encrypt(core, sys, { keyId, plaintext: new Uint8Array([1]) }).keyVersion).toBe(1);
    expect(core.holdsVersion(keyId, 2)).toBe(true);
    await promoteRotation(core, keyId, 2);
    expect(encrypt(core, sys, { keyId, plaintext: new Uint8Array([1]) }).keyVersion).toBe(2);
  });
});

describe('aliases', () => {
  it('creates, lists, updates and deletes aliases with AWS name rules', async () => {
    const a = await createKey(core, sys, {});
    const b = await createKey(core, sys, {});
    await createAlias(core, admin, 'alias/app', a.keyId);
    await rejects(createAlias(core, admin, 'alias/app', a.keyId), 'AlreadyExistsException');
    await rejects(createAlias(core, admin, 'alias/aws/x', a.keyId), 'InvalidAliasNameException', /reserved/);
    await rejects(
      createAlias(core, admin, 'alias/kubekms/x', a.keyId),
      'InvalidAliasNameException',
      /reserved/,
    );
    await rejects(createAlias(core, admin, 'alias/bad name', a.keyId), 'InvalidAliasNameException');
    await rejects(createAlias(core, admin, 'noprefix', a.keyId), 'InvalidAliasNameException');
    await updateAlias(core, admin, 'alias/app', b.keyId);
    expect(listAliases(core, admin, undefined, undefined, undefined).items).toMatchObject([
      { aliasName: 'alias/app', targetKeyId: b.keyId },
    ]);
    const hmac = await createKey(core, sys, { keySpec: 'HMAC_256' });
    await rejects(updateAlias(core, admin, 'alias/app', hmac.keyId), 'ValidationException', /same key spec/);
    await deleteAlias(core, admin, 'alias/app');
    expect(listAliases(core, admin, undefined, undefined, undefined).items).toEqual([]);
  });
});

describe('cluster-managed keys', () => {
  it('creates alias/kubekms/secrets once, rotating yearly, and users cannot disable, delete or re-point it', async () => {
    const id = await ensureClusterKey(core, SECRETS_KEY_ALIAS, 'Kubernetes Secrets');
    expect(await ensureClusterKey(core, SECRETS_KEY_ALIAS, 'Kubernetes Secrets')).toBe(id);
    expect(describeKey(core, sys, SECRETS_KEY_ALIAS)).toMatchObject({ keyManager: 'CLUSTER', keyId: id });
    expect(getKeyRotationStatus(core, sys, id)).toMatchObject({
      keyRotationEnabled: true,
      rotationPeriodInDays: 365,
    });
    await rejects(disableKey(core, admin, id), 'UnsupportedOperationException', /cluster-managed/);
    await rejects(scheduleKeyDeletion(core, admin, id, 7), 'UnsupportedOperationException');
    await rejects(deleteAlias(core, admin, SECRETS_KEY_ALIAS), 'InvalidAliasNameException');
    await rejects(putKeyPolicy(core, admin, id, { statements: [] }, true), 'UnsupportedOperationException');
  });
});

describe('authorization', () => {
  it('denies by default, allows by policy, and Deny wins', async () => {
    const alice = principal('alice');
    const { keyId } = await createKey(core, sys, {});
    await rejects(
      enableKey(core, alice, keyId),
      'AccessDeniedException',
      /alice is not authorized to perform: kms:EnableKey/,
    );
    await putKeyPolicy(
      core,
      admin,
      keyId,
      {
        statements: [
          { effect: 'Allow', principals: ['alice'], actions: ['kms:*'] },
          { effect: 'Deny', principals: ['alice'], actions: ['kms:DisableKey'] },
        ],
      },
      true,
    );
    await enableKey(core, alice, keyId);
    await rejects(disableKey(core, alice, keyId), 'AccessDeniedException');
    expect(getKeyPolicy(core, alice, keyId).statements).toHaveLength(2);
  });

  it('applies the lockout safety check unless bypassed', async () => {
    const alice = principal('alice');
    const { keyId } = await createKey(core, alice, {});
    await rejects(
      putKeyPolicy(core, alice, keyId, {
        statements: [{ effect: 'Allow', principals: ['bob'], actions: ['kms:*'] }],
      }),
      'MalformedPolicyDocumentException',
    );
    await rejects(
      putKeyPolicy(
        core,
        alice,
        keyId,
        { statements: [{ effect: 'Allow', principals: ['bob'], actions: ['kms:Fly'] }] },
        true,
      ),
      'MalformedPolicyDocumentException',
      /unknown action kms:Fly/,
    );
  });

  it('lists keys in pages with Truncated and NextMarker', async () => {
    for (let i = 0; i < 5; i++) await createKey(core, sys, {});
    const p1 = listKeys(core, admin, 2, undefined);
    expect(p1).toMatchObject({ truncated: true });
    const p2 = listKeys(core, admin, 2, p1.nextMarker);
    const p3 = listKeys(core, admin, 2, p2.nextMarker);
    expect(p3.truncated).toBe(false);
    expect(new Set([...p1.items, ...p2.items, ...p3.items].map((k) => k.keyId)).size).toBe(5);
  });
});
