/**
 * Temporary credentials: issues them (a fresh access key id and secret sealed into a session token,
 * session-token.ts) and opens the token a signed request carries. A token is opened by the root of trust once
 * per instance and then served from a bounded cache until it expires; the expiry is checked on every request.
 * The caller of a session is its service account, in the groups `system:serviceaccounts` and
 * `system:serviceaccounts:<namespace>`, never an administrator.
 */
import type { RootKey } from '../../engine/ports.ts';
import type { Credential } from '../credentials.ts';
import { AwsError } from '../errors.ts';
import {
  newKeyPair,
  openSession,
  SERVICE_ACCOUNT_RE,
  type SessionClaims,
  sealSession,
} from './session-token.ts';

/** A session's credential; `replayKey` names the replay budget it spends (one per principal). */
export interface SessionCredential extends Credential {
  readonly expiresAt: number;
  readonly replayKey: string;
}

export interface IssuedSession {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  readonly expiresAt: number;
}

const CACHE_LIMIT = 10_000;

export const expiredToken = () =>
  new AwsError('ExpiredTokenException', 'The security token included in the request is expired');
const invalidToken = () =>
  new AwsError('UnrecognizedClientException', 'The security token included in the request is invalid.');

/** The caller a service account acts as: its name and the groups the API server puts it in. */
export function serviceAccountCaller(principal: string): Credential['caller'] {
  const m = SERVICE_ACCOUNT_RE.exec(principal);
  if (!m) throw new Error(`not a service account name: ${principal}`);
  return {
    kind: 'principal',
    name: principal,
    groups: ['system:serviceaccounts', `system:serviceaccounts:${m[1]}`],
    admin: false,
  };
}

export class Sessions {
  readonly #rootKey: RootKey;
  readonly #now: () => number;
  readonly #cache = new Map<string, SessionCredential>();

  constructor(rootKey: RootKey, now: () => number = Date.now) {
    this.#rootKey = rootKey;
    this.#now = now;
  }

  async issue(
    c: Omit<SessionClaims, 'accessKeyId' | 'secretAccessKey' | 'issuedAt'>,
  ): Promise<IssuedSession> {
    const pair = newKeyPair();
    // Whole seconds: the token and the answer's Expiration say the same instant.
    const issuedAt = Math.floor(this.#now() / 1000) * 1000;
    const expiresAt = Math.floor(c.expiresAt / 1000) * 1000;
    const sessionToken = await sealSession(this.#rootKey, { ...c, ...pair, issuedAt, expiresAt });
    return { ...pair, sessionToken, expiresAt };
  }

  /** The credential of a session token: UnrecognizedClientException when it does not open, ExpiredTokenException after its expiry. */
  async open(token: string): Promise<SessionCredential> {
    let s = this.#cache.get(token);
    if (!s) {
      const claims = await openSession(this.#rootKey, token);
      if (!claims) throw invalidToken();
      s = {
        accessKeyId: claims.accessKeyId,
        secretAccessKey: claims.secretAccessKey,
        caller: serviceAccountCaller(claims.principal),
        expiresAt: claims.expiresAt,
        replayKey: `session\0${claims.principal}`,
      };
      this.#remember(token, s);
    }
    if (this.#now() >= s.expiresAt) {
      this.#cache.delete(token);
      throw expiredToken();
    }
    return s;
  }

  /** Cached sessions (for tests). */
  get cached(): number {
    return this.#cache.size;
  }

  #remember(token: string, s: SessionCredential): void {
    if (this.#cache.size >= CACHE_LIMIT) {
      const now = this.#now();
      for (const [t, c] of this.#cache) if (now >= c.expiresAt) this.#cache.delete(t);
      // Still full: forget the oldest; it is opened again by the root key when it comes back.
      if (this.#cache.size >= CACHE_LIMIT) this.#cache.delete(this.#cache.keys().next().value as string);
    }
    this.#cache.set(token, s);
  }
}
