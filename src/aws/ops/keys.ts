/** CreateKey, DescribeKey, ListKeys, Enable/DisableKey, Schedule/CancelKeyDeletion, UpdateKeyDescription. */
import { KmsError, validation } from '../../engine/errors.ts';
import {
  cancelKeyDeletion,
  createKey,
  describeKey,
  disableKey,
  enableKey,
  listKeys,
  scheduleKeyDeletion,
  updateKeyDescription,
} from '../../engine/ops-keys.ts';
import { authorize } from '../../engine/policy.ts';
import { awsKeyMetadata } from './key-metadata.ts';
import { parsePolicyMember } from './policy.ts';
import { awsTagsToEngine } from './tags.ts';
import { type Handler, unsupported } from './types.ts';

export const CreateKey: Handler = async ({ core, ctx, input }) => {
  if (input.Origin !== undefined && input.Origin !== 'AWS_KMS') {
    throw unsupported(`Origin ${String(input.Origin)} (imported or external key material)`);
  }
  if (input.CustomKeyStoreId !== undefined) throw unsupported('CustomKeyStoreId (custom key stores)');
  if (input.XksKeyId !== undefined) throw unsupported('XksKeyId (external key stores)');
  if (input.MultiRegion === true) throw unsupported('MultiRegion keys');
  if (input.KeySpec !== undefined && input.CustomerMasterKeySpec !== undefined) {
    throw validation('KeySpec', 'give KeySpec or the deprecated CustomerMasterKeySpec, not both');
  }
  const policy = input.Policy === undefined ? undefined : parsePolicyMember(input.Policy);
  if (
    policy &&
    input.BypassPolicyLockoutSafetyCheck !== true &&
    authorize(ctx.caller, 'kms:PutKeyPolicy', policy, [], undefined) === 'deny'
  ) {
    throw new KmsError(
      'MalformedPolicyDocumentException',
      'The new key policy will not allow you to update the key policy in the future.',
      'Policy',
    );
  }
  const meta = await createKey(core, ctx, {
    keySpec: input.KeySpec ?? input.CustomerMasterKeySpec,
    keyUsage: input.KeyUsage,
    description: input.Description,
    ...(policy ? { policy } : {}),
    tags: input.Tags === undefined ? [] : awsTagsToEngine(input.Tags),
  });
  return { keyArn: meta.arn, body: { KeyMetadata: awsKeyMetadata(meta) } };
};

export const DescribeKey: Handler = ({ core, ctx, input }) => {
  const meta = describeKey(core, ctx, input.KeyId);
  return { keyArn: meta.arn, body: { KeyMetadata: awsKeyMetadata(meta) } };
};

export const ListKeys: Handler = ({ core, ctx, input }) => {
  const page = listKeys(core, ctx, input.Limit, input.Marker);
  return {
    body: {
      Keys: page.items.map((k) => ({ KeyId: k.keyId, KeyArn: k.keyArn })),
      NextMarker: page.nextMarker,
      Truncated: page.truncated,
    },
  };
};

export const EnableKey: Handler = async ({ core, ctx, input }) => {
  await enableKey(core, ctx, input.KeyId);
  return { keyArn: core.arnOf(core.resolve(input.KeyId).record.keyId) };
};

export const DisableKey: Handler = async ({ core, ctx, input }) => {
  await disableKey(core, ctx, input.KeyId);
  return { keyArn: core.arnOf(core.resolve(input.KeyId).record.keyId) };
};

export const ScheduleKeyDeletion: Handler = async ({ core, ctx, input }) => {
  const out = await scheduleKeyDeletion(core, ctx, input.KeyId, input.PendingWindowInDays);
  const arn = core.arnOf(out.keyId);
  return {
    keyArn: arn,
    body: {
      KeyId: arn,
      DeletionDate: out.deletionDate / 1000,
      KeyState: 'PendingDeletion',
      PendingWindowInDays: out.pendingWindowInDays,
    },
  };
};

export const CancelKeyDeletion: Handler = async ({ core, ctx, input }) => {
  const id = await cancelKeyDeletion(core, ctx, input.KeyId);
  const arn = core.arnOf(id);
  return { keyArn: arn, body: { KeyId: arn } };
};

export const UpdateKeyDescription: Handler = async ({ core, ctx, input }) => {
  await updateKeyDescription(core, ctx, input.KeyId, input.Description);
  return { keyArn: core.arnOf(core.resolve(input.KeyId).record.keyId) };
};
