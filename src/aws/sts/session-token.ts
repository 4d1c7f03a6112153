/**
 * The session token of temporary credentials: stateless. The session (access key id, secret, principal, expiry,
 * role and session name) is sealed by the root of trust (AES-256-GCM in the file key or inside the HSM, under the
 * AAD `kubekms/sts-session/v1`, so no other wrapped blob passes as one), and the token is
 *
 *   KKS1 || base64url(rootKey.wrap(canonical JSON of the session))
 *
 * Nothing is in clear: the secret, like everything else, is only inside the sealed part. Every instance that holds
 * the same root key opens it, a restart does not end sessions, and a token changed in any bit does not open.
 * See docs/adr/0021-sts-session-tokens.md.
 */
import { randomBytes } from 'node:crypto';
import type { RootKey } from '../../engine/ports.ts';
import { SecretBytes } from '../../engine/secret.ts';

export const SESSION_TOKEN_PREFIX = 'KKS1';
const AAD = new TextEncoder().encode('kubekms/sts-session/v1');
/** Far above a real token (about 500 characters): longer ones are refused without a root key call. */
export const MAX_SESSION_TOKEN_CHARS = 4096;

const ACCESS_KEY_RE = /^ASIA[A-Z2-7]{16}$/;
export const SERVICE_ACCOUNT_RE =
  /^system:serviceaccount:([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?):([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?)$/;

export interface SessionClaims {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** `system:serviceaccount:NS:NAME` */
  readonly principal: string;
  /** Epoch milliseconds (whole seconds). */
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly roleArn: string;
  readonly sessionName: string;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** A fresh temporary access key id (`ASIA` and 16 random base-32 characters) and a 40-character secret. */
export function newKeyPair(): { accessKeyId: string; secretAccessKey: string } {
  const r = randomBytes(16);
  let id = 'ASIA';
  for (const b of r) id += BASE32[b & 31];
  return { accessKeyId: id, secretAccessKey: randomBytes(30).toString('base64') };
}

export async function sealSession(rootKey: RootKey, c: SessionClaims): Promise<string> {
  const json = JSON.stringify({
    v: 1,
    k: c.accessKeyId,
    s: c.secretAccessKey,
    p: c.principal,
    i: c.issuedAt / 1000,
    e: c.expiresAt / 1000,
    r: c.roleArn,
    n: c.sessionName,
  });
  const wrapped = await rootKey.wrap(new SecretBytes(new TextEncoder().encode(json)), AAD);
  return SESSION_TOKEN_PREFIX + Buffer.from(wrapped).toString('base64url');
}

/** The session a token seals, or undefined when it is not a token this root key sealed (any change, any bit). */
export async function openSession(rootKey: RootKey, token: string): Promise<SessionClaims | undefined> {
  if (!token.startsWith(SESSION_TOKEN_PREFIX) || token.length > MAX_SESSION_TOKEN_CHARS) return undefined;
  const body = token.slice(SESSION_TOKEN_PREFIX.length);
  const sealed = Buffer.from(body, 'base64url');
  // Node's decoder skips what is not base64url and ignores spare trailing bits: accept the canonical form only,
  // so that one session has exactly one token.
  if (sealed.toString('base64url') !== body) return undefined;
  let plain: SecretBytes;
  try {
    plain = await rootKey.unwrap(sealed, AAD);
  } catch {
    return undefined;
  }
  try {
    return decodeClaims(new TextDecoder().decode(plain.unsafeBytes()));
  } finally {
    plain.wipe();
  }
}

function decodeClaims(json: string): SessionClaims | undefined {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const { v, k, s, p, i, e, r, n } = o;
  if (v !== 1 || typeof k !== 'string' || !ACCESS_KEY_RE.test(k)) return undefined;
  if (typeof s !== 'string' || s.length !== 40 || typeof p !== 'string' || !SERVICE_ACCOUNT_RE.test(p))
    return undefined;
  if (!Number.isSafeInteger(i) || !Number.isSafeInteger(e) || typeof r !== 'string' || typeof n !== 'string')
    return undefined;
  return {
    accessKeyId: k,
    secretAccessKey: s,
    principal: p,
    issuedAt: (i as number) * 1000,
    expiresAt: (e as number) * 1000,
    roleArn: r,
    sessionName: n,
  };
}
