/**
 * Cluster mode, aliases: CreateAlias creates a KmsAlias next to the target's KmsKey, UpdateAlias patches the
 * KmsAlias holding the name, DeleteAlias deletes every KmsAlias claiming it. Each waits until the engine shows
 * the change.
 */
import { KMS_ALIAS, type KmsAlias } from '../../api/kinds.ts';
import { KmsError } from '../../engine/errors.ts';
import type { StoreChange } from '../../engine/records.ts';
import type { Handler } from '../ops/types.ts';
import { type ClusterDeps, preflightOf, standalone } from './deps.ts';
import { newKmsAlias } from './mapping.ts';
import { aliasObjects, keyObject } from './owners.ts';
import { until } from './wait.ts';

/** The alias a planned change creates, retargets or deletes. */
const aliasChange = (ch: StoreChange): { aliasName: string; targetKeyId?: string } | undefined => {
  const put = ch.putAliases?.[0];
  if (put) return put;
  const del = ch.deleteAliases?.[0];
  return del ? { aliasName: del } : undefined;
};

export const createAlias =
  (d: ClusterDeps): Handler =>
  async (c) => {
    const pre = await preflightOf('CreateAlias', c);
    if (pre.kind === 'done') return pre.result;
    const alias = aliasChange(pre.change);
    const target = c.core.resolve(c.input.TargetKeyId, 'TargetKeyId').record;
    const owner = await keyObject(d, target);
    if (!alias || !owner) return standalone('CreateAlias')(c);
    const body = newKmsAlias(alias.aliasName, owner);
    const name = body.metadata.name;
    await d.api.create(KMS_ALIAS, owner.namespace, body);
    await until(
      d,
      `KmsAlias ${owner.namespace}/${name}`,
      { type: KMS_ALIAS, namespace: owner.namespace, name, generation: 1 },
      () => (c.core.aliasTarget(alias.aliasName) === target.keyId ? true : undefined),
    );
    return { keyArn: c.core.arnOf(target.keyId) };
  };

export const updateAlias =
  (d: ClusterDeps): Handler =>
  async (c) => {
    const pre = await preflightOf('UpdateAlias', c);
    if (pre.kind === 'done') return pre.result;
    const alias = aliasChange(pre.change);
    const [holder] = alias ? await aliasObjects(d, alias.aliasName) : [];
    if (!alias || !holder) return standalone('UpdateAlias')(c);
    const target = c.core.resolve(c.input.TargetKeyId, 'TargetKeyId').record;
    const owner = await keyObject(d, target);
    const ns = holder.metadata.namespace ?? '';
    const name = holder.metadata.name;
    if (!owner || owner.namespace !== ns) {
      throw new KmsError(
        'UnsupportedOperationException',
        `${alias.aliasName} is KmsAlias ${ns}/${name}: in cluster mode it can target only keys of KmsKeys in namespace ${ns}`,
      );
    }
    const updated = await d.api.patch<KmsAlias>(KMS_ALIAS, ns, name, {
      spec: { targetKeyRef: { name: owner.name }, targetKeyId: null },
    });
    const generation = updated.metadata.generation ?? 0;
    await until(d, `KmsAlias ${ns}/${name}`, { type: KMS_ALIAS, namespace: ns, name, generation }, () =>
      c.core.aliasTarget(alias.aliasName) === target.keyId ? true : undefined,
    );
    return { keyArn: c.core.arnOf(target.keyId) };
  };

/** Every KmsAlias claiming the name is deleted: otherwise the next claimant would bind the alias again. */
export const deleteAlias =
  (d: ClusterDeps): Handler =>
  async (c) => {
    const pre = await preflightOf('DeleteAlias', c);
    if (pre.kind === 'done') return pre.result;
    const alias = aliasChange(pre.change);
    const claimants = alias ? await aliasObjects(d, alias.aliasName) : [];
    if (!alias || claimants.length === 0) return standalone('DeleteAlias')(c);
    for (const a of claimants) await d.api.delete(KMS_ALIAS, a.metadata.namespace ?? '', a.metadata.name);
    await until(d, `delete ${alias.aliasName}`, undefined, () =>
      c.core.findAlias(alias.aliasName) ? undefined : true,
    );
    return {};
  };
