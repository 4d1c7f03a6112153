/**
 * AWS Signature Version 4 verification (service `kms`), on node:crypto only. The canonical request is built
 * exactly as the AWS SDKs build it (method, URI, sorted query, the signed headers lowercased with values trimmed
 * and inner whitespace collapsed, the signed header list, the hex SHA-256 of the body); the signature is
 * compared in constant time. Checks, in order: an Authorization header exists (Missing…), it is complete
 * (Incomplete…), a session token only with its opened session (sts/sessions.ts; the token must then be signed),
 * the access key is known (Unrecognized…), the scope names today's date, the
 * installation's region and `kms`, the request is within ±5 minutes (InvalidSignature "Signature expired"), the
 * signature matches, and it has not been used before (replay cache, per access key: a key whose budget is full
 * is throttled; see replay-cache.ts, also for the one allowance botocore needs).
 */
import { createHmac, hash, timingSafeEqual } from 'node:crypto';
import { AwsError } from './errors.ts';
import type { ReplayCache } from './replay-cache.ts';

export const ALGORITHM = 'AWS4-HMAC-SHA256';
export const SERVICE = 'kms';
export const MAX_SKEW_MS = 5 * 60_000;
/** How long after its first use an identical signature from a client that signs no per-call id is accepted. */
export const REPEAT_GRACE_MS = 2_000;
const SIGNED = ['host', 'x-amz-date', 'x-amz-target'];
/** A session token must be signed too, so that a signature cannot be moved to another session. */
const SIGNED_WITH_SESSION = [...SIGNED, 'x-amz-security-token'];

export interface SignedRequest {
  readonly method: string;
  /** Path and query as received (`/` or `/?a=b`). */
  readonly url: string;
  /** Node's rawHeaders: name, value, name, value, … */
  readonly rawHeaders: readonly string[];
  readonly body: Uint8Array;
}

export interface AuthorizationParts {
  readonly accessKeyId: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
  readonly terminator: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
}

const incomplete = (m: string) => new AwsError('IncompleteSignatureException', m);
const invalidSig = (m: string) => new AwsError('InvalidSignatureException', m);

/** Parses `AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, SignedHeaders=…, Signature=…`. */
const AUTHORIZATION_RE =
  /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/([^/,\s]+), ?SignedHeaders=([^,\s]+), ?Signature=([^,\s]+)$/;

export function parseAuthorization(header: string): AuthorizationParts {
  // Fast path: the exact form every SDK sends.
  const m = AUTHORIZATION_RE.exec(header);
  if (m) {
    return {
      accessKeyId: m[1]!,
      date: m[2]!,
      region: m[3]!,
      service: m[4]!,
      terminator: m[5]!,
      signedHeaders: m[6]!.split(';'),
      signature: m[7]!,
    };
  }
  const space = header.indexOf(' ');
  const algorithm = space < 0 ? header : header.slice(0, space);
  if (algorithm !== ALGORITHM) {
    throw incomplete(
      `Unsupported Authorization algorithm ${JSON.stringify(algorithm.slice(0, 64))}; use ${ALGORITHM}`,
    );
  }
  const params = new Map<string, string>();
  for (const part of header.slice(space + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    params.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  for (const p of ['Credential', 'SignedHeaders', 'Signature']) {
    if (!params.get(p)) throw incomplete(`Authorization header requires '${p}' parameter.`);
  }
  const scope = params.get('Credential')!.split('/');
  if (scope.length !== 5 || scope.some((s) => s.length === 0)) {
    throw incomplete('Credential must have the form ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request.');
  }
  const [accessKeyId, date, region, service, terminator] = scope as [string, string, string, string, string];
  return {
    accessKeyId,
    date,
    region,
    service,
    terminator,
    signedHeaders: params.get('SignedHeaders')!.split(';'),
    signature: params.get('Signature')!,
  };
}

/** RFC 3986 encoding as SigV4 wants it: everything except unreserved characters, uppercase hex. */
export function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, '%20'));
  } catch {
    return s;
  }
}

export function canonicalQuery(query: string): string {
  if (!query) return '';
  return query
    .split('&')
    .filter((p) => p.length > 0)
    .map((p) => {
      const eq = p.indexOf('=');
      const k = eq < 0 ? p : p.slice(0, eq);
      const v = eq < 0 ? '' : p.slice(eq + 1);
      return [uriEncode(safeDecode(k)), uriEncode(safeDecode(v))] as const;
    })
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

/** The canonical URI. The KMS API serves only `/` (the server refuses other paths before authentication). */
export function canonicalUri(path: string): string {
  if (path === '' || path === '/') return '/';
  return path
    .split('/')
    .map((seg) => uriEncode(safeDecode(seg)))
    .join('/');
}

/** Header name (lowercase) → canonical value: values trimmed, inner whitespace collapsed, repeats joined by ','. */
export function headerValues(rawHeaders: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    const raw = rawHeaders[i + 1]!.trim();
    const value = /\s\s|[\t\n\r\f\v]/.test(raw) ? raw.replace(/\s+/g, ' ') : raw;
    const prev = out.get(name);
    out.set(name, prev === undefined ? value : `${prev},${value}`);
  }
  return out;
}

export const sha256Hex = (data: Uint8Array | string): string => hash('sha256', data, 'hex');

export function canonicalRequest(
  method: string,
  url: string,
  headers: ReadonlyMap<string, string>,
  signedHeaders: readonly string[],
  payloadHash: string,
): string {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? '' : url.slice(q + 1);
  const canonicalHeaders = signedHeaders.map((h) => `${h}:${headers.get(h) ?? ''}\n`).join('');
  return [
    method,
    canonicalUri(path),
    canonicalQuery(query),
    canonicalHeaders,
    signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
}

export function stringToSign(amzDate: string, scope: string, canonical: string): string {
  return `${ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(canonical)}`;
}

const hmac = (key: Uint8Array | string, data: string): Buffer =>
  createHmac('sha256', key).update(data).digest();

export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
}

/** `YYYYMMDDTHHMMSSZ` → epoch ms, or undefined. */
export function parseAmzDate(s: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return undefined;
  const t = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  return Number.isNaN(t) ? undefined : t;
}

export function formatAmzDate(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/** Temporary credentials opened from the request's session token: the only access key it may sign with. */
export interface SessionSecret {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** The replay budget the session spends (one per principal, shared by its sessions). */
  readonly replayKey: string;
}

export interface VerifierOptions {
  /** The secret of an access key, or undefined when the key is unknown. */
  readonly secretOf: (accessKeyId: string) => string | undefined;
  /** The region every credential scope must name (the installation's ARN region). */
  readonly region: string;
  readonly replay: ReplayCache;
  readonly now?: () => number;
}

/** Derived signing keys are cached per access key, date and region (one HMAC per request instead of five). */
export class SigV4Verifier {
  readonly #o: VerifierOptions;
  readonly #keys = new Map<string, Buffer>();
  #lastDate = '';
  #lastSignedAt = 0;

  constructor(o: VerifierOptions) {
    this.#o = o;
  }

  #key(accessKeyId: string, secret: string, date: string, region: string, session: boolean): Buffer {
    // A session's id is kept apart from the credentials file's ids, whatever they are named.
    const id = `${session ? 's' : 'k'}\0${accessKeyId}\0${date}\0${region}`;
    let k = this.#keys.get(id);
    if (!k) {
      if (this.#keys.size >= 4096) this.#keys.clear();
      k = signingKey(secret, date, region, SERVICE);
      this.#keys.set(id, k);
    }
    return k;
  }

  /**
   * Verifies the request and returns its access key id, or throws the AWS authentication error. With `session`
   * (the opened X-Amz-Security-Token), the request must be signed by that session's access key.
   */
  verify(
    req: SignedRequest,
    headers: ReadonlyMap<string, string> = headerValues(req.rawHeaders),
    session?: SessionSecret,
  ): string {
    const authorization = headers.get('authorization');
    if (authorization === undefined || authorization === '') {
      if (/[?&]X-Amz-Signature=/i.test(req.url)) {
        throw incomplete(
          'Presigned (query string) requests are not supported; sign the Authorization header.',
        );
      }
      throw new AwsError('MissingAuthenticationTokenException', 'Request is missing Authentication Token');
    }
    const a = parseAuthorization(authorization);
    if (!session && headers.has('x-amz-security-token')) {
      throw new AwsError(
        'UnrecognizedClientException',
        'Session credentials (X-Amz-Security-Token) are not supported; use an access key from the credentials file.',
      );
    }
    const amzDate = headers.get('x-amz-date');
    if (amzDate === undefined) {
      throw incomplete("Authorization header requires existence of a 'X-Amz-Date' header.");
    }
    for (const required of session ? SIGNED_WITH_SESSION : SIGNED) {
      if (!a.signedHeaders.includes(required)) {
        throw incomplete(`Signed headers must include '${required}'.`);
      }
    }
    const secret = session
      ? a.accessKeyId === session.accessKeyId
        ? session.secretAccessKey
        : undefined
      : this.#o.secretOf(a.accessKeyId);
    if (secret === undefined) {
      throw new AwsError(
        'UnrecognizedClientException',
        'The security token included in the request is invalid.',
      );
    }
    if (a.terminator !== 'aws4_request')
      throw invalidSig("Credential should be scoped with a valid terminator: 'aws4_request'.");
    if (a.service !== SERVICE)
      throw invalidSig(`Credential should be scoped to correct service: '${SERVICE}'.`);
    if (a.region !== this.#o.region) {
      throw invalidSig(
        `Credential should be scoped to a valid region, not '${a.region.slice(0, 64)}'. This installation signs in '${this.#o.region}'.`,
      );
    }
    // Concurrent requests mostly share their X-Amz-Date (one-second resolution): parse each value once.
    let signedAt: number | undefined;
    if (amzDate === this.#lastDate) signedAt = this.#lastSignedAt;
    else {
      signedAt = parseAmzDate(amzDate);
      if (signedAt !== undefined) {
        this.#lastDate = amzDate;
        this.#lastSignedAt = signedAt;
      }
    }
    if (signedAt === undefined) throw incomplete(`X-Amz-Date must have the form YYYYMMDDTHHMMSSZ.`);
    if (a.date !== amzDate.slice(0, 8)) {
      throw invalidSig(
        `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${a.date.slice(0, 16)}' != '${amzDate.slice(0, 8)}'.`,
      );
    }
    const now = (this.#o.now ?? Date.now)();
    if (signedAt < now - MAX_SKEW_MS) {
      throw invalidSig(
        `Signature expired: ${amzDate} is now earlier than ${formatAmzDate(now - MAX_SKEW_MS)} (${formatAmzDate(now)} - 5 min.)`,
      );
    }
    if (signedAt > now + MAX_SKEW_MS) {
      throw invalidSig(
        `Signature not yet current: ${amzDate} is still later than ${formatAmzDate(now + MAX_SKEW_MS)} (${formatAmzDate(now)} + 5 min.)`,
      );
    }
    const payloadHash = sha256Hex(req.body);
    const declared = headers.get('x-amz-content-sha256');
    if (declared !== undefined && declared !== payloadHash) {
      throw invalidSig('The provided x-amz-content-sha256 header does not match what was computed.');
    }
    const canonical = canonicalRequest(req.method, req.url, headers, a.signedHeaders, payloadHash);
    const scope = `${a.date}/${a.region}/${a.service}/${a.terminator}`;
    const expected = createHmac('sha256', this.#key(a.accessKeyId, secret, a.date, a.region, !!session))
      .update(stringToSign(amzDate, scope, canonical))
      .digest();
    const given = /^[0-9a-f]{64}$/.test(a.signature) ? Buffer.from(a.signature, 'hex') : undefined;
    if (!given || !timingSafeEqual(expected, given)) {
      throw invalidSig(
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
      );
    }
    // Remembered as a fresh 44-character string: a.signature is a slice that would keep the whole
    // Authorization header alive for the 5 to 10 minutes the cache holds it (389 → about 180 bytes an entry).
    checkReplay(this.#o.replay, a, given.toString('base64'), signedAt, now, session?.replayKey);
    return a.accessKeyId;
  }
}

/** A verified signature is used once (per access key; a key whose replay budget is full is throttled). */
function checkReplay(
  replay: ReplayCache,
  a: AuthorizationParts,
  signature: string,
  signedAt: number,
  now: number,
  sessionKey: string | undefined,
): void {
  // Clients that sign a per-call id never send the same signature twice; botocore may, within one second.
  const grace = a.signedHeaders.includes('amz-sdk-invocation-id') ? 0 : REPEAT_GRACE_MS;
  switch (replay.check(sessionKey ?? a.accessKeyId, signature, signedAt, now, grace)) {
    case 'fresh':
    case 'repeat':
      return;
    case 'replayed':
      throw invalidSig('Signature has already been used: the request is a replay.');
    case 'throttled':
      throw new AwsError(
        'ThrottlingException',
        `Rate exceeded: this ${sessionKey ? 'principal' : 'access key'} has ${replay.budgetPerKey} requests inside the 5-minute replay window; retry later.`,
      );
  }
}
