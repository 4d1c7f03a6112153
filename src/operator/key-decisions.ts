/**
 * What the KmsKey controller should do, as a pure function of the object, the engine's record of its key and the
 * time. The reconciler gathers the inputs, runs the steps in order and records one Event per step. Tested with
 * tables in key-decisions.test.ts.
 */
import { isDeepStrictEqual } from 'node:util';
import { CANCEL_DELETION_ANNOTATION, FINALIZER, type KmsKey, OWNER_TAG } from '../api/kinds.ts';
import {
  type RetiredPolicyResult,
  type RetiredVersionsSpec,
  retiredPolicyOf,
} from '../api/retired-policy.ts';
import type { KeyPolicy } from '../engine/policy.ts';
import type { KeyRecord, RetiredVersionsPolicy } from '../engine/records.ts';
import type { KeySpec, KeyUsage } from '../engine/specs.ts';
import { principalName } from './principals.ts';
import { destructionSteps } from './retire-versions.ts';

export interface DesiredKey {
  readonly description: string;
  readonly keySpec: KeySpec;
  readonly keyUsage: KeyUsage;
  readonly enabled: boolean;
  readonly rotation: { readonly enabled: boolean; readonly periodDays: number };
  readonly rotateNow: string;
  /** spec.retiredVersions as the engine's policy, or why it is invalid (a message naming the field). */
  readonly retired: RetiredPolicyResult;
  /** spec.retiredVersions as written (its destroy list). */
  readonly retiredSpec: RetiredVersionsSpec | undefined;
  readonly deletionWindowDays: number;
  readonly deletionPolicy: 'Delete' | 'Retain';
  readonly policy: KeyPolicy;
  readonly tags: Readonly<Record<string, string>>;
}

export const ownerOf = (o: KmsKey): string => `${o.metadata.namespace}/${o.metadata.name}`;

/** The spec with the CRD's defaults (the API server applies them too; this covers objects written before). */
export function desiredKey(o: KmsKey): DesiredKey {
  const s = o.spec ?? {};
  const ns = o.metadata.namespace ?? '';
  return {
    description: s.description ?? '',
    keySpec: (s.keySpec ?? 'SYMMETRIC_DEFAULT') as KeySpec,
    keyUsage: (s.keyUsage ?? 'ENCRYPT_DECRYPT') as KeyUsage,
    enabled: s.enabled ?? true,
    rotation: { enabled: s.rotation?.enabled ?? false, periodDays: s.rotation?.periodDays ?? 365 },
    rotateNow: s.rotateNow ?? '',
    retired: retiredPolicyOf(s.retiredVersions),
    retiredSpec: s.retiredVersions,
    deletionWindowDays: s.deletionWindowDays ?? 30,
    deletionPolicy: s.deletionPolicy ?? 'Delete',
    policy: {
      statements: (s.policy?.statements ?? []).map((st, i) => ({
        sid: `statement-${i}`,
        effect: st.effect ?? 'Allow',
        principals: st.subjects.map((p) => principalName(p, ns)),
        actions: st.operations.map((op) => `kms:${op}`),
      })),
    },
    tags: { ...(s.tags ?? {}), [OWNER_TAG]: ownerOf(o) },
  };
}

export type KeyStep =
  | { readonly kind: 'create' }
  | { readonly kind: 'enable' }
  | { readonly kind: 'disable' }
  | { readonly kind: 'setDescription'; readonly description: string }
  | { readonly kind: 'enableRotation'; readonly periodDays: number }
  | { readonly kind: 'disableRotation' }
  | { readonly kind: 'rotate'; readonly token: string }
  | { readonly kind: 'setRetiredPolicy'; readonly policy: RetiredVersionsPolicy | undefined }
  | { readonly kind: 'scheduleVersionDestruction'; readonly version: number; readonly days: number }
  | { readonly kind: 'cancelVersionDestruction'; readonly version: number }
  | { readonly kind: 'putPolicy'; readonly policy: KeyPolicy }
  | { readonly kind: 'tag'; readonly tags: Readonly<Record<string, string>> }
  | { readonly kind: 'untag'; readonly keys: readonly string[] }
  | { readonly kind: 'cancelDeletion'; readonly why: 'annotation' | 'object-exists' }
  | { readonly kind: 'scheduleDeletion'; readonly days: number }
  | { readonly kind: 'destroy' }
  | { readonly kind: 'addFinalizer' }
  | { readonly kind: 'release'; readonly why: 'retained' | 'cancelled' | 'destroyed' | 'absent' };

export type KeyPlan =
  | { readonly kind: 'steps'; readonly steps: readonly KeyStep[]; readonly requeueAfterMs?: number }
  | { readonly kind: 'refuse'; readonly reason: string; readonly message: string };

export interface KeyInput {
  readonly object: KmsKey;
  /** The engine's key: by status.keyId, else by the owner tag. */
  readonly record: KeyRecord | undefined;
  /** Engine time (epoch ms). */
  readonly now: number;
  /**
   * The spec.rotateNow token already acted on: status.rotateNow, or a newer one this process remembers (the cache
   * may not show its own status write yet, and a token must rotate once only).
   */
  readonly handledRotateNow?: string;
  /** Tests only: destroy the key this long after its deletion was scheduled, whatever the window. */
  readonly deletionWindowOverrideMs?: number;
}

export const MAX_REQUEUE_MS = 3_600_000;
const DAY_MS = 86_400_000;

const annotated = (o: KmsKey): boolean => {
  const v = o.metadata.annotations?.[CANCEL_DELETION_ANNOTATION];
  return v !== undefined && v !== 'false';
};

export function planKey(input: KeyInput): KeyPlan {
  const { object: o, record: r, now } = input;
  const d = desiredKey(o);
  const hasFinalizer = o.metadata.finalizers?.includes(FINALIZER) ?? false;

  if (o.metadata.deletionTimestamp) {
    if (!hasFinalizer) return { kind: 'steps', steps: [] };
    if (d.deletionPolicy === 'Retain')
      return { kind: 'steps', steps: [{ kind: 'release', why: 'retained' }] };
    if (!r)
      return { kind: 'steps', steps: [{ kind: 'release', why: o.status?.keyId ? 'destroyed' : 'absent' }] };
    if (annotated(o)) {
      const cancel: KeyStep[] =
        r.state === 'PendingDeletion' ? [{ kind: 'cancelDeletion', why: 'annotation' }] : [];
      return { kind: 'steps', steps: [...cancel, { kind: 'release', why: 'cancelled' }] };
    }
    if (r.state !== 'PendingDeletion') {
      const days = d.deletionWindowDays;
      return {
        kind: 'steps',
        steps: [{ kind: 'scheduleDeletion', days }],
        requeueAfterMs: Math.min(input.deletionWindowOverrideMs ?? days * DAY_MS, MAX_REQUEUE_MS),
      };
    }
    const date = r.deletionDate ?? now;
    const due =
      input.deletionWindowOverrideMs === undefined
        ? date
        : date - (r.pendingWindowDays ?? 0) * DAY_MS + input.deletionWindowOverrideMs;
    const left = due - now;
    if (left <= 0)
      return { kind: 'steps', steps: [{ kind: 'destroy' }, { kind: 'release', why: 'destroyed' }] };
    return { kind: 'steps', steps: [], requeueAfterMs: Math.min(left, MAX_REQUEUE_MS) };
  }

  const finalizer: KeyStep[] = hasFinalizer ? [] : [{ kind: 'addFinalizer' }];
  if (!r) {
    if (o.status?.keyId) {
      return {
        kind: 'refuse',
        reason: 'KeyNotFound',
        message: `the engine has no key ${o.status.keyId}; kubekms does not create a replacement, because data encrypted under the old key would stay undecryptable. Delete this KmsKey, then create it again for a new key`,
      };
    }
    const after: KeyStep[] = d.enabled ? [] : [{ kind: 'disable' }];
    return {
      kind: 'steps',
      steps: [...finalizer, { kind: 'create' }, ...after],
      ...requeueFor(d, undefined, now),
    };
  }
  if (r.keyManager === 'CLUSTER') {
    return {
      kind: 'refuse',
      reason: 'ClusterManaged',
      message: `key ${r.keyId} is managed by kubekms itself`,
    };
  }
  if (!d.retired.ok) return { kind: 'refuse', reason: 'InvalidSpec', message: d.retired.message };
  if (r.keySpec !== d.keySpec || r.keyUsage !== d.keyUsage) {
    return {
      kind: 'refuse',
      reason: 'SpecMismatch',
      message: `key ${r.keyId} is ${r.keySpec}/${r.keyUsage} but spec asks for ${d.keySpec}/${d.keyUsage}; keySpec and keyUsage cannot change`,
    };
  }

  const steps: KeyStep[] = [...finalizer];
  let state = r.state;
  if (state === 'PendingDeletion') {
    steps.push({ kind: 'cancelDeletion', why: 'object-exists' });
    state = 'Disabled';
  }
  if (d.enabled && state === 'Disabled') {
    steps.push({ kind: 'enable' });
    state = 'Enabled';
  }
  steps.push(...settingsSteps(d, r));
  // Rotation settings and on-demand rotation need an enabled key; while disabled they wait.
  if (state === 'Enabled') {
    const rot = r.rotation;
    if (d.rotation.enabled && (!rot.enabled || rot.periodDays !== d.rotation.periodDays)) {
      steps.push({ kind: 'enableRotation', periodDays: d.rotation.periodDays });
    } else if (!d.rotation.enabled && rot.enabled) {
      steps.push({ kind: 'disableRotation' });
    }
    // A key found by its owner tag (adopted) takes the current token as handled, as a new key does.
    const handled = input.handledRotateNow ?? o.status?.rotateNow ?? (o.status?.keyId ? '' : d.rotateNow);
    if (d.rotateNow !== '' && d.rotateNow !== handled) steps.push({ kind: 'rotate', token: d.rotateNow });
  }
  if (!d.enabled && state === 'Enabled') steps.push({ kind: 'disable' });
  return { kind: 'steps', steps, ...requeueFor(d, r, now) };
}

/** Description, key policy, tags and the retired versions policy: what differs from the spec. */
function settingsSteps(d: DesiredKey, r: KeyRecord): KeyStep[] {
  const steps: KeyStep[] = [];
  if (r.description !== d.description) steps.push({ kind: 'setDescription', description: d.description });
  if (!isDeepStrictEqual(r.policy, d.policy)) steps.push({ kind: 'putPolicy', policy: d.policy });
  const add = Object.fromEntries(Object.entries(d.tags).filter(([k, v]) => r.tags[k] !== v));
  if (Object.keys(add).length > 0) steps.push({ kind: 'tag', tags: add });
  const remove = Object.keys(r.tags).filter((k) => !(k in d.tags));
  if (remove.length > 0) steps.push({ kind: 'untag', keys: remove });
  const retired = d.retired.ok ? d.retired.policy : r.retiredVersions;
  if (r.retiredVersions?.disableDecryptAfterMs !== retired?.disableDecryptAfterMs)
    steps.push({ kind: 'setRetiredPolicy', policy: retired });
  steps.push(...destructionSteps(r, d.retiredSpec));
  return steps;
}

/** While automatic rotation is on, look again when it is due (at most hourly) to report it. */
function requeueFor(d: DesiredKey, r: KeyRecord | undefined, now: number): { requeueAfterMs?: number } {
  if (!d.rotation.enabled) return {};
  const due = r?.rotation.nextRotationAt;
  const ms = due === undefined ? MAX_REQUEUE_MS : Math.max(1000, due - now + 1000);
  return { requeueAfterMs: Math.min(ms, MAX_REQUEUE_MS) };
}
