/**
 * Authentication: a request's SigV4 signature (sigv4.ts), checked against the credentials file and the replay
 * cache, names the credential the request acts as.
 */
import type { IncomingMessage } from 'node:http';
import type { Credential, CredentialStore } from './credentials.ts';
import { ReplayCache } from './replay-cache.ts';
import { MAX_SKEW_MS, SigV4Verifier } from './sigv4.ts';

export interface AuthenticatorOptions {
  readonly credentials: CredentialStore;
  /** The region every credential scope must name. */
  readonly region: string;
  readonly replayBudgetPerKey?: number;
  readonly now?: () => number;
}

export type Authenticate = (
  req: IncomingMessage,
  headers: ReadonlyMap<string, string>,
  body: Buffer,
) => Credential;

export function createAuthenticator(o: AuthenticatorOptions): Authenticate {
  const verifier = new SigV4Verifier({
    secretOf: (id) => o.credentials.get(id)?.secretAccessKey,
    region: o.region,
    replay: new ReplayCache(o.replayBudgetPerKey ?? 200_000, MAX_SKEW_MS, o.now),
    ...(o.now ? { now: o.now } : {}),
  });
  return (req, headers, body) => {
    const accessKeyId = verifier.verify(
      { method: 'POST', url: req.url ?? '/', rawHeaders: req.rawHeaders, body },
      headers,
    );
    // The verifier accepts only access keys the store knows.
    return o.credentials.get(accessKeyId)!;
  };
}
