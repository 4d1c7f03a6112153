/**
 * The claims of a ServiceAccount token (a JWT) read WITHOUT verifying its signature: only to refuse early what
 * a TokenReview would refuse anyway (not a JWT, another audience, expired), and, once the TokenReview has
 * authenticated the very same token, to learn its expiry (TokenReview does not report it).
 */
export interface WebTokenClaims {
  /** Epoch milliseconds. */
  readonly expiresAt: number;
  readonly audiences: readonly string[];
  readonly issuer?: string;
}

/** The claims, or a reason why the token is not a usable JWT. */
export function readWebToken(token: string): WebTokenClaims | string {
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]+$/.test(p)))
    return 'the token is not a JWT (header.payload.signature)';
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
  } catch {
    return 'the token payload is not JSON';
  }
  if (typeof payload !== 'object' || payload === null) return 'the token payload is not an object';
  const { exp, aud, iss } = payload as Record<string, unknown>;
  if (typeof exp !== 'number' || !Number.isFinite(exp))
    return 'the token has no expiry (exp): use a projected or requested ServiceAccount token';
  const audiences =
    typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.filter((a) => typeof a === 'string') : [];
  return { expiresAt: exp * 1000, audiences, ...(typeof iss === 'string' ? { issuer: iss } : {}) };
}
