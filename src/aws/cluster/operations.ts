/**
 * Cluster mode (`--aws-management=cluster`): the management operations act through the kubekms.io custom
 * resources, so the cluster stays the single source of truth; reads and data operations use the engine as in
 * standalone mode. Every handler works the same way:
 *
 *   1. preflight: the standalone operation runs against a dry-run view of the engine (dry-run.ts), so input
 *      validation, authorization (key policy, grants, admin) and key state are decided exactly as in standalone
 *      mode, and nothing is written when they refuse;
 *   2. the change the engine would have made becomes a KmsKey/KmsAlias/KmsGrant create, merge patch or delete
 *      (mapping.ts);
 *   3. the handler waits (bounded) until the operator has reconciled it into the engine, then answers from the
 *      engine with the standalone response shape.
 *
 * Keys, aliases and grants that no custom resource owns (created before cluster mode, or by kubekms itself) are
 * managed on the engine directly, as in standalone mode.
 */
import { randomUUID } from 'node:crypto';
import { aliasHolder } from '../../api/alias-claims.ts';
import {
  CANCEL_DELETION_ANNOTATION,
  KMS_ALIAS,
  KMS_GRANT,
  KMS_KEY,
  type KmsAlias,
  type KmsGrant,
  type KmsKey,
} from '../../api/kinds.ts';
import { WAITING_REASONS } from '../../api/reasons.ts';
import type { EngineCore } from '../../engine/core.ts';
import { KmsError } from '../../engine/errors.ts';
import { metadataOf } from '../../engine/metadata.ts';
import type { KeyRecord, StoreChange } from '../../engine/records.ts';
import { KubeApiError } from '../../kube/errors.ts';
import type { KubeObject, ResourceType } from '../../kube/objects.ts';
import { OPERATIONS } from '../operations.ts';
import { awsKeyMetadata } from '../ops/key-metadata.ts';
import type { Handler, OpContext } from '../ops/types.ts';
import { preflight } from './dry-run.ts';
import type { ClusterApi } from './kube.ts';
import { keySpecPatch, newKmsAlias, newKmsGrant, newKmsKey, ownerOfKey } from './mapping.ts';

export interface ClusterOptions {
  readonly api: ClusterApi;
  /** Where CreateKey creates KmsKey objects. */
  readonly namespace: string;
  /** How long a request waits for the operator to reconcile its object. */
  readonly timeoutMs: number;
  readonly pollMs?: number;
}

/** Ready reasons that describe a key's state, not a failure to reconcile it. */
const STATE_REASONS = new Set(['KeyDisabled', 'PendingDeletion', 'PendingImport', ...WAITING_REASONS]);

type Ref = { readonly namespace: string; readonly name: string };

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

export function clusterOperations(o: ClusterOptions): Readonly<Record<string, Handler>> {
  const pollMs = o.pollMs ?? 100;
  const standalone = (name: string): Handler => OPERATIONS[name]!;

  /** Kubernetes API failures in AWS terms: 422 is the caller's input, the rest is ours (retryable). */
  async function kube<T>(what: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      if (e instanceof KubeApiError) {
        if (e.code === 422) throw new KmsError('ValidationException', `${what}: ${e.message}`);
        if (e.code === 409 && e.reason === 'AlreadyExists')
          throw new KmsError('AlreadyExistsException', `${what}: ${e.message}`);
        throw new KmsError(
          'KMSInternalException',
          `${what}: the Kubernetes API answered ${e.code} ${e.reason}`,
        );
      }
      if (e instanceof KmsError) throw e;
      throw new KmsError(
        'DependencyTimeoutException',
        `${what}: the Kubernetes API is not reachable (${e instanceof Error ? e.message : String(e)})`,
      );
    }
  }
  // Every call, including the polls while waiting, fails in AWS terms.
  const api: ClusterApi = {
    get: (t, ns, n) => kube(`get ${t.kind} ${ns}/${n}`, () => o.api.get(t, ns, n)),
    list: (t) => kube(`list ${t.kind}`, () => o.api.list(t)),
    create: (t, ns, b) => kube(`create ${t.kind} in ${ns}`, () => o.api.create(t, ns, b)),
    patch: (t, ns, n, b) => kube(`patch ${t.kind} ${ns}/${n}`, () => o.api.patch(t, ns, n, b)),
    delete: (t, ns, n) => kube(`delete ${t.kind} ${ns}/${n}`, () => o.api.delete(t, ns, n)),
  };

  /**
   * Polls until `done` returns a value. Fails at once when the object's Ready condition reports a refusal for
   * its current generation, and with DependencyTimeoutException after the timeout.
   */
  async function until<T>(
    what: string,
    ref: { type: ResourceType; namespace: string; name: string; generation?: number } | undefined,
    done: () => T | undefined | Promise<T | undefined>,
  ): Promise<T> {
    const deadline = Date.now() + o.timeoutMs;
    let last = '';
    for (;;) {
      const v = await done();
      if (v !== undefined) return v;
      if (ref) {
        const obj = await api.get<KubeObject & { status?: KmsKey['status'] }>(
          ref.type,
          ref.namespace,
          ref.name,
        );
        const ready = obj?.status?.conditions?.find((c) => c.type === 'Ready');
        if (ready) last = ` (Ready ${ready.status}: ${ready.reason}: ${ready.message})`;
        if (
          ready?.status === 'False' &&
          ref.generation !== undefined &&
          (ready.observedGeneration ?? 0) >= ref.generation &&
          !STATE_REASONS.has(ready.reason)
        ) {
          throw new KmsError(
            'KMSInternalException',
            `${ref.type.kind} ${ref.namespace}/${ref.name} was refused by the operator: ${ready.reason}: ${ready.message}`,
          );
        }
      }
      if (Date.now() >= deadline) {
        throw new KmsError(
          'DependencyTimeoutException',
          `${what}: not reconciled within ${o.timeoutMs / 1000}s${last}; is the operator running and leading?`,
        );
      }
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  const record = (core: EngineCore, keyId: string): KeyRecord | undefined => core.keys.get(keyId)?.record;

  /** The KmsKey owning a key, or undefined when none does (then the engine is managed directly). */
  async function keyObject(r: KeyRecord): Promise<(Ref & { object: KmsKey }) | undefined> {
    const owner = ownerOfKey(r);
    if (!owner) return undefined;
    const object = await kube(`get KmsKey ${owner.namespace}/${owner.name}`, () =>
      api.get<KmsKey>(KMS_KEY, owner.namespace, owner.name),
    );
    if (!object || (object.status?.keyId !== undefined && object.status.keyId !== r.keyId)) return undefined;
    return { ...owner, object };
  }

  /** Patches a KmsKey's spec and waits for the operator to have acted on that generation. */
  async function patchKey(
    c: OpContext,
    ref: Ref,
    patch: Record<string, unknown>,
    check: (r: KeyRecord) => boolean,
  ) {
    const what = `KmsKey ${ref.namespace}/${ref.name}`;
    const updated = await kube(`patch ${what}`, () =>
      api.patch<KmsKey>(KMS_KEY, ref.namespace, ref.name, patch),
    );
    const generation = updated.metadata.generation ?? 0;
    const keyId = updated.status?.keyId ?? '';
    await until(what, { type: KMS_KEY, ...ref, generation }, async () => {
      const r = record(c.core, keyId);
      if (!r || !check(r)) return undefined;
      const now = await api.get<KmsKey>(KMS_KEY, ref.namespace, ref.name);
      return (now?.status?.observedGeneration ?? 0) >= generation ? true : undefined;
    });
  }

  /** Enable/DisableKey, UpdateKeyDescription, Enable/DisableKeyRotation, Tag/UntagResource, PutKeyPolicy. */
  const keyUpdate =
    (name: string): Handler =>
    async (c) => {
      refuseReservedTags(c);
      const pre = await preflight(c.core, (core) => standalone(name)({ ...c, core }));
      if (pre.kind === 'done') return pre.result;
      const before = c.core.resolve(c.input.KeyId).record;
      const after = pre.change.putKeys?.find((k) => k.keyId === before.keyId);
      const owner = after ? await keyObject(before) : undefined;
      if (!after || !owner) return standalone(name)(c);
      const patch = keySpecPatch(owner.object, before, after);
      if (!patch) return standalone(name)(c);
      const rotationMatches = (r: KeyRecord) =>
        r.rotation.enabled === after.rotation.enabled && r.rotation.periodDays === after.rotation.periodDays;
      await patchKey(
        c,
        owner,
        patch,
        (r) => r.state === after.state && r.description === after.description && rotationMatches(r),
      );
      return { keyArn: c.core.arnOf(before.keyId) };
    };

  const CreateKey: Handler = async (c) => {
    refuseReservedTags(c);
    const pre = await preflight(c.core, (core) => standalone('CreateKey')({ ...c, core }));
    const planned = pre.kind === 'change' ? pre.change.putKeys?.[0] : undefined;
    if (!planned) throw new KmsError('KMSInternalException', 'CreateKey: the engine planned no key');
    const body = newKmsKey(o.namespace, planned);
    const created = await kube(`create KmsKey in ${o.namespace}`, () =>
      api.create(KMS_KEY, o.namespace, body),
    );
    const ref = { type: KMS_KEY, namespace: o.namespace, name: created.metadata.name, generation: 1 };
    const r = await until(`KmsKey ${o.namespace}/${ref.name}`, ref, async () => {
      const obj = await api.get<KmsKey>(KMS_KEY, o.namespace, ref.name);
      const id = obj?.status?.keyId;
      return id && (obj.status?.observedGeneration ?? 0) >= 1 ? record(c.core, id) : undefined;
    });
    const meta = metadataOf(c.core, r);
    return { keyArn: meta.arn, body: { KeyMetadata: awsKeyMetadata(meta) } };
  };

  const ScheduleKeyDeletion: Handler = async (c) => {
    const pre = await preflight(c.core, (core) => standalone('ScheduleKeyDeletion')({ ...c, core }));
    if (pre.kind === 'done') return pre.result;
    const before = c.core.resolve(c.input.KeyId).record;
    const after = pre.change.putKeys?.[0];
    const owner = await keyObject(before);
    if (!after || !owner || owner.object.metadata.deletionTimestamp)
      return standalone('ScheduleKeyDeletion')(c);
    const what = `KmsKey ${owner.namespace}/${owner.name}`;
    // The object's deletion schedules the key's: with the window asked for, and never retained.
    await kube(`patch ${what}`, () =>
      api.patch(KMS_KEY, owner.namespace, owner.name, {
        spec: { deletionWindowDays: after.pendingWindowDays, deletionPolicy: 'Delete' },
      }),
    );
    await kube(`delete ${what}`, () => api.delete(KMS_KEY, owner.namespace, owner.name));
    const r = await until(what, undefined, () => {
      const x = record(c.core, before.keyId);
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

  /**
   * The operator cancels a deletion when the deleting KmsKey is annotated, and lets the object go; the key stays
   * (Disabled, as AWS leaves it). The KmsKey is then created again under the same name, disabled, and adopts
   * the key through its owner tag, so the key stays managed by the cluster.
   */
  const CancelKeyDeletion: Handler = async (c) => {
    const pre = await preflight(c.core, (core) => standalone('CancelKeyDeletion')({ ...c, core }));
    if (pre.kind === 'done') return pre.result;
    const before = c.core.resolve(c.input.KeyId).record;
    const owner = await keyObject(before);
    if (!owner?.object.metadata.deletionTimestamp) return standalone('CancelKeyDeletion')(c);
    const what = `KmsKey ${owner.namespace}/${owner.name}`;
    const old = owner.object;
    await kube(`annotate ${what}`, () =>
      api.patch(KMS_KEY, owner.namespace, owner.name, {
        metadata: { annotations: { [CANCEL_DELETION_ANNOTATION]: 'true' } },
      }),
    );
    await until(`${what}: cancel deletion`, undefined, async () => {
      const x = record(c.core, before.keyId);
      const gone = !(await api.get(KMS_KEY, owner.namespace, owner.name));
      return gone && x?.state === 'Disabled' ? true : undefined;
    });
    const annotations = { ...(old.metadata.annotations ?? {}) };
    delete annotations[CANCEL_DELETION_ANNOTATION];
    const again: KmsKey = {
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
    await kube(`re-create ${what}`, () => api.create(KMS_KEY, owner.namespace, again));
    await until(what, { type: KMS_KEY, ...owner, generation: 1 }, async () => {
      const obj = await api.get<KmsKey>(KMS_KEY, owner.namespace, owner.name);
      return obj?.status?.keyId === before.keyId && (obj.status.observedGeneration ?? 0) >= 1
        ? true
        : undefined;
    });
    const arn = c.core.arnOf(before.keyId);
    return { keyArn: arn, body: { KeyId: arn } };
  };

  const RotateKeyOnDemand: Handler = async (c) => {
    const pre = await preflight(c.core, (core) => standalone('RotateKeyOnDemand')({ ...c, core }));
    if (pre.kind === 'done') return pre.result;
    const before = c.core.resolve(c.input.KeyId).record;
    const owner = await keyObject(before);
    if (!owner) return standalone('RotateKeyOnDemand')(c);
    const token = `aws-${randomUUID()}`;
    const what = `KmsKey ${owner.namespace}/${owner.name}`;
    await kube(`patch ${what}`, () =>
      api.patch(KMS_KEY, owner.namespace, owner.name, { spec: { rotateNow: token } }),
    );
    await until(what, undefined, async () => {
      const obj = await api.get<KmsKey>(KMS_KEY, owner.namespace, owner.name);
      const r = record(c.core, before.keyId);
      return obj?.status?.rotateNow === token && r && r.primaryVersion > before.primaryVersion
        ? true
        : undefined;
    });
    const arn = c.core.arnOf(before.keyId);
    return { keyArn: arn, body: { KeyId: arn } };
  };

  /** The KmsAliases claiming an alias name, the holder first. */
  async function aliasObjects(aliasName: string): Promise<KmsAlias[]> {
    const all = await kube('list KmsAlias', () => api.list<KmsAlias>(KMS_ALIAS));
    const claimants = all.filter((a) => a.spec.aliasName === aliasName);
    const holder = aliasHolder(claimants);
    return holder ? [holder, ...claimants.filter((a) => a !== holder)] : [];
  }

  const aliasChange = (ch: StoreChange): { aliasName: string; targetKeyId?: string } | undefined => {
    const put = ch.putAliases?.[0];
    if (put) return put;
    const del = ch.deleteAliases?.[0];
    return del ? { aliasName: del } : undefined;
  };

  const CreateAlias: Handler = async (c) => {
    const pre = await preflight(c.core, (core) => standalone('CreateAlias')({ ...c, core }));
    if (pre.kind === 'done') return pre.result;
    const alias = aliasChange(pre.change);
    const target = c.core.resolve(c.input.TargetKeyId, 'TargetKeyId').record;
    const owner = await keyObject(target);
    if (!alias || !owner) return standalone('CreateAlias')(c);
    const body = newKmsAlias(alias.aliasName, owner);
    const what = `KmsAlias ${owner.namespace}/${body.metadata.name}`;
    await kube(`create ${what}`, () => api.create(KMS_ALIAS, owner.namespace, body));
    await until(
      what,
      { type: KMS_ALIAS, namespace: owner.namespace, name: body.metadata.name, generation: 1 },
      () => (c.core.aliases.get(alias.aliasName)?.targetKeyId === target.keyId ? true : undefined),
    );
    return { keyArn: c.core.arnOf(target.keyId) };
  };

  const UpdateAlias: Handler = async (c) => {
    const pre = await preflight(c.core, (core) => standalone('UpdateAlias')({ ...c, core }));
    if (pre.kind === 'done') return pre.result;
    const alias = aliasChange(pre.change);
    const [holder] = alias ? await aliasObjects(alias.aliasName) : [];
    if (!alias || !holder) return standalone('UpdateAlias')(c);
    const target = c.core.resolve(c.input.TargetKeyId, 'TargetKeyId').record;
    const owner = await keyObject(target);
    const ns = holder.metadata.namespace ?? '';
    if (!owner || owner.namespace !== ns) {
      throw new KmsError(
        'UnsupportedOperationException',
        `${alias.aliasName} is KmsAlias ${ns}/${holder.metadata.name}: in cluster mode it can target only keys of KmsKeys in namespace ${ns}`,
      );
    }
    const what = `KmsAlias ${ns}/${holder.metadata.name}`;
    const updated = await kube(`patch ${what}`, () =>
      api.patch<KmsAlias>(KMS_ALIAS, ns, holder.metadata.name, {
        spec: { targetKeyRef: { name: owner.name }, targetKeyId: null },
      }),
    );
    await until(
      what,
      {
        type: KMS_ALIAS,
        namespace: ns,
        name: holder.metadata.name,
        generation: updated.metadata.generation ?? 0,
      },
      () => (c.core.aliases.get(alias.aliasName)?.targetKeyId === target.keyId ? true : undefined),
    );
    return { keyArn: c.core.arnOf(target.keyId) };
  };

  /** Every KmsAlias claiming the name is deleted: otherwise the next claimant would bind the alias again. */
  const DeleteAlias: Handler = async (c) => {
    const pre = await preflight(c.core, (core) => standalone('DeleteAlias')({ ...c, core }));
    if (pre.kind === 'done') return pre.result;
    const alias = aliasChange(pre.change);
    const claimants = alias ? await aliasObjects(alias.aliasName) : [];
    if (!alias || claimants.length === 0) return standalone('DeleteAlias')(c);
    for (const a of claimants) {
      await kube(`delete KmsAlias ${a.metadata.namespace}/${a.metadata.name}`, () =>
        api.delete(KMS_ALIAS, a.metadata.namespace ?? '', a.metadata.name),
      );
    }
    await until(`delete ${alias.aliasName}`, undefined, () =>
      c.core.aliases.has(alias.aliasName) ? undefined : true,
    );
    return {};
  };

  const CreateGrant: Handler = async (c) => {
    const pre = await preflight(c.core, (core) => standalone('CreateGrant')({ ...c, core }));
    if (pre.kind === 'done') return pre.result;
    const planned = pre.change.putGrants?.[0];
    const key = c.core.resolve(c.input.KeyId).record;
    const owner = await keyObject(key);
    if (!planned || !owner) return standalone('CreateGrant')(c);
    const body = newKmsGrant(planned, owner);
    const created = await kube(`create KmsGrant in ${owner.namespace}`, () =>
      api.create<KmsGrant>(KMS_GRANT, owner.namespace, body),
    );
    const name = created.metadata.name;
    const g = await until(
      `KmsGrant ${owner.namespace}/${name}`,
      { type: KMS_GRANT, namespace: owner.namespace, name, generation: 1 },
      async () => {
        const obj = await api.get<KmsGrant>(KMS_GRANT, owner.namespace, name);
        const id = obj?.status?.grantId;
        return id ? c.core.grants.get(id) : undefined;
      },
    );
    return { keyArn: c.core.arnOf(key.keyId), body: { GrantToken: g.grantToken, GrantId: g.grantId } };
  };

  /** RetireGrant, RevokeGrant: the KmsGrant that holds the grant is deleted; the operator revokes it. */
  const grantRemoval =
    (name: string): Handler =>
    async (c) => {
      const pre = await preflight(c.core, (core) => standalone(name)({ ...c, core }));
      if (pre.kind === 'done') return pre.result;
      const grantId = pre.change.deleteGrants?.[0];
      const grant = grantId ? c.core.grants.get(grantId) : undefined;
      const all = grant ? await kube('list KmsGrant', () => api.list<KmsGrant>(KMS_GRANT)) : [];
      const holder = all.find((x) => x.status?.grantId === grantId);
      if (!grant || !holder) return standalone(name)(c);
      const ns = holder.metadata.namespace ?? '';
      await kube(`delete KmsGrant ${ns}/${holder.metadata.name}`, () =>
        api.delete(KMS_GRANT, ns, holder.metadata.name),
      );
      await until(`KmsGrant ${ns}/${holder.metadata.name}`, undefined, () =>
        c.core.grants.has(grant.grantId) ? undefined : true,
      );
      return { keyArn: c.core.arnOf(grant.keyId) };
    };

  const overrides: Record<string, Handler> = {
    CreateKey,
    ScheduleKeyDeletion,
    CancelKeyDeletion,
    RotateKeyOnDemand,
    CreateAlias,
    UpdateAlias,
    DeleteAlias,
    CreateGrant,
    RetireGrant: grantRemoval('RetireGrant'),
    RevokeGrant: grantRemoval('RevokeGrant'),
  };
  for (const n of [
    'EnableKey',
    'DisableKey',
    'UpdateKeyDescription',
    'EnableKeyRotation',
    'DisableKeyRotation',
    'TagResource',
    'UntagResource',
    'PutKeyPolicy',
  ]) {
    overrides[n] = keyUpdate(n);
  }
  return { ...OPERATIONS, ...overrides };
}
