/**
 * AssumeRoleWithWebIdentity: a ServiceAccount token for kubekms's audience, checked by a TokenReview, is
 * exchanged for temporary credentials whose caller is that service account. The role ARN must name this
 * installation's partition and account; its role name is recorded in the assumed-role ARN and grants nothing:
 * key policies and grants name the service account (or its groups). Expiry: DurationSeconds (default and
 * maximum one hour, minimum --aws-sts-min-duration), and never after the token's own expiry.
 */
import { createHash } from 'node:crypto';
import type { TokenReviewer } from '../../kube/token-review.ts';
import { StsError } from './errors.ts';
import type { XmlTree } from './query.ts';
import { SERVICE_ACCOUNT_RE } from './session-token.ts';
import type { Sessions } from './sessions.ts';
import { readWebToken } from './web-token.ts';

export const MAX_SESSION_SECONDS = 3600;
export const DEFAULT_MIN_SESSION_SECONDS = 900;

export interface WebIdentityConfig {
  /** The audience a token must be for (--aws-sts-audience). */
  readonly audience: string;
  readonly minDurationSeconds: number;
  readonly arn: { readonly partition: string; readonly account: string };
  readonly review: TokenReviewer;
  readonly sessions: Sessions;
  readonly now: () => number;
  /** TokenReviews in flight at once; more requests get Throttling (default 32). */
  readonly maxConcurrentReviews?: number;
}

export interface AssumedRole {
  readonly result: XmlTree;
  readonly principal: string;
  readonly accessKeyId: string;
}

const invalid = (m: string) => new StsError('ValidationError', m);
const ROLE_ARN_RE = /^arn:([a-z-]{1,32}):iam::(\d{12}):role\/([\w+=,.@/-]{1,512})$/;
const SESSION_NAME_RE = /^[\w+=,.@-]{2,64}$/;
const REFUSED = ['Policy', 'ProviderId', 'PolicyArns', 'SourceIdentity'];

function required(p: ReadonlyMap<string, string>, name: string): string {
  const v = p.get(name);
  if (v === undefined || v === '') throw invalid(`${name}: required`);
  return v;
}

interface Request {
  readonly roleArn: string;
  readonly roleName: string;
  readonly sessionName: string;
  readonly token: string;
  readonly durationSeconds: number;
}

function parseRequest(c: WebIdentityConfig, p: ReadonlyMap<string, string>): Request {
  for (const k of p.keys()) {
    const refused = REFUSED.find((r) => k === r || k.startsWith(`${r}.`));
    if (refused)
      throw invalid(
        `${refused}: not supported by kubekms (session policies and providers are not implemented)`,
      );
  }
  const roleArn = required(p, 'RoleArn');
  const m = ROLE_ARN_RE.exec(roleArn);
  if (!m) throw invalid('RoleArn: must have the form arn:PARTITION:iam::ACCOUNT:role/NAME');
  if (m[1] !== c.arn.partition || m[2] !== c.arn.account)
    throw new StsError(
      'AccessDenied',
      `RoleArn: this installation's roles are arn:${c.arn.partition}:iam::${c.arn.account}:role/NAME`,
    );
  const sessionName = required(p, 'RoleSessionName');
  if (!SESSION_NAME_RE.test(sessionName))
    throw invalid('RoleSessionName: must be 2-64 characters of [A-Za-z0-9_+=,.@-]');
  const token = required(p, 'WebIdentityToken');
  if (token.length > 20_000) throw invalid('WebIdentityToken: longer than 20000 characters');
  const d = p.get('DurationSeconds');
  const durationSeconds = d === undefined ? MAX_SESSION_SECONDS : Number(d);
  if (
    !/^\d{1,6}$/.test(d ?? '0') ||
    durationSeconds < c.minDurationSeconds ||
    durationSeconds > MAX_SESSION_SECONDS
  )
    throw invalid(
      `DurationSeconds: must be a whole number from ${c.minDurationSeconds} to ${MAX_SESSION_SECONDS}`,
    );
  return { roleArn, roleName: m[3]!.split('/').pop()!, sessionName, token, durationSeconds };
}

/** Checks what can be checked without the API server: the token's form, audience and expiry. */
function precheck(c: WebIdentityConfig, token: string): number {
  const claims = readWebToken(token);
  if (typeof claims === 'string') throw new StsError('InvalidIdentityToken', claims);
  if (!claims.audiences.includes(c.audience))
    throw new StsError(
      'InvalidIdentityToken',
      `Incorrect token audience: kubekms accepts tokens for the audience ${JSON.stringify(c.audience)}`,
    );
  if (claims.expiresAt <= c.now())
    throw new StsError(
      'ExpiredTokenException',
      `Token expired: current date/time ${iso(c.now())} must be before the expiration date/time ${iso(claims.expiresAt)}`,
    );
  return claims.expiresAt;
}

export function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function roleId(roleArn: string): string {
  const h = createHash('sha256').update(roleArn).digest();
  let id = 'AROA';
  for (let i = 0; i < 17; i++) id += 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'[h[i]! & 31];
  return id;
}

/** The operation; `reviews` counts the TokenReviews in flight (shared by the listener). */
export function assumeRoleWithWebIdentity(
  c: WebIdentityConfig,
): (params: ReadonlyMap<string, string>) => Promise<AssumedRole> {
  let inFlight = 0;
  const limit = c.maxConcurrentReviews ?? 32;
  return async (params) => {
    const r = parseRequest(c, params);
    const tokenExpiresAt = precheck(c, r.token);
    if (inFlight >= limit)
      throw new StsError('Throttling', 'Rate exceeded: too many token reviews in flight');
    inFlight++;
    let review: Awaited<ReturnType<TokenReviewer>>;
    try {
      review = await c.review(r.token, [c.audience]);
    } catch (e) {
      throw new StsError(
        'IDPCommunicationError',
        `The Kubernetes API did not review the token: ${e instanceof Error ? e.message : String(e)}`,
      );
    } finally {
      inFlight--;
    }
    if (!review.authenticated)
      throw new StsError(
        'InvalidIdentityToken',
        `The Kubernetes API refused the token: ${review.error || 'not authenticated'}`,
      );
    if (!review.audiences.includes(c.audience))
      throw new StsError(
        'InvalidIdentityToken',
        'Incorrect token audience: the TokenReview does not confirm it',
      );
    if (!SERVICE_ACCOUNT_RE.test(review.username))
      throw new StsError(
        'IDPRejectedClaim',
        'Only ServiceAccount tokens are accepted (system:serviceaccount:NS:NAME)',
      );
    return issue(c, r, review.username, tokenExpiresAt);
  };
}

async function issue(
  c: WebIdentityConfig,
  r: Request,
  principal: string,
  tokenExpiresAt: number,
): Promise<AssumedRole> {
  const expiresAt = Math.min(c.now() + r.durationSeconds * 1000, tokenExpiresAt);
  const s = await c.sessions.issue({ principal, expiresAt, roleArn: r.roleArn, sessionName: r.sessionName });
  if (s.expiresAt <= c.now())
    throw new StsError('ExpiredTokenException', 'Token expired: it expires within a second');
  const result: XmlTree = {
    Credentials: {
      AccessKeyId: s.accessKeyId,
      SecretAccessKey: s.secretAccessKey,
      SessionToken: s.sessionToken,
      Expiration: iso(s.expiresAt),
    },
    SubjectFromWebIdentityToken: principal,
    AssumedRoleUser: {
      Arn: `arn:${c.arn.partition}:sts::${c.arn.account}:assumed-role/${r.roleName}/${r.sessionName}`,
      AssumedRoleId: `${roleId(r.roleArn)}:${r.sessionName}`,
    },
    Provider: 'kubernetes',
    Audience: c.audience,
  };
  return { result, principal, accessKeyId: s.accessKeyId };
}
