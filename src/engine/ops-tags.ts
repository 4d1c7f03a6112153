/** Tags and key policies: TagResource, UntagResource, ListResourceTags, Get/PutKeyPolicy, ListKeyPolicies. */
import type { EngineCore, RequestContext } from './core.ts';
import { KmsError, validation } from './errors.ts';
import { mutateKey } from './ops-keys.ts';
import { type Page, paginate } from './pagination.ts';
import { authorize, type KeyPolicy } from './policy.ts';
import { checkPolicy } from './policy-check.ts';
import { LIMITS } from './specs.ts';
import { checkTags, type Tag } from './tags.ts';
import { optionalInt, optionalString } from './validate.ts';

export async function tagResource(
  core: EngineCore,
  ctx: RequestContext,
  keyRef: unknown,
  tags: unknown,
): Promise<void> {
  const add = checkTags(tags, 'Tags');
  await mutateKey(core, ctx, keyRef, 'kms:TagResource', 'TagResource', ({ record }) => {
    const merged = { ...record.tags, ...add };
    if (Object.keys(merged).length > LIMITS.tagsMax)
      throw new KmsError('TagException', `Tags: at most ${LIMITS.tagsMax} tags per key`, 'Tags');
    return { ...record, tags: merged, revision: record.revision + 1 };
  });
}

export async function untagResource(
  core: EngineCore,
  ctx: RequestContext,
  keyRef: unknown,
  tagKeys: unknown,
): Promise<void> {
  if (!Array.isArray(tagKeys) || tagKeys.some((k) => typeof k !== 'string'))
    throw validation('TagKeys', 'must be a list of strings');
  await mutateKey(core, ctx, keyRef, 'kms:UntagResource', 'UntagResource', ({ record }) => {
    const tags: Record<string, string> = { ...record.tags };
    for (const k of tagKeys as string[]) delete tags[k];
    return { ...record, tags, revision: record.revision + 1 };
  });
}

export function listResourceTags(
  core: EngineCore,
  ctx: RequestContext,
  keyRef: unknown,
  limit: unknown,
  marker: unknown,
): Page<Tag> {
  const key = core.resolve(keyRef);
  core.authorize(ctx, key.record, 'kms:ListResourceTags');
  const l = optionalInt(limit, 'Limit', 1, 50) ?? 50;
  const m = optionalString(marker, 'Marker', 1, 1024);
  const tags = Object.entries(key.record.tags).map(([tagKey, tagValue]) => ({ tagKey, tagValue }));
  return paginate(tags, (t) => t.tagKey, l, m);
}

export function getKeyPolicy(core: EngineCore, ctx: RequestContext, keyRef: unknown): KeyPolicy {
  const key = core.resolve(keyRef);
  core.authorize(ctx, key.record, 'kms:GetKeyPolicy');
  return key.record.policy;
}

/**
 * PutKeyPolicy with AWS's lockout safety check: unless bypassed, the new policy must still let the caller
 * put a policy.
 */
export async function putKeyPolicy(
  core: EngineCore,
  ctx: RequestContext,
  keyRef: unknown,
  policy: KeyPolicy,
  bypassLockoutSafetyCheck = false,
): Promise<void> {
  const p = checkPolicy(policy);
  if (!bypassLockoutSafetyCheck && authorize(ctx.caller, 'kms:PutKeyPolicy', p, [], undefined) === 'deny') {
    throw new KmsError(
      'MalformedPolicyDocumentException',
      'Policy: the new key policy will not allow you to update the key policy in the future',
      'Policy',
    );
  }
  await mutateKey(core, ctx, keyRef, 'kms:PutKeyPolicy', 'PutKeyPolicy', ({ record }) => ({
    ...record,
    policy: p,
    revision: record.revision + 1,
  }));
}
