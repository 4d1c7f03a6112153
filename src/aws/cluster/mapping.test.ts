/**
 * Cluster mode's pure half: dry runs of the standalone operations (nothing committed, engine errors unchanged),
 * and their translation into KmsKey/KmsAlias/KmsGrant objects and merge patches; then the handlers against fake
 * APIs: refusals write nothing, a never-reconciled object times out, an operator refusal fails fast. The round trip through the
 * operator runs against a real API server in test/e2e/aws-cluster.test.ts.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { KmsKey } from '../../api/kinds.ts';
import { nodeCrypto } from '../../crypto/node-provider.ts';
import { EngineCore } from '../../engine/core.ts';
import { KmsError } from '../../engine/errors.ts';
import { createKey, disableKey } from '../../engine/ops-keys.ts';
import { GRANT_OPERATIONS, type KeyRecord } from '../../engine/records.ts';
import { ManualClock, MemoryKeyStore, principal, TestRootKey } from '../../engine/testing.ts';
import { desiredKey } from '../../operator/key-decisions.ts';
import type { Input } from '../decode-input.ts';
import { OPERATIONS } from '../operations.ts';
import { preflight } from './dry-run.ts';
import type { ClusterApi } from './kube.ts';
import {
  aliasObjectName,
  keySpecPatch,
  newKmsAlias,
  newKmsGrant,
  newKmsKey,
  ownerOfKey,
  policyToSpec,
  principalSpecOf,
  usageOperationsOf,
} from './mapping.ts';
import { clusterOperations } from './operations.ts';

let core: EngineCore;
let store: MemoryKeyStore;
const admin = principal('kubekms:dev:test', { admin: true });
const alice = principal('system:serviceaccount:apps:alice');

beforeEach(async () => {
  store = new MemoryKeyStore();
  core = await EngineCore.open({
    crypto: nodeCrypto,
    rootKey: new TestRootKey(nodeCrypto),
    store,
    clock: new ManualClock(),
  });
});

const run = (name: string, ctx: { caller: unknown }, input: Input) =>
  preflight(core, (dry) => OPERATIONS[name]!({ core: dry, ctx: ctx as typeof admin, input }));

async function code(p: Promise<unknown>): Promise<KmsError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof KmsError) return e;
    throw e;
  }
  throw new Error('expected a KmsError');
}

describe('preflight (a dry run of the standalone operation)', () => {
  it('returns the key CreateKey would create, commits nothing, and creates no key', async () => {
    const pre = await run('CreateKey', alice, {
      KeySpec: 'HMAC_256',
      KeyUsage: 'GENERATE_VERIFY_MAC',
      Description: 'd',
    });
    expect(pre.kind).toBe('change');
    const r = pre.kind === 'change' ? pre.change.putKeys?.[0] : undefined;
    expect(r?.keySpec).toBe('HMAC_256');
    expect(r?.description).toBe('d');
    expect(r?.policy.statements[0]?.principals).toEqual(['system:serviceaccount:apps:alice']);
    expect(core.counts().keys).toBe(0);
    expect(store.commits).toBe(0);
  });

  it('refuses bad input with the engine error naming the field', async () => {
    const e = await code(run('CreateKey', admin, { KeySpec: 'AES_999' }));
    expect(e.code).toBe('ValidationException');
    expect(e.message).toMatch(/KeySpec/);
    expect(store.commits).toBe(0);
  });

  it('refuses an unauthorized caller and a key in the wrong state as the engine does', async () => {
    const k = await createKey(core, admin, {});
    expect((await code(run('DisableKey', alice, { KeyId: k.keyId }))).code).toBe('AccessDeniedException');
    await disableKey(core, admin, k.keyId);
    expect((await code(run('EnableKeyRotation', admin, { KeyId: k.keyId }))).code).toBe('DisabledException');
  });

  it('a no-op completes with its response instead of a change', async () => {
    const k = await createKey(core, admin, {});
    const pre = await run('EnableKey', admin, { KeyId: k.keyId });
    expect(pre.kind).toBe('done');
  });
});

describe('AWS principals and key policies → the CRDs', () => {
  it.each([
    ['system:serviceaccount:apps:web', { serviceAccount: { namespace: 'apps', name: 'web' } }],
    ['group:ops', { group: 'ops' }],
    ['alice@example.com', { user: 'alice@example.com' }],
    ['kubekms:dev:test', { user: 'kubekms:dev:test' }],
  ])('%s', (name, spec) => expect(principalSpecOf(name, 'GranteePrincipal')).toEqual(spec));

  it('"*" has no CRD form: refused naming the field', () => {
    const e = (() => {
      try {
        principalSpecOf('*', 'GranteePrincipal');
      } catch (x) {
        return x as KmsError;
      }
    })();
    expect(e?.code).toBe('ValidationException');
    expect(e?.message).toMatch(/GranteePrincipal/);
  });

  it('actions become the usage operations they cover', () => {
    expect(usageOperationsOf('kms:*')).toEqual([...GRANT_OPERATIONS]);
    expect(usageOperationsOf('kms:Encrypt')).toEqual(['Encrypt']);
    expect(usageOperationsOf('kms:GenerateDataKey*')).toEqual([
      'GenerateDataKey',
      'GenerateDataKeyWithoutPlaintext',
      'GenerateDataKeyPair',
      'GenerateDataKeyPairWithoutPlaintext',
    ]);
    expect(usageOperationsOf('kms:PutKeyPolicy')).toEqual([]);
  });

  it('the default creator policy maps to every usage operation for the creator, and round-trips through the operator', () => {
    const spec = policyToSpec({
      statements: [
        {
          sid: 'Creator',
          effect: 'Allow',
          principals: ['system:serviceaccount:apps:alice'],
          actions: ['kms:*'],
        },
      ],
    });
    expect(spec.statements).toEqual([
      {
        effect: 'Allow',
        subjects: [{ serviceAccount: { namespace: 'apps', name: 'alice' } }],
        operations: [...GRANT_OPERATIONS],
      },
    ]);
    const o = { metadata: { name: 'k', namespace: 'kubekms' }, spec: { policy: spec } } as KmsKey;
    expect(desiredKey(o).policy.statements[0]?.principals).toEqual(['system:serviceaccount:apps:alice']);
  });

  it('management actions are refused, naming the statement', () => {
    const p = {
      statements: [
        { effect: 'Allow' as const, principals: ['bob'], actions: ['kms:Encrypt', 'kms:DisableKey'] },
      ],
    };
    expect(() => policyToSpec(p)).toThrow(/Statement\[0\]\.Action kms:DisableKey/);
    try {
      policyToSpec(p);
    } catch (e) {
      expect((e as KmsError).code).toBe('MalformedPolicyDocumentException');
    }
    const star = { statements: [{ effect: 'Allow' as const, principals: ['*'], actions: ['kms:Encrypt'] }] };
    expect(() => policyToSpec(star)).toThrow(/Principal/);
  });
});

describe('objects and patches', () => {
  const record = (over: Partial<KeyRecord> = {}): KeyRecord =>
    ({
      keyId: '11111111-2222-3333-4444-555555555555',
      createdAt: 0,
      description: 'd',
      keySpec: 'SYMMETRIC_DEFAULT',
      keyUsage: 'ENCRYPT_DECRYPT',
      keyManager: 'CUSTOMER',
      state: 'Enabled',
      rotation: { enabled: false, periodDays: 365 },
      versions: [],
      primaryVersion: 1,
      policy: { statements: [] },
      tags: { team: 'a', 'kubekms.io/owner': 'kubekms/aws-x1' },
      revision: 1,
      ...over,
    }) as KeyRecord;
  const obj = { metadata: { name: 'aws-x1', namespace: 'kubekms' }, spec: { tags: { team: 'a' } } } as KmsKey;

  it('CreateKey → a KmsKey named by the API server, without kubekms.io tags', () => {
    const k = newKmsKey('kubekms', record()) as unknown as {
      metadata: Record<string, unknown>;
      spec: Record<string, unknown>;
    };
    expect(k.metadata.generateName).toBe('aws-');
    expect(k.metadata.namespace).toBe('kubekms');
    expect(k.spec).toEqual({
      description: 'd',
      keySpec: 'SYMMETRIC_DEFAULT',
      keyUsage: 'ENCRYPT_DECRYPT',
      enabled: true,
      policy: { statements: [] },
      tags: { team: 'a' },
    });
  });

  it('owner tag → the KmsKey', () => {
    expect(ownerOfKey(record())).toEqual({ namespace: 'kubekms', name: 'aws-x1' });
    expect(ownerOfKey(record({ tags: {} }))).toBeUndefined();
  });

  it.each<[string, Partial<KeyRecord>, Record<string, unknown> | undefined]>([
    ['DisableKey', { state: 'Disabled' }, { enabled: false }],
    ['UpdateKeyDescription', { description: 'new' }, { description: 'new' }],
    [
      'EnableKeyRotation',
      { rotation: { enabled: true, periodDays: 90, nextRotationAt: 5 } },
      { rotation: { enabled: true, periodDays: 90 } },
    ],
    [
      'TagResource',
      { tags: { team: 'a', env: 'prod', 'kubekms.io/owner': 'kubekms/aws-x1' } },
      { tags: { team: 'a', env: 'prod' } },
    ],
    ['UntagResource', { tags: { 'kubekms.io/owner': 'kubekms/aws-x1' } }, { tags: { team: null } }],
    [
      'PutKeyPolicy',
      {
        policy: {
          statements: [{ sid: 's', effect: 'Allow', principals: ['group:ops'], actions: ['kms:Decrypt'] }],
        },
      },
      {
        policy: { statements: [{ effect: 'Allow', subjects: [{ group: 'ops' }], operations: ['Decrypt'] }] },
      },
    ],
    ['unchanged', {}, undefined],
  ])('%s → spec merge patch', (_op, after, spec) => {
    expect(keySpecPatch(obj, record(), record(after))).toEqual(spec ? { spec } : undefined);
  });

  it('alias object names are DNS-1123, stable, and tell case-different aliases apart', () => {
    const a = aliasObjectName('alias/My_App/prod');
    expect(a).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(a.length).toBeLessThanOrEqual(63);
    expect(a).toBe(aliasObjectName('alias/My_App/prod'));
    expect(a).not.toBe(aliasObjectName('alias/my_app/prod'));
    expect(aliasObjectName(`alias/${'x'.repeat(250)}`).length).toBeLessThanOrEqual(63);
    expect(newKmsAlias('alias/app', { namespace: 'apps', name: 'k' }).spec).toEqual({
      aliasName: 'alias/app',
      targetKeyRef: { name: 'k' },
    });
  });

  it('CreateGrant → a KmsGrant next to the key', () => {
    const g = newKmsGrant(
      {
        grantId: 'g',
        grantToken: 't',
        keyId: 'k',
        granteePrincipal: 'system:serviceaccount:apps:web',
        retiringPrincipal: 'group:ops',
        issuingPrincipal: 'x',
        operations: ['Encrypt', 'Decrypt'],
        constraints: { encryptionContextSubset: { app: 'web' } },
        createdAt: 0,
      },
      { namespace: 'apps', name: 'key1' },
    );
    expect(g.metadata.namespace).toBe('apps');
    expect(g.spec).toEqual({
      keyRef: { name: 'key1' },
      grantee: { serviceAccount: { namespace: 'apps', name: 'web' } },
      retiringPrincipal: { group: 'ops' },
      operations: ['Encrypt', 'Decrypt'],
      constraints: { encryptionContextSubset: { app: 'web' } },
    });
  });
});

describe('cluster-mode handlers write nothing when the engine refuses', () => {
  const calls: string[] = [];
  const api: ClusterApi = {
    get: async (t, ns, n) => {
      calls.push(`get ${t.kind} ${ns}/${n}`);
      return undefined;
    },
    list: async (t) => {
      calls.push(`list ${t.kind}`);
      return [];
    },
    create: async (t, ns) => {
      calls.push(`create ${t.kind} ${ns}`);
      throw new Error('unexpected create');
    },
    patch: async (t, ns, n) => {
      calls.push(`patch ${t.kind} ${ns}/${n}`);
      throw new Error('unexpected patch');
    },
    delete: async (t, ns, n) => {
      calls.push(`delete ${t.kind} ${ns}/${n}`);
    },
  };
  const ops = clusterOperations({ api, namespace: 'kubekms', timeoutMs: 1000 });

  it.each<[string, string, Input, string, RegExp]>([
    ['CreateKey', 'admin', { KeySpec: 'AES_999' }, 'ValidationException', /KeySpec/],
    [
      'CreateKey',
      'admin',
      { KeySpec: 'ECC_NIST_P256', KeyUsage: 'ENCRYPT_DECRYPT' },
      'ValidationException',
      /KeyUsage/,
    ],
    ['CreateKey', 'admin', { Policy: '{"Statement":[]' }, 'MalformedPolicyDocumentException', /Policy|JSON/],
    ['DisableKey', 'alice', { KeyId: 'KEY' }, 'AccessDeniedException', /not authorized/],
    [
      'ScheduleKeyDeletion',
      'admin',
      { KeyId: 'KEY', PendingWindowInDays: 3 },
      'ValidationException',
      /PendingWindowInDays/,
    ],
    [
      'CreateAlias',
      'admin',
      { AliasName: 'alias/aws/x', TargetKeyId: 'KEY' },
      'NotAuthorizedException|InvalidAliasNameException',
      /alias\/aws/,
    ],
    [
      'CreateGrant',
      'alice',
      { KeyId: 'KEY', GranteePrincipal: 'bob', Operations: ['Encrypt'] },
      'AccessDeniedException',
      /not authorized/,
    ],
    [
      'TagResource',
      'admin',
      { KeyId: 'KEY', Tags: [{ TagKey: 'kubekms.io/x', TagValue: 'v' }] },
      'TagException',
      /Tags: the prefix kubekms\.io\//,
    ],
    ['UntagResource', 'admin', { KeyId: 'KEY', TagKeys: ['kubekms.io/owner'] }, 'TagException', /TagKeys/],
  ])('%s as %s %j → %s', async (name, who, input, errorCode, message) => {
    calls.length = 0;
    const k = await createKey(core, admin, {});
    const resolved = Object.fromEntries(
      Object.entries(input).map(([m, v]) => [m, v === 'KEY' ? k.keyId : v]),
    );
    const e = await code(
      Promise.resolve().then(() =>
        ops[name]!({ core, ctx: who === 'admin' ? admin : alice, input: resolved }),
      ),
    );
    expect(e.code).toMatch(new RegExp(`^(${errorCode})$`));
    expect(e.message).toMatch(message);
    expect(calls).toEqual([]);
  });
});

describe('cluster-mode waits', () => {
  /** An API that stores objects and never reconciles them, or reports the given Ready condition. */
  function fakeApi(ready?: { status: string; reason: string; message: string }) {
    const objects = new Map<string, KmsKey>();
    const api: ClusterApi = {
      get: async (_t, ns, n) => objects.get(`${ns}/${n}`) as never,
      list: async () => [],
      create: async (_t, ns, body) => {
        const name = body.metadata.name || 'aws-x1';
        const o = {
          ...body,
          metadata: { ...body.metadata, name, namespace: ns, generation: 1 },
          ...(ready
            ? {
                status: {
                  conditions: [{ type: 'Ready', ...ready, observedGeneration: 1, lastTransitionTime: '' }],
                },
              }
            : {}),
        } as KmsKey;
        objects.set(`${ns}/${name}`, o);
        return o as never;
      },
      patch: async () => {
        throw new Error('unexpected patch');
      },
      delete: async () => undefined,
    };
    return { api, objects };
  }

  it('CreateKey that the operator never reconciles: DependencyTimeoutException naming the object', async () => {
    const { api, objects } = fakeApi();
    const ops = clusterOperations({ api, namespace: 'kubekms', timeoutMs: 300, pollMs: 20 });
    const t0 = Date.now();
    await expect(Promise.resolve(ops.CreateKey!({ core, ctx: admin, input: {} }))).rejects.toMatchObject({
      code: 'DependencyTimeoutException',
      message: expect.stringMatching(/KmsKey kubekms\/aws-x1: not reconciled within 0\.3s/),
    });
    expect(Date.now() - t0).toBeLessThan(3000);
    expect([...objects.keys()]).toEqual(['kubekms/aws-x1']);
    expect(core.counts().keys).toBe(0);
  });

  it('an object the operator refuses: KMSInternalException with its reason, without waiting out the timeout', async () => {
    const { api } = fakeApi({ status: 'False', reason: 'SpecMismatch', message: 'keySpec cannot change' });
    const ops = clusterOperations({ api, namespace: 'kubekms', timeoutMs: 10_000, pollMs: 20 });
    const t0 = Date.now();
    await expect(Promise.resolve(ops.CreateKey!({ core, ctx: admin, input: {} }))).rejects.toMatchObject({
      code: 'KMSInternalException',
      message: expect.stringMatching(/KmsKey kubekms\/aws-x1 was refused by the operator: SpecMismatch/),
    });
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('an unreachable Kubernetes API is DependencyTimeoutException (retryable), never an unexpected 500', async () => {
    const api: ClusterApi = {
      get: async () => undefined,
      list: async () => [],
      create: async () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:6443');
      },
      patch: async () => undefined as never,
      delete: async () => undefined,
    };
    const ops = clusterOperations({ api, namespace: 'kubekms', timeoutMs: 300 });
    await expect(Promise.resolve(ops.CreateKey!({ core, ctx: admin, input: {} }))).rejects.toMatchObject({
      code: 'DependencyTimeoutException',
      message: expect.stringMatching(/not reachable.*ECONNREFUSED/),
    });
  });
});
