/** TagResource, UntagResource, ListResourceTags. */
import { listResourceTags, tagResource, untagResource } from '../../engine/ops-tags.ts';
import type { Handler } from './types.ts';

/** [{TagKey, TagValue}] (already type-checked against the model) → the engine's [{tagKey, tagValue}]. */
export function awsTagsToEngine(tags: unknown): { tagKey: unknown; tagValue: unknown }[] {
  return (tags as { TagKey: unknown; TagValue: unknown }[]).map((t) => ({
    tagKey: t.TagKey,
    tagValue: t.TagValue,
  }));
}

const arnOf = (c: Parameters<Handler>[0]) => c.core.arnOf(c.core.resolve(c.input.KeyId).record.keyId);

export const TagResource: Handler = async (c) => {
  await tagResource(c.core, c.ctx, c.input.KeyId, awsTagsToEngine(c.input.Tags));
  return { keyArn: arnOf(c) };
};

export const UntagResource: Handler = async (c) => {
  await untagResource(c.core, c.ctx, c.input.KeyId, c.input.TagKeys);
  return { keyArn: arnOf(c) };
};

export const ListResourceTags: Handler = (c) => {
  const page = listResourceTags(c.core, c.ctx, c.input.KeyId, c.input.Limit, c.input.Marker);
  return {
    keyArn: arnOf(c),
    body: {
      Tags: page.items.map((t) => ({ TagKey: t.tagKey, TagValue: t.tagValue })),
      NextMarker: page.nextMarker,
      Truncated: page.truncated,
    },
  };
};
