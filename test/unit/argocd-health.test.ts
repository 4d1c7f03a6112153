/**
 * The Argo CD health check of docs/argocd/kubekms-health.lua, run by real Lua interpreters (5.1, the language of
 * Argo CD's gopher-lua, and 5.4) on objects whose conditions come from the operator's own code.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Condition, ConditionInput } from '../../src/api/conditions.ts';
import type { KmsAlias, KmsGrant, KmsKey, ReencryptionStatus } from '../../src/api/kinds.ts';
import { refusalOf, WAITING_REASONS } from '../../src/api/reasons.ts';
import { ERROR_CODES, KmsError } from '../../src/engine/errors.ts';
import type { KeyRecord } from '../../src/engine/records.ts';
import { keyReadyCondition } from '../../src/operator/key-status.ts';
import { passOutcome } from '../../src/operator/reencrypt-decisions.ts';
import { REPO_ROOT } from '../controlplane/harness.ts';

const SCRIPT = join(REPO_ROOT, 'docs', 'argocd', 'kubekms-health.lua');
const HARNESS = join(REPO_ROOT, 'test', 'unit', 'argocd-health-harness.lua');
const INTERPRETERS = ['lua5.1', 'lua5.4'] as const;
const T = '2026-06-01T00:00:00Z';

/** A Lua table constructor for JSON-like data (null members are left out, as Argo CD's conversion does). */
function toLua(v: unknown): string {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'boolean' || typeof v === 'number') return String(v);
  if (typeof v === 'string') {
    // Decimal escapes (\ddd) for backslash, quote and control characters: the same in Lua 5.1 and 5.4.
    const esc = (c: string) => `\\${c.charCodeAt(0).toString().padStart(3, '0')}`;
    return `"${[...v].map((c) => (c === '\\' || c === '"' || c < ' ' ? esc(c) : c)).join('')}"`;
  }
  if (Array.isArray(v)) return `{${v.map(toLua).join(', ')}}`;
  const members = Object.entries(v as Record<string, unknown>).filter(
    ([, x]) => x !== undefined && x !== null,
  );
  return `{${members.map(([k, x]) => `[${toLua(k)}] = ${toLua(x)}`).join(', ')}}`;
}

interface Health {
  status: string;
  message: string;
}

function health(obj: object, lua: string): Health {
  const r = spawnSync(lua, [HARNESS, SCRIPT], { input: `return ${toLua(obj)}`, encoding: 'utf8' });
  if (r.error) throw new Error(`${lua}: ${r.error.message} (apt-get install lua5.1 lua5.4; .ci/run does)`);
  if (r.status !== 0) throw new Error(`${lua} exited ${r.status}: ${r.stderr}`);
  const [status = '', ...rest] = r.stdout.split('\n');
  return { status, message: rest.join('\n') };
}

/** The health under every interpreter, which must agree. */
function healthOf(obj: object): Health {
  const [first, ...others] = INTERPRETERS.map((lua) => health(obj, lua));
  for (const h of others) expect(h).toEqual(first);
  return first!;
}

const cond = (c: ConditionInput): Condition => ({ ...c, lastTransitionTime: T });
const ready = (status: Condition['status'], reason: string, message = '', observedGeneration = 1) =>
  cond({ type: 'Ready', status, reason, message, observedGeneration });

function record(over: Partial<KeyRecord> = {}): KeyRecord {
  return {
    keyId: '0b7c9b8e-6d6e-4a52-9a3c-2f1c1d9e0a11',
    createdAt: Date.parse(T),
    description: '',
    keySpec: 'SYMMETRIC_DEFAULT',
    keyUsage: 'ENCRYPT_DECRYPT',
    keyManager: 'CUSTOMER',
    state: 'Enabled',
    rotation: { enabled: false, periodDays: 365 },
    versions: [{ version: 1, createdAt: Date.parse(T), wrappedMaterial: new Uint8Array(1) }],
    primaryVersion: 1,
    policy: { statements: [] },
    tags: {},
    revision: 1,
    ...over,
  };
}

const meta = (generation: number, deleting = false) => ({
  name: 'orders',
  namespace: 'shop',
  uid: 'u-1',
  generation,
  ...(deleting ? { deletionTimestamp: T, finalizers: ['kubekms.io/finalizer'] } : {}),
});

function key(
  o: {
    generation?: number;
    enabled?: boolean;
    keyManager?: KeyRecord['keyManager'];
    deleting?: boolean;
    conditions?: readonly Condition[];
  } = {},
): KmsKey {
  return {
    apiVersion: 'kubekms.io/v1alpha1',
    kind: 'KmsKey',
    metadata: meta(o.generation ?? 1, o.deleting),
    spec: { keySpec: 'SYMMETRIC_DEFAULT', keyUsage: 'ENCRYPT_DECRYPT', enabled: o.enabled ?? true },
    ...(o.conditions
      ? {
          status: {
            keyId: record().keyId,
            keyManager: o.keyManager ?? 'CUSTOMER',
            observedGeneration: 1,
            conditions: o.conditions,
          },
        }
      : {}),
  };
}

/** A KmsKey with the Ready condition keyReadyCondition gives for the engine's key in `state`. */
function keyIn(state: KeyRecord['state'] | undefined, o: Parameters<typeof key>[0] = {}): KmsKey {
  const bare = key(o);
  const r = state
    ? record({ state, ...(state === 'PendingDeletion' ? { deletionDate: 0 } : {}) })
    : undefined;
  return key({ ...o, conditions: [cond(keyReadyCondition(bare, r))] });
}

const alias = (conditions?: readonly Condition[], generation = 1): KmsAlias => ({
  apiVersion: 'kubekms.io/v1alpha1',
  kind: 'KmsAlias',
  metadata: meta(generation),
  spec: { aliasName: 'alias/orders', targetKeyRef: { name: 'orders' } },
  ...(conditions ? { status: { conditions } } : {}),
});

const grant = (conditions?: readonly Condition[], generation = 1): KmsGrant => ({
  apiVersion: 'kubekms.io/v1alpha1',
  kind: 'KmsGrant',
  metadata: meta(generation),
  spec: {
    keyRef: { name: 'orders' },
    grantee: { serviceAccount: { name: 'web' } },
    operations: ['Decrypt'],
  },
  ...(conditions ? { status: { conditions } } : {}),
});

/** The cluster-managed Secrets key mirror, Ready, with a Reencrypted condition. */
const secretsKey = (reencrypted: Omit<ConditionInput, 'type'>) =>
  key({
    keyManager: 'CLUSTER',
    conditions: [
      ready(
        'True',
        'ClusterManaged',
        'cluster-managed key alias/kubekms/secrets; version 2 encrypts Secrets',
      ),
      cond({ type: 'Reencrypted', observedGeneration: 1, ...reencrypted }),
    ],
  });

const pass = (over: Partial<ReencryptionStatus>): ReencryptionStatus => ({
  phase: 'Running',
  keyVersion: 2,
  total: 10,
  done: 10,
  skipped: 0,
  failed: 0,
  ...over,
});

describe('Argo CD health of a KmsKey', () => {
  it('is Progressing before the operator has written a status', () => {
    expect(healthOf(key())).toEqual({
      status: 'Progressing',
      message: 'waiting for the kubekms operator to reconcile this KmsKey',
    });
  });

  it('is Progressing while the key is being created (Provisioning)', () => {
    expect(healthOf(keyIn(undefined))).toEqual({
      status: 'Progressing',
      message: 'Provisioning: the key is being created',
    });
  });

  it('is Healthy when Ready, with the condition message', () => {
    const h = healthOf(keyIn('Enabled'));
    expect(h.status).toBe('Healthy');
    expect(h.message).toMatch(/^KeyEnabled: key .* is enabled; version 1 encrypts$/);
  });

  it('is Progressing when the operator has not observed the latest generation, even if Ready', () => {
    const reconciled = keyIn('Enabled');
    const edited = { ...reconciled, metadata: { ...reconciled.metadata, generation: 2 } };
    expect(healthOf(edited)).toEqual({
      status: 'Progressing',
      message: 'the kubekms operator has not reconciled generation 2 yet (status is of generation 1)',
    });
  });

  it('is Suspended when disabled by spec.enabled: false, Degraded when disabled against the spec', () => {
    expect(healthOf(keyIn('Disabled', { enabled: false })).status).toBe('Suspended');
    expect(healthOf(keyIn('Disabled', { enabled: true })).status).toBe('Degraded');
  });

  it('is Suspended while its deletion is scheduled', () => {
    const h = healthOf(keyIn('PendingDeletion', { deleting: true }));
    expect(h.status).toBe('Suspended');
    expect(h.message).toMatch(/^PendingDeletion: key .* will be destroyed at 1970-01-01T00:00:00.000Z/);
  });

  it('is Degraded for every refusal the operator maps from an engine error', () => {
    const reasons = new Set(ERROR_CODES.map((code) => refusalOf(new KmsError(code, 'refused')).reason));
    expect(reasons.size).toBeGreaterThan(5);
    for (const reason of reasons) {
      const h = healthOf(key({ conditions: [ready('False', reason, 'refused')] }));
      expect(h, reason).toEqual({ status: 'Degraded', message: `${reason}: refused` });
    }
  });

  it('is Degraded for the key refusals of its own (KeyNotFound, SpecMismatch, ClusterManaged)', () => {
    for (const reason of ['KeyNotFound', 'SpecMismatch', 'ClusterManaged'])
      expect(healthOf(key({ conditions: [ready('False', reason, 'x')] })).status, reason).toBe('Degraded');
  });

  it('is Progressing while Ready is Unknown', () => {
    expect(healthOf(key({ conditions: [ready('Unknown', 'Reconciling')] }))).toEqual({
      status: 'Progressing',
      message: 'Reconciling',
    });
  });
});

describe('Argo CD health of the cluster-managed Secrets key (re-encryption)', () => {
  it('is Progressing while re-encryption waits for the API servers or runs', () => {
    for (const reason of ['WaitingForApiservers', 'InProgress'])
      expect(healthOf(secretsKey({ status: 'False', reason, message: 'm' }))).toEqual({
        status: 'Progressing',
        message: `${reason}: m`,
      });
  });

  it('is Healthy once a pass completed, Degraded when a pass failed or skipped unknown resources', () => {
    expect(healthOf(secretsKey(passOutcome(pass({})).condition)).status).toBe('Healthy');
    const failed = healthOf(secretsKey(passOutcome(pass({ done: 8, failed: 2 })).condition));
    expect(failed.status).toBe('Degraded');
    expect(failed.message).toMatch(/^ObjectsFailed: re-encryption to version 2 finished with failures/);
    const unknown = passOutcome(pass({ unknownResources: ['widgets.example.com'] })).condition;
    expect(healthOf(secretsKey(unknown)).status).toBe('Degraded');
  });

  it('is Degraded when the cluster-managed key is not enabled (kubekms never disables it on purpose)', () => {
    const h = healthOf(
      key({ keyManager: 'CLUSTER', enabled: false, conditions: [ready('False', 'KeyDisabled', 'm')] }),
    );
    expect(h.status).toBe('Degraded');
  });
});

describe('Argo CD health of a KmsAlias and a KmsGrant', () => {
  it('is Healthy when Bound / Granted', () => {
    expect(healthOf(alias([ready('True', 'Bound', 'alias/orders -> key 1')]))).toEqual({
      status: 'Healthy',
      message: 'Bound: alias/orders -> key 1',
    });
    expect(healthOf(grant([ready('True', 'Granted', 'grant g-1')])).status).toBe('Healthy');
  });

  it('is Progressing without a status, and with a status of an older generation', () => {
    expect(healthOf(alias()).status).toBe('Progressing');
    expect(healthOf(grant()).message).toBe('waiting for the kubekms operator to reconcile this KmsGrant');
    expect(healthOf(alias([ready('True', 'Bound')], 3)).status).toBe('Progressing');
    expect(healthOf(grant([ready('False', 'IncompatibleOperations')], 2)).status).toBe('Progressing');
  });

  it('is Progressing for every waiting reason of the operator, for all three kinds', () => {
    expect(WAITING_REASONS.size).toBeGreaterThan(0);
    for (const reason of WAITING_REASONS)
      for (const o of [key({ conditions: [ready('False', reason)] }), alias([ready('False', reason)])])
        expect(healthOf(o).status, `${o.kind} ${reason}`).toBe('Progressing');
    for (const reason of WAITING_REASONS)
      expect(healthOf(grant([ready('False', reason)])).status, reason).toBe('Progressing');
  });

  it('is Degraded for the alias refusals', () => {
    for (const reason of [
      'Conflict',
      'TargetKeyNotFound',
      'TargetKeyPendingDeletion',
      'CrossNamespaceTarget',
      'TargetKeyNotManaged',
      'IncompatibleTarget',
      'InvalidAliasName',
      'EngineError',
    ])
      expect(healthOf(alias([ready('False', reason, 'x')])).status, reason).toBe('Degraded');
  });

  it('is Suspended for a grant whose key is disabled, Degraded for the other grant refusals', () => {
    expect(healthOf(grant([ready('False', 'KeyDisabled', 'DisabledException: key is disabled')]))).toEqual({
      status: 'Suspended',
      message: 'KeyDisabled: DisabledException: key is disabled',
    });
    for (const reason of ['KeyNotFound', 'IncompatibleOperations', 'InvalidKeyState', 'InvalidSpec'])
      expect(healthOf(grant([ready('False', reason, 'x')])).status, reason).toBe('Degraded');
  });
});

describe('the test harness', () => {
  it('passes strings through Lua intact (quotes, backslashes, newlines, non-ASCII)', () => {
    const message = 'a "quoted" \\ back\nslash — ünïcode';
    expect(healthOf(alias([ready('True', 'Bound', message)])).message).toBe(`Bound: ${message}`);
  });

  it('runs the script without os or io, as Argo CD does', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kubekms-lua-'));
    try {
      const script = join(dir, 'uses-os.lua');
      writeFileSync(script, 'return {status = tostring(os.time()), message = ""}\n');
      for (const lua of INTERPRETERS) {
        const r = spawnSync(lua, [HARNESS, script], { input: 'return {}', encoding: 'utf8' });
        expect(r.status, lua).not.toBe(0);
        expect(r.stderr).toMatch(/global 'os'|attempt to index/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
