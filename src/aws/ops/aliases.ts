/** CreateAlias, UpdateAlias, DeleteAlias, ListAliases. */
import { KmsError } from '../../engine/errors.ts';
import { createAlias, deleteAlias, listAliases, updateAlias } from '../../engine/ops-aliases.ts';
import { type Handler, seconds } from './types.ts';

/** The model lists InvalidAliasNameException only for CreateAlias; elsewhere a bad name is a ValidationException. */
async function asValidation<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof KmsError && e.code === 'InvalidAliasNameException') {
      throw new KmsError('ValidationException', e.message, e.field);
    }
    throw e;
  }
}

export const CreateAlias: Handler = async ({ core, ctx, input }) => {
  await createAlias(core, ctx, input.AliasName, input.TargetKeyId);
  return { keyArn: core.arnOf(core.resolve(input.TargetKeyId, 'TargetKeyId').record.keyId) };
};

export const UpdateAlias: Handler = async ({ core, ctx, input }) => {
  await asValidation(updateAlias(core, ctx, input.AliasName, input.TargetKeyId));
  return { keyArn: core.arnOf(core.resolve(input.TargetKeyId, 'TargetKeyId').record.keyId) };
};

export const DeleteAlias: Handler = async ({ core, ctx, input }) => {
  await asValidation(deleteAlias(core, ctx, input.AliasName));
  return {};
};

export const ListAliases: Handler = ({ core, ctx, input }) => {
  const page = listAliases(core, ctx, input.KeyId, input.Limit, input.Marker);
  return {
    body: {
      Aliases: page.items.map((a) => ({
        AliasName: a.aliasName,
        AliasArn: a.aliasArn,
        TargetKeyId: a.targetKeyId,
        CreationDate: seconds(a.creationDate),
        LastUpdatedDate: seconds(a.lastUpdatedDate),
      })),
      NextMarker: page.nextMarker,
      Truncated: page.truncated,
    },
  };
};
