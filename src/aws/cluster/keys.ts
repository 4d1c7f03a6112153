/**
 * Cluster mode, keys: CreateKey creates a KmsKey; the key updates (Enable/DisableKey, UpdateKeyDescription,
 * Enable/DisableKeyRotation, Tag/UntagResource, PutKeyPolicy) merge-patch its spec; ScheduleKeyDeletion deletes
 * it; CancelKeyDeletion annotates and re-creates it; RotateKeyOnDemand sets spec.rotateNow. Each waits for the
 * operator, then answers from the engine.
 */
import { randomUUID } from 'node:crypto';
import { CANCEL_DELETION_ANNOTATION, KMS_KEY, type KmsKey } from '../../api/kinds.ts';
import { KmsError } from '../../engine/errors.ts';
import { metadataOf } from '../../engine/metadata.ts';
import type { KeyRecord } from '../../engine/records.ts';
import { awsKeyMetadata } from '../ops/key-metadata.ts';
import type { Handler, OpContext } from '../ops/types.ts';
import { type ClusterDeps, preflightOf, recordOf, standalone } from './deps.ts';
import { keySpecPatch, newKmsKey } from './mapping.ts';
import { keyObject, type Ref } from './owners.ts';
import { until } from './wait.ts';

/**
 * Tag keys under `kubekms.io/` belong to the operator (its owner tag), and the KmsKey schema refuses them in
 * spec.tags: in cluster mode TagResource, UntagResource and CreateKey may not name them.
 */
function refuseReservedTags(c: OpContext): void {
  const keys = [
    ...(Array.isArray(c.input.Tags) ? (c.input.Tags as { TagKey?: unknown }[]).map((t) => t.TagKey) : []),
    ...(Array.isArray(c.input.TagKeys) ? (c.input.TagKeys as unknown[]) : []),
  ];
  const i = keys.findIndex((k) => typeof k === 'string' && k.startsWith('kubekms.io/'));
  if (i >= 0) {
    const field = Array.isArray(c.input.Tags) ? 'Tags' : 'TagKeys';
    throw new KmsError(
      'TagException',
      `${field}: the prefix kubekms.io/ is reserved for the operator in cluster mode (${String(keys[i]).slice(0, 128)})`,
      field,
    );
  }
}

/** Patches a KmsKey's spec and waits for the operator to have acted on that generation. */
async function patchKey(
  d: ClusterDeps,
  c: OpContext,
  ref: Ref,
  patch: Record<string, unknown>,
  check: (r: KeyRecord) => boolean,
): Promise<void> {
  const updated = await d.api.patch<KmsKey>(KMS_KEY, ref.namespace, ref.name, patch);
  const generation = updated.metadata.generation ?? 0;
  const keyId = updated.status?.keyId ?? '';
  await until(d, `KmsKey ${ref.namespace}/${ref.name}`, { type: KMS_KEY, ...ref, generation }, async () => {
    const r = recordOf(c.core, keyId);
    if (!r || !check(r)) return undefined;
    const now = await d.api.get<KmsKey>(KMS_KEY, ref.namespace, ref.name);
    return (now?.status?.observedGeneration ?? 0) >= generation ? true : undefined;
  });
}

/** Enable/DisableKey, UpdateKeyDescription, Enable/DisableKeyRotation, Tag/UntagResource, PutKeyPolicy. */
export const keyUpdate =
  (d: ClusterDeps, name: string): Handler =>
  async (c) => {
    refuseReservedTags(c);
    const pre = await preflightOf(name, c);
    if (pre.kind === 'done') return pre.result;
    const before = c.core.resolve(c.input.KeyId).record;
    const after = pre.change.putKeys?.find((k) => k.keyId === before.keyId);
    const owner = after ? await keyObject(d, before) : undefined;
    if (!after || !owner) return standalone(name)(c);
    const patch = keySpecPatch(owner.object, before, after);
    if (!patch) return standalone(name)(c);
    const rotationMatches = (r: KeyRecord) =>
      r.rotation.enabled === after.rotation.enabled && r.rotation.periodDays === after.rotation.periodDays;
    await patchKey(
      d,
      c,
      owner,
      patch,
      (r) => r.state === after.state && r.description === after.description && rotationMatches(r),
    );
    return { keyArn: c.core.arnOf(before.keyId) };
  };

export const createKey =
  (d: ClusterDeps): Handler =>
  async (c) => {
    refuseReservedTags(c);
    const pre = await preflightOf('CreateKey', c);
    const planned = pre.kind === 'change' ? pre.change.putKeys?.[0] : undefined;
    if (!planned) throw new KmsError('KMSInternalException', 'CreateKey: the engine planned no key');
    const created = await d.api.create(KMS_KEY, d.namespace, newKmsKey(d.namespace, planned));
    const ref = { type: KMS_KEY, namespace: d.namespace, name: created.metadata.name, generation: 1 };
    const r = await until(d, `KmsKey ${d.namespace}/${ref.name}`, ref, async () => {
      const obj = await d.api.get<KmsKey>(KMS_KEY, d.namespace, ref.name);
      const id = obj?.status?.keyId;
      return id && (obj.status?.observedGeneration ?? 0) >= 1 ? recordOf(c.core, id) : undefined;
    });
    const meta = metadataOf(c.core, r);
    return { keyArn: meta.arn, body: { KeyMetadata: awsKeyMetadata(meta) } };
  };

export const scheduleKeyDeletion =
  (d: ClusterDeps): Handler =>
  async (c) => {
    const pre = await preflightOf('ScheduleKeyDeletion', c);
    if (pre.kind === 'done') return pre.result;
    const before = c.core.resolve(c.input.KeyId).record;
    const after = pre.change.putKeys?.[0];
    const owner = await keyObject(d, before);
    if (!after || !owner || owner.object.metadata.deletionTimestamp)
      return standalone('ScheduleKeyDeletion')(c);
    // The object's deletion schedules the key's: with the window asked for, and never retained.
    await d.api.patch(KMS_KEY, owner.namespace, owner.name, {
      spec: { deletionWindowDays: after.pendingWindowDays, deletionPolicy: 'Delete' },
    });
    await d.api.delete(KMS_KEY, owner.namespace, owner.name);
    const r = await until(d, `KmsKey ${owner.namespace}/${owner.name}`, undefined, () => {
      const x = recordOf(c.core, before.keyId);
      return x?.state === 'PendingDeletion' ? x : undefined;
    });
    const arn = c.core.arnOf(r.keyId);
    return {
      keyArn: arn,
      body: {
        KeyId: arn,
        DeletionDate: (r.deletionDate ?? 0) / 1000,
        KeyState: 'PendingDeletion',
        PendingWindowInDays: r.pendingWindowDays,
      },
    };
  };

/** The KmsKey as it is created again after a cancelled deletion: same name, labels and spec, disabled. */
function recreated(owner: Ref, old: KmsKey): KmsKey {
  const annotations = { ...(old.metadata.annotations ?? {}) };
  delete annotations[CANCEL_DELETION_ANNOTATION];
  return {
    apiVersion: old.apiVersion ?? 'kubekms.io/v1alpha1',
    kind: 'KmsKey',
    metadata: {
      name: owner.name,
      namespace: owner.namespace,
      ...(old.metadata.labels ? { labels: old.metadata.labels } : {}),
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
    },
    spec: { ...(old.spec ?? {}), enabled: false },
  };
}

/**
 * The operator cancels a deletion when the deleting KmsKey is annotated, and lets the object go; the key stays
 * (Disabled, as AWS leaves it). The KmsKey is then created again under the same name, disabled, and adopts
 * the key through its owner tag, so the key stays managed by the cluster.
 */
export const cancelKeyDeletion =
  (d: ClusterDeps): Handler =>
  async (c) => {
    const pre = await preflightOf('CancelKeyDeletion', c);
    if (pre.kind === 'done') return pre.result;
    const before = c.core.resolve(c.input.KeyId).record;
    const owner = await keyObject(d, before);
    if (!owner?.object.metadata.deletionTimestamp) return standalone('CancelKeyDeletion')(c);
    const what = `KmsKey ${owner.namespace}/${owner.name}`;
    await d.api.patch(KMS_KEY, owner.namespace, owner.name, {
      metadata: { annotations: { [CANCEL_DELETION_ANNOTATION]: 'true' } },
    });
    await until(d, `${what}: cancel deletion`, undefined, async () => {
      const x = recordOf(c.core, before.keyId);
      const gone = !(await d.api.get(KMS_KEY, owner.namespace, owner.name));
      return gone && x?.state === 'Disabled' ? true : undefined;
    });
    await d.api.create(KMS_KEY, owner.namespace, recreated(owner, owner.object));
    await until(d, what, { type: KMS_KEY, ...owner, generation: 1 }, async () => {
      const obj = await d.api.get<KmsKey>(KMS_KEY, owner.namespace, owner.name);
      return obj?.status?.keyId === before.keyId && (obj.status.observedGeneration ?? 0) >= 1
        ? true
        : undefined;
    });
    const arn = c.core.arnOf(before.keyId);
    return { keyArn: arn, body: { KeyId: arn } };
  };

export const rotateKeyOnDemand =
  (d: ClusterDeps): Handler =>
  async (c) => {
    const pre = await preflightOf('RotateKeyOnDemand', c);
    if (pre.kind === 'done') return pre.result;
    const before = c.core.resolve(c.input.KeyId).record;
    const owner = await keyObject(d, before);
    if (!owner) return standalone('RotateKeyOnDemand')(c);
    const token = `aws-${randomUUID()}`;
    await d.api.patch(KMS_KEY, owner.namespace, owner.name, { spec: { rotateNow: token } });
    await until(d, `KmsKey ${owner.namespace}/${owner.name}`, undefined, async () => {
      const obj = await d.api.get<KmsKey>(KMS_KEY, owner.namespace, owner.name);
      const r = recordOf(c.core, before.keyId);
      return obj?.status?.rotateNow === token && r && r.primaryVersion > before.primaryVersion
        ? true
        : undefined;
    });
    const arn = c.core.arnOf(before.keyId);
    return { keyArn: arn, body: { KeyId: arn } };
  };
