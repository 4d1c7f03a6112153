/** Test support: signs a KMS request with SigV4 the way the SDKs do (never part of the published build). */
import { createHmac, randomUUID } from 'node:crypto';
import {
  ALGORITHM,
  canonicalRequest,
  formatAmzDate,
  SERVICE,
  sha256Hex,
  signingKey,
  stringToSign,
} from '../sigv4.ts';

/** Signs a request the way the SDKs do (for tests that speak to kubekms without an SDK). */
export function signHeaders(o: {
  readonly method?: string;
  readonly url?: string;
  readonly host: string;
  readonly target: string;
  readonly body: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly region: string;
  readonly now?: number;
  readonly contentType?: string;
  /** Sign a per-call amz-sdk-invocation-id as the JS SDK does (default); false signs like botocore. */
  readonly invocationId?: boolean;
}): Record<string, string> {
  const amzDate = formatAmzDate(o.now ?? Date.now());
  const headers: Record<string, string> = {
    // Like the JS SDK: a signed per-call id, so two identical calls in one second are not replays of each other.
    ...(o.invocationId === false ? {} : { 'amz-sdk-invocation-id': randomUUID() }),
    'content-type': o.contentType ?? 'application/x-amz-json-1.1',
    host: o.host,
    'x-amz-date': amzDate,
    'x-amz-target': o.target,
  };
  const names = Object.keys(headers).sort();
  const map = new Map(names.map((n) => [n, headers[n]!.trim().replace(/\s+/g, ' ')]));
  const canonical = canonicalRequest(o.method ?? 'POST', o.url ?? '/', map, names, sha256Hex(o.body));
  const date = amzDate.slice(0, 8);
  const scope = `${date}/${o.region}/${SERVICE}/aws4_request`;
  const sig = createHmac('sha256', signingKey(o.secretAccessKey, date, o.region, SERVICE))
    .update(stringToSign(amzDate, scope, canonical))
    .digest('hex');
  return {
    ...headers,
    authorization: `${ALGORITHM} Credential=${o.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${sig}`,
  };
}
