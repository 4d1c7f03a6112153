import { beforeEach, describe, expect, it } from 'vitest';
import { nodeCrypto } from '../crypto/node-provider.ts';
import { EngineCore, type RequestContext } from './core.ts';
import { KmsError } from './errors.ts';
import { generateDataKey, generateDataKeyWithoutPlaintext } from './ops-datakey.ts';
import { decrypt, encrypt } from './ops-encrypt.ts';
import {
  type CreateGrantInput,
  createGrant,
  listGrants,
  listRetirableGrants,
  retireGrant,
  revokeGrant,
} from './ops-grants.ts';
import { createKey, describeKey, disableKey, scheduleKeyDeletion } from './ops-keys.ts';
import { runMaintenance } from './ops-maintenance.ts';
import { ManualClock, MemoryKeyStore, principal, TestRootKey } from './testing.ts';

const bytes = (s: string) => new TextEncoder().encode(s);
const owner = principal('owner');
const alice = principal('alice');
const bob = principal('bob');
const carol = principal('carol');
const withTokens = (ctx: RequestContext, grantTokens: string[]): RequestContext => ({ ...ctx, grantTokens });

function kmsError(f: () => unknown): KmsError {
  try {
    f();
  } catch (e) {
    if (e instanceof KmsError) return e;
    throw e;
  }
  throw new Error('expected a KmsError, got no error');
}
const codeOf = (f: () => unknown): string => {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (e instanceof KmsError) return e.code;
    throw e;
  }
};
async function rejection(p: Promise<unknown>): Promise<KmsError> {
  const e = await p.then(
    () => new Error('expected a KmsError, got no error'),
    (x: unknown) => x,
  );
  if (e instanceof KmsError) return e;
  throw e;
}

let core: EngineCore;
let store: MemoryKeyStore;
let clock: ManualClock;
let rootKey: TestRootKey;
let keyId: string;

beforeEach(async () => {
  store = new MemoryKeyStore();
  clock = new ManualClock();
  rootKey = new TestRootKey(nodeCrypto);
  core = await EngineCore.open({ crypto: nodeCrypto, rootKey, store, clock });
  keyId = (await createKey(core, owner, { description: 'owned by owner' })).keyId;
});

const grant = (input: Omit<CreateGrantInput, 'keyId'> & { keyId?: string }, ctx: RequestContext = owner) =>
  createGrant(core, ctx, { keyId, ...input });

describe('CreateGrant gives exactly the granted operations', () => {
  it('denies a grantee with no policy access, then allows only what the grant lists', async () => {
    const ec = { app: 'x' };
    const blob = encrypt(core, owner, { keyId, plaintext: bytes('s'), encryptionContext: ec }).ciphertextBlob;
    expect(codeOf(() => encrypt(core, alice, { keyId, plaintext: bytes('s') }))).toBe(
      'AccessDeniedException',
    );
    expect(codeOf(() => decrypt(core, alice, { ciphertextBlob: blob, encryptionContext: ec }))).toBe(
      'AccessDeniedException',
    );

    const g = await grant({ granteePrincipal: 'alice', operations: ['Encrypt', 'GenerateDataKey'] });
    expect(g.grantId).toMatch(/^[0-9a-f]{64}$/);
    expect(g.grantToken.length).toBeGreaterThan(32);
    expect(codeOf(() => encrypt(core, alice, { keyId, plaintext: bytes('s') }))).toBe('ok');
    expect(codeOf(() => generateDataKey(core, alice, { keyId, numberOfBytes: 32 }))).toBe('ok');
    expect(codeOf(() => generateDataKeyWithoutPlaintext(core, alice, { keyId, numberOfBytes: 32 }))).toBe(
      'AccessDeniedException',
    );
    expect(codeOf(() => decrypt(core, alice, { ciphertextBlob: blob, encryptionContext: ec }))).toBe(
      'AccessDeniedException',
    );
    expect(codeOf(() => describeKey(core, alice, keyId))).toBe('AccessDeniedException');
    expect(codeOf(() => encrypt(core, bob, { keyId, plaintext: bytes('s') }))).toBe('AccessDeniedException');
    // A grant on one key gives nothing on another.
    const other = (await createKey(core, owner, {})).keyId;
    expect(codeOf(() => encrypt(core, alice, { keyId: other, plaintext: bytes('s') }))).toBe(
      'AccessDeniedException',
    );

    await grant({ granteePrincipal: 'alice', operations: ['Decrypt', 'DescribeKey'] });
    expect(
      new TextDecoder().decode(
        decrypt(core, alice, { ciphertextBlob: blob, encryptionContext: ec }).plaintext.unsafeBytes(),
      ),
    ).toBe('s');
    expect(describeKey(core, alice, keyId).keyId).toBe(keyId);
  });

  it('grants to group:NAME cover members of the group only', async () => {
    await grant({ granteePrincipal: 'group:payments', operations: ['Encrypt'] });
    expect(
      codeOf(() =>
        encrypt(core, principal('dave', { groups: ['payments'] }), { keyId, plaintext: bytes('s') }),
      ),
    ).toBe('ok');
    expect(
      codeOf(() => encrypt(core, principal('erin', { groups: ['other'] }), { keyId, plaintext: bytes('s') })),
    ).toBe('AccessDeniedException');
  });

  it('is persisted and survives a restart', async () => {
    const g = await grant({ granteePrincipal: 'alice', operations: ['Encrypt'] });
    expect(store.grants.get(g.grantId)?.granteePrincipal).toBe('alice');
    const again = await EngineCore.open({ crypto: nodeCrypto, rootKey, store, clock });
    expect(codeOf(() => encrypt(again, alice, { keyId, plaintext: bytes('s') }))).toBe('ok');
  });

  it('refuses a disabled key with DisabledException, and callers without kms:CreateGrant', async () => {
    expect((await rejection(grant({ granteePrincipal: 'alice', operations: ['Encrypt'] }, bob))).code).toBe(
      'AccessDeniedException',
    );
    await disableKey(core, owner, keyId);
    expect((await rejection(grant({ granteePrincipal: 'alice', operations: ['Encrypt'] }))).code).toBe(
      'DisabledException',
    );
  });
});

describe('encryption context constraints', () => {
  it('EncryptionContextEquals: exactly these pairs, on Encrypt, Decrypt and GenerateDataKey', async () => {
    await grant({
      granteePrincipal: 'alice',
      operations: ['Encrypt', 'Decrypt', 'GenerateDataKey'],
      constraints: { encryptionContextEquals: { tenant: 'a', app: 'b' } },
    });
    const good = { app: 'b', tenant: 'a' };
    const blob = encrypt(core, alice, {
      keyId,
      plaintext: bytes('s'),
      encryptionContext: good,
    }).ciphertextBlob;
    expect(codeOf(() => decrypt(core, alice, { ciphertextBlob: blob, encryptionContext: good }))).toBe('ok');
    expect(
      codeOf(() => generateDataKey(core, alice, { keyId, numberOfBytes: 16, encryptionContext: good })),
    ).toBe('ok');
    const blobExtra = encrypt(core, owner, {
      keyId,
      plaintext: bytes('s'),
      encryptionContext: { ...good, x: 'y' },
    }).ciphertextBlob;
    for (const ec of [
      undefined,
      {},
      { tenant: 'a' },
      { ...good, x: 'y' },
      { tenant: 'a', app: 'B' },
      { Tenant: 'a', app: 'b' },
    ]) {
      const name = JSON.stringify(ec);
      expect(
        `${name} ${codeOf(() => encrypt(core, alice, { keyId, plaintext: bytes('s'), encryptionContext: ec }))}`,
      ).toBe(`${name} AccessDeniedException`);
      expect(
        `${name} ${codeOf(() => generateDataKey(core, alice, { keyId, numberOfBytes: 16, encryptionContext: ec }))}`,
      ).toBe(`${name} AccessDeniedException`);
    }
    expect(
      codeOf(() =>
        decrypt(core, alice, { ciphertextBlob: blobExtra, encryptionContext: { ...good, x: 'y' } }),
      ),
    ).toBe('AccessDeniedException');
  });

  it('EncryptionContextSubset: at least these pairs, extra pairs allowed', async () => {
    await grant({
      granteePrincipal: 'alice',
      operations: ['Encrypt', 'Decrypt', 'GenerateDataKey'],
      constraints: { encryptionContextSubset: { tenant: 'a' } },
    });
    for (const ec of [{ tenant: 'a' }, { tenant: 'a', x: 'y' }]) {
      const blob = encrypt(core, alice, {
        keyId,
        plaintext: bytes('s'),
        encryptionContext: ec,
      }).ciphertextBlob;
      expect(codeOf(() => decrypt(core, alice, { ciphertextBlob: blob, encryptionContext: ec }))).toBe('ok');
      expect(
        codeOf(() => generateDataKey(core, alice, { keyId, keySpec: 'AES_256', encryptionContext: ec })),
      ).toBe('ok');
    }
    const other = encrypt(core, owner, {
      keyId,
      plaintext: bytes('s'),
      encryptionContext: { tenant: 'b' },
    }).ciphertextBlob;
    expect(
      codeOf(() => decrypt(core, alice, { ciphertextBlob: other, encryptionContext: { tenant: 'b' } })),
    ).toBe('AccessDeniedException');
    for (const ec of [undefined, { tenant: 'b' }, { TENANT: 'a' }, { x: 'y' }]) {
      expect(
        codeOf(() => encrypt(core, alice, { keyId, plaintext: bytes('s'), encryptionContext: ec })),
      ).toBe('AccessDeniedException');
      expect(
        codeOf(() => generateDataKey(core, alice, { keyId, numberOfBytes: 8, encryptionContext: ec })),
      ).toBe('AccessDeniedException');
    }
  });

  it('validates constraints: at most 8 pairs, string values of at most 384 characters', async () => {
    const nine = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, 'v']));
    const e1 = await rejection(
      grant({
        granteePrincipal: 'alice',
        operations: ['Encrypt'],
        constraints: { encryptionContextSubset: nine },
      }),
    );
    expect([e1.code, e1.field]).toEqual(['ValidationException', 'Constraints.EncryptionContextSubset']);
    const e2 = await rejection(
      grant({
        granteePrincipal: 'alice',
        operations: ['Encrypt'],
        constraints: { encryptionContextEquals: { k: 'v'.repeat(385) } },
      }),
    );
    expect([e2.code, e2.field]).toEqual(['ValidationException', 'Constraints.EncryptionContextEquals.k']);
  });

  // AWS: "DescribeKey and RetireGrant in a constrained grant are exempt" (reference §1.6).
  it('DescribeKey in a constrained grant is exempt from the constraints', async () => {
    await grant({
      granteePrincipal: 'alice',
      operations: ['Encrypt', 'DescribeKey'],
      constraints: { encryptionContextSubset: { tenant: 'a' } },
    });
    expect(codeOf(() => describeKey(core, alice, keyId))).toBe('ok');
  });
});

describe('CreateGrant by a grantee', () => {
  it('may hand on only operations its own grant holds', async () => {
    await grant({ granteePrincipal: 'alice', operations: ['CreateGrant', 'Encrypt'] });
    await grant({ granteePrincipal: 'bob', operations: ['Encrypt'] }, alice);
    expect(codeOf(() => encrypt(core, bob, { keyId, plaintext: bytes('s') }))).toBe('ok');
    for (const operations of [['Decrypt'], ['Encrypt', 'Decrypt'], ['DescribeKey']]) {
      const e = await rejection(grant({ granteePrincipal: 'alice', operations }, alice));
      expect(`${operations} ${e.code}`).toBe(`${operations} AccessDeniedException`);
    }
    const blob = encrypt(core, owner, { keyId, plaintext: bytes('s') }).ciphertextBlob;
    expect(codeOf(() => decrypt(core, alice, { ciphertextBlob: blob }))).toBe('AccessDeniedException');
    expect(
      listGrants(core, owner, { keyId })
        .items.map((g) => g.granteePrincipal)
        .sort(),
    ).toEqual(['alice', 'bob']);
  });

  it('may hand on constraints at least as strict as its own', async () => {
    await grant({
      granteePrincipal: 'alice',
      operations: ['CreateGrant', 'Encrypt'],
      constraints: { encryptionContextSubset: { tenant: 'a' } },
    });
    const ok = [
      { encryptionContextSubset: { tenant: 'a' } },
      { encryptionContextSubset: { tenant: 'a', app: 'b' } },
      { encryptionContextEquals: { tenant: 'a' } },
      { encryptionContextEquals: { tenant: 'a', app: 'b' } },
    ];
    const refused = [
      undefined,
      { encryptionContextSubset: { app: 'b' } },
      { encryptionContextSubset: { tenant: 'b' } },
      { encryptionContextEquals: { app: 'b' } },
    ];
    for (const constraints of ok) {
      expect(
        (await grant({ granteePrincipal: 'bob', operations: ['Encrypt'], constraints }, alice)).grantId,
      ).toMatch(/^[0-9a-f]+$/);
    }
    for (const constraints of refused) {
      const e = await rejection(
        grant(
          { granteePrincipal: 'bob', operations: ['Encrypt'], ...(constraints ? { constraints } : {}) },
          alice,
        ),
      );
      expect(`${JSON.stringify(constraints)} ${e.code}`).toBe(
        `${JSON.stringify(constraints)} AccessDeniedException`,
      );
    }
  });

  it('a parent with EncryptionContextEquals admits only children with the same Equals', async () => {
    await grant({
      granteePrincipal: 'alice',
      operations: ['CreateGrant', 'Encrypt'],
      constraints: { encryptionContextEquals: { tenant: 'a' } },
    });
    await grant(
      {
        granteePrincipal: 'bob',
        operations: ['Encrypt'],
        constraints: { encryptionContextEquals: { tenant: 'a' } },
      },
      alice,
    );
    for (const constraints of [
      { encryptionContextSubset: { tenant: 'a' } },
      { encryptionContextEquals: { tenant: 'a', x: 'y' } },
    ]) {
      expect(
        (await rejection(grant({ granteePrincipal: 'bob', operations: ['Encrypt'], constraints }, alice)))
          .code,
      ).toBe('AccessDeniedException');
    }
  });
});

describe('Name, Operations, grant tokens', () => {
  it('Name makes CreateGrant idempotent: same parameters give the same GrantId, in any pair order', async () => {
    const input = {
      granteePrincipal: 'alice',
      operations: ['Encrypt', 'Decrypt'],
      name: 'app-1',
      constraints: { encryptionContextSubset: { a: '1', b: '2' } },
    };
    const first = await grant(input);
    const commits = store.commits;
    const second = await grant({
      ...input,
      operations: ['Decrypt', 'Encrypt'],
      constraints: { encryptionContextSubset: { b: '2', a: '1' } },
    });
    expect(second.grantId).toBe(first.grantId);
    expect(store.commits).toBe(commits);
    expect(listGrants(core, owner, { keyId }).items).toHaveLength(1);
    const different = await grant({ ...input, operations: ['Encrypt'] });
    expect(different.grantId).not.toBe(first.grantId);
    const unnamed1 = await grant({ granteePrincipal: 'alice', operations: ['Encrypt'] });
    const unnamed2 = await grant({ granteePrincipal: 'alice', operations: ['Encrypt'] });
    expect(unnamed1.grantId).not.toBe(unnamed2.grantId);
  });

  it('refuses operations that do not fit the key with a ValidationException naming Operations', async () => {
    const rsa = (await createKey(core, owner, { keySpec: 'RSA_2048', keyUsage: 'ENCRYPT_DECRYPT' })).keyId;
    const hmac = (await createKey(core, owner, { keySpec: 'HMAC_256' })).keyId;
    const ecc = (await createKey(core, owner, { keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' })).keyId;
    const cases: Array<[string, string[]]> = [
      [keyId, ['Sign']],
      [keyId, ['Encrypt', 'Verify']],
      [keyId, ['GenerateMac']],
      [keyId, ['GetPublicKey']],
      [rsa, ['GenerateDataKey']],
      [hmac, ['Encrypt']],
      [ecc, ['Decrypt']],
      [ecc, ['DeriveSharedSecret']],
    ];
    for (const [k, operations] of cases) {
      const e = await rejection(grant({ keyId: k, granteePrincipal: 'alice', operations }));
      expect(`${operations} ${e.code} ${e.field}`).toBe(`${operations} ValidationException Operations`);
    }
    for (const operations of [[], 'Encrypt', undefined]) {
      expect((await rejection(grant({ granteePrincipal: 'alice', operations }))).field).toBe('Operations');
    }
    expect((await rejection(grant({ granteePrincipal: 'alice', operations: ['Fly'] }))).field).toMatch(
      /^Operations/,
    );
    // The ones that fit are accepted.
    await grant({
      keyId: rsa,
      granteePrincipal: 'alice',
      operations: ['Encrypt', 'Decrypt', 'GetPublicKey'],
    });
    await grant({ keyId: hmac, granteePrincipal: 'alice', operations: ['GenerateMac', 'VerifyMac'] });
    await grant({ keyId: ecc, granteePrincipal: 'alice', operations: ['Sign', 'Verify', 'GetPublicKey'] });
  });

  it('validates GranteePrincipal and Name, naming the field', async () => {
    for (const [input, field] of [
      [{ granteePrincipal: '', operations: ['Encrypt'] }, 'GranteePrincipal'],
      [{ granteePrincipal: 'a b', operations: ['Encrypt'] }, 'GranteePrincipal'],
      [{ granteePrincipal: 'x'.repeat(257), operations: ['Encrypt'] }, 'GranteePrincipal'],
      [{ granteePrincipal: 'alice', operations: ['Encrypt'], name: 'no spaces' }, 'Name'],
      [{ granteePrincipal: 'alice', operations: ['Encrypt'], retiringPrincipal: 7 }, 'RetiringPrincipal'],
    ] as const) {
      const e = await rejection(grant(input));
      expect([e.code, e.field]).toEqual(['ValidationException', field]);
    }
  });

  it('an unknown grant token is InvalidGrantTokenException; a real one is accepted', async () => {
    const g = await grant({ granteePrincipal: 'alice', operations: ['Encrypt'] });
    expect(
      codeOf(() => encrypt(core, withTokens(alice, [g.grantToken]), { keyId, plaintext: bytes('s') })),
    ).toBe('ok');
    expect(
      codeOf(() =>
        encrypt(core, withTokens(alice, [g.grantToken, 'forged']), { keyId, plaintext: bytes('s') }),
      ),
    ).toBe('InvalidGrantTokenException');
    expect(codeOf(() => encrypt(core, withTokens(owner, ['forged']), { keyId, plaintext: bytes('s') }))).toBe(
      'InvalidGrantTokenException',
    );
  });
});

describe('ListGrants', () => {
  it('paginates with Truncated and NextMarker, filters, and never exposes a grant token', async () => {
    const created = [];
    for (let i = 0; i < 5; i++)
      created.push(await grant({ granteePrincipal: i < 3 ? 'alice' : 'bob', operations: ['Encrypt'] }));
    const seen: string[] = [];
    let marker: string | undefined;
    let pages = 0;
    do {
      const page = listGrants(core, owner, { keyId, limit: 2, ...(marker ? { marker } : {}) });
      pages++;
      expect(page.items.length).toBeLessThanOrEqual(2);
      if (page.truncated) expect(page.nextMarker).toBeTypeOf('string');
      else expect(page.nextMarker).toBeUndefined();
      for (const entry of page.items) {
        expect(Object.keys(entry)).not.toContain('grantToken');
        expect(entry.keyId).toBe(keyId);
        seen.push(entry.grantId);
      }
      marker = page.nextMarker;
    } while (marker);
    expect(pages).toBe(3);
    expect(seen.sort()).toEqual(created.map((g) => g.grantId).sort());
    const all = JSON.stringify(listGrants(core, owner, { keyId }));
    for (const g of created) expect(all).not.toContain(g.grantToken);

    expect(
      listGrants(core, owner, { keyId, granteePrincipal: 'bob' })
        .items.map((e) => e.grantId)
        .sort(),
    ).toEqual(
      created
        .slice(3)
        .map((g) => g.grantId)
        .sort(),
    );
    expect(listGrants(core, owner, { keyId, grantId: created[1]!.grantId }).items).toHaveLength(1);
    expect(listGrants(core, owner, { keyId, limit: 100 }).truncated).toBe(false);
    for (const limit of [0, 101, 1.5])
      expect(kmsError(() => listGrants(core, owner, { keyId, limit })).field).toBe('Limit');
    expect(codeOf(() => listGrants(core, alice, { keyId }))).toBe('AccessDeniedException');
  });

  it('ListRetirableGrants lists a retiring principal its own grants only', async () => {
    const g = await grant({ granteePrincipal: 'alice', retiringPrincipal: 'carol', operations: ['Encrypt'] });
    await grant({ granteePrincipal: 'alice', operations: ['Encrypt'] });
    const page = listRetirableGrants(core, carol, { retiringPrincipal: 'carol' });
    expect(page.items.map((e) => e.grantId)).toEqual([g.grantId]);
    expect(JSON.stringify(page)).not.toContain(g.grantToken);
    expect(codeOf(() => listRetirableGrants(core, alice, { retiringPrincipal: 'carol' }))).toBe(
      'AccessDeniedException',
    );
  });
});

describe('RetireGrant and RevokeGrant', () => {
  it('the retiring principal retires by token; access ends at once', async () => {
    const g = await grant({ granteePrincipal: 'alice', retiringPrincipal: 'carol', operations: ['Encrypt'] });
    expect((await rejection(retireGrant(core, bob, { grantToken: g.grantToken }))).code).toBe(
      'AccessDeniedException',
    );
    expect(codeOf(() => encrypt(core, alice, { keyId, plaintext: bytes('s') }))).toBe('ok');
    await retireGrant(core, carol, { grantToken: g.grantToken });
    expect(codeOf(() => encrypt(core, alice, { keyId, plaintext: bytes('s') }))).toBe(
      'AccessDeniedException',
    );
    expect(store.grants.has(g.grantId)).toBe(false);
    expect((await rejection(retireGrant(core, carol, { grantToken: g.grantToken }))).code).toBe(
      'InvalidGrantTokenException',
    );
  });

  it('retires by key and grant id: retiring principal yes, stranger AccessDenied, grantee only with RetireGrant', async () => {
    const g1 = await grant({
      granteePrincipal: 'alice',
      retiringPrincipal: 'carol',
      operations: ['Encrypt'],
    });
    const e = await rejection(retireGrant(core, bob, { keyId, grantId: g1.grantId }));
    expect(e.code).toBe('AccessDeniedException');
    expect((await rejection(retireGrant(core, alice, { keyId, grantId: g1.grantId }))).code).toBe(
      'AccessDeniedException',
    );
    expect(listGrants(core, owner, { keyId }).items).toHaveLength(1);
    await retireGrant(core, carol, { keyId, grantId: g1.grantId });
    expect(listGrants(core, owner, { keyId }).items).toHaveLength(0);

    const g2 = await grant({ granteePrincipal: 'alice', operations: ['Encrypt', 'RetireGrant'] });
    await retireGrant(core, alice, { keyId: core.arnOf(keyId), grantId: g2.grantId });
    expect(listGrants(core, owner, { keyId }).items).toHaveLength(0);

    expect((await rejection(retireGrant(core, carol, { keyId, grantId: g1.grantId }))).code).toBe(
      'InvalidGrantIdException',
    );
    const other = (await createKey(core, owner, {})).keyId;
    const g3 = await grant({
      granteePrincipal: 'alice',
      retiringPrincipal: 'carol',
      operations: ['Encrypt'],
    });
    expect((await rejection(retireGrant(core, carol, { keyId: other, grantId: g3.grantId }))).code).toBe(
      'InvalidGrantIdException',
    );
  });

  it('RevokeGrant: key administrators only; access ends at once', async () => {
    const g = await grant({ granteePrincipal: 'alice', operations: ['Encrypt', 'RetireGrant'] });
    expect((await rejection(revokeGrant(core, alice, keyId, g.grantId))).code).toBe('AccessDeniedException');
    expect((await rejection(revokeGrant(core, owner, keyId, 'f'.repeat(64)))).code).toBe(
      'InvalidGrantIdException',
    );
    await revokeGrant(core, owner, keyId, g.grantId);
    expect(codeOf(() => encrypt(core, alice, { keyId, plaintext: bytes('s') }))).toBe(
      'AccessDeniedException',
    );
    expect(store.grants.size).toBe(0);
    await revokeGrant(
      core,
      principal('root', { admin: true }),
      keyId,
      (await grant({ granteePrincipal: 'alice', operations: ['Encrypt'] })).grantId,
    );
    expect(store.grants.size).toBe(0);
  });

  it('grants of a destroyed key go away with it', async () => {
    const g = await grant({ granteePrincipal: 'alice', operations: ['Encrypt'] });
    const keep = (await createKey(core, owner, {})).keyId;
    const kept = await grant({ keyId: keep, granteePrincipal: 'alice', operations: ['Encrypt'] });
    await scheduleKeyDeletion(core, owner, keyId, 7);
    clock.advanceDays(6);
    await runMaintenance(core);
    expect(core.findGrant(g.grantId) !== undefined).toBe(true);
    clock.advanceDays(1);
    expect((await runMaintenance(core)).destroyed).toEqual([keyId]);
    expect(core.findGrant(g.grantId) !== undefined).toBe(false);
    expect(store.grants.has(g.grantId)).toBe(false);
    expect([...store.grants.keys()]).toEqual([kept.grantId]);
    expect(
      codeOf(() => encrypt(core, withTokens(alice, [g.grantToken]), { keyId: keep, plaintext: bytes('s') })),
    ).toBe('InvalidGrantTokenException');
  });
});
