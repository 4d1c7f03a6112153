/**
 * KMS v2 requests checked at the edge, before the plugin sees them: a body that is not a valid protobuf message
 * and a missing `uid` are ValidationExceptions naming the field (INVALID_ARGUMENT), answered and counted like
 * any other refusal. grpc-js alone would answer a malformed body INTERNAL, before any handler runs.
 */
import type { ServiceDefinition } from '@grpc/grpc-js';
import { validation } from '../engine/errors.ts';

const MALFORMED = Symbol('malformed request');

/** What a request that failed to decode becomes, so that its handler can refuse it. */
interface Malformed {
  readonly [MALFORMED]: true;
}

const isMalformed = (req: unknown): req is Malformed =>
  typeof req === 'object' && req !== null && MALFORMED in req;

/** The service with every request decoder made total: a decoding failure yields a Malformed marker. */
export function withTolerantDecoding(service: ServiceDefinition): ServiceDefinition {
  const out: Record<string, ServiceDefinition[string]> = {};
  for (const [name, method] of Object.entries(service)) {
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): unknown => {
        try {
          return method.requestDeserialize(bytes);
        } catch {
          return { [MALFORMED]: true } satisfies Malformed;
        }
      },
    };
  }
  return out;
}

/** Throws a ValidationException naming what is wrong with a decoded request of `method`. */
export function checkRequest(method: 'Status' | 'Encrypt' | 'Decrypt', req: unknown): void {
  if (isMalformed(req)) throw validation('request', `not a valid ${method}Request protobuf message`);
  if (method === 'Status') return;
  const uid = (req as { uid?: unknown }).uid;
  if (typeof uid !== 'string' || uid.length === 0) throw validation('uid', 'must not be empty');
}
