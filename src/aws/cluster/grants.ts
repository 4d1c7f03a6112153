/**
 * Cluster mode, grants: CreateGrant creates a KmsGrant next to the key's KmsKey and answers with the grant the
 * operator made; RetireGrant and RevokeGrant delete the KmsGrant holding the grant, and the operator revokes it.
 */
import { KMS_GRANT, type KmsGrant } from '../../api/kinds.ts';
import type { Handler } from '../ops/types.ts';
import { type ClusterDeps, preflightOf, standalone } from './deps.ts';
import { newKmsGrant } from './mapping.ts';
import { keyObject } from './owners.ts';
import { until } from './wait.ts';

export const createGrant =
  (d: ClusterDeps): Handler =>
  async (c) => {
    const pre = await preflightOf('CreateGrant', c);
    if (pre.kind === 'done') return pre.result;
    const planned = pre.change.putGrants?.[0];
    const key = c.core.resolve(c.input.KeyId).record;
    const owner = await keyObject(d, key);
    if (!planned || !owner) return standalone('CreateGrant')(c);
    const created = await d.api.create<KmsGrant>(KMS_GRANT, owner.namespace, newKmsGrant(planned, owner));
    const name = created.metadata.name;
    const ref = { type: KMS_GRANT, namespace: owner.namespace, name, generation: 1 };
    const g = await until(d, `KmsGrant ${owner.namespace}/${name}`, ref, async () => {
      const obj = await d.api.get<KmsGrant>(KMS_GRANT, owner.namespace, name);
      const id = obj?.status?.grantId;
      return id ? c.core.findGrant(id) : undefined;
    });
    return { keyArn: c.core.arnOf(key.keyId), body: { GrantToken: g.grantToken, GrantId: g.grantId } };
  };

/** RetireGrant, RevokeGrant: the KmsGrant that holds the grant is deleted; the operator revokes it. */
export const grantRemoval =
  (d: ClusterDeps, name: string): Handler =>
  async (c) => {
    const pre = await preflightOf(name, c);
    if (pre.kind === 'done') return pre.result;
    const grantId = pre.change.deleteGrants?.[0];
    const grant = grantId ? c.core.findGrant(grantId) : undefined;
    const all = grant ? await d.api.list<KmsGrant>(KMS_GRANT) : [];
    const holder = all.find((x) => x.status?.grantId === grantId);
    if (!grant || !holder) return standalone(name)(c);
    const ns = holder.metadata.namespace ?? '';
    await d.api.delete(KMS_GRANT, ns, holder.metadata.name);
    await until(d, `KmsGrant ${ns}/${holder.metadata.name}`, undefined, () =>
      c.core.findGrant(grant.grantId) ? undefined : true,
    );
    return { keyArn: c.core.arnOf(grant.keyId) };
  };
