/**
 * Authentication: a request's SigV4 signature (sigv4.ts), checked against the credentials file and the replay
 * cache, names the credential the request acts as. With temporary credentials (AssumeRoleWithWebIdentity), the
 * `X-Amz-Security-Token` is opened first (sts/sessions.ts: a token that does not open is
 * UnrecognizedClientException, an expired one ExpiredTokenException) and its session's secret verifies the
 * signature; the session's principal spends one replay budget, whichever of its sessions signs.
 */
import type { IncomingMessage } from 'node:http';
import type { Credential, CredentialStore } from './credentials.ts';
import { ReplayCache } from './replay-cache.ts';
import { MAX_SKEW_MS, SigV4Verifier } from './sigv4.ts';
import type { Sessions } from './sts/sessions.ts';

export interface AuthenticatorOptions {
  readonly credentials: CredentialStore;
  /** The region every credential scope must name. */
  readonly region: string;
  readonly replayBudgetPerKey?: number;
  /** Temporary credentials (--aws-sts); without it a session token is refused. */
  readonly sessions?: Sessions;
  readonly now?: () => number;
}

/** The credential a request acts as (a promise only when it carries a session token). */
export type Authenticate = (
  req: IncomingMessage,
  headers: ReadonlyMap<string, string>,
  body: Buffer,
) => Credential | Promise<Credential>;

export function createAuthenticator(o: AuthenticatorOptions): Authenticate {
  const verifier = new SigV4Verifier({
    secretOf: (id) => o.credentials.get(id)?.secretAccessKey,
    region: o.region,
    replay: new ReplayCache(o.replayBudgetPerKey ?? 200_000, MAX_SKEW_MS, o.now),
    ...(o.now ? { now: o.now } : {}),
  });
  const sessions = o.sessions;
  return (req, headers, body) => {
    const signed = { method: 'POST', url: req.url ?? '/', rawHeaders: req.rawHeaders, body };
    const token = sessions ? headers.get('x-amz-security-token') : undefined;
    if (sessions && token !== undefined && headers.has('authorization')) {
      return sessions.open(token).then((session) => {
        verifier.verify(signed, headers, session);
        return session;
      });
    }
    const accessKeyId = verifier.verify(signed, headers);
    // The verifier accepts only access keys the store knows.
    return o.credentials.get(accessKeyId)!;
  };
}
