/** Tag validation, shared by CreateKey and TagResource. */
import { KmsError, validation } from './errors.ts';
import { LIMITS } from './specs.ts';

export interface Tag {
  readonly tagKey: string;
  readonly tagValue: string;
}

/** Tags as a list of {TagKey, TagValue} (AWS shape) → a map. Keys starting with `aws:` are reserved. */
export function checkTags(value: unknown, field: string): Record<string, string> {
  if (!Array.isArray(value)) throw validation(field, 'must be a list of tags');
  if (value.length > LIMITS.tagsMax)
    throw new KmsError('TagException', `${field}: at most ${LIMITS.tagsMax} tags`, field);
  const out: Record<string, string> = {};
  for (const [i, t] of value.entries()) {
    const tag = t as { tagKey?: unknown; tagValue?: unknown };
    if (typeof tag !== 'object' || tag === null) throw validation(`${field}[${i}]`, 'must be a tag');
    if (typeof tag.tagKey !== 'string' || tag.tagKey.length < 1 || tag.tagKey.length > LIMITS.tagKeyMax) {
      throw validation(`${field}[${i}].TagKey`, `must be 1-${LIMITS.tagKeyMax} characters`);
    }
    if (typeof tag.tagValue !== 'string' || tag.tagValue.length > LIMITS.tagValueMax) {
      throw validation(`${field}[${i}].TagValue`, `must be 0-${LIMITS.tagValueMax} characters`);
    }
    if (tag.tagKey.startsWith('aws:'))
      throw new KmsError('TagException', `${field}[${i}].TagKey: the prefix aws: is reserved`, field);
    out[tag.tagKey] = tag.tagValue;
  }
  return out;
}
