/** Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases. Names under alias/aws/ and alias/kubekms/ are reserved. */
import type { EngineCore, RequestContext } from './core.ts';
import { KmsError, notFound } from './errors.ts';
import { aliasArn, validateNewAliasName } from './identifiers.ts';
import { type Page, paginate } from './pagination.ts';
import type { AliasRecord, KeyRecord } from './records.ts';
import { optionalInt, optionalString } from './validate.ts';

function checkTarget(core: EngineCore, r: KeyRecord): void {
  if (r.state === 'PendingDeletion')
    throw new KmsError('KMSInvalidStateException', `${core.arnOf(r.keyId)} is pending deletion.`);
}

/** Validates a name, allowing reserved namespaces only for kubekms itself. */
function aliasNameFor(ctx: RequestContext, value: unknown): string {
  return validateNewAliasName(value, 'AliasName', ctx.caller.kind === 'system');
}

export async function createAlias(
  core: EngineCore,
  ctx: RequestContext,
  aliasName: unknown,
  targetKeyId: unknown,
): Promise<void> {
  const name = aliasNameFor(ctx, aliasName);
  await core.mutate(async () => {
    if (core.findAlias(name))
      throw new KmsError(
        'AlreadyExistsException',
        `An alias with the name ${aliasArn(core.arn, name)} already exists`,
      );
    const { record: target } = core.resolve(targetKeyId, 'TargetKeyId');
    core.authorize(ctx, target, 'kms:CreateAlias');
    checkTarget(core, target);
    const now = core.clock.now();
    const alias: AliasRecord = { aliasName: name, targetKeyId: target.keyId, createdAt: now, updatedAt: now };
    return { change: { putAliases: [alias] }, result: undefined };
  });
}

export async function updateAlias(
  core: EngineCore,
  ctx: RequestContext,
  aliasName: unknown,
  targetKeyId: unknown,
): Promise<void> {
  const name = aliasNameFor(ctx, aliasName);
  await core.mutate(async () => {
    const alias = core.findAlias(name);
    if (!alias) throw notFound(`Alias ${aliasArn(core.arn, name)}`);
    const current = core.findKey(alias.targetKeyId);
    const { record: target } = core.resolve(targetKeyId, 'TargetKeyId');
    if (current) core.authorize(ctx, current, 'kms:UpdateAlias');
    core.authorize(ctx, target, 'kms:UpdateAlias');
    checkTarget(core, target);
    if (current && (current.keySpec !== target.keySpec || current.keyUsage !== target.keyUsage)) {
      throw new KmsError(
        'ValidationException',
        `TargetKeyId: the new target must have the same key spec and usage as the current one (${current.keySpec}/${current.keyUsage})`,
        'TargetKeyId',
      );
    }
    if (alias.targetKeyId === target.keyId) return { change: {}, result: undefined };
    return {
      change: { putAliases: [{ ...alias, targetKeyId: target.keyId, updatedAt: core.clock.now() }] },
      result: undefined,
    };
  });
}

export async function deleteAlias(core: EngineCore, ctx: RequestContext, aliasName: unknown): Promise<void> {
  const name = aliasNameFor(ctx, aliasName);
  await core.mutate(async () => {
    const alias = core.findAlias(name);
    if (!alias) throw notFound(`Alias ${aliasArn(core.arn, name)}`);
    const target = core.findKey(alias.targetKeyId);
    if (target) core.authorize(ctx, target, 'kms:DeleteAlias');
    return { change: { deleteAliases: [name] }, result: undefined };
  });
}

export interface AliasListEntry {
  readonly aliasName: string;
  readonly aliasArn: string;
  readonly targetKeyId: string;
  readonly creationDate: number;
  readonly lastUpdatedDate: number;
}

export function listAliases(
  core: EngineCore,
  _ctx: RequestContext,
  keyRef: unknown,
  limit: unknown,
  marker: unknown,
): Page<AliasListEntry> {
  const l = optionalInt(limit, 'Limit', 1, 100) ?? 50;
  const m = optionalString(marker, 'Marker', 1, 1024);
  const keyId = keyRef === undefined || keyRef === null ? undefined : core.resolve(keyRef).record.keyId;
  const all = core.allAliases().filter((a) => keyId === undefined || a.targetKeyId === keyId);
  const page = paginate(all, (a) => a.aliasName, l, m);
  return {
    ...page,
    items: page.items.map((a) => ({
      aliasName: a.aliasName,
      aliasArn: aliasArn(core.arn, a.aliasName),
      targetKeyId: a.targetKeyId,
      creationDate: a.createdAt,
      lastUpdatedDate: a.updatedAt,
    })),
  };
}
