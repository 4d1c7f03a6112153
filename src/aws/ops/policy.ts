/** GetKeyPolicy, PutKeyPolicy, ListKeyPolicies: IAM-style JSON documents over the engine's key policy model. */
import { KmsError } from '../../engine/errors.ts';
import { getKeyPolicy, putKeyPolicy } from '../../engine/ops-tags.ts';
import type { KeyPolicy } from '../../engine/policy.ts';
import { LIMITS } from '../../engine/specs.ts';
import { policyFromJson, policyToJson } from '../policy-json.ts';
import type { Handler } from './types.ts';

/** "default" is the only key policy name, as in AWS KMS. */
function checkPolicyName(name: unknown): void {
  if (name !== undefined && name !== 'default') {
    throw new KmsError(
      'NotFoundException',
      `PolicyName: only the policy named "default" exists`,
      'PolicyName',
    );
  }
}

/** A Policy member (CreateKey, PutKeyPolicy): at most 32 KiB (the AWS quota), in the supported subset. */
export function parsePolicyMember(value: unknown): KeyPolicy {
  const text = value as string;
  if (text.length > LIMITS.policyMax) {
    throw new KmsError('LimitExceededException', `Policy: at most ${LIMITS.policyMax} characters`, 'Policy');
  }
  return policyFromJson(text);
}

export const GetKeyPolicy: Handler = ({ core, ctx, input }) => {
  checkPolicyName(input.PolicyName);
  const policy = getKeyPolicy(core, ctx, input.KeyId);
  const arn = core.arnOf(core.resolve(input.KeyId).record.keyId);
  return { keyArn: arn, body: { Policy: policyToJson(policy), PolicyName: 'default' } };
};

export const PutKeyPolicy: Handler = async ({ core, ctx, input }) => {
  checkPolicyName(input.PolicyName);
  const policy = parsePolicyMember(input.Policy);
  await putKeyPolicy(core, ctx, input.KeyId, policy, input.BypassPolicyLockoutSafetyCheck === true);
  return { keyArn: core.arnOf(core.resolve(input.KeyId).record.keyId) };
};

export const ListKeyPolicies: Handler = ({ core, ctx, input }) => {
  const key = core.resolve(input.KeyId);
  core.authorize(ctx, key.record, 'kms:ListKeyPolicies');
  return { keyArn: core.arnOf(key.record.keyId), body: { PolicyNames: ['default'], Truncated: false } };
};
