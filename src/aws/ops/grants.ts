/** CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant. */
import { requireEnabled } from '../../engine/core.ts';
import { KmsError } from '../../engine/errors.ts';
import {
  createGrant,
  type GrantListEntry,
  listGrants,
  listRetirableGrants,
  retireGrant,
  revokeGrant,
} from '../../engine/ops-grants.ts';
import type { Page } from '../../engine/pagination.ts';
import type { GrantRecord } from '../../engine/records.ts';
import { type Body, finishDryRun, type Handler, type OpContext, seconds, unsupported } from './types.ts';

function refuseServicePrincipals(input: Readonly<Record<string, unknown>>): void {
  for (const m of ['GranteeServicePrincipal', 'RetiringServicePrincipal']) {
    if (input[m] !== undefined) throw unsupported(`${m} (AWS service principals)`);
  }
}

function grantEntry(c: OpContext, g: GrantListEntry): Body {
  const con = g.constraints;
  return {
    KeyId: c.core.arnOf(g.keyId),
    GrantId: g.grantId,
    Name: g.name,
    CreationDate: seconds(g.createdAt),
    GranteePrincipal: g.granteePrincipal,
    RetiringPrincipal: g.retiringPrincipal,
    IssuingAccount: `arn:${c.core.arn.partition}:iam::${c.core.arn.account}:root`,
    Operations: g.operations,
    Constraints: con
      ? {
          EncryptionContextSubset: con.encryptionContextSubset,
          EncryptionContextEquals: con.encryptionContextEquals,
        }
      : undefined,
  };
}

const grantPage = (c: OpContext, page: Page<GrantListEntry>): Body => ({
  Grants: page.items.map((g) => grantEntry(c, g)),
  NextMarker: page.nextMarker,
  Truncated: page.truncated,
});

export const CreateGrant: Handler = async (c) => {
  const { core, ctx, input } = c;
  refuseServicePrincipals(input);
  const constraints = input.Constraints as Readonly<Record<string, unknown>> | undefined;
  if (constraints?.SourceArn !== undefined) throw unsupported('Constraints.SourceArn');
  if (input.DryRun === true) {
    const key = core.resolve(input.KeyId);
    core.authorize(ctx, key.record, 'kms:CreateGrant');
    requireEnabled(key.record, core.arnOf(key.record.keyId));
    finishDryRun(input);
  }
  const out = await createGrant(core, ctx, {
    keyId: input.KeyId,
    granteePrincipal: input.GranteePrincipal,
    retiringPrincipal: input.RetiringPrincipal,
    operations: input.Operations,
    ...(constraints
      ? {
          constraints: {
            encryptionContextEquals: constraints.EncryptionContextEquals,
            encryptionContextSubset: constraints.EncryptionContextSubset,
          },
        }
      : {}),
    name: input.Name,
  });
  return {
    keyArn: core.arnOf(core.resolve(input.KeyId).record.keyId),
    body: { GrantToken: out.grantToken, GrantId: out.grantId },
  };
};

export const ListGrants: Handler = (c) => {
  refuseServicePrincipals(c.input);
  const page = listGrants(c.core, c.ctx, {
    keyId: c.input.KeyId,
    limit: c.input.Limit,
    marker: c.input.Marker,
    grantId: c.input.GrantId,
    granteePrincipal: c.input.GranteePrincipal,
  });
  return { keyArn: c.core.arnOf(c.core.resolve(c.input.KeyId).record.keyId), body: grantPage(c, page) };
};

export const ListRetirableGrants: Handler = (c) => {
  refuseServicePrincipals(c.input);
  const page = listRetirableGrants(c.core, c.ctx, {
    retiringPrincipal: c.input.RetiringPrincipal,
    limit: c.input.Limit,
    marker: c.input.Marker,
  });
  return { body: grantPage(c, page) };
};

/** The grant a RetireGrant/RevokeGrant names, for dry runs (the engine's own checks run on the real call). */
function namedGrant(c: OpContext): GrantRecord {
  const { core, input } = c;
  if (input.GrantToken !== undefined) {
    const g = typeof input.GrantToken === 'string' ? core.findGrantByToken(input.GrantToken) : undefined;
    if (!g)
      throw new KmsError('InvalidGrantTokenException', 'GrantToken: not a valid grant token', 'GrantToken');
    return g;
  }
  const key = core.resolve(input.KeyId);
  const g = typeof input.GrantId === 'string' ? core.findGrant(input.GrantId) : undefined;
  if (!g || g.keyId !== key.record.keyId) {
    throw new KmsError('InvalidGrantIdException', 'GrantId: no such grant on this key', 'GrantId');
  }
  return g;
}

export const RetireGrant: Handler = async (c) => {
  const { core, ctx, input } = c;
  if (input.DryRun === true) {
    const g = namedGrant(c);
    const caller = ctx.caller;
    const may =
      caller.kind === 'system' ||
      caller.admin ||
      g.retiringPrincipal === caller.name ||
      (g.granteePrincipal === caller.name && g.operations.includes('RetireGrant'));
    if (!may) throw new KmsError('AccessDeniedException', 'The caller may not retire this grant');
    finishDryRun(input);
  }
  const keyArn = input.GrantToken === undefined ? undefined : core.arnOf(namedGrant(c).keyId);
  await retireGrant(core, ctx, { grantToken: input.GrantToken, keyId: input.KeyId, grantId: input.GrantId });
  return keyArn ? { keyArn } : {};
};

export const RevokeGrant: Handler = async (c) => {
  const { core, ctx, input } = c;
  const key = core.resolve(input.KeyId);
  if (input.DryRun === true) {
    core.authorize(ctx, key.record, 'kms:RevokeGrant');
    namedGrant(c);
    finishDryRun(input);
  }
  await revokeGrant(core, ctx, input.KeyId, input.GrantId);
  return { keyArn: core.arnOf(key.record.keyId) };
};
